"""What the reader sees: chapter numbering, code width, and the checks of HTML and PDF.

Fast unit tests of the pure parts of tools/book_numbering.py, tools/format_cells.py,
tools/check_html.py and tools/check_pdf.py; the browser and LaTeX runs themselves happen in
CI (.ci/run) on the built book.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from pathlib import Path

import book_numbering
import check_html
import check_pdf
import format_cells
import pytest
import toc
from _book import ROOT


def test_chapters_are_numbered_from_zero():
    assert book_numbering.shift((1,)) == (0,)
    assert book_numbering.shift((5, 2, 1)) == (4, 2, 1)
    assert book_numbering.shift(()) == () and book_numbering.shift(None) is None
    shared = [3, 1]                       # Sphinx shares one list between a toc entry and a title
    assert book_numbering.shift(shared) is shared and shared == [2, 1]


def test_numbered_chapters_are_the_steps_in_order():
    chapters = toc.numbered_chapters(ROOT)
    assert chapters[0] == "book/00_before_you_start"
    assert chapters[-1] == "book/08_reflection"          # the reflection closes the book
    assert not any(c.startswith(("book/api", "book/build", "book/references")) for c in chapters)
    assert all(c in toc.pages(ROOT) for c in chapters)


def test_numbered_chapters_follow_part_settings(tmp_path):
    (tmp_path / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: index
        defaults:
          numbered: true
        parts:
          - caption: A
            chapters: [{file: a}, {file: b.md, sections: [{file: b1}]}]
          - caption: Reference
            numbered: false
            chapters: [{file: r}]
        """))
    assert toc.numbered_chapters(tmp_path) == ["a", "b"]


def test_page_titles_do_not_repeat_the_chapter_number():
    for docname in toc.numbered_chapters(ROOT):
        heading = check_pdf.title(toc.source(ROOT, docname))
        assert not heading.startswith("Step "), f"{docname}: the number is the chapter's own"


def test_format_cells_formats_code_and_reports_what_black_cannot_shorten(tmp_path):
    page = tmp_path / "p.md"
    long_string = "x = '" + "a" * 80 + "'"
    text = ("# T\n\n```{code-cell} ipython3\n---\ntags: [hide-input]\n---\ny=[1,2 ,3]\n```\n\n"
            "text\n\n```{code-cell} ipython3\n" + long_string + "\n```\n")
    new, findings = format_cells.format_page(text, page)
    assert "tags: [hide-input]\n---\ny = [1, 2, 3]\n```" in new      # metadata kept
    assert "text\n\n```{code-cell}" in new                             # prose untouched
    assert len(findings) == 1 and findings[0].line == 13 and "86 characters" in findings[0].message
    again, _ = format_cells.format_page(new, page)
    assert again == new                                                # idempotent


def test_format_cells_reports_code_black_cannot_parse(tmp_path):
    _, findings = format_cells.format_page("```{code-cell} ipython3\ndef (:\n```\n", tmp_path / "p.md")
    assert len(findings) == 1 and "cannot parse" in findings[0].message


def test_format_cells_command_checks_formats_in_place_and_fails_on_what_black_cannot_shorten(
        tmp_path, capsys):
    page = tmp_path / "p.md"
    text = "# T\n\n```{code-cell} ipython3\ny=[1,2 ,3]\n```\n"
    page.write_text(text)
    assert format_cells.main(["--check", str(page)]) == 1       # off, and left as it was
    assert page.read_text() == text
    assert f"{page}: not formatted" in capsys.readouterr().out
    assert format_cells.main([str(page)]) == 0                  # formatted in place
    assert "y = [1, 2, 3]" in page.read_text() and list(tmp_path.iterdir()) == [page]
    assert format_cells.main(["--check", str(page)]) == 0
    page.write_text("```{code-cell} ipython3\nx = '" + "a" * 80 + "'\n```\n")
    assert format_cells.main([str(page)]) == 1                  # a line Black cannot shorten
    assert "1 lines Black cannot shorten" in capsys.readouterr().out


def test_check_pdf_says_when_there_is_no_pdf(tmp_path, capsys):
    assert check_pdf.main([str(tmp_path / "book.pdf")]) == 1
    assert f"no PDF at {tmp_path / 'book.pdf'}" in capsys.readouterr().err


