"""Every chapter listed in the table of contents runs to its end as a plain Python script.

The chapters run concurrently, under the same rule as the build (``tools/execution_rule.py``:
one chapter per core, one BLAS thread each), longest first, as soon as the first of these
tests asks for its result; each test then waits for its own chapter. Selecting some of the
tests (``-k 06_mnist``) runs only those chapters.
"""

import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import yaml
from _book import ROOT, notebook_chapters
from execution_rule import chapter_env, parallel_jobs

pytestmark = pytest.mark.chapters

CHAPTERS = notebook_chapters()


def test_toc_lists_the_chapters():
    assert len(CHAPTERS) >= 1


def _time_hints() -> dict[str, float]:
    """The build's scheduling hints (seconds per chapter) from _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config.get("sphinx", {}).get("config", {}).get("nnbook_time_hints", {}) or {}


def _run(chapter, out) -> subprocess.CompletedProcess:
    env = chapter_env({k: v for k, v in os.environ.items() if k != "MPLBACKEND"})
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "run_chapter.py"), str(chapter), "--out", str(out)],
        cwd=out, env=env, capture_output=True, text=True, timeout=3600,
    )


@pytest.fixture(scope="session")
def chapter_runs(request, tmp_path_factory) -> dict[str, Future]:
    """Start every selected chapter's script at once (a pool the size of the machine)."""
    selected = [item.callspec.params["chapter"] for item in request.session.items
                if item.originalname == "test_chapter_runs_as_a_script"]
    hints = _time_hints()
    order = sorted(selected, key=lambda p: -hints.get(p.relative_to(ROOT).with_suffix("").as_posix(), 0.0))
    pool = ThreadPoolExecutor(parallel_jobs(len(order)))
    runs = {}
    for chapter in order:
        out = tmp_path_factory.mktemp(chapter.stem)
        runs[chapter.stem] = pool.submit(_run, chapter, out)
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_as_a_script(chapter, chapter_runs):
    proc = chapter_runs[chapter.stem].result()
    assert proc.returncode == 0, f"{chapter.name} failed as a script:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    assert "cells ran" in proc.stderr
