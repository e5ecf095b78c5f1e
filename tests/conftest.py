"""Shared fixtures. Plots are drawn off-screen in tests.

Markers (the stages of `.ci/run`): unmarked tests are the fast unit tests; ``slow`` tests
build small books or run benchmarks; ``chapters`` tests run every chapter as a script. Run
one stage with ``-m``, e.g. ``pytest tests -m "not slow and not chapters"``.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

# The build tools under tools/ are scripts that import each other from their own folder (as
# Sphinx's local_extensions and `python tools/x.py` run them); the tests import them likewise.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds a small book or runs a benchmark (seconds to a minute)")
    config.addinivalue_line("markers", "chapters: runs every chapter of the book as a script (minutes)")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
