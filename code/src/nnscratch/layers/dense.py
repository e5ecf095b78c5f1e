"""The fully connected (dense) layer, and how its weights start.

:class:`Dense` computes :math:`Z = XW + b` on a batch of rows; :func:`init_std` gives the
scale of its initial weights (He or Glorot), which decides whether a deep network trains
at all (Step 3).
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


def init_std(n_in: int, n_out: int, init: str | float) -> float:
    """Standard deviation of the initial weights.

    ``"he"``: :math:`\\sqrt{2 / n_{in}}` (keeps the activation variance under ReLU);
    ``"glorot"``: :math:`\\sqrt{2 / (n_{in} + n_{out})}` (for tanh and sigmoid);
    a float: that standard deviation.
    """
    if init == "he":
        return float(np.sqrt(2.0 / n_in))
    if init == "glorot":
        return float(np.sqrt(2.0 / (n_in + n_out)))
    if isinstance(init, str):
        raise ValueError(
            "Dense: init must be 'he', 'glorot' or a non-negative float, "
            f"got {init!r}"
        )
    return check_number(init, "init (a standard deviation)", "Dense", low=0)


class Dense(Layer):
    """Fully connected layer :math:`Z = X W + b`.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    rng : numpy.random.Generator
        Source of the initial weights.
    dtype : numpy dtype, default float64
        dtype of the parameters, float16, float32 or float64; inputs must have the same
        dtype (nothing is cast silently; see the dtype policy in :mod:`nnscratch`).
    init : {"he", "glorot"} or float, default "he"
        Initialization of ``W`` (normal, zero mean); ``b`` starts at zero.

    Attributes
    ----------
    params : dict
        ``"W"``: ndarray of shape (n_in, n_out); ``"b"``: ndarray of shape (n_out,).
    grads : dict
        Same keys and shapes, filled by :meth:`backward`.

    Notes
    -----
    Rows are examples. Forward :math:`Z = XW + b`; backward, with :math:`dZ` the upstream
    gradient: :math:`dW = X^\\top dZ`, :math:`db = \\sum_i dZ_{i,:}`, :math:`dX = dZ W^\\top`.

    An input of higher rank, (N, ..., n_in) such as a sequence (N, T, n_in), is mapped over
    its leading axes, as PyTorch's ``Linear`` does: every position is one more row of
    :math:`X`, so the formulas hold with :math:`X` seen as (N·T, n_in).

    See Also
    --------
    Book, Step 3 "Deep networks": the matrix form of backpropagation.
    """

    _forward_state = ("_x",)

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        rng: np.random.Generator,
        dtype=np.float64,
        init: str | float = "he",
    ) -> None:
        super().__init__()
        self.n_in, self.n_out = check_int(n_in, "n_in", "Dense"), check_int(
            n_out, "n_out", "Dense"
        )
        check_rng(rng, "Dense")
        self.dtype = check_float_dtype(dtype, "Dense")
        std = init_std(self.n_in, self.n_out, init)
        self.params = {
            "W": (
                rng.standard_normal((self.n_in, self.n_out)) * std
            ).astype(self.dtype),
            "b": np.zeros(self.n_out, dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Compute ``x @ W + b`` over the last axis.

        ``x`` has shape (N, n_in), or (N, ..., n_in) for any number of middle axes (a
        sequence (N, T, n_in): the same weights at every position); the output has the same
        leading axes and n_out on the last.
        """
        check_float_array(x, "x", dtype=self.dtype, where="Dense.forward")
        if x.ndim < 2:
            raise ValueError(
                f"Dense.forward: x must have at least 2 dimensions, (N, {self.n_in}) or "
                f"(N, ..., {self.n_in}), got shape {x.shape}"
            )
        if x.shape[-1] != self.n_in:
            raise ValueError(
                f"Dense.forward: x must have {self.n_in} features on its last axis, "
                f"shape (N, {self.n_in}), got {x.shape} (any rank (N, ..., {self.n_in}) works too)"
            )
        self._x = x
        out = x @ self.params["W"]  # (N, ..., n_out)
        out += self.params["b"]  # in place: no second (N, ..., n_out) array
        return out

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Fill ``grads`` from ``dout`` of shape (N, ..., n_out); return ``dx`` (N, ..., n_in).

        With ``need_dx=False`` (a first layer, whose input is the data) ``dx`` is not
        computed and None is returned: that saves one of the three matrix products.
        """
        self._require_forward(self._x)
        x = self._x
        check_float_array(
            dout, "dout", dtype=self.dtype, where="Dense.backward"
        )
        if dout.shape != x.shape[:-1] + (self.n_out,):
            raise ValueError(
                "Dense.backward: dout must have shape "
                f"{x.shape[:-1] + (self.n_out,)}, got {dout.shape}"
            )
        x2, d2 = x.reshape(-1, self.n_in), dout.reshape(
            -1, self.n_out
        )  # every position a row
        self.grads["W"] = x2.T @ d2  # (n_in, n_out)
        self.grads["b"] = policy_sum(
            d2, axis=0
        )  # (n_out,); float16 summed in float32
        return (
            dout @ self.params["W"].T if need_dx else None
        )  # (N, ..., n_in)

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out}, dtype={self.dtype})"
