"""The book's table of contents, as the tests see it (shared by test_book and test_chapters)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files(node) -> list[str]:
    """All 'root' and 'file' entries of a jupyter-book table of contents, in order."""
    found = []
    if isinstance(node, dict):
        found += [node[k] for k in ("root", "file") if k in node]
        for v in node.values():
            found += toc_files(v)
    elif isinstance(node, list):
        for v in node:
            found += toc_files(v)
    return found


def notebook_chapters() -> list[Path]:
    """The pages of _toc.yml that are notebooks (jupytext front matter), in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    paths = [ROOT / f"{f}.md" for f in toc_files(toc)]
    missing = [p for p in paths if not p.exists()]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"
    return [p for p in paths if p.read_text().startswith("---\njupytext:")]
