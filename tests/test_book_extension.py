"""Pure pieces of the book's Sphinx extensions (tools/book_extension.py, book_references.py).

The extensions run in every build of the book; these check, in milliseconds, the decisions
that a local build cannot show: the buttons of the published site, the bibliography labels.
"""

import book_extension
import book_references
import pytest
from _book import ROOT
from pybtex.database import parse_file

REPO = "https://github.com/someone/dl-book"


def test_a_build_that_does_not_know_its_repository_shows_no_button():
    assert book_extension.repository_options({}) == {}
    assert book_extension.repository_options({"NNBOOK_REPOSITORY": "  "}) == {}


def test_the_pages_workflow_turns_on_the_buttons_and_binder():
    options = book_extension.repository_options(
        {"NNBOOK_REPOSITORY": REPO + "/", "NNBOOK_BRANCH": "main"})
    assert options["repository_url"] == REPO
    assert options["repository_branch"] == "main"
    assert options["path_to_docs"] == ""    # "suggest edit" opens <branch>/book/<page>.md
    assert options["use_repository_button"] and options["use_issues_button"]
    assert options["use_edit_page_button"]
    assert options["launch_buttons"] == {"binderhub_url": "https://mybinder.org",
                                         "notebook_interface": "jupyterlab"}
    assert "colab_url" not in options["launch_buttons"]   # Colab cannot open a .md chapter


def test_a_server_other_than_github_com_gets_no_binder_button():
    options = book_extension.repository_options(
        {"NNBOOK_REPOSITORY": "https://github.example.com/team/book"})
    assert options["repository_branch"] == "main"
    assert options["repository_provider"] == "github"
    assert "launch_buttons" not in options


@pytest.mark.parametrize("url", ["someone/dl-book", "https://github.com/someone", "file:///x/y"])
def test_an_address_that_is_not_a_repository_is_refused(url):
    with pytest.raises(ValueError, match="NNBOOK_REPOSITORY"):
        book_extension.repository_options({"NNBOOK_REPOSITORY": url})


def test_the_workflow_sets_the_variables_the_extension_reads():
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert f"{book_extension.REPOSITORY_VARIABLE}: ${{{{ github.server_url }}}}/${{{{ github.repository }}}}" in workflow
    assert f"{book_extension.BRANCH_VARIABLE}: ${{{{ github.ref_name }}}}" in workflow


@pytest.mark.parametrize("names, cited", [
    (["Nielsen"], "Nielsen"),
    (["Glorot", "Bengio"], "Glorot and Bengio"),
    (["Rumelhart", "Hinton", "Williams"], "Rumelhart et al."),
])
def test_authors_are_named_as_an_author_year_citation_names_them(names, cited):
    assert book_references.cited_authors(names) == cited


def test_labels_of_works_with_the_same_authors_and_year_get_letters():
    labels = book_references.author_year_labels(
        [("LeCun et al.", "1998"), ("LeCun et al.", "1998"), ("Nielsen", "2015")])
    assert labels == ["LeCun et al., 1998a", "LeCun et al., 1998b", "Nielsen, 2015"]


def test_every_entry_of_the_bibliography_gets_a_distinct_author_year_label():
    style = book_references.BookStyle()
    entries = list(style.sort(parse_file(ROOT / "book" / "references.bib").entries.values()))
    labels = dict(zip((e.key for e in entries), style.format_labels(entries)))
    assert labels["rumelhart1986learning"] == "Rumelhart et al., 1986"
    assert labels["glorot2010understanding"] == "Glorot and Bengio, 2010"
    assert labels["nielsen2015neural"] == "Nielsen, 2015"
    assert len(set(labels.values())) == len(labels)


def _cell(hide_mode, parts):
    from docutils import nodes

    cell = nodes.container(nb_element="cell_code", classes=["cell"])
    if hide_mode:
        cell["hide_mode"] = hide_mode
        cell["classes"].append("tag_hide-cell")  # as myst-nb tags it
    for part in parts:
        cell += nodes.container(nb_element=part)
    return cell


