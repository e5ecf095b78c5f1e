"""Shared fixtures. Plots are drawn off-screen in tests."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
