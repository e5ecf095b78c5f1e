"""Format the code of the book's chapters to the width of the text column.

The built book shows code in a column that holds 77 characters of the theme's monospace
font at a 1280 px window; a longer line makes the reader scroll sideways. Every code cell of
every chapter (``book/**/*.md``, MyST notebooks) is formatted with Black at
``LINE_LENGTH``, and then no line may be longer: Black does not break long strings or
comments, which are shortened by hand. The package (``code/``) is formatted the same way
(its ``pyproject.toml`` sets Black's line length), since the chapters show its code with
``literalinclude``.

Usage::

    python tools/format_cells.py            # format every chapter in place
    python tools/format_cells.py --check    # change nothing; exit 1 and list what is off

``tests/test_book.py`` runs the check, so CI fails on a cell that is not formatted.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import black

ROOT = Path(__file__).resolve().parents[1]
LINE_LENGTH = 76
MODE = black.Mode(line_length=LINE_LENGTH)

# A code cell: the opening fence, an optional front matter of metadata (--- ... ---) or
# ":key: value" options, the code, the closing fence.
CELL = re.compile(
    r"^(?P<open>```\{code-cell\}[^\n]*\n)"
    r"(?P<meta>---\n.*?\n---\n|(?::[^\n]*\n)+)?"
    r"(?P<code>.*?)"
    r"^(?P<close>```)[ \t]*$",
    re.S | re.M,
)


@dataclass
class Finding:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{shown(self.path)}:{self.line}: {self.message}"


def format_code(code: str) -> str:
    """``code`` formatted by Black at the column's width.

    Raises ``black.parsing.InvalidInput`` if it is not valid Python.
    """
    return black.format_str(code, mode=MODE) if code.strip() else code


def format_page(text: str, path: Path) -> tuple[str, list[Finding]]:
    """The page with every code cell formatted, and what formatting cannot fix."""
    findings: list[Finding] = []
    out, last = [], 0
    for m in CELL.finditer(text):
        code = m.group("code")
        first_line = text.count("\n", 0, m.start("code")) + 1
        try:
            formatted = format_code(code)
        except black.parsing.InvalidInput as exc:
            findings.append(Finding(path, first_line, f"Black cannot parse the cell: {exc}"))
            formatted = code
        for i, line in enumerate(formatted.splitlines()):
            if len(line) > LINE_LENGTH:
                findings.append(Finding(path, first_line + i,
                                        f"{len(line)} characters (at most {LINE_LENGTH}): {line.strip()[:60]}"))
        out.append(text[last:m.start("code")])
        out.append(formatted)
        last = m.end("code")
    out.append(text[last:])
    return "".join(out), findings


def shown(path: Path) -> Path:
    """A page's path as the messages show it: relative to the book, if it is in the book."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (root / "book").rglob("*.md") if "{code-cell}" in p.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a cell is off")
    parser.add_argument("pages", nargs="*", type=Path, help="default: every chapter under book/")
    args = parser.parse_args(argv)
    pages = [p.resolve() for p in args.pages] or chapters()
    unformatted, findings = [], []
    for path in pages:
        text = path.read_text(encoding="utf-8")
        new, found = format_page(text, path)
        findings += found
        if new != text:
            unformatted.append(path)
            if not args.check:
                tmp = path.with_suffix(".md.tmp")
                tmp.write_text(new, encoding="utf-8")
                tmp.replace(path)          # atomic: a page is never half-written
    for f in findings:
        print(f)
    verb = "not formatted" if args.check else "formatted"
    for path in unformatted:
        print(f"{shown(path)}: {verb}")
    print(f"format_cells: {len(pages)} pages, {len(unformatted)} {verb}, "
          f"{len(findings)} lines Black cannot shorten")
    return 1 if findings or (args.check and unformatted) else 0


if __name__ == "__main__":
    sys.exit(main())
