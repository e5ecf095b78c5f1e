import matplotlib.pyplot as plt
import numpy as np
import pytest

from nnscratch import plots
from nnscratch.data import make_blobs


def test_decision_boundary_draws_regions_and_points(rng):
    X, y = make_blobs(50, rng)
    fig, ax = plt.subplots()
    out = plots.plot_decision_boundary(lambda P: (P[:, 0] > 0).astype(int), X, y, ax=ax, resolution=50)
    assert out is ax
    assert len(ax.collections) >= 2  # filled regions and the scatter
    plt.close(fig)


def test_decision_boundary_rejects_non_2d(rng):
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plot_decision_boundary(lambda P: P, np.zeros((3, 3)), np.zeros(3, int))


def test_history_plots_each_key():
    ax = plots.plot_history({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2]})
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    with pytest.raises(KeyError, match="no 'acc'"):
        plots.plot_history({"loss": [1]}, keys=["acc"])
    plt.close("all")