def test_the_pdf_leaves_out_what_the_html_folds_away():
    from docutils import nodes
    from docutils.utils import new_document

    document = new_document("page")
    both = ["cell_code_source", "cell_code_output"]
    cells = {
        mode: _cell(mode, both) for mode in (None, "input", "output", "input+output", "all")
    }
    source_only = _cell("input", ["cell_code_source"])  # a hidden check with no output
    for cell in [*cells.values(), source_only]:
        document += cell
    transform = book_extension.PrintedCells(document)
    transform.run()
    kept = {mode: [p["nb_element"] for p in cell.children] for mode, cell in cells.items()}
    assert kept == {
        None: both,
        "input": ["cell_code_output"],
        "output": ["cell_code_source"],
        "input+output": [],
        "all": [],
    }
    remaining = list(document.findall(nodes.container))
    assert source_only not in remaining and cells["all"] not in remaining
    assert cells[None] in remaining and cells["input"] in remaining
    # the cells folded away whole leave a note in their place, in the same order
    notes = [c for c in document.children if "foldedcell" in c["classes"]]
    assert len(notes) == 3
    assert document.children.index(notes[0]) == 3  # after the three cells still printed
    assert book_extension.PrintedCells.formats == ("latex",)


def test_an_inline_formula_is_kept_with_the_characters_touching_it():
    from docutils import nodes
    from docutils.utils import new_document

    document = new_document("page")
    paragraph = nodes.paragraph()
    paragraph += [nodes.Text("the sum ("), nodes.math(text="a"), nodes.Text("): and "),
                  nodes.math(text="b"), nodes.Text(" alone, then\n"), nodes.math(text="c"),
                  nodes.Text("-th")]
    document += paragraph
    book_extension.MathKeepsItsPunctuation(document).run()
    parts = [(c["classes"], c.astext()) if isinstance(c, nodes.inline) else c.astext()
             for c in paragraph.children]
    # a line's end in the source is a space: "then\n" keeps its last word
    assert parts == ["the sum ", (["nnbook-nobreak"], "(a):"), " and ", "b", " alone, then\n",
                     (["nnbook-nobreak"], "c-th")]
    # the formula itself is moved, not copied: MathJax and the search index see it once
    assert [m.astext() for m in document.findall(nodes.math)] == ["a", "b", "c"]
    assert book_extension.MathKeepsItsPunctuation.formats == ("html",)


def test_a_cell_folded_away_whole_is_marked_with_what_its_opening_comment_says():
    from docutils import nodes
    from docutils.utils import new_document

    document = new_document("page")
    cell = nodes.container(
        nb_element="cell_code", hide_mode="all", classes=["cell", "tag_hide-cell"])
    source = nodes.container(nb_element="cell_code_source")
    source += nodes.literal_block(
        text="\n# Exercise 4: the same network with\n# average pooling.\nx = 1  # not this\n")
    cell += source
    cell += nodes.container(nb_element="cell_code_output")
    silent = _cell("all", ["cell_code_source"])  # no source text: no comment to quote
    document += [cell, silent]
    book_extension.PrintedCells(document).run()
    notes = [c.astext() for c in document.children]
    assert notes == [
        "[Collapsed cell, not printed — Exercise 4: the same network with average pooling.]",
        "[Collapsed cell, not printed.]",
    ]
    # and only the note's class: sphinx-jupyterbook-latex drops a "tag_hide-cell"
    assert all(c["classes"] == ["foldedcell"] for c in document.children)
    assert book_extension.leading_comment("x = 1\n# late") == ""
    # one sentence, hyphenated words joined whole
    assert book_extension.leading_comment(
        "# Exercise 1: a budget of full-\n# batch steps. The rest\n# is not quoted.\n"
    ) == "Exercise 1: a budget of full-batch steps."