def test_layout_problems_name_the_cell_and_say_what_to_do():
    problems = check_html.layout_problems({
        "wideCode": ["code block starting 'x = 1': 40 px too wide (longest line 82 characters)"],
        "wideMath": ["700 px in a 688 px column: 'a=b'"],
        "shrunk": ["../_images/a.svg shown at 0.50 of its size"],
        "uncaptioned": ["fig, ax = plt.subplots()"],
    })
    assert len(problems) == 4
    assert "40 px too wide" in problems[0] and "formula" in problems[1]
    assert "column's width" in problems[2]
    assert "mystnb: figure: caption" in problems[3] and "plt.subplots" in problems[3]
    broken = check_html.layout_problems({
        "wideCode": [], "wideMath": [], "shrunk": [], "uncaptioned": [],
        "phoneBrokenWords": ["scratch", "frozen"],
    })
    assert len(broken) == 1 and "'scratch', 'frozen'" in broken[0] and "360 px" in broken[0]
    cut = check_html.layout_problems({
        "wideCode": [], "wideMath": [], "shrunk": [], "uncaptioned": [],
        "phoneClippedMath": {"inline": ['300 px in 259 px: "a=b"'],
                             "display": [r'"\lambda_s |\hat w - w|"'],
                             "measured": ['broken for 80 px, shown in 264 px: "a=b"'],
                             "numbers": ["(13.1)# overlaps its formula by 9 px"],
                             "aligned": ['"⟨G, X dW⟩": broken into lines']},
    })
    assert len(cut) == 5 and all("cut off" in c for c in cut[:2])
    assert "a table in a formula (aligned rows, a matrix) lost its columns" in cut[4]
    assert "math_aligned.js" in cut[4]
    assert '"⟨G, X dW⟩": broken into lines' in cut[4]
    assert "number (13.1)# overlaps its formula by 9 px" in cut[3]
    assert "broke a displayed formula for another column" in cut[2]
    assert "broken for 80 px, shown in 264 px" in cut[2] and "math_reflow.js" in cut[2]
    assert "inline" in cut[0] and "$a =$ $b$" in cut[0] and "300 px in 259 px" in cut[0]
    assert "displayed" in cut[1] and "book.css" in cut[1]


PHONE_PAGE = """<!DOCTYPE html><html><head><script src="figure_links.js"></script></head>
<body><main><article>
<p>A formula <span class="math" id="cut">{formula}</span> in a paragraph.</p>
<p>Another <span class="math" id="scrolls" style="overflow-x: auto">{formula}</span>.</p>
<p>Fits: <span class="math">a = b</span>.</p>
<details><summary>Solution</summary><p><span class="math">{formula}y</span></p></details>
<div class="math" style="overflow-x: auto; background: linear-gradient(#fff, #fff) local">
{formula}d</div>
<div class="math" style="overflow-x: auto">{formula}S</div>
<div class="math">{formula}D</div>
<div class="math" style="display: block; position: relative; padding-right: 2em">
<span class="eqno" style="position: absolute; right: 0">(13.1) too wide</span>
<mjx-container display="true" style="display: block">x</mjx-container></div>
<div class="math" style="display: flex; flex-direction: column-reverse">
<span class="eqno" style="align-self: flex-end">(13.2) under its formula</span>
<mjx-container display="true" style="display: block">x</mjx-container></div>
<div class="cell_output"><img src="figure.svg" alt="a figure"></div>
<div class="cell_output"><pre>{long_output}</pre></div>
<div class="cell_output"><pre>{short_output}</pre></div>
<p><img src="logo.svg" alt="not a figure"></p>
<p>A standard error of <span class="pasted-text">np.float64(0.031885)</span>.</p>
<p>Code may say <code>np.float64(x)</code>.</p>
</article></main></body></html>"""


