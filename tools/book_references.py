"""Sphinx extension: the bibliography labelled as the text cites it, with links back.

Registered in ``_config.yml`` under ``sphinx: local_extensions``; it works with
sphinxcontrib-bibtex, which turns ``{cite:p}`key``` into "(Rumelhart et al., 1986)" and the
``{bibliography}`` of ``book/references.md`` into the list of works.

Labels that match the citations
    pybtex's styles label entries "[RHW86]" (alpha) or "[1]" (plain), which a reader of
    "(Rumelhart et al., 1986)" cannot look up. The formatting style ``nnbook`` registered here
    is pybtex's alpha style (same entries, sorted by author, year, title) with labels written
    as the text cites: "Nielsen, 2015", "Glorot and Bengio, 2010", "Rumelhart et al., 1986".
    Two works that would get the same label become "1998a" and "1998b", and the reference
    style ``nnbook_author_year`` (sphinxcontrib-bibtex's ``author_year``, taking the year from
    the label) cites them with the same letter in the text.

"Cited in" links from each entry
    sphinxcontrib-bibtex links an entry back to its citations only when they are on the
    bibliography's own page. :class:`CitedIn` ends every entry that is cited anywhere with a
    line "Cited in" and a link to the first citation on each citing page (in the PDF, to the
    page's chapter), in reading order; entries that no page cites (further reading) get none.
"""

from __future__ import annotations

from dataclasses import dataclass

import docutils.nodes
from pybtex.plugin import find_plugin, register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.alpha import Style as AlphaStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.template import Node, node
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

import sphinxcontrib.bibtex.plugin
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.template import year

# ---------------------------------------------------------------------------------------
# Labels: "Rumelhart et al., 1986"
# ---------------------------------------------------------------------------------------


def cited_authors(last_names: list[str]) -> str:
    """The authors as an author-year citation names them (sphinxcontrib-bibtex's rule).

    >>> cited_authors(["Nielsen"]), cited_authors(["Glorot", "Bengio"])
    ('Nielsen', 'Glorot and Bengio')
    >>> cited_authors(["Rumelhart", "Hinton", "Williams"])
    'Rumelhart et al.'
    """
    if len(last_names) > 2:
        return f"{last_names[0]} et al."
    return " and ".join(last_names)


def author_year_labels(authors_and_years: list[tuple[str, str]]) -> list[str]:
    """"Authors, year" for each entry, in order; repeated labels get "a", "b", ... in order.

    >>> author_year_labels([("LeCun et al.", "1998"), ("LeCun et al.", "1998"), ("Nielsen", "2015")])
    ['LeCun et al., 1998a', 'LeCun et al., 1998b', 'Nielsen, 2015']
    """
    labels = [f"{authors}, {year_}" for authors, year_ in authors_and_years]
    seen: dict[str, int] = {}
    repeated = {label for label in labels if labels.count(label) > 1}
    for i, label in enumerate(labels):
        if label in repeated:
            seen[label] = seen.get(label, 0) + 1
            labels[i] = label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
    return labels


class AuthorYearLabelStyle(BaseLabelStyle):
    """pybtex label style: each entry labelled as an author-year citation writes it."""

    _last = find_plugin("pybtex.style.names", "last")()  # what sphinxcontrib-bibtex cites

    def _authors(self, entry) -> str:
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        if not persons:
            return Text.from_latex(entry.fields.get("title", "")).render_as("text")
        names = [self._last.format(p).format().render_as("text") for p in persons]
        return cited_authors(names)

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        yield from author_year_labels(
            [(self._authors(e), e.fields.get("year", "n.d.")) for e in entries]
        )


class BookStyle(AlphaStyle):
    """pybtex's alpha formatting style (sorted by author, year, title), author-year labels."""

    default_label_style = AuthorYearLabelStyle


@node
def label_year(children, data):
    """The year as the entry's label writes it: "1998b" where two works share "1998"."""
    assert not children
    return Text(data["formatted_entry"].label.rpartition(", ")[2])


def _label_years(template):
    """A copy of a citation template with each ``year`` replaced by :func:`label_year`."""
    if template is year:
        return label_year
    if not isinstance(template, Node):
        return template
    copy = template._clone()
    copy.children = [_label_years(child) for child in template.children]
    return copy