def test_a_folded_cell_that_only_asserts_is_marked_as_a_check():
    from docutils import nodes

    check = book_extension.folded_cell_note("assert a < b\n\nassert c, c  # why\n")
    assert check.astext() == (
        "[Collapsed cell, not printed — it asserts the claims of the text around it on this "
        "run's numbers.]")
    # computing anything, or not Python, is not just a check
    for source in ("x = f()\nassert x", "%timeit f()", ""):
        assert book_extension.folded_cell_note(source).astext() == "[Collapsed cell, not printed.]"
    assert isinstance(check, nodes.container)


def test_the_root_pages_titles_are_unnumbered_sections_in_the_pdf():
    from docutils import nodes

    class Translator:  # the two things of Sphinx's LaTeX translator that it uses
        body: list = []

        def encode(self, text):
            return text.replace("&", r"\&")

    translator = Translator()
    for level, title in [(2, "How to read it"), (3, "Data & code")]:
        header = nodes.Element(level=level)
        header += nodes.Text(title)
        with pytest.raises(nodes.SkipNode):  # its children are not visited again
            book_extension.visit_root_header(translator, header)
    assert translator.body == ["\n\\section*{How to read it}\n", "\n\\subsection*{Data \\& code}\n"]


def test_a_glued_negative_number_gets_a_minus_sign_and_nothing_else_changes():
    from docutils import nodes
    from docutils.utils import new_document

    document = new_document("page")
    paragraph = nodes.paragraph()
    texts = ["-1.2", "+0.6", "-.5", "0.3", "-", "-based", "1-2"]
    pasted = [nodes.inline(t, t, classes=["pasted-text"]) for t in texts]
    typed = nodes.inline("-3", "-3")  # not glued: the prose's own text is left alone
    paragraph += [*pasted, typed]
    document += paragraph
    book_extension.GluedNumbersHaveAMinusSign(document).run()
    assert [p.astext() for p in pasted] == ["\u22121.2", "+0.6", "\u2212.5", "0.3", "-",
                                            "-based", "1-2"]
    assert typed.astext() == "-3"
    assert book_extension.GluedNumbersHaveAMinusSign.formats == ()  # HTML and the PDF


def test_a_list_of_equations_breaks_between_them_not_before_a_relation():
    tex = (r"S = \frac{Q K^\top}{\sqrt d}, \qquad" "\n"
           r"P = \operatorname{softmax}_{\text{rows}}(S), \qquad O = P V,")
    assert book_extension.break_between_equations(tex) == (
        r"S = \frac{Q K^\top}{\sqrt d}, \qquad" "\n"
        r"P \nobreak =\nobreak  \operatorname{softmax}_{\text{rows}}(S), \qquad "
        r"O \nobreak =\nobreak  P V,")
    # the first relation outside braces, of each equation; \quad separates equations too
    assert book_extension.break_between_equations(
        r"a, \quad \frac{b = c}{d} \leftarrow e = f \quad (s \to -\infty)"
    ) == r"a, \quad \frac{b = c}{d} \nobreak \leftarrow\nobreak  e = f \quad (s \nobreak \to\nobreak  -\infty)"
    # left alone: the first equation, an aligned column's relation, an equation without one
    for tex in [r"x = 1", r"a \qquad x &= 1 \\ y &= 2", r"a, \qquad b, \qquad c",
                r"a \qquad \text{i.e.}, \ b = c"]:
        assert book_extension.break_between_equations(tex) == tex


def test_only_the_html_gets_the_breaks():
    from docutils import nodes
    from docutils.utils import new_document

    document = new_document("page")
    listed = nodes.math_block(r"a = 1, \qquad b = 2", r"a = 1, \qquad b = 2")
    single = nodes.math_block("c = 3", "c = 3")
    document += [listed, single]
    book_extension.EquationsBreakBetween(document).run()
    assert listed.astext() == r"a = 1, \qquad b \nobreak =\nobreak  2"
    assert single.astext() == "c = 3"
    assert book_extension.EquationsBreakBetween.formats == ("html",)