@contextlib.contextmanager
def phone_tab(page: Path):
    """A headless Chromium tab at a phone's width showing ``page``; skips without one."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(check_html.CHROMIUM).exists():
        pytest.skip(f"no {check_html.CHROMIUM}")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=check_html.CHROMIUM,
                                     args=check_html.CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport=check_html.PHONE)
            tab.goto(page.as_uri())
            yield tab
        finally:
            browser.close()


@pytest.mark.slow
def test_the_browser_checks_find_a_cut_formula_a_long_output_and_unlinked_figures(tmp_path):
    # The theme's style for inline maths, which cuts a formula wider than the column.
    css = ("span.math, div.math { display: flex; max-width: 100%; overflow: hidden; } "
           "span.math { display: inline-flex; }")
    wide = "x" * 300  # no place to break, as a typeset formula has none
    page = tmp_path / "page.html"
    lines = [f"{0.69 - i / 1e4!r}," for i in range(check_html.MAX_OUTPUT_LINES + 1)]
    page.write_text(PHONE_PAGE.format(
        formula=wide, long_output="\n".join(lines), short_output="\n".join(lines[:-1]),
    ).replace(
        "</head>", f"<style>{css}</style></head>"))
    (tmp_path / "figure_links.js").write_text(
        (ROOT / "_static" / "figure_links.js").read_text())
    with phone_tab(page) as tab:
        layout = tab.evaluate(check_html.LAYOUT_REPORT_JS, check_html.MAX_OUTPUT_LINES)
        tab.evaluate(check_html.OPEN_HIDDEN_JS)
        tab.evaluate(check_html.MATH_REFLOW_JS)
        cut = tab.evaluate(check_html.PHONE_CLIPPED_MATH_JS)
        report = tab.evaluate(check_html.PAGE_REPORT_JS, [check_html.RAW_TEX, check_html.NUMPY_REPR])
    # Inline formulas wider than the column are cut, scrolling or not, folded away or not; a
    # displayed one when its box does not scroll, or scrolls with no shadow to show it.
    assert [c.endswith(f'"{wide[:60]}"') for c in cut["inline"]] == [True] * 3
    quoted = f'"{wide[:60]}"'
    assert cut["display"] == [f"{quoted}: its box scrolls with no shadow at the edge to say so",
                              f"{quoted}: its box does not scroll"]
    # An equation's number wider than the room the block leaves it; not one on a line of its
    # own under its formula (as on a phone), across the formula's width.
    assert len(cut["numbers"]) == 1
    assert re.fullmatch(r"\(13\.1\) too wide overlaps its formula by \d+ px", cut["numbers"][0])
    assert cut["measured"] == [] and cut["aligned"] == []   # no MathJax on this page
    # the one that scrolls with its shadow is no problem, but it is named, with its width
    assert len(cut["scrolling"]) == 1
    assert re.fullmatch(rf'{quoted}: \d{{4}} px in \d{{3}} px', cut["scrolling"][0])
    assert len(layout["longOutputs"]) == 1 and "151 lines" in layout["longOutputs"][0]
    images = {Path(img["src"]).name: img for img in report["images"]}
    assert images["figure.svg"]["drawn"] and images["figure.svg"]["linked"]
    assert not images["logo.svg"]["drawn"] and not images["logo.svg"]["linked"]
    assert report["reprs"] == ["np.float64(0.031885)"]  # the glued one; code is not prose


DETACHED_PAGE = """<!DOCTYPE html><html><head><style>
main p {{ width: 17ch; font: 16px monospace; }}
span.math {{ display: inline-block; }}
.kept {{ white-space: nowrap; }}
span.math.box {{ display: inline-flex; align-items: baseline; width: 5ch; }}
.box > span {{ display: block; white-space: normal; }}
span.math.flow {{ display: inline; white-space: normal; }}
</style></head><body><main>
<p>{words} <span class="math">xxxx</span>: and on</p>
<p>{words} <span class="kept"><span class="math">xxxx</span>:</span> and on</p>
<p>{words} <span class="math">xxxx</span> : and on</p>
<p>{words} <span class="kept">(<span class="math">xxxx</span></span> and on</p>
<p>{words} (<span class="math">xxxxxxxxxx</span> and on</p>
<p>{words} <span class="kept"><span class="math box"><span><mjx-math>xxxx yyyy</mjx-math></span>
</span>;</span> and on</p>
<p>{words} <span class="kept"><span class="math flow"><mjx-math>xxxx yyyy</mjx-math></span>;</span>
and on</p>
</main></body></html>"""


@pytest.mark.slow
def test_the_browser_check_finds_a_formula_on_another_line_than_its_punctuation(tmp_path):
    # 17 characters to a line: "aaaa bbbb cc xxxx" fills it, so what touches the formula
    # wraps unless something keeps the two together.
    page = tmp_path / "page.html"
    page.write_text(DETACHED_PAGE.format(words="aaaa bbbb cc"))
    with phone_tab(page) as tab:
        detached = tab.evaluate(check_html.DETACHED_MATH_JS)
    # The bare formula loses its colon; kept in a span, it does not; a spaced colon may go to
    # the next line; an opening bracket left at the end of a line is found too. A formula
    # broken into two lines inside an inline-flex box (the theme's span.math) has the ";"
    # after it beside its first line; one that flows with the text has it after its last.
    assert detached == ['"xxxx" | ":"', '"(" | "xxxxxxxxxx"', '"xxxx yyyy" | ";"']
    problems = check_html.layout_problems({
        "wideCode": [], "wideMath": [], "shrunk": [], "uncaptioned": [],
        "phoneDetachedMath": detached,
    })
    assert len(problems) == 3 and "on two lines" in problems[0] and "360 px" in problems[0]
    assert "MathKeepsItsPunctuation" in problems[0]
    assert "1280 px" in check_html.layout_problems({
        "wideCode": [], "wideMath": [], "shrunk": [], "uncaptioned": [],
        "detachedMath": detached[:1],
    })[0]


CAPTIONS_PAGE = """<!DOCTYPE html><html><head><link rel="stylesheet" href="book.css">
<script src="table_scroll.js"></script></head><body><main>
<div class="pst-scrollable-table-container" style="overflow-x: auto">
<table><caption>Kept {caption}</caption><tr><td>{row}</td></tr></table></div>
<div style="overflow-x: auto">
<table><caption>Scrolls away {caption}</caption><tr><td>{row}</td></tr></table></div>
<div class="pst-scrollable-table-container" style="overflow-x: auto">
<table><caption>Fits {caption}</caption><tr><td>narrow</td></tr></table></div>
</main></body></html>"""


@pytest.mark.slow
def test_a_wide_table_on_a_phone_keeps_its_caption_in_view_and_shows_that_it_scrolls(tmp_path):
    # The theme wraps every table in a container that scrolls (pydata-sphinx-theme): without
    # the book's style and script a wide table's caption scrolls away with it, and nothing
    # shows that the table goes on; with them, the caption stays and the edge fades. A
    # table that fits has nothing to scroll.
    page = tmp_path / "page.html"
    page.write_text(CAPTIONS_PAGE.format(caption="words " * 60, row="x" * 200))
    for name in ("book.css", "table_scroll.js"):
        (tmp_path / name).write_text("")
    with phone_tab(page) as tab:
        found = tab.evaluate(check_html.PHONE_SCROLLING_TABLES_JS)
    cut, unmarked = found["captions"], found["unmarked"]
    assert [c.split()[0] for c in cut] == ['"Kept', '"Scrolls']
    assert [c.split()[0] for c in unmarked] == ['"Kept', '"Scrolls']
    for name in ("book.css", "table_scroll.js"):
        (tmp_path / name).write_text((ROOT / "_static" / name).read_text())
    with phone_tab(page) as tab:
        tab.wait_for_function("document.querySelector('.nnbook-more-right')")
        found = tab.evaluate(check_html.PHONE_SCROLLING_TABLES_JS)
        # The fade is on the side where the table goes on, and goes with the scroll.
        box = tab.locator(".pst-scrollable-table-container").first
        sides = [box.evaluate(f"b => {{ b.scrollLeft = {at}; return new Promise(r => "
                              f"setTimeout(() => r(b.className), 100)); }}")
                 for at in (0, 50, 10_000)]
    assert [c.split()[0] for c in found["captions"]] == ['"Scrolls']
    assert [c.split()[0] for c in found["unmarked"]] == ['"Scrolls']
    assert [sorted(s.split()[1:]) for s in sides] == [
        ["nnbook-more-right"], ["nnbook-more-left", "nnbook-more-right"], ["nnbook-more-left"]]
    problems = check_html.layout_problems({
        "wideCode": [], "wideMath": [], "shrunk": [], "uncaptioned": [],
        "phoneScrollingTables": found,
    })
    assert len(problems) == 2 and "caption is cut off" in problems[0]
    assert "book.css" in problems[0] and "no fade" in problems[1]


@pytest.mark.parametrize("text", [
    "$x$ is", "$$", r"\\(a\\)", r"\\begin{aligned}",
    r"$\\mathrm{JSD}(p ,|, q) = \\tfrac12 \\mathrm{KL}(p ,|, m)",   # a formula cut by a list
    r"\\tfrac12 \\mathrm{KL}(q ,|, m)", r"and at most \\log 2. So",
])
def test_raw_tex_in_prose_is_found(text):
    assert re.search(check_html.RAW_TEX, text)


@pytest.mark.parametrize("text", [
    "a 5 % gain", "C:/data", "x = y \\ 2", "the $ sign",
])
def test_prose_without_tex_passes(text):
    assert not re.search(check_html.RAW_TEX, text)


@pytest.mark.parametrize("text", ["np.float64(0.0319)", "of np.int64(5) points", "np.float32(nan)"])
def test_a_numpy_repr_in_prose_is_found(text):
    assert re.search(check_html.NUMPY_REPR, text)


@pytest.mark.parametrize("text", ["0.0319", "an np.float64 array", "inp.float64(1)", "np.floating"])
def test_prose_without_a_numpy_repr_passes(text):
    assert not re.search(check_html.NUMPY_REPR, text)


def test_pdf_chapter_numbers_must_be_step_numbers(tmp_path):
    (tmp_path / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: index
        defaults:
          numbered: true
        parts:
          - caption: A
            chapters: [{file: a}, {file: b}]
        """))
    for name, heading in [("index", "Home"), ("a", "Before you start"), ("b", "The neuron")]:
        (tmp_path / f"{name}.md").write_text(f"# {heading}\n")
    book_toc = tmp_path / "book.toc"
    line = r"\contentsline {chapter}{\numberline {%d}%s}{%d}{chapter.%d}"
    book_toc.write_text("\n".join([line % (0, "Before you start", 3, 1), line % (1, "The neuron", 9, 2)]))
    assert check_pdf.chapter_problems(book_toc, tmp_path) == []
    book_toc.write_text("\n".join([line % (1, "Before you start", 3, 1), line % (2, "The neuron", 9, 2)]))
    problems = check_pdf.chapter_problems(book_toc, tmp_path)
    assert len(problems) == 2 and "numbered [1] in the PDF, expected [0]" in problems[0]
    # a table of contents without numbered parts would leave nothing to check: not a pass
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters: [{file: a}]\n")
    assert "cannot check chapter numbers" in check_pdf.chapter_problems(book_toc, tmp_path)[0]


