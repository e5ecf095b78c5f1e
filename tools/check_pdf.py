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

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_pages(node) -> list[str]:
    """Docnames of every page of the toc, globs expanded, in order."""
    found = []
    if isinstance(node, dict):
        found += [node[k] for k in ("root", "file") if k in node]
        if "glob" in node:
            found += sorted(p.with_suffix("").relative_to(ROOT).as_posix()
                            for p in ROOT.glob(node["glob"] + ".md"))
        for v in node.values():
            found += toc_pages(v)
    elif isinstance(node, list):
        for v in node:
            found += toc_pages(v)
    return list(dict.fromkeys(found))


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
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml",
                        help="the table of contents the PDF was built from")
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

    toc = yaml.safe_load(args.toc.read_text())
    missing = []
    pages = toc_pages(toc)
    for docname in pages:
        wanted = normalise(title(ROOT / f"{docname}.md"))
        if wanted not in text and wanted not in text_unhyphenated:
            missing.append(f"{docname} ({wanted!r})")
    for m in missing:
        print(f"check_pdf: missing from the PDF: {m}")
    print(f"check_pdf: {args.pdf} has {n_pages} pages and {len(pages) - len(missing)} of the "
          f"{len(pages)} pages of the table of contents")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
