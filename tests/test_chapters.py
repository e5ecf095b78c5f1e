"""Every chapter listed in the table of contents runs as a plain Python script."""

import os
import subprocess
import sys

import pytest
from _book import ROOT, notebook_chapters


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