def test_pdf_pages_are_found_in_the_table_of_contents_not_anywhere_in_the_text(tmp_path):
    """A page titled "Notation" is missing although another page's text says "notation"."""
    (tmp_path / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: index
        chapters: [{file: a, sections: [{file: notation}]}, {file: api}]
        """))
    for name, heading in [("index", "The Book"), ("a", "Before you start"),
                          ("notation", "Notation"), ("api", "nnscratch.models — ready-made models")]:
        (tmp_path / f"{name}.md").write_text(f"# {heading}\n")
    landing = "# The Book\n\n```{raw} latex\n\\addcontentsline{toc}{chapter}{About this book}\n```\n"
    (tmp_path / "index.md").write_text(landing)
    book_toc = tmp_path / "book.toc"
    entries = [
        r"\contentsline {chapter}{\numberline {0}Before you start}{3}{chapter.1}%",
        r"\contentsline {section}{\numberline {0.1}Notation and shapes}{4}{section.1.1}%",
        r"\contentsline {chapter}{\numberline {1}\sphinxstyleliteralintitle {\sphinxupquote "
        r"{nnscratch.models}} — ready\sphinxhyphen {}made models}{9}{chapter.2}%",
    ]
    book_toc.write_text("\n".join([r"\contentsline {chapter}{About this book}{1}{chapter*.2}%", *entries]))
    assert check_pdf.missing_pages(book_toc, tmp_path) == ["notation ('notation')"]
    assert "cannot check" in check_pdf.missing_pages(tmp_path / "absent.toc", tmp_path)[0]
    # The landing page counts by its own contents entry, not by the book's title, which the
    # title page prints whether the page is there or not.
    book_toc.write_text("\n".join(entries))
    assert check_pdf.missing_pages(book_toc, tmp_path)[0] == "index ('about this book')"
    (tmp_path / "index.md").write_text("# The Book\n")
    assert "index: its source adds no \\addcontentsline" in check_pdf.missing_pages(book_toc, tmp_path)[0]


def test_pdf_marks_every_cell_the_html_collapses_whole(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "intro.md").write_text(
        "# Intro\n\n```{code-cell} ipython3\n:tags: [hide-cell]\nx = 1\n```\n\n"
        "```{code-cell} ipython3\n---\ntags: [hide-input]\n---\ny = 2\n```\n\n"
        "```{code-cell} ipython3\n---\nmystnb:\n  number_source_lines: true\ntags: [hide-cell]\n"
        "---\nz = 3\n```\n\n```python\n# tags: [hide-cell] in a listing is not a cell\n```\n")
    assert check_pdf.collapsed_cells(tmp_path / "intro.md") == 2
    one = check_pdf.normalize("Intro [Collapsed cell, not printed.] text")
    assert check_pdf.folded_note_problems(tmp_path, one + " " + one) == []
    problems = check_pdf.folded_note_problems(tmp_path, one)
    assert problems and problems[0].startswith("2 cells are collapsed in the HTML but only 1")


def test_pdf_overfull_boxes_beyond_tolerance_are_problems(tmp_path):
    log = tmp_path / "book.log"
    log.write_text("Overfull \\hbox (2.1pt too wide) in paragraph at lines 10--12\n"
                   "Overfull \\hbox (45.3pt too wide) in paragraph at lines 200--204\n")
    problems = check_pdf.overfull_problems(log)
    assert problems == ["text 45 pt past the margin (LaTeX's log: in paragraph at lines 200--204)"]
    assert "cannot check" in check_pdf.overfull_problems(tmp_path / "absent.log")[0]


def test_pdf_figures_taller_than_the_page_are_problems(tmp_path):
    log = tmp_path / "book.log"
    log.write_text("[52]\n\nLaTeX Warning: Float too large for page by 16.92122pt on input line 4671.\n\n"
                   "[53] [54]\n")
    assert check_pdf.float_problems(log) == [
        "a figure is 17 pt taller than the page and runs over its footer (book.tex line 4671)"]
    log.write_text("[52]\nLaTeX Warning: Label(s) may have changed. Rerun to get cross-references "
                   "right.\n")
    assert check_pdf.float_problems(log) == []
    assert "cannot check" in check_pdf.float_problems(tmp_path / "absent.log")[0]


def test_pdf_characters_missing_from_a_font_are_problems(tmp_path):
    """XeLaTeX drops a character its font lacks, with a message folded at 79 columns."""
    log = tmp_path / "book.log"
    log.write_text("[101]\n"
                   "Missing character: There is no \u1d40 (U+1D40) in font [FreeMonoOblique.otf]/OT:scri\n"
                   "pt=latn;language=dflt;!\n"
                   "[102] [103]\n"
                   "Missing character: There is no \u1d40 (U+1D40) in font [FreeMonoOblique.otf]/OT:scri\n"
                   "pt=latn;language=dflt;!\n")
    assert check_pdf.missing_glyph_problems(log) == [
        "'\u1d40' (U+1D40) is missing from the PDF, 2 time(s): "
        "the font FreeMonoOblique.otf has no glyph for it"]
    log.write_text("[101] [102]\nOverfull \\hbox (2.1pt too wide) in paragraph at lines 10--12\n")
    assert check_pdf.missing_glyph_problems(log) == []
    assert "cannot check" in check_pdf.missing_glyph_problems(tmp_path / "absent.log")[0]


def bbox_page(*lines: tuple[float, str]) -> str:
    """One page of ``pdftotext -bbox`` output (792 pt tall): a running head, a footer and the
    given lines of text, each at (its top, its words)."""
    def word(y: float, w: str) -> str:
        return (f'<word xMin="72.000000" yMin="{y:.6f}" xMax="90.000000" '
                f'yMax="{y + 10:.6f}">{w}</word>')
    words = [word(35.5, "Book")] + [word(y, w) for y, text in lines for w in text.split()]
    return '<page width="612.000000" height="792.000000">' + "".join(words) + word(742, "7") + "</page>"


def test_pdf_pages_ending_early_inside_a_chapter_are_problems():
    full = bbox_page((80, "text"), (700, "last line"))
    early = bbox_page((80, "text"), (400, "a question"))            # 48 % of the text height left
    chapter = bbox_page((90, "CHAPTER 3 Title"), (700, "text"))
    part = bbox_page((300, "Part II Images"))
    html = "<doc>" + "".join([
        bbox_page((80, "front matter")), part, chapter,   # front matter is not checked
        full, early, full,                                 # a page broken early
        early, chapter,                                    # a chapter's last page may end early
        full, early, part, chapter,                        # and so may one before a part
        early, early,                                      # the back matter is not checked
    ]) + "</doc>"
    assert check_pdf.early_break_problems(html) == [
        "page 5 ends with 48% of its text height empty, and page 6 does not open a chapter: "
        "a page break forced early"]
    assert check_pdf.early_break_problems("<doc>" + chapter + full + early + "</doc>") == []
    # a PDF in which no page opens a chapter (another style, another language) is not passed
    assert "cannot check for pages broken early" in check_pdf.early_break_problems(
        "<doc>" + full + early + "</doc>")[0]


@pytest.mark.slow
def test_built_chapters_figures_and_equations_are_numbered_from_zero(tmp_path):
    """A small book built with the real extension: chapter N is Step N in every number."""
    import subprocess
    import sys

    (tmp_path / "_config.yml").write_text(textwrap.dedent(f"""\
        title: Mini
        only_build_toc_files: true
        execute:
          execute_notebooks: "off"
        parse:
          myst_enable_extensions: [dollarmath, amsmath]
        sphinx:
          local_extensions:
            book_numbering: {ROOT / "tools"}
          config:
            numfig_format: {{figure: "Figure %s"}}
    """))
    (tmp_path / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: index
        parts:
          - caption: Steps
            numbered: true
            chapters:
              - file: zero
              - file: one
                sections:
                  - file: one_theory
          - caption: Reference
            chapters:
              - file: ref
        """))
    (tmp_path / "index.md").write_text("# Mini\n")
    (tmp_path / "zero.md").write_text("# Before\n\n## First section\n")
    (tmp_path / "one.md").write_text("# Neuron\n")
    (tmp_path / "one_theory.md").write_text(textwrap.dedent("""\
        # Neuron: theory

        $$ a = b $$ (eq-one)

        ```{figure} pic.png
        :name: fig-one

        A caption.
        ```

        See {numref}`fig-one` and {eq}`eq-one`.
        """))
    (tmp_path / "ref.md").write_text("# Reference\n")
    # a 1x1 PNG
    (tmp_path / "pic.png").write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"))
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", "-W", "-n", "--keep-going", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    built = tmp_path / "_build" / "html"
    zero = (built / "zero.html").read_text()
    theory = (built / "one_theory.html").read_text()
    assert 'section-number">0. </span>Before' in zero
    assert 'section-number">0.1. </span>First section' in zero
    assert 'section-number">1.1. </span>Neuron: theory' in theory
    assert "Figure 1.1" in theory and "(1.1)" in theory
    assert "<h1>Reference" in (built / "ref.html").read_text()     # unnumbered part


