"""Position encodings: telling attention where each element of a sequence sits.

Attention treats its input as a set: permute the positions and its output is permuted the
same way. Adding a vector that depends on the position to every element's embedding breaks
that symmetry. :class:`PositionEmbedding` learns one vector per position (GPT-2);
:class:`SinusoidalPositions` uses fixed sines and cosines of geometric frequencies (the
original Transformer). Both map (N, T, D) to (N, T, D) for any T up to ``max_len``.

See Also
--------
Book, Step 9 "Attention" (theory): permutation equivariance, and why positions are added.
"""

from __future__ import annotations

import numpy as np

from .._checks import (
    check_float_array,
    check_float_dtype,
    check_int,
    check_number,
    check_rng,
    policy_sum,
)
from .base import Layer

__all__ = ["PositionEmbedding", "SinusoidalPositions", "sinusoidal_table"]


def sinusoidal_table(max_len: int, n_embed: int) -> np.ndarray:
    """The fixed encodings of Vaswani et al. (2017), float64 of shape (max_len, n_embed).

    Notes
    -----
    For position :math:`t` and :math:`i = 0 .. D/2 - 1`:
    :math:`P_{t, 2i} = \\sin(t / 10000^{2i/D})`, :math:`P_{t, 2i+1} = \\cos(t / 10000^{2i/D})`.
    Every pair of columns turns at its own frequency, so :math:`P_{t+k}` is a fixed rotation
    of :math:`P_t` (the same for every :math:`t`): relative offsets are linear maps.
    """
    max_len = check_int(max_len, "max_len", "sinusoidal_table")
    d = check_int(n_embed, "n_embed", "sinusoidal_table")
    if d % 2:
        raise ValueError(
            f"sinusoidal_table: n_embed must be even (sine and cosine pairs), got {d}"
        )
    angle = np.arange(max_len)[:, None] / 10000.0 ** (
        np.arange(0, d, 2) / d
    )  # (T, D/2)
    table = np.empty((max_len, d))
    table[:, 0::2], table[:, 1::2] = np.sin(angle), np.cos(angle)
    return table


class _AddPositions(Layer):
    """``x + P[:T]`` for x of shape (N, T, D); subclasses provide ``_table``."""

    _forward_state = ("_shape",)

    def _check(self, a: np.ndarray, name: str, where: str) -> None:
        check_float_array(a, name, dtype=self.dtype, where=where)
        if (
            a.ndim != 3
            or a.shape[2] != self.n_embed
            or a.shape[1] > self.max_len
        ):
            raise ValueError(
                f"{where}: {name} must have shape (N, T, {self.n_embed}) with T at most "
                f"max_len = {self.max_len}, got {a.shape}"
            )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Return ``x + P[:T]`` for ``x`` of shape (N, T, D)."""
        self._check(x, "x", f"{type(self).__name__}.forward")
        self._shape = x.shape
        return x + self._table()[: x.shape[1]]

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """``dx = dout`` (an addition passes its gradient on); learned tables fill ``grads``."""
        where = f"{type(self).__name__}.backward"
        self._require_forward(getattr(self, "_shape", None))
        self._check(dout, "dout", where)
        if dout.shape != self._shape:
            raise ValueError(
                f"{where}: dout must have shape {self._shape}, got {dout.shape}"
            )
        self._fill_grads(dout)
        return dout if need_dx else None

    def _fill_grads(self, dout: np.ndarray) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.max_len}, {self.n_embed}, dtype={self.dtype})"


class PositionEmbedding(_AddPositions):
    """Learned position embeddings: ``out = x + P[:T]``, one learned row of ``P`` per position.

    Parameters
    ----------
    max_len : int
        Longest sequence the layer accepts (the context length).
    n_embed : int
        Width D.
    rng : numpy.random.Generator
        Initial table, normal with standard deviation ``std``.
    dtype : numpy dtype, default float64
    std : float, default 0.02
        Standard deviation of the initial entries (GPT-2's).

    Attributes
    ----------
    params : dict
        ``"P"``: ndarray of shape (max_len, D).

    Notes
    -----
    :math:`\\text{out}_{n,t} = x_{n,t} + P_t`, so :math:`dx = d\\text{out}` and
    :math:`dP_t = \\sum_n d\\text{out}_{n,t}` for :math:`t < T`, zero beyond.

    See Also
    --------
    SinusoidalPositions
    Book, Step 9 "Attention" (theory): why positions are needed.
    """

    def __init__(
        self,
        max_len: int,
        n_embed: int,
        *,
        rng: np.random.Generator,
        dtype=np.float64,
        std: float = 0.02,
    ) -> None:
        super().__init__()
        self.max_len = check_int(max_len, "max_len", "PositionEmbedding")
        self.n_embed = check_int(n_embed, "n_embed", "PositionEmbedding")
        check_rng(rng, "PositionEmbedding")
        self.dtype = check_float_dtype(dtype, "PositionEmbedding")
        std = check_number(std, "std", "PositionEmbedding", low=0)
        self.params = {
            "P": (
                rng.standard_normal((self.max_len, self.n_embed)) * std
            ).astype(self.dtype)
        }
        self.grads = {"P": np.zeros_like(self.params["P"])}

    def _table(self) -> np.ndarray:
        return self.params["P"]

    def _fill_grads(self, dout: np.ndarray) -> None:
        dp = np.zeros_like(self.params["P"])  # (max_len, D)
        dp[: dout.shape[1]] = policy_sum(dout, axis=0)  # (T, D)
        self.grads["P"] = dp


class SinusoidalPositions(_AddPositions):
    """Fixed sinusoidal position encodings: ``out = x + P[:T]``, nothing learned.

    Parameters
    ----------
    max_len : int
        Longest sequence the layer accepts.
    n_embed : int
        Width D, even.
    dtype : numpy dtype, default float64

    Notes
    -----
    ``P`` is :func:`sinusoidal_table`, computed in float64 and stored in ``dtype``. It is
    not a buffer: it is a function of the layer's arguments, not state to save.

    See Also
    --------
    PositionEmbedding, sinusoidal_table
    """

    def __init__(
        self, max_len: int, n_embed: int, dtype=np.float64
    ) -> None:
        super().__init__()
        self.max_len = check_int(max_len, "max_len", "SinusoidalPositions")
        self.n_embed = check_int(n_embed, "n_embed", "SinusoidalPositions")
        self.dtype = check_float_dtype(dtype, "SinusoidalPositions")
        self._p = sinusoidal_table(self.max_len, self.n_embed).astype(
            self.dtype
        )

    def _table(self) -> np.ndarray:
        return self._p
