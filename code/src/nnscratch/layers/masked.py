"""Pooling over time that respects a mask: sentences of different lengths in one batch.

A batch of sentences is padded to one length T (:func:`nnscratch.text.pad`); ``mask``,
a boolean (N, T) array, is True at the real positions. Each layer here turns a sequence of
vectors (N, T, D) into one vector per sentence (N, D) using the real positions only, so the
output does not depend on the padding and the padded positions receive **exactly zero**
gradient: the pooled vector of a sentence is the same whether it is padded to 10 or to 60.

``forward(x, training=False, *, mask=None)``: ``mask=None`` means every position is real.
Every row needs at least one real position. A mask that is not boolean raises ``TypeError``
(an integer 0/1 mask is refused rather than cast); one of the wrong shape, ``ValueError``.

See Also
--------
Book, Step 10 "Words" (theory): masking derived and checked.
"""

from __future__ import annotations

import numpy as np

from .._checks import (
    check_dout,
    check_float_array,
    check_float_dtype,
    check_int,
)
from .base import Layer

__all__ = ["MeanOverTime", "MaxOverTime", "AttentionPooling"]


def _check(layer: Layer, x: np.ndarray, mask, dtype=None) -> np.ndarray:
    where = f"{type(layer).__name__}.forward"
    check_float_array(x, "x", dtype=dtype, where=where)
    if x.ndim != 3:
        raise ValueError(
            f"{where}: x must have shape (N, T, D) (batch, time, features), got {x.shape}"
        )
    if x.shape[1] == 0:
        raise ValueError(
            f"{where}: x must hold at least one position (T >= 1) to pool over, "
            f"got shape {x.shape}"
        )
    if mask is None:
        return np.ones(x.shape[:2], dtype=bool)
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(
            f"{where}: mask must be a boolean array of shape {x.shape[:2]}, got dtype "
            f"{mask.dtype} (shape {mask.shape}); build it by comparison, e.g. ids != PAD"
        )
    if mask.shape != x.shape[:2]:
        raise ValueError(
            f"{where}: mask must be a boolean array of shape {x.shape[:2]}, got "
            f"{mask.dtype} {mask.shape}"
        )
    empty = ~mask.any(axis=1)
    if empty.any():
        raise ValueError(
            f"{where}: every row of mask needs a real position; rows "
            f"{np.flatnonzero(empty)[:5].tolist()} have none"
        )
    return mask


class MeanOverTime(Layer):
    """Mean of the real positions: :math:`\\text{out}_n = \\frac{1}{L_n}\\sum_t m_{nt} x_{nt}`.

    :math:`L_n = \\sum_t m_{nt}` is the length of sentence :math:`n`. Backward:
    :math:`dx_{nt} = m_{nt}\\, d\\text{out}_n / L_n`, zero at padding.
    """

    _forward_state = ("_w", "_d")

    def forward(self, x, training=False, *, mask=None):
        """(N, T, D) -> (N, D)."""
        mask = _check(self, x, mask)
        w = mask / mask.sum(axis=1, keepdims=True)  # (N, T), rows sum to 1
        w = w.astype(x.dtype)
        self._w, self._d = w, x.shape[2]
        return np.einsum("nt,ntd->nd", w, x)

    def backward(self, dout, need_dx=True):
        """dout (N, D) -> dx (N, T, D)."""
        self._require_forward(getattr(self, "_w", None))
        w = self._w  # (N, T), in x's dtype
        check_dout(
            dout, (len(w), self._d), w.dtype, "MeanOverTime.backward"
        )
        if not need_dx:
            return None
        return w[..., None] * dout[:, None, :]  # (N, T, D)