def test_a_long_tables_columns_share_the_line_as_tabulary_shares_it():
    line, pad = 80, 3
    # a table narrower than the line: widths in proportion to the longest cells
    assert book_extension.column_widths([7, 7], line, pad) == [50, 50]
    assert book_extension.column_widths([17, 37], line, pad) == [33, 67]  # 20 : 40, with padding
    # wider: a column that needs less than an equal share gets what it needs (2 + 3 of 80
    # characters), the others share the rest in proportion (75 × 83/136 and 75 × 53/136)
    assert book_extension.column_widths([2, 80, 50], line, pad) == [6, 57, 37]
    assert book_extension.column_widths([200, 200, 2], line, pad) == [47, 47, 6]
    # no column gets less than 1 %, and the widths always add up to 100
    widths = book_extension.column_widths([0, 5000, 0, 3000], line, pad)
    assert min(widths) >= 1 and sum(widths) == 100
    for bad in ([], [3, -1]):
        with pytest.raises(ValueError, match="lengths of one or more columns"):
            book_extension.column_widths(bad)


def _table(rows, widths=None, merged=False):
    """A docutils table of ``rows`` rows (its header included) and three columns."""
    from docutils import nodes

    table = nodes.table(classes=["colwidths-given"] if widths else [])
    group = nodes.tgroup(cols=3)
    table += group
    for width in widths or [33, 33, 33]:
        group += nodes.colspec(colwidth=width)
    head, body = nodes.thead(), nodes.tbody()
    group += [head, body]
    for i in range(rows):
        row = nodes.row()
        for text in [str(i), "a formula's name", "SymPy"]:
            row += nodes.entry("", nodes.paragraph(text=text))
        (head if i == 0 else body).append(row)
    if merged:
        body[0][0]["morecols"] = 1
    return table


def test_a_table_of_twelve_rows_or_more_breaks_across_the_pdfs_pages():
    from docutils.utils import new_document

    document = new_document("page")
    rows = book_extension.LONG_TABLE_ROWS
    long, short = _table(rows), _table(rows - 1)
    given, merged = _table(rows, widths=[10, 60, 30]), _table(rows, merged=True)
    document += [long, short, given, merged]
    book_extension.LongTablesBreak(document).run()
    assert long["classes"] == ["colwidths-given", "longtable"]
    widths = [spec["colwidth"] for spec in long.findall(lambda n: n.tagname == "colspec")]
    assert widths == book_extension.column_widths([2, 16, 5])   # from the longest cells
    assert given["classes"] == ["colwidths-given", "longtable"]   # its own widths kept
    assert [s["colwidth"] for s in given.findall(lambda n: n.tagname == "colspec")] == [10, 60, 30]
    assert short["classes"] == [] and merged["classes"] == []
    assert book_extension.LongTablesBreak.formats == ("latex",)


def test_a_continued_table_without_a_caption_names_no_table_number(monkeypatch):
    from pathlib import Path

    import sphinx
    from sphinx.writers.latex import LaTeXTranslator

    # the words it removes are the ones Sphinx's template writes
    template = Path(sphinx.__file__).parent / "templates" / "latex" / "longtable.tex.jinja"
    continued = book_extension._TABLE_NUMBER + "<%= _('continued from previous page') %>"
    assert continued in template.read_text()

    def sphinx_depart(self, node):   # what Sphinx appends: its template's text, rendered
        self.body += ["\n\n", book_extension._TABLE_NUMBER + "continued from previous page"]

    monkeypatch.setattr(LaTeXTranslator, "depart_table", sphinx_depart)

    class Translator:
        def __init__(self, caption):
            self.table = type("Table", (), {"caption": caption})()
            self.body = [book_extension._TABLE_NUMBER + "(an earlier table's line)"]

    bare, captioned = Translator([]), Translator(["Every result."])
    for translator in (bare, captioned):
        book_extension.depart_table(translator, None)
    assert bare.body[-1] == "continued from previous page"
    assert captioned.body[-1] == book_extension._TABLE_NUMBER + "continued from previous page"
    assert bare.body[0] == captioned.body[0]   # what came before the table is left alone
