"""Seeded synthetic two-dimensional datasets for the early chapters, and helpers for them.

The generators (:func:`make_blobs`, :func:`make_xor`, :func:`make_moons`,
:func:`make_circles`, :func:`make_spirals`, :func:`ring_of_gaussians`) take ``n`` and
``rng: numpy.random.Generator`` and return ``(X, y)`` with ``X`` of shape (n, 2) in float64
and ``y`` of shape (n,) holding int64 labels. The same generator state gives the same data,
bit for bit.

The helpers return something else: :func:`train_test_split` shuffles with its ``rng`` and
returns four arrays, ``X_train, X_test, y_train, y_test``; :func:`one_hot` (no randomness)
returns one-hot rows (N, n_classes); :func:`ring_centers` (no randomness) returns the
(n_modes, 2) centers of :func:`ring_of_gaussians`.
"""

from __future__ import annotations

import numpy as np

from .._checks import (
    check_array,
    check_finite,
    check_int,
    check_labels,
    check_number,
    check_rng,
)


def _check(
    n: int, rng, noise: float, where: str, noise_name: str = "noise"
) -> None:
    """``noise_name``: what the caller calls its spread (``noise``, ``std``)."""
    check_int(n, "n", where, minimum=2)
    check_rng(rng, where)
    check_number(noise, noise_name, where, low=0)


def _shuffled(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return X[order], y[order].astype(np.int64)


def make_blobs(
    n: int,
    rng: np.random.Generator,
    *,
    centers=((-1.5, -1.0), (1.5, 1.0)),
    std: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, one per center; class ``k`` is drawn around ``centers[k]``.

    ``centers`` is a sequence of ``k >= 1`` points ``(x, y)``: an array-like of shape
    (k, 2) of finite numbers. A ``TypeError`` or ``ValueError`` says what arrived otherwise.
    """
    where = "make_blobs"
    _check(n, rng, std, where, "std")
    try:
        points = np.asarray(centers, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: centers must be k >= 1 points (x, y), an array-like of shape "
            f"(k, 2) of numbers, got {centers!r}"
        ) from None
    if points.ndim != 2 or points.shape[0] < 1 or points.shape[1] != 2:
        raise ValueError(
            f"{where}: centers must be k >= 1 points (x, y), an array-like of shape "
            f"(k, 2), got shape {points.shape}"
        )
    centers = check_finite(points, "centers", where)
    y = np.arange(n) % len(centers)
    X = centers[y] + std * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def make_xor(
    n: int, rng: np.random.Generator, *, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Four clusters at the corners of a square; label = XOR of the coordinates' signs."""
    _check(n, rng, noise, "make_xor")
    corners = np.array(
        [[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64
    )
    idx = np.arange(n) % 4
    X = corners[idx] * 0.5 + noise * rng.standard_normal((n, 2))
    y = (corners[idx, 0] * corners[idx, 1] < 0).astype(np.int64)
    return _shuffled(X, y, rng)


def make_moons(
    n: int, rng: np.random.Generator, *, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles."""
    _check(n, rng, noise, "make_moons")
    y = np.arange(n) % 2
    t = rng.uniform(0, np.pi, n)
    X = np.where(
        (y == 0)[:, None],
        np.stack([np.cos(t), np.sin(t)], axis=1),
        np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1),
    )
    X = X + noise * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def make_circles(
    n: int,
    rng: np.random.Generator,
    *,
    noise: float = 0.05,
    factor: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1) inside a large one (class 0); ``factor`` is the radius ratio."""
    _check(n, rng, noise, "make_circles")
    check_number(
        factor,
        "factor (the radius ratio)",
        "make_circles",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
    )
    y = np.arange(n) % 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(y == 1, factor, 1.0)
    X = np.stack(
        [r * np.cos(t), r * np.sin(t)], axis=1
    ) + noise * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def make_spirals(
    n: int,
    rng: np.random.Generator,
    *,
    n_classes: int = 3,
    noise: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms (CS231n's classic non-linear dataset)."""
    _check(n, rng, noise, "make_spirals")
    n_classes = check_int(n_classes, "n_classes", "make_spirals")
    y = np.arange(n) % n_classes
    r = rng.uniform(0.05, 1.0, n)
    theta = (
        y * (2 * np.pi / n_classes)
        + 4.0 * r
        + noise * rng.standard_normal(n)
    )
    X = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return _shuffled(X, y, rng)


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    *,
    rng: np.random.Generator,
    test_fraction: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``rng`` and split into ``X_train, X_test, y_train, y_test``.

    ``X`` and ``y`` are NumPy arrays with one row per example (shapes (N, ...) and
    (N, ...)); their rows stay paired. The test part holds ``round(test_fraction * N)``
    examples (at least one), the training part the rest (at least one).
    """
    check_rng(rng, "train_test_split")
    for name, a in (("X", X), ("y", y)):
        check_array(a, name, where="train_test_split")
        if a.ndim == 0:
            raise ValueError(
                f"train_test_split: {name} must hold one row per example (at least 1 "
                f"dimension), got a 0-d array"
            )
    if len(X) != len(y):
        raise ValueError(
            f"train_test_split: X and y must have the same length, got "
            f"{len(X)} and {len(y)}"
        )
    check_number(
        test_fraction,
        "test_fraction",
        "train_test_split",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
    )
    n_test = max(1, int(round(test_fraction * len(y))))
    if n_test >= len(y):
        raise ValueError(
            f"train_test_split: test_fraction {test_fraction} of {len(y)} examples "
            f"leaves no training example"
        )
    order = rng.permutation(len(y))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def one_hot(y: np.ndarray, n_classes: int, dtype=np.float64) -> np.ndarray:
    """Integer labels of shape (N,) to one-hot rows of shape (N, n_classes).

    Raises
    ------
    TypeError
        If ``y`` is not a NumPy array of integers (float labels such as ``3.0`` are refused
        rather than truncated).
    ValueError
        If ``y`` is not 1-D or a label lies outside ``[0, n_classes)``.
    """
    n_classes = check_int(n_classes, "n_classes", "one_hot")
    check_array(y, "y", ndim=1, where="one_hot")
    check_labels(y, len(y), n_classes, where="one_hot")
    out = np.zeros((y.size, n_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


def ring_of_gaussians(
    n: int,
    rng: np.random.Generator,
    *,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """Samples of a mixture of ``n_modes`` equal Gaussians evenly spaced on a circle.

    The test bed of mode collapse for GANs (Step 12): returns ``X`` (n, 2) float64 and ``y``
    (n,), the mode each sample was drawn from (``n`` split as evenly as possible, in random
    order). The centers are :func:`ring_centers` ``(n_modes, radius)``; every mode has
    standard deviation ``std`` in each coordinate.
    """
    _check(n, rng, std, "ring_of_gaussians", "std")
    centers = ring_centers(n_modes, radius)
    y = np.arange(n) % len(centers)
    X = centers[y] + std * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """The centers (n_modes, 2) of :func:`ring_of_gaussians`: angles 2 pi k / n_modes."""
    n_modes = check_int(n_modes, "n_modes", "ring_centers")
    radius = check_number(
        radius, "radius", "ring_centers", low=0, low_open=True
    )
    angle = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