class MaxOverTime(Layer):
    """Largest value of each feature over the real positions (Collobert et al., 2011; Kim, 2014).

    Backward sends ``dout`` to the position that held the maximum (the first, on ties),
    and zero everywhere else, padding included.
    """

    _forward_state = ("_cache",)

    def forward(self, x, training=False, *, mask=None):
        """(N, T, D) -> (N, D)."""
        mask = _check(self, x, mask)
        masked = np.where(mask[..., None], x, -np.inf)  # padding never wins
        arg = masked.argmax(axis=1)  # (N, D)
        self._cache = (arg, x.shape, x.dtype)
        return np.take_along_axis(x, arg[:, None, :], axis=1)[:, 0, :]

    def backward(self, dout, need_dx=True):
        """dout (N, D) -> dx (N, T, D)."""
        self._require_forward(getattr(self, "_cache", None))
        arg, shape, dtype = self._cache
        check_dout(
            dout, (shape[0], shape[2]), dtype, "MaxOverTime.backward"
        )
        if not need_dx:
            return None
        dx = np.zeros(shape, dtype=dout.dtype)
        np.put_along_axis(dx, arg[:, None, :], dout[:, None, :], axis=1)
        return dx


class AttentionPooling(Layer):
    """Weighted mean of the real positions, weights from a learned query.

    .. math::

        s_{nt} = x_{nt} \\cdot q, \\qquad
        a_{nt} = \\frac{m_{nt} e^{s_{nt}}}{\\sum_u m_{nu} e^{s_{nu}}}, \\qquad
        \\text{out}_n = \\sum_t a_{nt} x_{nt}.

    Parameters
    ----------
    n_dim : int
        Width D of the vectors.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict
        ``"q"``: ndarray of shape (D,), the query; it starts at zero, where attention is
        uniform over the real positions and the layer is :class:`MeanOverTime`.
    attention : ndarray of shape (N, T)
        The weights :math:`a` of the last forward pass (zero at padding).

    Notes
    -----
    With :math:`g_{nt} = d\\text{out}_n \\cdot x_{nt}` and
    :math:`\\bar g_n = \\sum_t a_{nt} g_{nt}`, the softmax's backward gives
    :math:`ds_{nt} = a_{nt}(g_{nt} - \\bar g_n)`, hence
    :math:`dx_{nt} = a_{nt}\\, d\\text{out}_n + ds_{nt}\\, q` and
    :math:`dq = \\sum_{n,t} ds_{nt}\\, x_{nt}`. Every term carries :math:`a_{nt}`, which is
    exactly 0 at padding (the masked scores are :math:`-\\infty` before the softmax).
    """

    _forward_state = ("_x", "attention")

    def __init__(self, n_dim: int, *, dtype=np.float64) -> None:
        super().__init__()
        self.n_dim = check_int(n_dim, "n_dim", "AttentionPooling")
        self.dtype = check_float_dtype(dtype, "AttentionPooling")
        self.params = {"q": np.zeros(self.n_dim, self.dtype)}
        self.grads = {"q": np.zeros(self.n_dim, self.dtype)}
        self.attention: np.ndarray | None = None

    def forward(self, x, training=False, *, mask=None):
        """(N, T, D) -> (N, D)."""
        mask = _check(self, x, mask, dtype=self.dtype)
        if x.shape[2] != self.n_dim:
            raise ValueError(
                f"AttentionPooling.forward: x must have {self.n_dim} features, got "
                f"{x.shape[2]}"
            )
        s = np.where(mask, x @ self.params["q"], -np.inf)  # (N, T)
        e = np.exp(s - s.max(axis=1, keepdims=True))  # 0 at padding
        a = e / e.sum(axis=1, keepdims=True)  # (N, T)
        self.attention = a
        self._x = x
        return np.einsum("nt,ntd->nd", a, x)  # (N, D)

    def backward(self, dout, need_dx=True):
        """dout (N, D) -> dx (N, T, D); fills ``grads["q"]``."""
        self._require_forward(getattr(self, "_x", None))
        x, a = self._x, self.attention
        n, _, d = x.shape
        check_dout(dout, (n, d), self.dtype, "AttentionPooling.backward")
        g = np.einsum("nd,ntd->nt", dout, x)  # (N, T)
        ds = a * (g - (a * g).sum(axis=1, keepdims=True))  # (N, T)
        self.grads["q"] = np.einsum("nt,ntd->d", ds, x)  # (D,)
        if not need_dx:
            return None
        return (
            a[..., None] * dout[:, None, :]
            + ds[..., None] * self.params["q"]
        )  # (N, T, D)

    def __repr__(self) -> str:
        return f"AttentionPooling({self.n_dim}, dtype={self.dtype})"
