"""Inverted dropout: a regularizer that zeroes random activations while training.

The kept activations are scaled up during training, so evaluation needs no change at all.
"""

from __future__ import annotations

import numpy as np

from .._checks import (
    check_dout,
    check_float_array,
    check_float_dtype,
    check_number,
    check_rng,
)
from .base import Layer


class Dropout(Layer):
    """Inverted dropout: zero each activation with probability ``p`` while training.

    Parameters
    ----------
    p : float in [0, 1)
        Probability of dropping an activation.
    rng : numpy.random.Generator
        Draws the masks.

    Notes
    -----
    In training, with a fresh mask :math:`M_{ij} \\sim \\text{Bernoulli}(1 - p)`,

    .. math::

        Y &= X \\odot M / (1 - p), \\\\
        dX &= dY \\odot M / (1 - p),

    so :math:`\\mathbb{E}[Y] = X`: the scaling happens at training time and evaluation is the
    identity (:math:`Y = X`, :math:`dX = dY`).

    The mask drawn by ``forward`` is kept for ``backward``. For gradient checks, which call
    ``forward`` many times and need the same function each time, :meth:`fix_mask` freezes the
    mask: training-mode ``forward`` then reuses it instead of drawing a new one, until
    :meth:`release_mask`.

    See Also
    --------
    Book, Step 5 "Regularization": why the expected activation is unchanged.
    """

    def __init__(self, p: float, *, rng: np.random.Generator) -> None:
        super().__init__()
        self.p = check_number(
            p, "p (a probability)", "Dropout", low=0, high=1, high_open=True
        )
        self.rng = check_rng(rng, "Dropout")
        self._scaled_mask: np.ndarray | None = (
            None  # M / (1 - p), in x's dtype
        )
        self._fixed = False
        self._cache: tuple | None = None

    @property
    def _forward_state(self) -> tuple[str, ...]:
        # a fixed mask is a setting, kept by a copy; a drawn one is the last batch's
        return ("_cache",) if self._fixed else ("_cache", "_scaled_mask")

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Return ``x * M / (1 - p)`` in training (``x`` itself in evaluation); same shape."""
        check_float_array(x, "x", where="Dropout.forward")
        if not training or self.p == 0:
            self._cache = ("identity", x.shape, x.dtype)
            return x
        if self._fixed:
            if (
                self._scaled_mask.shape != x.shape
                or self._scaled_mask.dtype != x.dtype
            ):
                raise ValueError(
                    "Dropout.forward: the fixed mask has shape "
                    f"{self._scaled_mask.shape} and dtype "
                    f"{self._scaled_mask.dtype}, x has {x.shape} and "
                    f"{x.dtype}"
                )
        else:
            dtype = (
                x.dtype
                if x.dtype in (np.float32, np.float64)
                else np.float64
            )
            keep = (
                self.rng.random(x.shape, dtype=dtype) >= self.p
            )  # Bernoulli(1 - p)
            self._scaled_mask = keep.astype(x.dtype) * x.dtype.type(
                1 / (1 - self.p)
            )
        self._cache = ("mask", x.shape, x.dtype)
        return x * self._scaled_mask

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Return ``dout`` times the mask of the last forward pass (no parameters)."""
        self._require_forward(self._cache)
        kind, shape, dtype = self._cache
        # x's shape and dtype: a float64 dout would silently make dx float64
        check_dout(dout, shape, dtype, "Dropout.backward")
        if not need_dx:
            return None
        if kind == "identity":
            return dout
        return dout * self._scaled_mask

    @property
    def mask(self) -> np.ndarray | None:
        """Boolean keep-mask of the last training-mode forward pass (None before one)."""
        return None if self._scaled_mask is None else self._scaled_mask != 0

    def fix_mask(
        self, mask: np.ndarray | None = None, dtype=None
    ) -> Dropout:
        """Freeze the mask: later training-mode passes reuse it instead of drawing.

        Parameters
        ----------
        mask : ndarray of bool, optional
            The keep-mask to use (True keeps). By default, the mask of the last
            training-mode forward pass.
        dtype : numpy dtype, optional
            dtype of the inputs the frozen mask will see: float16, float32 or float64.
            With ``mask``, float64 by default. Without ``mask``, the last mask's dtype by
            default; a ``dtype`` given then re-scales the last mask in that dtype (the same
            mask as ``fix_mask(self.mask, dtype)``), so a mask drawn by a float64 pass can
            be frozen for float32 inputs.

        Returns
        -------
        Dropout
            The layer itself.

        Raises
        ------
        RuntimeError
            If ``mask`` is None and no training-mode forward pass has drawn a mask yet.
        TypeError
            If ``mask`` is not boolean, or ``dtype`` is not a floating-point dtype.
        """
        where = "Dropout.fix_mask"
        if dtype is not None:
            dtype = check_float_dtype(dtype, where)
        if mask is None:
            if self._scaled_mask is None:
                raise RuntimeError(
                    f"{where}: no mask yet; run forward(x, training=True) "
                    "first or pass a mask"
                )
            mask, default = self.mask, self._scaled_mask.dtype
        else:
            mask, default = np.asarray(mask), np.dtype(np.float64)
            if mask.dtype != np.bool_:
                raise TypeError(
                    f"{where}: mask must be boolean (True keeps), got dtype {mask.dtype}"
                )
        dtype = default if dtype is None else dtype
        self._scaled_mask = mask.astype(dtype) * dtype.type(
            1 / (1 - self.p)
        )
        self._fixed = True
        return self

    def release_mask(self) -> Dropout:
        """Draw a fresh mask at every training-mode forward pass again."""
        self._fixed = False
        return self

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
