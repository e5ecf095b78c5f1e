"""The fully connected (dense) layer."""

from __future__ import annotations

import numpy as np

from .._checks import check_array
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
    if isinstance(init, (int, float)) and not isinstance(init, bool) and init >= 0:
        return float(init)
    raise ValueError(f"init must be 'he', 'glorot' or a non-negative float, got {init!r}")


class Dense(Layer):
    """Fully connected layer :math:`Z = X W + b`.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    rng : numpy.random.Generator
        Source of the initial weights.
    dtype : numpy dtype, default float64
        dtype of the parameters; inputs must have the same dtype (nothing is cast silently).
    init : {"he", "glorot"} or float, default "he"
        Initialisation of ``W`` (normal, zero mean); ``b`` starts at zero.

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

    See Also
    --------
    Book, Step 3 "Deep networks": the matrix form of backpropagation.
    """

    def __init__(self, n_in: int, n_out: int, *, rng: np.random.Generator, dtype=np.float64,
                 init: str | float = "he") -> None:
        super().__init__()
        for name, v in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Dense: {name} must be a positive integer, got {v!r}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"Dense: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                f"got {type(rng).__name__}"
            )
        self.n_in, self.n_out, self.dtype = int(n_in), int(n_out), np.dtype(dtype)
        std = init_std(self.n_in, self.n_out, init)
        self.params = {
            "W": (rng.standard_normal((self.n_in, self.n_out)) * std).astype(self.dtype),
            "b": np.zeros(self.n_out, dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Compute ``x @ W + b`` for ``x`` of shape (N, n_in); returns shape (N, n_out)."""
        check_array(x, "x", ndim=2, dtype=self.dtype, where="Dense.forward")
        if x.shape[1] != self.n_in:
            raise ValueError(
                f"Dense.forward: x must have shape (N, {self.n_in}), got {x.shape}"
            )
        self._x = x
        out = x @ self.params["W"]            # (N, n_out)
        out += self.params["b"]               # in place: no second (N, n_out) array
        return out

    can_skip_dx = True

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """Fill ``grads`` from ``dout`` of shape (N, n_out); return ``dx`` of shape (N, n_in).

        With ``need_dx=False`` (a first layer, whose input is the data) ``dx`` is not
        computed and None is returned: that saves one of the three matrix products.
        """
        self._require_forward(self._x)
        x = self._x
        check_array(dout, "dout", ndim=2, dtype=self.dtype, where="Dense.backward")
        if dout.shape != (x.shape[0], self.n_out):
            raise ValueError(
                f"Dense.backward: dout must have shape {(x.shape[0], self.n_out)}, got {dout.shape}"
            )
        self.grads["W"] = x.T @ dout          # (n_in, n_out)
        self.grads["b"] = dout.sum(axis=0)    # (n_out,)
        return dout @ self.params["W"].T if need_dx else None  # (N, n_in)

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out}, dtype={self.dtype})"
