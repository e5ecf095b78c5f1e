"""Normalization layers: BatchNorm (N, D), BatchNorm2D (N, C, H, W), LayerNorm (N, ..., D).

:class:`BatchNorm` normalizes each feature with the statistics of the batch while training
and with running averages of them in evaluation, then scales and shifts it by learned
parameters. In training every output depends on the whole batch, and so does its gradient;
Step 5 derives it. :class:`BatchNorm2D` does the same per channel of images, over the
batch and both spatial axes. :class:`LayerNorm` normalizes each example over its last axis
alone, the same in training and evaluation, with no running statistics; Step 9 derives its
backward pass.
"""

from __future__ import annotations

import numpy as np

from .._checks import (
    accumulation_dtype,
    check_float_array,
    check_float_dtype,
    check_int,
    check_number,
    policy_mean,
    policy_sum,
)
from .base import Layer


class BatchNorm(Layer):
    """Batch normalization over the batch axis of dense inputs, as PyTorch's ``BatchNorm1d``.

    Parameters
    ----------
    n_features : int
        Width :math:`D` of the input.
    momentum : float, default 0.1
        Weight of the new batch in the running statistics.
    eps : float, default 1e-5
        Added to the variance before the square root.
    dtype : numpy dtype, default float64
        float16, float32 or float64; inputs must have the same dtype. Batch statistics of
        float16 inputs are computed in float32.

    Attributes
    ----------
    params : dict
        ``"gamma"`` (scale, starts at 1) and ``"beta"`` (shift, starts at 0), shape (D,).
    buffers : dict
        ``"running_mean"`` (starts at 0) and ``"running_var"`` (starts at 1), shape (D,):
        state that is tracked, not learned.

    Notes
    -----
    Training, with batch mean :math:`\\mu = \\frac1N \\sum_i x_i` and *biased* variance
    :math:`\\sigma^2 = \\frac1N \\sum_i (x_i - \\mu)^2`:

    .. math::

        \\hat x &= (x - \\mu) / \\sqrt{\\sigma^2 + \\epsilon}, \\\\
        y &= \\gamma \\hat x + \\beta,

    and the running statistics move towards the batch's, the variance *unbiased*:
    :math:`m \\leftarrow (1 - \\rho) m + \\rho \\mu`,
    :math:`s \\leftarrow (1 - \\rho) s + \\rho \\frac{N}{N-1} \\sigma^2` (:math:`\\rho` = momentum).

    Backward in training (every :math:`\\hat x_i` depends on the whole batch through
    :math:`\\mu` and :math:`\\sigma`), with :math:`d\\hat x = dy\\, \\gamma`:

    .. math::

        d\\gamma &= \\sum_i dy_i \\hat x_i, \\\\
        d\\beta &= \\sum_i dy_i, \\\\
        dx &= \\frac{N\\, d\\hat x - \\sum_i d\\hat x_i - \\hat x \\sum_i d\\hat x_i \\hat x_i}
                   {N\\sqrt{\\sigma^2 + \\epsilon}}.

    Evaluation uses the running statistics instead, so the layer is a fixed affine map and
    :math:`dx = dy\\, \\gamma / \\sqrt{s + \\epsilon}`.

    See Also
    --------
    Book, Step 5 "Regularization": the backward pass derived by hand and checked with SymPy.
    """

    _forward_state = ("_cache",)

    def __init__(
        self,
        n_features: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        dtype=np.float64,
    ) -> None:
        super().__init__()
        self.n_features = check_int(n_features, "n_features", "BatchNorm")
        self.momentum = check_number(
            momentum, "momentum", "BatchNorm", low=0, high=1
        )
        self.eps = check_number(
            eps, "eps", "BatchNorm", low=0, low_open=True
        )
        self.dtype = check_float_dtype(dtype, "BatchNorm")
        d = self.n_features
        self.params = {
            "gamma": np.ones(d, dtype=self.dtype),
            "beta": np.zeros(d, dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers = {
            "running_mean": np.zeros(d, dtype=self.dtype),
            "running_var": np.ones(d, dtype=self.dtype),
        }
        self._cache: tuple | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Normalize ``x`` of shape (N, D); returns shape (N, D)."""
        check_float_array(
            x, "x", ndim=2, dtype=self.dtype, where="BatchNorm.forward"
        )
        n, d = x.shape
        if d != self.n_features:
            raise ValueError(
                f"BatchNorm.forward: x must have shape (N, {self.n_features}), got {x.shape}"
            )
        f = self.dtype.type
        if training:
            if n < 2:
                raise ValueError(
                    f"BatchNorm.forward: training needs a batch of at least 2 examples to estimate a "
                    f"variance, got N={n}"
                )
            # The statistics of float16 inputs are computed in float32: squares above 256
            # and sums of many rows overflow float16 (the dtype policy of nnscratch).
            acc = accumulation_dtype(self.dtype)
            xa = x.astype(acc, copy=False)
            mu_acc = xa.mean(axis=0)  # (D,)
            xc_acc = xa - mu_acc  # (N, D)
            var_acc = np.mean(xc_acc * xc_acc, axis=0)  # (D,) biased
            mu, var = mu_acc.astype(self.dtype), var_acc.astype(self.dtype)
            xc = xc_acc.astype(self.dtype, copy=False)
            rho = f(self.momentum)
            self.buffers["running_mean"] *= f(1) - rho
            self.buffers["running_mean"] += rho * mu
            self.buffers["running_var"] *= f(1) - rho
            self.buffers["running_var"] += (
                rho * var * f(n / (n - 1))
            )  # unbiased
        else:
            xc = x - self.buffers["running_mean"]
            var = self.buffers["running_var"]
        inv_std = f(1) / np.sqrt(var + f(self.eps))  # (D,)
        x_hat = xc * inv_std  # (N, D)
        self._cache = (x_hat, inv_std, training)
        return x_hat * self.params["gamma"] + self.params["beta"]

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Fill ``grads["gamma"]``, ``grads["beta"]`` from ``dout`` (N, D); return ``dx`` (N, D)."""
        self._require_forward(self._cache)
        x_hat, inv_std, training = self._cache
        check_float_array(
            dout,
            "dout",
            ndim=2,
            dtype=self.dtype,
            where="BatchNorm.backward",
        )
        if dout.shape != x_hat.shape:
            raise ValueError(
                f"BatchNorm.backward: dout must have shape {x_hat.shape}, "
                f"got {dout.shape}"
            )
        self.grads["gamma"] = policy_sum(
            dout * x_hat, axis=0
        )  # (D,), float16 summed in float32
        self.grads["beta"] = policy_sum(dout, axis=0)  # (D,)
        if not need_dx:
            return None
        dx_hat = dout * self.params["gamma"]  # (N, D)
        if not training:  # a fixed affine map
            return dx_hat * inv_std
        # 1/N inside, as means: no term N times dx_hat's size (float16)
        return inv_std * (
            dx_hat
            - policy_mean(dx_hat, axis=0)
            - x_hat * policy_mean(dx_hat * x_hat, axis=0)
        )

    def __repr__(self) -> str:
        return f"BatchNorm({self.n_features}, momentum={self.momentum}, eps={self.eps}, dtype={self.dtype})"


class LayerNorm(Layer):
    """Layer normalization over the last axis, as PyTorch's ``LayerNorm(D)``.

    Parameters
    ----------
    n_features : int
        Width :math:`D` of the last axis, over which each row is normalized.
    eps : float, default 1e-5
        Added to the variance before the square root.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict
        ``"gamma"`` (scale, starts at 1) and ``"beta"`` (shift, starts at 0), shape (D,).

    Notes
    -----
    Each row :math:`x` of D features (an example, or one position of a sequence) is
    normalized by its own mean :math:`\\mu = \\frac1D \\sum_j x_j` and biased variance
    :math:`\\sigma^2 = \\frac1D \\sum_j (x_j - \\mu)^2`, the same in training and in
    evaluation (no running statistics, no dependence on the batch):
    :math:`\\hat x = (x - \\mu)/\\sqrt{\\sigma^2 + \\epsilon}`, :math:`y = \\gamma \\odot \\hat x + \\beta`.
    Backward is BatchNorm's with the roles of the axes swapped, per row, with
    :math:`d\\hat x = dy \\odot \\gamma` and :math:`r = 1/\\sqrt{\\sigma^2 + \\epsilon}`:

    .. math::

        dx &= r \\Big(d\\hat x - \\tfrac1D \\textstyle\\sum_j d\\hat x_j \\\\
        &\\qquad {} - \\hat x \\, \\tfrac1D \\textstyle\\sum_j d\\hat x_j \\hat x_j\\Big), \\\\
        d\\gamma &= \\textstyle\\sum_{\\text{rows}} dy \\odot \\hat x, \\\\
        d\\beta &= \\textstyle\\sum_{\\text{rows}} dy.

    See Also
    --------
    BatchNorm
    Book, Step 9 "Attention" (theory): this backward pass derived and checked.
    """

    _forward_state = ("_cache",)

    def __init__(
        self, n_features: int, eps: float = 1e-5, dtype=np.float64
    ) -> None:
        super().__init__()
        self.n_features = d = check_int(
            n_features, "n_features", "LayerNorm"
        )
        self.eps = check_number(
            eps, "eps", "LayerNorm", low=0, low_open=True
        )
        self.dtype = check_float_dtype(dtype, "LayerNorm")
        self.params = {
            "gamma": np.ones(d, dtype=self.dtype),
            "beta": np.zeros(d, dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._cache: tuple | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Normalize every row of ``x`` (N, ..., D) over its last axis; same shape."""
        check_float_array(
            x, "x", dtype=self.dtype, where="LayerNorm.forward"
        )
        if x.ndim < 2 or x.shape[-1] != self.n_features:
            raise ValueError(
                f"LayerNorm.forward: x must have shape (N, ..., {self.n_features}), got {x.shape}"
            )
        acc = accumulation_dtype(
            self.dtype
        )  # float16 statistics in float32
        xa = x.astype(acc, copy=False)
        xc = xa - xa.mean(axis=-1, keepdims=True)  # (N, ..., D)
        var = np.mean(xc * xc, axis=-1, keepdims=True)  # (N, ..., 1) biased
        inv_std = (1 / np.sqrt(var + acc.type(self.eps))).astype(self.dtype)
        x_hat = xc.astype(self.dtype, copy=False)
        x_hat *= inv_std
        self._cache = (x_hat, inv_std)
        out = x_hat * self.params["gamma"]
        out += self.params["beta"]
        return out

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Fill ``grads`` from ``dout`` (N, ..., D); return ``dx`` of the same shape."""
        self._require_forward(self._cache)
        x_hat, inv_std = self._cache
        check_float_array(
            dout, "dout", dtype=self.dtype, where="LayerNorm.backward"
        )
        if dout.shape != x_hat.shape:
            raise ValueError(
                f"LayerNorm.backward: dout must have shape {x_hat.shape}, got {dout.shape}"
            )
        d = self.n_features
        d2, xh2 = dout.reshape(-1, d), x_hat.reshape(
            -1, d
        )  # every row a row
        self.grads["gamma"] = policy_sum(d2 * xh2, axis=0)  # (D,)
        self.grads["beta"] = policy_sum(d2, axis=0)  # (D,)
        if not need_dx:
            return None
        dx_hat = dout * self.params["gamma"]  # (N, ..., D)
        mean_d = dx_hat.mean(axis=-1, keepdims=True)
        mean_dx = (dx_hat * x_hat).mean(axis=-1, keepdims=True)
        dx_hat -= mean_d
        dx_hat -= x_hat * mean_dx
        dx_hat *= inv_std
        return dx_hat

    def __repr__(self) -> str:
        return f"LayerNorm({self.n_features}, eps={self.eps}, dtype={self.dtype})"


class BatchNorm2D(BatchNorm):
    """Batch normalization of feature maps, as PyTorch's ``BatchNorm2d``.

    The same computation as :class:`BatchNorm` with one mean, variance, ``gamma`` and
    ``beta`` per *channel*: the statistics of channel ``c`` are taken over the examples and
    the pixels, the :math:`N \\cdot H \\cdot W` values ``x[:, c]``, so a feature detector is
    normalized the same way wherever it fires. (The running variance's unbiased factor
    is :math:`m / (m - 1)` with :math:`m = N H W`.)

    Parameters
    ----------
    n_channels : int
        Channels :math:`C` of the input (N, C, H, W).
    momentum, eps, dtype
        As for :class:`BatchNorm`.

    Notes
    -----
    Forward and backward view the input as a matrix of :math:`N H W` rows and :math:`C`
    columns and apply :class:`BatchNorm`'s formulas to it; the book derives those (Step 5).
    Which order the rows come in does not change the statistics, so it follows the input's
    memory: a convolution's output, stored with the examples innermost, is viewed without a
    copy, and the output keeps that layout for the next layer.
    """

    _forward_state = ("_cache", "_shape", "_examples_last")

    def __init__(
        self,
        n_channels: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        dtype=np.float64,
    ) -> None:
        super().__init__(
            n_channels, momentum=momentum, eps=eps, dtype=dtype
        )
        self._shape: tuple | None = None
        self._examples_last = False

    def _rows(self, a: np.ndarray) -> np.ndarray:
        """``a`` (N, C, H, W) as the (N·H·W, C) matrix BatchNorm normalizes, its rows in
        the order forward chose: a view when ``a`` is stored that way, else one copy.
        """
        n, c, h, w = a.shape
        if self._examples_last:
            # rows in the order (h, w, n)
            return a.transpose(1, 2, 3, 0).reshape(c, -1).T
        return a.transpose(0, 2, 3, 1).reshape(-1, c)  # rows (n, h, w)

    def _maps(self, rows: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`_rows`: (N·H·W, C) back to (N, C, H, W), a view."""
        n, c, h, w = self._shape
        if self._examples_last:
            return rows.T.reshape(c, h, w, n).transpose(3, 0, 1, 2)
        return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Normalize ``x`` of shape (N, C, H, W) per channel; returns the same shape."""
        where = "BatchNorm2D.forward"
        check_float_array(x, "x", ndim=4, dtype=self.dtype, where=where)
        n, c, h, w = x.shape
        if c != self.n_features:
            raise ValueError(
                f"{where}: x must have shape (N, {self.n_features}, H, W), got {x.shape}"
            )
        if training and n * h * w < 2:
            raise ValueError(
                f"{where}: training needs at least 2 values per channel (N·H·W) to "
                f"estimate a variance, got N={n}, H={h}, W={w}"
            )
        self._shape = x.shape
        # examples innermost, as convolutions leave them: keep that layout
        self._examples_last = n > 1 and x.strides[0] == x.itemsize
        return self._maps(super().forward(self._rows(x), training))

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Fill ``grads`` from ``dout`` (N, C, H, W); return ``dx`` of the same shape."""
        self._require_forward(self._shape)
        where = "BatchNorm2D.backward"
        check_float_array(
            dout, "dout", ndim=4, dtype=self.dtype, where=where
        )
        if dout.shape != self._shape:
            raise ValueError(
                f"{where}: dout must have shape {self._shape}, got {dout.shape}"
            )
        dx = super().backward(self._rows(dout), need_dx)
        return None if dx is None else self._maps(dx)

    def __repr__(self) -> str:
        return (
            f"BatchNorm2D({self.n_features}, momentum={self.momentum}, "
            f"eps={self.eps}, dtype={self.dtype})"
        )
