"""Sphinx extension for this book: what every page gets, without per-page work.

Registered in ``_config.yml`` under ``sphinx: local_extensions``. It does three things.

Downloads
    Every notebook page (a MyST Markdown chapter with jupytext front matter) is converted at
    build time, from its source, into a Jupyter notebook ``_sources/<page>.ipynb`` and a
    plain Python script ``_sources/<page>.py`` (jupytext's percent format, which any editor
    and ``python`` run as is). Both appear in the page's download menu next to the ``.md``
    source. Being generated from the source on every build, they cannot drift from it.

"Derived in the book" links in the API reference
    nnscratch's numpydoc docstrings name the book section that derives each object in their
    ``See Also`` section (``Book, Step 4 "Optimization" derives each update rule.``).
    numpydoc's ``See Also`` expects object names, so before napoleon parses the docstring such
    lines are moved into a "Derived in the book" note, and each ``Step N`` in it becomes a
    link to that step's first page in the table of contents (theory before practice). A step
    whose pages are not in the book yet stays plain text. Docstrings may name objects by their
    public path (``nnscratch.layers.Dense``); those references resolve to where the object
    is documented (``nnscratch.layers.dense.Dense``), and a module constant's ``#:`` comment
    stays prose (see :func:`keep_attribute_prose`).

A clean browser console
    Two defaults of the theme stack log errors in every page's console; see
    :func:`theme_defaults` and :func:`drop_thebe`.

What the reader sees around the page
    The browser tab names the page and the book once (:func:`tab_title`); the favicon has
    the raster fallbacks Safari and iOS need (:func:`icon_links`); the repository, issue,
    edit and Binder buttons appear when the build knows the repository's address, which the
    Pages workflow passes in ``NNBOOK_REPOSITORY`` (:func:`repository_options`); and search
    results typeset the maths of their snippets instead of showing raw TeX
    (:func:`search_page_maths`).

The PDF prints what the HTML shows
    A cell's source or output that the HTML folds away (tags ``hide-input``,
    ``hide-output``, ``hide-cell``) cannot be unfolded on paper, so the PDF leaves it out
    (:class:`PrintedCells`): it shows the figures and the checks' results, not the plotting
    code, and marks with a line where a whole cell was folded away, since the text refers to
    such cells. The page's notebook and script downloads keep every line.

A formula keeps its punctuation
    A browser may break a line between an inline formula and the comma, colon or bracket
    touching it, and a phone then starts a line with ":". In HTML each inline formula is
    kept with the characters that touch it, up to the nearest space on either side
    (:class:`MathKeepsItsPunctuation`; ``span.nnbook-nobreak`` in ``_static/book.css``).

A glued negative number has a minus sign
    Python writes ``-1.2`` with a hyphen; a number pasted into the prose is set with the
    minus sign the prose itself uses (:class:`GluedNumbersHaveAMinusSign`).

Long tables break across the PDF's pages
    A table of :data:`LONG_TABLE_ROWS` rows or more is set as a ``longtable``, which
    continues on the next page instead of leaving the end of its page empty
    (:class:`LongTablesBreak`); a continued table without a caption names no table number
    (:func:`depart_table`).

The PDF's front page
    sphinx-jupyterbook-latex prints the root page (``book/index.md``) after the table of
    contents, with its section titles as bold lines of large text, which LaTeX may leave
    alone at the foot of a page. They are set as unnumbered sections instead
    (:func:`visit_root_header`); the page opens its chapter itself, in a ``{raw} latex``
    block.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.writers.latex import LaTeXTranslator

from toc import is_notebook, step_pages  # tools/, beside this extension

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Downloads: .ipynb and .py generated from each chapter's source
# ---------------------------------------------------------------------------------------


def _notebook_source(app: Sphinx, pagename: str) -> Path | None:
    """The chapter's source file if ``pagename`` is a MyST Markdown notebook, else None."""
    if pagename not in app.env.found_docs:
        return None
    path = Path(app.env.doc2path(pagename))
    return path if path.suffix == ".md" and is_notebook(path) else None


