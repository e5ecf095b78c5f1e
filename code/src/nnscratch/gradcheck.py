"""Finite-difference gradient checks, in float64 only.

Central differences have truncation error :math:`O(\\epsilon^2)` and rounding error
:math:`O(u/\\epsilon)` with :math:`u` the unit roundoff. In float64 (:math:`u \\approx 10^{-16}`)
with :math:`\\epsilon = 10^{-6}` both are tiny and a correct backward pass agrees to about
:math:`10^{-9}`; in float32 (:math:`u \\approx 10^{-7}`) the rounding error alone is about
:math:`10^{-1}`, which would hide real bugs. That is why every check here refuses anything
but float64.

See Also
--------
Book, Step 0 "Before you start": how the book checks itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._checks import check_rng
from .layers.base import Layer


def _require_float64(x: np.ndarray, name: str, where: str) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = (
            f"dtype {x.dtype}"
            if isinstance(x, np.ndarray)
            else f"type {type(x).__name__}"
        )
        raise TypeError(
            f"{where}: gradient checks need float64 so rounding error cannot hide "
            f"a bug; {name} has {got}. Build the layer with dtype=np.float64 and "
            f"pass float64 input."
        )


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """Central-difference gradient of ``f`` with respect to the array ``x``.

    Parameters
    ----------
    f : callable
        Takes no arguments and returns a float computed from the current contents of ``x``.
    x : ndarray of float64
        Perturbed in place one entry at a time and restored exactly afterwards, through
        ``x.reshape(-1)``, which must therefore be a view of ``x`` rather than a copy (it
        is for any C-contiguous array).
    eps : float
        Step size.

    Returns
    -------
    grad : ndarray, same shape as ``x``
        :math:`(f(x + \\epsilon e_i) - f(x - \\epsilon e_i)) / 2\\epsilon` for each entry ``i``.
    """
    _require_float64(x, "x", "numerical_gradient")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError(
            f"numerical_gradient: x must be an array it can perturb in place "
            f"through x.reshape(-1) (a C-contiguous one, say), got shape "
            f"{x.shape} with strides {x.strides}; make a copy with "
            f"np.ascontiguousarray(x) and have f read the copy"
        )
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = f()
        flat[i] = old - eps
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """:math:`\\lVert a - b\\rVert / (\\lVert a\\rVert + \\lVert b\\rVert)`, 0 when both are zero.

    A norm-wise ratio rather than an entry-wise one, so entries that are nearly zero in
    both arrays cannot blow the error up.
    """
    if a.shape != b.shape:
        raise ValueError(
            f"relative_error: shapes differ, {a.shape} and {b.shape}"
        )
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


@dataclass
class GradCheckResult:
    """Relative error between analytic and numerical gradient, for each checked array."""

    errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-7

    @property
    def worst(self) -> float:
        """The largest error; NaN when any error is NaN (a gradient that holds a NaN)."""
        values = list(self.errors.values())
        # Python's max would skip a NaN that is not first
        if any(math.isnan(v) for v in values):
            return math.nan
        return max(values, default=0.0)

    @property
    def passed(self) -> bool:
        return bool(self.errors) and all(
            v < self.tol for v in self.errors.values()
        )

    def assert_ok(self) -> GradCheckResult:
        """Raise ``AssertionError`` naming every array whose error is not below ``tol``."""
        if not self.errors:
            raise AssertionError("gradient check compared nothing")
        bad = {k: v for k, v in self.errors.items() if not v < self.tol}
        if bad:
            raise AssertionError(
                "gradient check failed (tolerance %.0e): " % self.tol
                + ", ".join(f"{k}: {v:.2e}" for k, v in bad.items())
            )
        return self

    def __str__(self) -> str:
        rows = [
            f"{k:>12}  {v:.2e}  {'ok' if v < self.tol else 'FAIL'}"
            for k, v in self.errors.items()
        ]
        return "\n".join(
            [f"{'array':>12}  rel. error (tolerance {self.tol:.0e})", *rows]
        )


def check_layer(
    layer: Layer,
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    training: bool = False,
    eps: float = 1e-6,
    tol: float = 1e-7,
) -> GradCheckResult:
    """Compare a layer's backward pass with finite differences.

    The scalar checked is :math:`f = \\sum (\\text{forward}(x) \\odot G)` for a fixed random
    ``G`` of the output's shape, so :math:`\\partial f / \\partial\\, \\text{out} = G` and
    ``backward(G)`` must return :math:`\\partial f / \\partial x` and fill
    :math:`\\partial f / \\partial \\theta` for every parameter.

    Parameters
    ----------
    layer : Layer
        Any object following the layer protocol, including a whole ``Sequential``.
    x : ndarray of float64, or of integers
        Input at which to check. Integer inputs (the token ids of an ``Embedding``) have no
        gradient: only the parameters are checked then.
    rng : numpy.random.Generator
        Draws ``G``.
    training : bool
        Passed to ``forward``. The layer must be deterministic in that mode. Its buffers
        (BatchNorm's running statistics), which training-mode passes move, are put back
        afterwards: the check leaves the layer as it found it.

    Returns
    -------
    GradCheckResult
        Errors for ``"x"`` (float inputs only) and for every key of ``layer.params``.
    """
    check_rng(rng, "check_layer")
    differentiable = not (
        isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.integer)
    )
    if differentiable:
        _require_float64(x, "x", "check_layer")
    for k, p in layer.params.items():
        _require_float64(p, f"params[{k!r}]", "check_layer")
    x = (
        x.copy()
    )  # perturbed in place below; the caller's array is left alone
    # Training-mode forwards move buffers (BatchNorm's running statistics): put back after.
    buffers = layer.buffers
    kept = {k: v.copy() for k, v in buffers.items()}
    try:
        out = layer.forward(x, training=training)
        g = rng.standard_normal(out.shape)
        dx = (
            layer.backward(g)
            if differentiable
            else layer.backward(g, need_dx=False)
        )
        analytic = {
            "x": dx,
            **{k: v.copy() for k, v in layer.grads.items()},
        }

        def f() -> float:
            return float(np.sum(layer.forward(x, training=training) * g))

        numeric = (
            {"x": numerical_gradient(f, x, eps)} if differentiable else {}
        )
        for k, p in layer.params.items():
            numeric[k] = numerical_gradient(f, p, eps)
    finally:
        for k, v in buffers.items():
            v[...] = kept[k]
    return GradCheckResult(
        {k: relative_error(analytic[k], numeric[k]) for k in numeric}, tol
    )


def check_loss(
    loss_fn: Callable,
    output: np.ndarray,
    y: np.ndarray,
    *,
    eps: float = 1e-6,
    tol: float = 1e-7,
) -> GradCheckResult:
    """Compare a loss's returned gradient with finite differences of its returned value.

    ``loss_fn(output, y)`` must return ``(loss, doutput)`` like every loss in
    :mod:`nnscratch.losses`, where ``output`` is what the network feeds the loss: the
    predictions :math:`\\hat y` of :func:`~nnscratch.losses.mean_squared_error`, the
    logits :math:`Z` of the cross-entropies. The result's one entry is named ``"output"``.
    """
    _require_float64(output, "output", "check_loss")
    output = output.copy()
    _, analytic = loss_fn(output, y)
    numeric = numerical_gradient(lambda: loss_fn(output, y)[0], output, eps)
    return GradCheckResult(
        {"output": relative_error(analytic, numeric)}, tol
    )
