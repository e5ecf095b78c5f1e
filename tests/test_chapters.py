"""Every chapter listed in the table of contents runs as a plain Python script."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files(node) -> list[str]:
    """All 'file' entries of a jupyter-book table of contents, in order."""
    found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        if "root" in node:
            found.append(node["root"])
        for v in node.values():
            found += toc_files(v)
    elif isinstance(node, list):
        for v in node:
            found += toc_files(v)
    return found


def notebook_chapters() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    paths = [ROOT / f"{f}.md" for f in toc_files(toc)]
    missing = [p for p in paths if not p.exists()]
    assert not missing, f"_toc.yml lists pages that do not exist: {missing}"
    return [p for p in paths if p.read_text().startswith("---\njupytext:")]


def test_toc_lists_the_chapters():
    assert len(notebook_chapters()) >= 1


@pytest.mark.parametrize("chapter", notebook_chapters(), ids=lambda p: p.stem)
def test_chapter_runs_as_a_script(chapter, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "run_chapter.py"), str(chapter), "--out", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=3600,
    )
    assert proc.returncode == 0, f"{chapter.name} failed as a script:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    assert "cells ran" in proc.stderr