def offer_downloads(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Name ``<page>.ipynb`` and ``<page>.py`` for the download menu (written by the next)."""
    if app.builder.format != "html" or _notebook_source(app, pagename) is None:
        return
    # sphinx-book-theme adds the ".ipynb" entry to the download menu when this is set.
    context["ipynb_source"] = pagename + ".ipynb"
    context["nnbook_py_source"] = pagename + ".py"


def write_downloads(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Write ``<page>.ipynb`` and ``<page>.py`` next to the page's source in ``_sources``.

    Connected after sphinx-book-theme's launch buttons (priority 501), which copy the
    executed notebook to the same ``_sources/<page>.ipynb``: the download is always the one
    generated from the source, whether or not the page has launch buttons.
    """
    if app.builder.format != "html":
        return
    source = _notebook_source(app, pagename)
    if source is None:
        return
    import jupytext

    notebook = jupytext.read(source)
    target = Path(app.outdir, "_sources", pagename)
    target.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(notebook, target.with_suffix(".ipynb"), fmt="ipynb")
    jupytext.write(notebook, target.with_suffix(".py"), fmt="py:percent")


def add_py_download_button(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Add ``.py`` to the download menu that sphinx-book-theme built (it runs at priority 501)."""
    py_source = context.get("nnbook_py_source")
    if not py_source:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = group["buttons"]
        position = next(
            (i + 1 for i, b in enumerate(buttons) if b.get("label") == "download-notebook-button"),
            0,
        )
        buttons.insert(
            position,
            {
                "type": "link",
                "url": f"{context['pathto']('_sources', 1)}/{py_source}",
                "text": ".py",
                "icon": "fab fa-python",
                "tooltip": "Download as a Python script",
                "label": "download-python-button",
            },
        )


# ---------------------------------------------------------------------------------------
# API reference: "See Also: Book, Step N ..." becomes a link to the step's page
# ---------------------------------------------------------------------------------------

_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_STEP = re.compile(r"\bSteps? (\d+)")


def _link_steps(app: Sphinx, text: str) -> str:
    # step N is the N-th numbered chapter of _toc.yml, whatever its file is called
    pages = {n: doc for n, doc in step_pages(Path(app.srcdir)).items()
             if doc in app.env.found_docs}

    def link(match: re.Match) -> str:
        doc = pages.get(int(match.group(1)))
        return f":doc:`{match.group(0)} </{doc}>`" if doc else match.group(0)

    return _STEP.sub(link, text)


def book_see_also(app: Sphinx, what, name, obj, options, lines: list[str]) -> None:
    """Turn ``Book, ...`` lines of a numpydoc ``See Also`` section into linked prose."""
    for start in range(len(lines) - 1):
        if lines[start].strip() == "See Also" and _UNDERLINE.match(lines[start + 1]):
            break
    else:
        return
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    end = start + 2
    while end < len(lines) and not (end + 1 < len(lines) and _UNDERLINE.match(lines[end + 1])):
        end += 1
    body = lines[start + 2 : end]
    book, rest, in_book = [], [], False
    for line in body:
        if line.strip().startswith("Book"):
            in_book = True
        elif not line.strip():
            in_book = False
        (book if in_book else rest).append(line)
    if not book:
        return
    text = " ".join(line.strip() for line in book)
    text = re.sub(r"^Book[,:]?\s*", "", text)
    note = [
        f"{indent}.. admonition:: Derived in the book",
        f"{indent}   :class: seealso",
        "",
        f"{indent}   {_link_steps(app, text)}",
        "",
    ]
    kept = lines[start:start + 2] + rest if any(r.strip() for r in rest) else []
    lines[start:end] = kept
    # The note goes before the first section (Parameters, Raises, ...): napoleon reads
    # everything up to the next header as that section's entries, so a note left where See
    # Also was would become an exception type after a Raises section.
    first = next(
        (i for i in range(len(lines) - 1) if lines[i].strip() and _UNDERLINE.match(lines[i + 1])),
        len(lines),
    )
    lines[first:first] = note


def resolve_reexport(app: Sphinx, env, node, contnode):
    """Resolve ``nnscratch.layers.Dense`` to where it is documented, ``nnscratch.layers.dense.Dense``.

    Docstrings name objects by their public path (the package re-exports them); the API pages
    document each object once, in the module that defines it.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("nnscratch."):
        return None
    import importlib

    module_name, _, attr = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return None
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or f"{module}.{qualname}" == target:
        return None
    return env.domains["py"].resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], f"{module}.{qualname}", node, contnode
    )


