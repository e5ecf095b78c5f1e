"""Plot helpers. Each takes ``ax=None`` (a new figure is made when it is None) and returns
what it drew, so the caller can style or test it."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    return ax


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray,
                           *, ax=None, resolution: int = 200, margin: float = 0.5,
                           cmap: str = "coolwarm"):
    """Shade the plane by a classifier's predicted class and scatter the data on top.

    Parameters
    ----------
    predict : callable
        Maps points of shape (M, 2) to integer classes of shape (M,).
    X : ndarray of shape (N, 2)
    y : ndarray of shape (N,)
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes
    """
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points of shape (N, 2), got {X.shape}")
    ax = _axes(ax)
    x0 = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    x1 = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    g0, g1 = np.meshgrid(x0, x1)
    grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(X.dtype)
    classes = np.asarray(predict(grid)).reshape(g0.shape)
    n_classes = int(max(classes.max(), y.max())) + 1
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(g0, g1, classes, levels=levels, cmap=cmap, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=0, vmax=n_classes - 1, s=12,
               edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def plot_history(history: Mapping[str, Sequence[float]], keys: Sequence[str] | None = None,
                 *, ax=None, xlabel: str = "epoch", ylabel: str | None = None, logy: bool = False):
    """Plot training curves: one line per key of ``history`` (e.g. ``"loss"``, ``"val_loss"``).

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    keys = list(history) if keys is None else list(keys)
    for k in keys:
        if k not in history:
            raise KeyError(f"plot_history: no {k!r} in history; it has {sorted(history)}")
        values = np.asarray(history[k], dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, label=k)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
