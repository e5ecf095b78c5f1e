"""Check that the PDF of the book holds every page of the table of contents.

Usage (after ``jupyter-book build . --builder pdflatex``; needs poppler's ``pdftotext``)::

    python tools/check_pdf.py [_build/latex/book.pdf]

The title of every page listed in ``_toc.yml`` (its first ``#`` heading; glob entries
included) must appear in the PDF's text. Prints the page count; exit status 1 if a page is
missing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import toc  # tools/, beside this script: the one reader of _toc.yml

ROOT = toc.ROOT


def title(page: Path) -> str:
    """The page's first level-1 heading as plain text (no backticks or emphasis)."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    heading = re.search(r"^# +(.+?)\s*$", text, flags=re.M)
    if heading is None:
        raise SystemExit(f"check_pdf: {page} has no '# title'")
    return re.sub(r"[`*_]", "", heading.group(1))


def normalise(text: str) -> str:
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
    text = normalise(subprocess.run(["pdftotext", "-enc", "UTF-8", str(args.pdf), "-"],
                                    check=True, capture_output=True, text=True).stdout)
    # pdftotext breaks words hyphenated at the end of a line; headings rarely are, but
    # compare without hyphens too.
    text_unhyphenated = text.replace("- ", "")
    info = subprocess.run(["pdfinfo", str(args.pdf)], check=True, capture_output=True,
                          text=True).stdout
    n_pages = re.search(r"^Pages:\s+(\d+)", info, flags=re.M).group(1)

    missing = []
    pages = toc.pages(args.root)
    for docname in pages:
        wanted = normalise(title(toc.source(args.root, docname)))
        if wanted not in text and wanted not in text_unhyphenated:
            missing.append(f"{docname} ({wanted!r})")
    for m in missing:
        print(f"check_pdf: missing from the PDF: {m}")
    print(f"check_pdf: {args.pdf} has {n_pages} pages and {len(pages) - len(missing)} of the "
          f"{len(pages)} pages of the table of contents")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