_DOTTED = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+")


def public_path(dotted: str) -> str:
    """``numpy.random._generator.Generator`` -> ``numpy.random.Generator``, when that is it.

    Type hints name a class by where it is defined, which for many libraries is a private
    module; the public path is the one a reader can use. The private segments are dropped
    only if the shorter path imports the very same object; otherwise ``dotted`` is returned.
    """
    parts = dotted.split(".")
    public = [p for p in parts[:-1] if not p.startswith("_")] + parts[-1:]
    if public == parts or len(public) < 2:
        return dotted
    import importlib

    def find(path: list[str]):
        for i in range(len(path) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(path[:i]))
            except ImportError:
                continue
            for name in path[i:]:
                obj = getattr(obj, name)
            return obj
        raise ImportError(".".join(path))

    try:
        return ".".join(public) if find(public) is find(parts) else dotted
    except (ImportError, AttributeError):
        return dotted


def public_signature(app: Sphinx, what, name, obj, options, signature, return_annotation):
    """Name the classes of a signature's type hints by their public paths (:func:`public_path`)."""
    def clean(text):
        return _DOTTED.sub(lambda m: public_path(m.group(0)), text) if text else text

    return clean(signature), clean(return_annotation)


# ---------------------------------------------------------------------------------------
# A clean browser console
# ---------------------------------------------------------------------------------------


def theme_defaults(app: Sphinx, config) -> None:
    """Theme settings that jupyter-book leaves to defaults that misbehave.

    jupyter-book leaves pydata-sphinx-theme's ``default_mode`` (an ``html_context`` value)
    empty, and the theme's script then logs "Got invalid theme mode" on every page before
    falling back to "auto": name the mode it uses anyway.
    """
    config.html_context.setdefault("default_mode", "auto")
    # pydata-sphinx-theme 0.17 puts a search field in a full-width top bar unless
    # navbar_persistent is set; sphinx-book-theme already has one in its sidebar.
    config.html_theme_options.setdefault("navbar_persistent", [])
    # The book's title beside the logo in the sidebar, on every page: without it the theme
    # shows the logo alone, or ``docstitle``, which tab_title empties on the landing page.
    logo = config.html_theme_options.setdefault("logo", {})
    logo.setdefault("text", config.html_title)


