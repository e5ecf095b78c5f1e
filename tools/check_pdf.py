"""Check that the PDF of the book holds every page of the table of contents.

Usage (after ``jupyter-book build . --builder pdflatex``; needs poppler's ``pdftotext``)::

    python tools/check_pdf.py [_build/latex/book.pdf]

- Every page listed in ``_toc.yml`` (glob entries included) is a chapter or section of the
  PDF: its title (its first ``#`` heading) is an entry of LaTeX's table of contents
  (``book.toc``). Finding the title anywhere in the text would not do: "Notation" or
  "References" occur on other pages too. The root page, which LaTeX makes the title page,
  must appear in the text.
- Chapters follow the steps: the chapter that LaTeX numbers N (read from ``book.toc``, beside
  the PDF) is the (N+1)-th chapter of ``_toc.yml``'s numbered parts, so that Chapter 4 is
  Step 4, as in the HTML.
- Nothing runs past the text column: no ``Overfull \\hbox`` wider than ``OVERFULL_PT`` in
  LaTeX's log (``book.log``).
- No figure is taller than the page ("Float too large for page" in the log): it would run
  over the footer.
- No character is lost: the log names none that its font lacks ("Missing character"), which
  the PDF would show as a blank (a ``ᵀ`` in a docstring, in the monospaced font).
- Every cell that the HTML collapses whole (tag ``hide-cell``) left its bracketed line in the
  PDF (tools/book_extension.py), since the text refers to such cells: at least as many
  lines as such cells in the pages of ``_toc.yml``.
- No page ends with more than ``EMPTY_PAGE_END`` of its text height empty, unless the next one
  opens a chapter or a part (front and back matter are not checked): that is a page break
  forced too early, such as the one the needspace package made before boxes (see ``_config.yml``).
  Measured on the words' positions (``pdftotext -bbox``).

Prints the page count; exit status 1 if a check fails.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import toc  # tools/, beside this script: the one reader of _toc.yml

ROOT = toc.ROOT
OVERFULL_PT = 6.0   # LaTeX tolerates a few points; more shows as text past the margin


def chapter_problems(toc_file: Path, root: Path) -> list[str]:
    """Chapters whose LaTeX number is not their step number (position from 0)."""
    if not toc_file.exists():
        return [f"no {toc_file.name} beside the PDF: cannot check chapter numbers"]
    found = re.findall(r"\\contentsline \{chapter\}\{\\numberline \{(-?\d+)\}(.*?)\}\{\d+\}",
                       toc_file.read_text(encoding="utf-8", errors="replace"))
    chapters = toc.numbered_chapters(root)
    if not chapters:  # nothing would be checked: say so rather than pass
        return [f"no numbered chapters in {root / '_toc.yml'} (parts with numbered: true): "
                f"cannot check chapter numbers"]
    problems = []
    for step, docname in enumerate(chapters):
        wanted = normalize(re.sub(r"[\\{}]", "", title(toc.source(root, docname))))
        numbers = [int(n) for n, t in found if normalize(re.sub(r"\\\w+|[{}]", "", t)) == wanted]
        if numbers != [step]:
            problems.append(f"chapter {docname!r} is numbered {numbers or 'nowhere'} in the PDF, "
                            f"expected [{step}]")
    return problems


def latex_title(entry: str) -> str:
    """A heading as LaTeX wrote it (``ready\\sphinxhyphen {}made``), as plain normalized text."""
    return normalize(re.sub(r"\\\w+|[{}]", "", entry.replace(r"\sphinxhyphen {}", "-")))


def toc_titles(toc_file: Path) -> set[str]:
    """The normalized titles of the chapters and sections in LaTeX's ``book.toc``."""
    entries = re.findall(r"^\\contentsline \{(?:chapter|section)\}\{(?:\\numberline \{[^}]*\})?"
                         r"(.*?)\}\{\d+\}\{", toc_file.read_text(encoding="utf-8", errors="replace"),
                         flags=re.M)
    return {latex_title(e) for e in entries}


ROOT_TOC_ENTRY = re.compile(r"\\addcontentsline\{toc\}\{chapter\}\{([^}]*)\}")