@dataclass
class AuthorYearLabelReferenceStyle(AuthorYearReferenceStyle):
    """sphinxcontrib-bibtex's ``author_year`` citations, the year taken from the label."""

    def inner(self, role_name: str):
        return _label_years(super().inner(role_name))


# ---------------------------------------------------------------------------------------
# "Cited in" links from each entry back to the pages that cite it
# ---------------------------------------------------------------------------------------


class CitedIn(SphinxPostTransform):
    """Add "Cited in <page>, <page>" under each bibliography entry that is cited."""

    # After sphinxcontrib-bibtex's BibliographyTransform (5) has made the entries, before
    # Sphinx resolves references (10).
    default_priority = 6
    formats = ("html", "latex")

    def run(self, **kwargs) -> None:
        domain = self.env.get_domain("cite")
        entries = {}
        for citation in domain.citations:
            entries[citation.citation_id] = citation.key
        nodes = [n for n in self.document.findall(docutils.nodes.Element)
                 if n.get("docname") and any(i in entries for i in n.get("ids", ()))]
        if not nodes:
            return
        first_ref: dict[str, dict[str, str]] = {}  # key -> citing page -> its first citation's id
        for ref in domain.citation_refs:
            for target in ref.targets:
                first_ref.setdefault(target.key, {}).setdefault(ref.docname, ref.citation_ref_id)
        order = {doc: i for i, doc in enumerate(_reading_order(self.env))}
        for entry in nodes:
            key = next(entries[i] for i in entry["ids"] if i in entries)
            citing = sorted(first_ref.get(key, {}).items(),
                            key=lambda item: (order.get(item[0], len(order)), item[0]))
            paragraphs = [n for n in entry.children if isinstance(n, docutils.nodes.paragraph)]
            if citing and paragraphs:
                paragraphs[-1] += self._cited_in(entry["docname"], citing)

    def _cited_in(self, here: str, citing: list[tuple[str, str]]) -> list[docutils.nodes.Node]:
        """The line, on its own line of the entry's paragraph (the PDF runs it on)."""
        line = docutils.nodes.inline(classes=["nnbook-cited-in"])
        line += docutils.nodes.Text("Cited in ")
        for i, (docname, ref_id) in enumerate(citing):
            if i:
                line += docutils.nodes.Text("; ")
            uri = self.app.builder.get_relative_uri(here, docname)
            if self.app.builder.format == "html":
                uri += "#" + ref_id   # the citation itself; the PDF links to its chapter
            line += docutils.nodes.reference("", self._where(docname, ref_id), refuri=uri,
                                             internal=True)
        line += docutils.nodes.Text(".")
        return [docutils.nodes.raw("", "<br/>", format="html"), docutils.nodes.Text(" "), line]

    def _where(self, docname: str, ref_id: str) -> str:
        """The citing page's title; on the landing page, whose title is the book's, its section's."""
        title = self.env.titles[docname].astext() if docname in self.env.titles else docname
        if docname != self.env.config.root_doc:
            return title
        for node in self.env.get_doctree(docname).findall(docutils.nodes.Element):
            if ref_id in node.get("ids", ()):
                section = next((a for a in _ancestors(node) if isinstance(a, docutils.nodes.section)), None)
                if section is not None and section.next_node(docutils.nodes.title):
                    return section.next_node(docutils.nodes.title).astext()
        return title


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


def _reading_order(env) -> list[str]:
    """The book's pages in the order of its table of contents (previous/next links)."""
    relations = env.collect_relations()
    doc, seen = env.config.root_doc, []
    while doc and doc not in seen:
        seen.append(doc)
        doc = relations.get(doc, [None, None, None])[2]
    return seen


def setup(app: Sphinx) -> dict:
    # force: a second build in the same process imports this module, and its classes, again.
    register_plugin("pybtex.style.formatting", "nnbook", BookStyle, force=True)
    sphinxcontrib.bibtex.plugin.register_plugin(
        "sphinxcontrib.bibtex.style.referencing", "nnbook_author_year",
        AuthorYearLabelReferenceStyle, force=True)
    app.add_post_transform(CitedIn)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