def drop_thebe(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's scripts: this book has no live-code (thebe) button.

    jupyter-book always loads sphinx-thebe, which registers its inline configuration script
    twice per page (a JavaScript error, ``THEBE_JS_URL`` declared twice) and names a CDN URL.
    """
    if app.config.html_theme_options.get("launch_buttons", {}).get("thebe"):
        return

    def is_thebe(script) -> bool:
        name = str(getattr(script, "filename", None) or "")
        body = str(getattr(script, "attributes", {}).get("body", ""))
        return "thebe" in name or "THEBE_JS_URL" in body

    context["script_files"] = [s for s in context.get("script_files", []) if not is_thebe(s)]


_attribute_prose: dict[str, list[str]] = {}


def keep_attribute_prose(app: Sphinx, what, name, obj, options, lines: list[str]) -> None:
    """Keep a module constant's ``#:`` comment as prose.

    Napoleon reads the first line of an attribute docstring as Google style's
    ``type: description``, so "Widths of the MLP: 784 in, 10 out." would become a type named
    "Widths of the MLP". numpydoc has no such form. Connected twice: before napoleon it saves
    such a docstring, after napoleon it puts it back unchanged.
    """
    if what not in ("data", "attribute"):
        return
    if name in _attribute_prose:
        lines[:] = _attribute_prose.pop(name)
    elif lines and ":" in lines[0]:
        _attribute_prose[name] = list(lines)


def skip_foreign_attributes(app: Sphinx, what, name, obj, skip, options):
    """Leave out class attributes that another library's machinery put there.

    ``undoc-members`` lists every public name, and a subclass of, say, ``sympy.Function`` gets
    attributes such as ``default_assumptions`` from SymPy's metaclass: they are SymPy's
    business, not nnscratch's API. Methods, properties and plain values stay.
    """
    if skip or what != "class" or callable(obj) or isinstance(obj, property):
        return None
    if type(obj).__module__.split(".")[0] not in ("builtins", "nnscratch"):
        return True
    return None


# ---------------------------------------------------------------------------------------
# What the reader sees around the page: tab title, icons, repository buttons, search
# ---------------------------------------------------------------------------------------


def tab_title(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Name the book once in the browser tab: "Page — Book", the landing page just "Book".

    Sphinx's ``layout.html`` writes ``<title>`` as the page's title, then " — " and
    ``docstitle`` whenever ``docstitle`` is set, so the landing page, whose title is the
    book's, read "Book — Book". pydata-sphinx-theme's search page writes
    "Search - {{ title or docstitle }}", and its title is "Search": "Search - Search".
    (The sidebar shows the book's title from the theme's ``logo.text``, not ``docstitle``.)
    """
    book = context.get("docstitle") or ""
    if pagename == "search":
        context["title"] = ""
    elif book and re.sub(r"<[^>]+>", "", context.get("title") or "").strip() == book.strip():
        context["docstitle"] = ""


# A raster icon beside the SVG favicon (html_favicon) -> the <link> that offers it.
_ICON_LINKS = {
    # Browsers that cannot draw an SVG favicon (Safari). "sizes" keeps Chromium on the SVG.
    "favicon.ico": '<link rel="icon" href="{}" sizes="32x32">',
    # iOS home screen.
    "apple-touch-icon.png": '<link rel="apple-touch-icon" href="{}">',
}


def _raster_icons(app: Sphinx) -> list[Path]:
    """The raster icons (``tools/make_icons.py`` draws them) next to ``html_favicon``."""
    favicon = app.config.html_favicon
    if not favicon or "://" in favicon:
        return []
    folder = Path(app.confdir, favicon).parent
    return [folder / name for name in _ICON_LINKS if (folder / name).is_file()]


def icon_links(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Offer the raster icons in every page's ``<head>``, after the SVG favicon's link."""
    if app.builder.format != "html":
        return
    links = [_ICON_LINKS[icon.name].format(context["pathto"]("_static/" + icon.name, 1))
             for icon in _raster_icons(app)]
    context["metatags"] = context.get("metatags", "") + "".join("\n    " + l for l in links)


def copy_icons(app: Sphinx, exception) -> None:
    if exception is None and app.builder.format == "html":
        for icon in _raster_icons(app):
            shutil.copyfile(icon, Path(app.outdir, "_static", icon.name))


REPOSITORY_VARIABLE = "NNBOOK_REPOSITORY"
BRANCH_VARIABLE = "NNBOOK_BRANCH"
BINDER = "https://mybinder.org"


def repository_options(environ) -> dict:
    """sphinx-book-theme options for the repository's buttons, or {} when it is unknown.

    The Pages workflow (``.github/workflows/book.yml``) sets ``NNBOOK_REPOSITORY`` to the
    repository's address (``https://github.com/<owner>/<name>``) and ``NNBOOK_BRANCH`` to the
    branch it builds; nothing in the repository names them. A local build has neither, and
    shows no button rather than a button to nowhere.

    The buttons: the repository, "open issue", "suggest edit" (GitHub's editor on the page's
    source, ``<branch>/book/<page>.md``) and, on chapters, "launch on Binder". Binder builds
    the repository from ``requirements.txt`` (jupytext included) and ``postBuild`` (which
    makes JupyterLab open MyST Markdown as a notebook), then opens the chapter's ``.md`` in
    JupyterLab. There is no Colab button: Colab opens only ``.ipynb`` files of a repository,
    and the chapters are ``.md``. Binder runs only repositories on github.com.
    """
    url = (environ.get(REPOSITORY_VARIABLE) or "").strip().rstrip("/")
    if not url:
        return {}
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or len(parts.path.strip("/").split("/")) != 2:
        raise ValueError(f"{REPOSITORY_VARIABLE} must be a repository's address, "
                         f"https://<server>/<owner>/<name>; got {url!r}")
    options = {
        "repository_url": url,
        "repository_branch": (environ.get(BRANCH_VARIABLE) or "").strip() or "main",
        "repository_provider": "github",   # GitHub Enterprise servers too: the workflow is GitHub's
        "path_to_docs": "",                # the book's root is the repository's
        "use_repository_button": True,
        "use_issues_button": True,
        "use_edit_page_button": True,
    }
    if parts.netloc == "github.com":
        options["launch_buttons"] = {"binderhub_url": BINDER, "notebook_interface": "jupyterlab"}
    return options


def repository_buttons(app: Sphinx, config) -> None:
    options = repository_options(os.environ)
    launch = options.pop("launch_buttons", None)
    config.html_theme_options.update(options)
    if launch:
        config.html_theme_options.setdefault("launch_buttons", {}).update(launch)


# Runs on the search page: see search_page_maths.
_SEARCH_SNIPPETS_JS = Path(__file__).with_name("search_snippets.js")


def search_page_maths(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Load MathJax and ``search_snippets.js`` on the search page.

    Sphinx's search shows, under each result, 240 characters of the page's text: the text
    of the HTML, where every formula is still its TeX source (MathJax typesets it in the
    reader's browser), so snippets read ``\\(\\frac{\\partial L}{\\partial w}\\)``.
    ``search_snippets.js`` cuts snippets around whole formulas and has MathJax typeset them;
    Sphinx loads MathJax only on pages with maths, so it is loaded here too, configured as on
    every other page. Connected before :func:`drop_thebe`, which replaces the script list.
    """
    if pagename != "search" or app.builder.format != "html":
        return
    config = app.config
    if getattr(app.builder, "math_renderer_name", None) == "mathjax" and config.mathjax_path:
        if config.mathjax3_config:
            app.builder.add_js_file("", body="window.MathJax = " + json.dumps(config.mathjax3_config))
        app.builder.add_js_file(config.mathjax_path, defer="defer")
    # Deferred: it replaces a function of searchtools.js, which the page loads after it.
    app.builder.add_js_file("search_snippets.js", defer="defer")


def copy_search_snippets(app: Sphinx, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copyfile(_SEARCH_SNIPPETS_JS, Path(app.outdir, "_static", _SEARCH_SNIPPETS_JS.name))


# ---------------------------------------------------------------------------------------
# The PDF: what the HTML folds away is left out
# ---------------------------------------------------------------------------------------

#: myst-nb's hide mode of a cell -> the parts of it (``nb_element``) that the HTML folds.
FOLDED = {
    "input": {"cell_code_source"},
    "output": {"cell_code_output"},
    "input+output": {"cell_code_source", "cell_code_output"},
    "all": {"cell_code_source", "cell_code_output"},
}


def leading_comment(source: str) -> str:
    """The first sentence of the comment a cell's source opens with ("" if none).

    Its lines are joined into one (a word hyphenated at a line's end is joined whole) and
    cut after the first full stop followed by a space.
    """
    text = ""
    for line in source.splitlines():
        if not line.startswith("#"):
            if text or line.strip():
                break
            continue
        words = line.lstrip("#").strip()
        text += words if text.endswith("-") or not text else " " + words
    return re.split(r"(?<=\.)\s", text.strip(), maxsplit=1)[0]


def only_asserts(source: str) -> bool:
    """Whether a cell's source is nothing but ``assert`` statements (a check of the text)."""
    try:
        statements = ast.parse(source).body
    except SyntaxError:  # IPython syntax (magics): not a plain check
        return False
    return bool(statements) and all(isinstance(s, ast.Assert) for s in statements)


def folded_cell_note(source: str) -> nodes.container:
    """What the PDF prints in place of a cell folded away whole: a line saying so.

    The text refers to such cells ("the collapsed cell below runs the experiments of
    Exercise 4"), so on paper the place must still be marked, with what the cell does when
    its opening comment says it (or that it asserts the text's claims, when it only
    asserts). The LaTeX environment ``sphinxclassfoldedcell`` (in the preamble of
    ``_config.yml``) sets it small, in italics.
    """
    what = leading_comment(source).rstrip(".")
    if not what and only_asserts(source):
        what = "it asserts the claims of the text around it on this run's numbers"
    text = "[Collapsed cell, not printed" + (f" — {what}.]" if what else ".]")
    return nodes.container("", nodes.paragraph(text=text), classes=["foldedcell"])


class PrintedCells(SphinxPostTransform):
    """Leave out of the PDF the parts of cells that the HTML folds away.

    myst-nb marks a code cell's container with ``hide_mode`` (from its tags) and folds
    those parts behind a toggle in HTML only; on paper they would print in full. A cell
    left with nothing to show is replaced by a one-line note (:func:`folded_cell_note`).
    """

    default_priority = 199  # where myst-nb folds them for HTML
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for cell in list(self.document.findall(nodes.container)):
            folded = FOLDED.get(cell.get("hide_mode"), set())
            if cell.get("nb_element") != "cell_code" or not folded:
                continue
            source = ""
            for part in list(cell.children):
                if part.get("nb_element") == "cell_code_source":
                    source = part.astext()
                if part.get("nb_element") in folded:
                    cell.remove(part)
            if not cell.children:
                # not replace_self, which would give the note the cell's classes
                # ("tag_hide-cell"), and sphinx-jupyterbook-latex drops those
                cell.parent.replace(cell, folded_cell_note(source))


class MathKeepsItsPunctuation(SphinxPostTransform):
    r"""In HTML, keep each inline formula on a line with the characters that touch it.

    ``$X^\top (p - y)$:`` is an inline formula followed by ``:`` with no space between them,
    yet a browser may break the line there (MathJax's output is a run of inline boxes, and a
    box's edge is a place to break), and a phone then shows a line that starts with a colon.
    The formula and the text touching it, up to the nearest space on either side (``(``
    before, ``):`` or ``-th`` after), are wrapped in ``<span class="nnbook-nobreak">``, which
    ``_static/book.css`` keeps on one line; inside the formula, MathJax's own line breaks
    still apply. LaTeX needs no help: TeX does not break there.
    """

    default_priority = 400
    formats = ("html",)

    def run(self, **kwargs) -> None:
        for math in list(self.document.findall(nodes.math)):
            parent = math.parent
            index = parent.index(math)
            before = parent[index - 1] if index > 0 else None
            after = parent[index + 1] if index + 1 < len(parent) else None
            lead = _touching(before, at_end=True)
            tail = _touching(after, at_end=False)
            if not lead and not tail:
                continue
            kept = nodes.inline("", classes=["nnbook-nobreak"])
            if lead:
                _replace_text(before, before.astext()[: -len(lead)])
                kept += nodes.Text(lead)
            parent.replace(math, kept)
            kept += math
            if tail:
                _replace_text(after, after.astext()[len(tail):])
                kept += nodes.Text(tail)


# The relations after which a formula of a list may continue ("P = ...", "v \leftarrow ...").
_RELATIONS = frozenset("=<>") | {
    r"\approx", r"\equiv", r"\ge", r"\geq", r"\in", r"\le", r"\leftarrow", r"\leq", r"\ne",
    r"\neq", r"\propto", r"\sim", r"\to",
}
# Where an equation ends without a relation: a row, a column, a comma, the next equation.
_ENDS = frozenset({"&", ",", r"\\", r"\qquad", r"\quad"})
# Where the next equation of a list starts: the space after a comma.
_STARTS = frozenset({r"\qquad", r"\quad"})


def break_between_equations(tex: str) -> str:
    r"""``tex`` with each equation's first relation kept with what stands either side of it.

    A display that lists equations, ``S = \frac{QK^\top}{\sqrt d}, \qquad P =
    \operatorname{softmax}(S)``, is one line to MathJax, and on a phone it broke at a
    relation, leaving ``P`` alone at the end of a line and ``= softmax(S)`` on the next.
    ``\nobreak`` on both sides of the first relation of each equation after a ``\quad`` or
    ``\qquad`` keeps ``P = softmax`` together, and MathJax breaks between the equations, or
    later in the right side. Only relations outside braces count (``\frac{a = b}{c}`` is left
    alone); an equation with none before its end (``&``, ``,``, ``\\``, the next space) is
    left as it is: in an aligned row the relation starts its own column. The first equation
    of a display keeps MathJax's own breaks: held to its relation, a left side such as
    ``\texttt{relu\_prime}(z)`` beside a tall right side broke inside instead.
    """
    tokens = re.findall(r"\\[A-Za-z]+|\\.|.", tex, flags=re.S)
    out, looking, depth = [], False, 0
    for token in tokens:
        if looking:
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
            elif depth == 0 and token in _ENDS:
                looking = False
            elif depth == 0 and token in _RELATIONS:
                out += [r"\nobreak ", token, r"\nobreak "]
                looking = False
                continue
        if token in _STARTS:
            looking, depth = True, 0
        out.append(token)
    return "".join(out)


class EquationsBreakBetween(SphinxPostTransform):
    """In HTML, a displayed list of equations breaks between them (:func:`break_between_equations`).

    The PDF's displays never break, and its TeX is left as written.
    """

    default_priority = 400
    formats = ("html",)

    def run(self, **kwargs) -> None:
        for block in self.document.findall(nodes.math_block):
            tex = block.astext()
            kept = break_between_equations(tex)
            if kept != tex:
                block.children = []
                block += nodes.Text(kept)


# A table of at least this many rows (its header included) breaks across the PDF's pages.
LONG_TABLE_ROWS = 12
# A column's padding, and the text column of the PDF, in characters of its body font.
_PAD_CHARS = 3
_LINE_CHARS = 80


def column_widths(lengths: list[int], line: int = _LINE_CHARS, pad: int = _PAD_CHARS) -> list[int]:
    """Percent widths of columns whose longest cells hold ``lengths`` characters.

    The line is shared as LaTeX's ``tabulary`` shares it: a column that needs less than an
    equal share of what is left gets what it needs (its longest cell and its padding), and
    the others share the rest in proportion to their longest cells. Every column gets at
    least 1 %, and the widths add up to 100.
    """
    if not lengths or min(lengths) < 0:
        raise ValueError(f"expected the lengths of one or more columns, got {lengths!r}")
    need = [n + pad for n in lengths]
    fixed: dict[int, float] = {}
    if sum(need) > line:
        while True:
            free = [j for j in range(len(need)) if j not in fixed]
            share = (line - sum(fixed.values())) / len(free)
            small = [j for j in free if need[j] <= share]
            if not small or len(small) == len(free):
                break
            fixed.update({j: need[j] for j in small})
    rest = min(line, sum(need)) - sum(fixed.values())
    free_need = sum(n for j, n in enumerate(need) if j not in fixed)
    share = [fixed.get(j, rest * n / free_need) for j, n in enumerate(need)]
    widths = [max(1, round(100 * s / sum(share))) for s in share]
    widths[widths.index(max(widths))] += 100 - sum(widths)
    return widths


class LongTablesBreak(SphinxPostTransform):
    """In the PDF, a table of :data:`LONG_TABLE_ROWS` rows or more may break across pages.

    Sphinx sets a table of up to 30 rows as a ``tabulary``, a box that cannot break, so a
    table of 20 rows that does not fit where it stands moves whole to the next page and leaves
    the end of its page empty; a few lines added earlier in a chapter then open a gap of half
    a page. Here a long table gets the ``longtable`` class, which Sphinx's LaTeX writer sets
    as a ``longtable`` that continues on the next page under its repeated header. A
    longtable's columns do not size themselves, so a table without ``:widths:`` gets widths
    from its cells' lengths (:func:`column_widths`). A table with merged cells is left alone.
    """

    default_priority = 400
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            group = table.next_node(nodes.tgroup)
            rows = list(group.findall(nodes.row)) if group else []
            if len(rows) < LONG_TABLE_ROWS or any(
                entry.get("morecols") or entry.get("morerows") for row in rows for entry in row
            ):
                continue
            if "colwidths-given" not in table["classes"]:
                specs = list(group.findall(nodes.colspec))
                lengths = [max(len(row[j].astext()) for row in rows) for j in range(len(specs))]
                for spec, width in zip(specs, column_widths(lengths)):
                    spec["colwidth"] = width
                table["classes"].append("colwidths-given")
            if "longtable" not in table["classes"]:
                table["classes"].append("longtable")


# What Sphinx's longtable template writes before "continued from previous page".
_TABLE_NUMBER = r"\tablename\ \thetable{} \textendash{} "


def depart_table(self, node: nodes.Element) -> None:
    """Sphinx's LaTeX for a table, but an uncaptioned longtable does not name a number.

    On the page after a break, a longtable repeats its header under "Table 4.2 – continued
    from previous page". A table without a caption has no number, and ``\\thetable`` is then
    that of the chapter's last captioned table: the line says "continued from previous page"
    alone (:class:`LongTablesBreak` makes the verified-formula lists such tables).
    """
    captioned = bool(self.table.caption)
    start = len(self.body)
    LaTeXTranslator.depart_table(self, node)
    if not captioned:
        self.body[start:] = [part.replace(_TABLE_NUMBER, "") for part in self.body[start:]]


MINUS = "\u2212"


class GluedNumbersHaveAMinusSign(SphinxPostTransform):
    """A negative number glued into the prose is set with a minus sign, not a hyphen.

    Python formats ``-1.2`` with a hyphen-minus (U+002D), which is shorter than a plus sign
    and sits lower, so ``-1.2`` beside ``+0.6`` in a table's column looks like a dash. The
    prose writes a minus sign (U+2212) where it types one; a pasted number (myst-nb's
    ``span.pasted-text``) that starts with a hyphen before a digit gets one too, in HTML and
    in the PDF (xelatex takes U+2212 from the font, as it does the prose's).
    """

    default_priority = 400  # after myst-nb pastes glue from other pages (priority 5)

    def run(self, **kwargs) -> None:
        for pasted in self.document.findall(nodes.inline):
            if "pasted-text" not in pasted["classes"] or not pasted.children:
                continue
            text = pasted.children[0]
            if isinstance(text, nodes.Text) and re.match(r"-[0-9.]", text.astext()):
                pasted.replace(text, nodes.Text(MINUS + text.astext()[1:]))


def _replace_text(node: nodes.Text, text: str) -> None:
    """Replace text ``node`` by ``text``, or remove it if nothing is left."""
    if text:
        node.parent.replace(node, nodes.Text(text))
    else:
        node.parent.remove(node)


def _touching(node, at_end: bool) -> str:
    """The characters of text ``node`` that touch a formula, up to the nearest whitespace.

    ``at_end``: the text comes before the formula, so its last characters touch it.
    """
    if not isinstance(node, nodes.Text):
        return ""
    found = re.search(r"\S+\Z" if at_end else r"\A\S+", node.astext())  # not $: "a\n"
    return found.group() if found else ""


def visit_root_header(self, node: nodes.Element) -> None:
    """LaTeX for a section title of the root page: an unnumbered (sub)section.

    ``\\section*`` keeps its title with the paragraph after it, which the bold line of
    sphinx-jupyterbook-latex (its ``RootHeader`` node, ``level`` 2 for ``##``) does not.
    """
    command = "section" if node["level"] <= 2 else "subsection"
    self.body.append(f"\n\\{command}*{{{self.encode(node.astext())}}}\n")
    raise nodes.SkipNode


def root_headers_as_sections(app: Sphinx) -> None:
    """Render sphinx-jupyterbook-latex's root-page titles with :func:`visit_root_header`.

    Registered once every extension is set up, so that it overrides theirs.
    """
    try:
        from sphinx_jupyterbook_latex.nodes import RootHeader
    except ImportError:  # the LaTeX extension is off: nothing to override
        return
    app.add_node(RootHeader, override=True, latex=(visit_root_header, None))


def setup(app: Sphinx) -> dict:
    app.add_post_transform(PrintedCells)
    app.add_post_transform(MathKeepsItsPunctuation)
    app.add_post_transform(GluedNumbersHaveAMinusSign)
    app.add_post_transform(EquationsBreakBetween)
    app.add_post_transform(LongTablesBreak)
    app.add_node(nodes.table, override=True, latex=(LaTeXTranslator.visit_table, depart_table))
    app.connect("builder-inited", root_headers_as_sections)
    app.connect("config-inited", theme_defaults)
    app.connect("config-inited", repository_buttons)
    app.connect("html-page-context", search_page_maths)   # before drop_thebe
    app.connect("html-page-context", drop_thebe)
    app.connect("html-page-context", tab_title)
    app.connect("html-page-context", icon_links)
    app.connect("build-finished", copy_icons)
    app.connect("build-finished", copy_search_snippets)
    app.connect("missing-reference", resolve_reexport)
    app.connect("autodoc-skip-member", skip_foreign_attributes)
    app.connect("autodoc-process-signature", public_signature)
    app.connect("html-page-context", offer_downloads, priority=400)
    app.connect("html-page-context", write_downloads, priority=600)
    app.connect("html-page-context", add_py_download_button, priority=600)
    # Before sphinx.ext.napoleon (priority 500) parses the numpydoc sections.
    app.connect("autodoc-process-docstring", book_see_also, priority=400)
    app.connect("autodoc-process-docstring", keep_attribute_prose, priority=400)
    app.connect("autodoc-process-docstring", keep_attribute_prose, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