def missing_pages(toc_file: Path, root: Path) -> list[str]:
    """Pages of ``_toc.yml`` that are not in the PDF's table of contents (LaTeX's ``.toc``)."""
    if not toc_file.exists():
        return [f"no {toc_file.name} beside the PDF: cannot check which pages it holds"]
    listed, missing = toc_titles(toc_file), []
    pages = toc.pages(root)
    for docname in pages:
        wanted = normalize(re.sub(r"[\\{}]", "", title(toc.source(root, docname))))
        if docname == pages[0]:
            # The landing page's title is the book's, which the title page prints anyway: it
            # counts as present by its own entry in the contents (raw LaTeX adds one).
            entry = ROOT_TOC_ENTRY.search(toc.source(root, docname).read_text(encoding="utf-8"))
            if entry is None:
                missing.append(f"{docname}: its source adds no \\addcontentsline{{toc}}{{chapter}}"
                               f"{{...}}, by which the PDF's contents would list it")
                continue
            wanted = normalize(entry.group(1))
        if wanted not in listed:
            missing.append(f"{docname} ({wanted!r})")
    return missing


def overfull_problems(log_file: Path) -> list[str]:
    """Overfull boxes wider than OVERFULL_PT in LaTeX's log, with the line of the .tex file."""
    if not log_file.exists():
        return [f"no {log_file.name} beside the PDF: cannot check for text past the margin"]
    log = log_file.read_text(encoding="utf-8", errors="replace")
    return [f"text {float(pt):.0f} pt past the margin (LaTeX's log: {where.strip()})"
            for pt, where in re.findall(r"Overfull \\hbox \((\d+\.?\d*)pt too wide\) (.*?)$", log, re.M)
            if float(pt) > OVERFULL_PT]


def unfolded_log(log_file: Path) -> str:
    """LaTeX's log as one line: it folds its lines at 79 characters, even inside a message."""
    return log_file.read_text(encoding="utf-8", errors="replace").replace("\n", "")


def float_problems(log_file: Path) -> list[str]:
    """Figures (floats) taller than the page, which LaTeX lets run over the footer."""
    if not log_file.exists():
        return [f"no {log_file.name} beside the PDF: cannot check the height of figures"]
    log = unfolded_log(log_file)
    return [f"a figure is {float(pt):.0f} pt taller than the page and runs over its footer "
            f"(book.tex line {line})"
            for pt, line in re.findall(r"Float too large for page by (\d+\.?\d*)pt on input line "
                                       r"(\d+)", log)]


def missing_glyph_problems(log_file: Path) -> list[str]:
    """Characters that XeLaTeX could not typeset because their font lacks them."""
    if not log_file.exists():
        return [f"no {log_file.name} beside the PDF: cannot check for lost characters"]
    log = unfolded_log(log_file)
    found = re.findall(r"Missing character: There is no (.) \(U\+([0-9A-F]{4,6})\) "
                       r"in font \[?([^\]/:!]+)", log)
    return [f"{char!r} (U+{code}) is missing from the PDF, {n} time(s): "
            f"the font {font.strip()} has no glyph for it"
            for (char, code, font), n in Counter(found).items()]


#: The line tools/book_extension.py prints for a folded cell, as :func:`normalize` leaves it.
FOLDED_NOTE = "[collapsed cell, not printed"


def collapsed_cells(page: Path) -> int:
    """How many code cells of a page the HTML collapses whole (tag ``hide-cell``).

    The page is read into cells by jupytext (``md:myst``), as check_html and run_chapter
    read pages, which parses both forms of a cell's options (``:tags:`` or a YAML block).
    """
    import jupytext

    cells = jupytext.read(page, fmt="md:myst").cells
    return sum("hide-cell" in c.metadata.get("tags", []) for c in cells if c.cell_type == "code")


def folded_note_problems(root: Path, text: str) -> list[str]:
    """A shortfall of the lines that mark collapsed cells in the PDF (``text`` normalized)."""
    wanted = sum(collapsed_cells(toc.source(root, docname)) for docname in toc.pages(root))
    found = text.count(FOLDED_NOTE)
    if found >= wanted:
        return []
    return [f"{wanted} cells are collapsed in the HTML but only {found} are marked in the PDF "
            f"(\"{FOLDED_NOTE}...\"): the text refers to the others, which are not there"]


