"""The book's table of contents (``_toc.yml``), read in one place.

``.ci/run``, the Sphinx extensions under ``tools/`` and the tests all ask this module which
pages the book has, so that they cannot disagree about it. A jupyter-book table of contents
names pages three ways: ``root``, ``file`` and ``glob`` (a pattern such as ``book/api/*``,
which Sphinx expands to every matching source file, in sorted order). :func:`pages` expands
the globs the same way.

As a command, it checks that every page was built::

    python tools/toc.py --built _build/html      # exit status 1 and the missing pages if not
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE_SUFFIXES = (".md", ".ipynb", ".rst")


def _entries(node) -> list[tuple[str, str]]:
    """Every ``(kind, value)`` entry of a parsed ``_toc.yml``, kind in root/file/glob, in order."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        found += [(k, str(node[k])) for k in ("root", "file", "glob") if k in node]
        for value in node.values():
            found += _entries(value)
    elif isinstance(node, list):
        for value in node:
            found += _entries(value)
    return found


def _load(root: Path) -> dict:
    """The parsed ``_toc.yml`` of the book at ``root``."""
    return yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))


def numbered_chapters(root: Path = ROOT) -> list[str]:
    """Docnames of the chapters of the numbered parts, in order: chapter N is Step N.

    A part is numbered if it says ``numbered: true``, or if it says nothing and ``defaults``
    does (tools/book_numbering.py numbers the chapters from 0).
    """
    return [str(chapter["file"]).removesuffix(".md") for chapter in _chapters(root)]


def _chapters(root: Path) -> list[dict]:
    """The chapter entries of the numbered parts of ``_toc.yml``, in order."""
    spec = _load(root)
    default = (spec.get("defaults") or {}).get("numbered", False)
    return [chapter for part in spec.get("parts", []) if part.get("numbered", default)
            for chapter in part.get("chapters", []) if "file" in chapter]


def step_pages(root: Path = ROOT) -> dict[int, str]:
    """Step number -> the docname a reference to that step opens.

    Step N is the N-th chapter of the numbered parts (from 0, as :func:`numbered_chapters`);
    a reference opens its first section (the theory page) if it has sections, else the
    chapter itself. File names do not count: ``book/09_sequences`` is Step 8.
    """
    found = {}
    for step, chapter in enumerate(_chapters(root)):
        first = next((s["file"] for s in chapter.get("sections", []) if "file" in s),
                     chapter["file"])
        found[step] = str(first).removesuffix(".md")
    return found


def _docname(root: Path, path: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def pages(root: Path = ROOT) -> list[str]:
    """Docnames of every page of the book (``book/06_mnist``), globs expanded, in toc order.

    Raises ``FileNotFoundError`` naming the entries of ``_toc.yml`` that have no source file.
    """
    toc = _load(root)
    found: list[str] = []
    missing: list[str] = []
    for kind, value in _entries(toc):
        if Path(value).suffix in SOURCE_SUFFIXES:
            value = value.removesuffix(Path(value).suffix)
        if kind == "glob":
            matches = sorted({_docname(root, p) for suffix in SOURCE_SUFFIXES for p in root.glob(value + suffix)})
            found += [n for n in matches if n not in found]
            if not matches:
                missing.append(f"glob: {value}")
        elif any((root / (value + suffix)).is_file() for suffix in SOURCE_SUFFIXES):
            if value not in found:
                found.append(value)
        else:
            missing.append(f"{kind}: {value}")
    if missing:
        raise FileNotFoundError(f"_toc.yml names pages with no source file under {root}: {missing}")
    return found


def source(root: Path, docname: str) -> Path:
    """The source file of a page."""
    for suffix in SOURCE_SUFFIXES:
        path = root / (docname + suffix)
        if path.exists():
            return path
    raise FileNotFoundError(f"no source file for page {docname!r} under {root}")


def is_notebook(path: Path) -> bool:
    """Whether a page is a MyST Markdown notebook: jupytext front matter with a kernelspec."""
    if path.suffix == ".ipynb":
        return True
    head = path.read_text(encoding="utf-8")[:2000]
    return path.suffix == ".md" and head.startswith("---") and "kernelspec:" in head.split("\n---", 1)[0]


def notebooks(root: Path = ROOT) -> list[str]:
    """Docnames of the pages that are notebooks (the chapters), in reading order."""
    return [d for d in pages(root) if is_notebook(source(root, d))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List the book's pages, or check they were built.")
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's root folder")
    parser.add_argument("--built", type=Path, metavar="HTML_DIR",
                        help="check that every page has an .html file in this folder")
    args = parser.parse_args(argv)
    try:
        docs = pages(args.root)
    except FileNotFoundError as exc:
        print(f"toc: {exc}", file=sys.stderr)
        return 1
    if args.built is None:
        print("\n".join(docs))
        return 0
    missing = [d for d in docs if not (args.built / f"{d}.html").exists()]
    if missing:
        print(f"toc: {len(missing)} of {len(docs)} pages missing from {args.built}: {missing}", file=sys.stderr)
        return 1
    print(f"toc: all {len(docs)} pages of _toc.yml are built in {args.built}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