def test_every_code_cell_is_formatted_to_the_column():
    """tools/format_cells.py --check: Black at 76 characters, and no longer line anywhere."""
    problems = []
    for path in format_cells.chapters(ROOT):
        text = path.read_text(encoding="utf-8")
        formatted, findings = format_cells.format_page(text, path)
        problems += [str(f) for f in findings]
        if formatted != text:
            problems.append(f"{path.relative_to(ROOT)}: not formatted "
                            f"(run python tools/format_cells.py)")
    assert not problems, "\n".join(problems)


def test_every_page_that_draws_sets_the_book_style_first():
    """A page that shows a figure calls plots.use_book_style() in its first code cell: one look
    (column width, fonts, palette, grid) and vector images (SVG in the HTML, PDF in print) on
    every page. Without it a page's figures are PNGs in matplotlib's default look."""
    missing = []
    for path in format_cells.chapters(ROOT):
        text = path.read_text(encoding="utf-8")
        cells = [m["code"] for m in format_cells.CELL.finditer(text)]
        draws = any(re.search(r"\bplt\.|\bplots\.|\.subplots\(|\.imshow\(|\.plot\(", c) for c in cells)
        if draws and "plots.use_book_style()" not in (cells[0] if cells else ""):
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"figures without the book style (call it in the first cell): {missing}"