EMPTY_PAGE_END = 0.3


def page_words(bbox_html: str) -> list[tuple[float, list[tuple[float, float, str]]]]:
    """Each page of ``pdftotext -bbox`` output: its height and its words as (yMin, yMax, word)."""
    pages = []
    for m in re.finditer(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', bbox_html, re.S):
        words = [(float(y0), float(y1), w) for y0, y1, w in re.findall(
            r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>',
            m.group(2))]
        pages.append((float(m.group(1)), words))
    return pages


def early_break_problems(bbox_html: str) -> list[str]:
    """Pages that end far above the foot of the text without a chapter or part to follow.

    The running head (above 8 % of the height) and the footer (below 90 %) are not text. The
    foot of the text is the lowest line of any page. Front matter (before the first part) and
    back matter (from the last chapter on: the references and the index, lists without
    boxes) are not checked.
    """
    pages = page_words(bbox_html)
    body = [[(y0, y1, w) for y0, y1, w in words if y0 > 0.08 * h and y1 < 0.9 * h]
            for h, words in pages]
    tops = [min((y0 for y0, _, _ in words), default=None) for words in body]
    ends = [max((y1 for _, y1, _ in words), default=None) for words in body]
    foot = max((e for e in ends if e is not None), default=0.0)
    top = min((t for t in tops if t is not None), default=0.0)

    # Does the page open a chapter or a part? (its first words, in reading order)
    opens = [" ".join(w for _, _, w in words[:2]).startswith(("CHAPTER", "Part "))
             for words in body]
    openings = [i for i, o in enumerate(opens) if o]
    if not openings:  # nothing would be checked: say so rather than pass
        return ["no page opens a chapter or a part (first words 'CHAPTER' or 'Part '): cannot "
                "check for pages broken early"]
    problems = []
    for i in range(openings[0], openings[-1]):
        if ends[i] is None or opens[i + 1]:
            continue
        empty = (foot - ends[i]) / (foot - top)
        if empty > EMPTY_PAGE_END:
            problems.append(f"page {i + 1} ends with {empty:.0%} of its text height empty, and "
                            f"page {i + 2} does not open a chapter: a page break forced early")
    return problems


def title(page: Path) -> str:
    """The page's first level-1 heading as plain text (no backticks or emphasis)."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    heading = re.search(r"^# +(.+?)\s*$", text, flags=re.M)
    if heading is None:
        raise SystemExit(f"check_pdf: {page} has no '# title'")
    return re.sub(r"[`*_]", "", heading.group(1))


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", type=Path, nargs="?", default=ROOT / "_build/latex/book.pdf")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the book whose _toc.yml the PDF was built from")
    args = parser.parse_args(argv)
    if not args.pdf.exists():
        print(f"check_pdf: no PDF at {args.pdf}", file=sys.stderr)
        return 1
    text = normalize(subprocess.run(["pdftotext", "-enc", "UTF-8", str(args.pdf), "-"],
                                    check=True, capture_output=True, text=True).stdout)
    info = subprocess.run(["pdfinfo", str(args.pdf)], check=True, capture_output=True,
                          text=True).stdout
    n_pages = re.search(r"^Pages:\s+(\d+)", info, flags=re.M).group(1)

    pages = toc.pages(args.root)
    missing = missing_pages(args.pdf.with_suffix(".toc"), args.root)
    problems = [f"missing from the PDF: {m}" for m in missing]
    problems += chapter_problems(args.pdf.with_suffix(".toc"), args.root)
    problems += overfull_problems(args.pdf.with_suffix(".log"))
    problems += float_problems(args.pdf.with_suffix(".log"))
    problems += missing_glyph_problems(args.pdf.with_suffix(".log"))
    problems += folded_note_problems(args.root, text)
    problems += early_break_problems(subprocess.run(
        ["pdftotext", "-bbox", "-enc", "UTF-8", str(args.pdf), "-"],
        check=True, capture_output=True, text=True).stdout)
    for p in problems:
        print(f"check_pdf: {p}")
    print(f"check_pdf: {args.pdf} has {n_pages} pages and {len(pages) - len(missing)} of the "
          f"{len(pages)} pages of the table of contents")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
