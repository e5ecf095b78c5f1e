"""The book's pages, as the tests see them: read through tools/toc.py, the one reader of _toc.yml."""

from pathlib import Path

import toc

ROOT = toc.ROOT


def notebook_chapters() -> list[Path]:
    """The source files of the pages of _toc.yml that are notebooks, in reading order."""
    return [toc.source(ROOT, d) for d in toc.notebooks(ROOT)]
