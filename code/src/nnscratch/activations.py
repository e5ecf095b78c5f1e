"""Activation functions, their derivatives, and the same functions as layers.

Each function works elementwise (softmax row-wise) and keeps the dtype of its input. The
layers follow the dtype policy of :mod:`nnscratch`: floating-point inputs only.
Derivatives are written in terms of the forward output where that is cheaper, the way the
book derives them.

See Also
--------
Book, Step 1 "Neuron and activation" and Step 3 "Deep networks" derive every derivative here.
"""

from __future__ import annotations

import numpy as np

from ._checks import accumulation_dtype, check_float_array, check_number
from .layers.base import Layer

# ---------------------------------------------------------------- functions


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, without overflow and to full relative precision.

    Notes
    -----
    :math:`\\sigma(z) = 1 / (1 + e^{-z})` for :math:`z \\ge 0` and
    :math:`e^{z} / (1 + e^{z})` for :math:`z < 0`: both are computed from
    :math:`e = e^{-|z|} \\le 1`, which cannot overflow. Neither form subtracts, so small
    values keep their relative precision: ``sigmoid(-40.0)`` is about ``4.2e-18``, where
    ``(1 + tanh(z/2)) / 2`` rounds to exactly 0 below about -37.
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid: :math:`\\sigma'(z) = \\sigma(z)(1 - \\sigma(z))`."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(z)


def tanh_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of tanh: :math:`1 - \\tanh^2(z)`."""
    t = np.tanh(z)
    return 1.0 - t * t


def relu(z: np.ndarray) -> np.ndarray:
    """Rectified linear unit :math:`\\max(0, z)`."""
    return np.maximum(z, 0)


def relu_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of ReLU: 1 where ``z > 0``, else 0 (0 is used at the kink ``z = 0``)."""
    return (z > 0).astype(z.dtype)


def leaky_relu(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: ``z`` where ``z > 0``, else ``alpha * z`` (``z`` floating-point: an integer
    ``z`` would truncate ``alpha`` to 0)."""
    check_float_array(z, "z", where="leaky_relu")
    a = z.dtype.type(alpha)
    if (
        0 <= alpha <= 1
    ):  # the usual case: max(z, αz), branch-free and ~5x faster
        return np.maximum(z, z * a)
    return np.where(z > 0, z, z * a)


def leaky_relu_prime(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU: 1 where ``z > 0``, else ``alpha``."""
    check_float_array(z, "z", where="leaky_relu_prime")
    a = z.dtype.type(alpha)
    if (
        0 <= alpha <= 1
    ):  # max(1 or 0, α): branch-free, ~10x faster than np.where
        return np.maximum((z > 0).astype(z.dtype), a)
    return np.where(z > 0, z.dtype.type(1), a)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits.

    Parameters
    ----------
    z : ndarray of shape (N, C)
        Logits, one row per example.

    Returns
    -------
    p : ndarray of shape (N, C)
        Probabilities; each row sums to one.

    Notes
    -----
    :math:`p_{ij} = e^{z_{ij} - m_i} / \\sum_k e^{z_{ik} - m_i}` with :math:`m_i = \\max_k z_{ik}`.
    Subtracting the row maximum changes nothing mathematically and keeps ``exp`` from
    overflowing.
    """
    check_float_array(z, "z", ndim=2, where="softmax")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


#: :math:`\\sqrt{2/\\pi}` and the cubic coefficient of GELU's tanh form (Hendrycks & Gimpel).
_GELU_C, _GELU_A = float(np.sqrt(2.0 / np.pi)), 0.044715


def _float_type(z, where: str):
    """The scalar type to write constants in: ``z``'s for an array (refused unless it holds
    floats: an integer ``z`` would turn 0.5 into 0), Python's float for a number.
    """
    if isinstance(z, np.ndarray):
        check_float_array(z, "z", where=where)
        return z.dtype.type
    return float


def gelu(z: np.ndarray) -> np.ndarray:
    """Gaussian error linear unit, tanh form (GPT-2's; PyTorch's ``approximate="tanh"``).

    Notes
    -----
    :math:`\\mathrm{GELU}(z) = z\\,\\Phi(z) \\approx`
    :math:`\\tfrac12 z \\big(1 + \\tanh u\\big)`,
    :math:`u = \\sqrt{2/\\pi}\\,(z + 0.044715 z^3)`: a ReLU whose corner is smoothed, slightly
    negative for small negative ``z``.
    """
    f = _float_type(z, "gelu")
    return (
        f(0.5)
        * z
        * (f(1) + np.tanh(f(_GELU_C) * (z + f(_GELU_A) * z * z * z)))
    )


def gelu_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of :func:`gelu`, with :math:`u` as there.

    .. math::

        \\tfrac12(1 + \\tanh u)
        + \\tfrac12 z\\,(1 - \\tanh^2 u)\\sqrt{2/\\pi}\\,(1 + 3 \\cdot 0.044715\\, z^2)
    """
    f = _float_type(z, "gelu_prime")
    t = np.tanh(f(_GELU_C) * (z + f(_GELU_A) * z * z * z))
    return f(0.5) * (f(1) + t) + f(0.5) * z * (f(1) - t * t) * f(
        _GELU_C
    ) * (f(1) + f(3 * _GELU_A) * z * z)


# ------------------------------------------------------------------- layers


class _Elementwise(Layer):
    """An elementwise activation layer.

    Subclasses define ``_f``, and either ``_df`` (backward is ``dout * _df(z)``) or a
    ``_backward`` of their own.
    """

    _forward_state = ("_z",)

    def __init__(self) -> None:
        super().__init__()
        self._z: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Apply the activation elementwise to ``x`` of any shape; same shape and dtype."""
        check_float_array(x, "x", where=f"{type(self).__name__}.forward")
        self._z = x
        return self._f(x)

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Return ``dout`` times the derivative at the forward input (no parameters)."""
        self._require_forward(self._z)
        where = f"{type(self).__name__}.backward"
        check_float_array(dout, "dout", dtype=self._z.dtype, where=where)
        if dout.shape != self._z.shape:
            raise ValueError(
                f"{where}: dout must have the forward output's shape {self._z.shape}, got {dout.shape}"
            )
        return self._backward(dout, self._z) if need_dx else None

    def _backward(self, dout: np.ndarray, z: np.ndarray) -> np.ndarray:
        return dout * self._df(z)


class Sigmoid(_Elementwise):
    """Sigmoid layer: forward :math:`\\sigma(z)`, backward ``dout * σ(z)(1-σ(z))``."""

    _f = staticmethod(sigmoid)
    _df = staticmethod(sigmoid_prime)


class Tanh(_Elementwise):
    """Tanh layer: forward ``tanh(z)``, backward ``dout * (1 - tanh(z)**2)``."""

    _f = staticmethod(tanh)
    _df = staticmethod(tanh_prime)


class ReLU(_Elementwise):
    """ReLU layer: forward ``max(0, z)``, backward passes ``dout`` where ``z > 0``."""

    _f = staticmethod(relu)

    def _backward(self, dout: np.ndarray, z: np.ndarray) -> np.ndarray:
        # A new array: dout is never written to (a bug of some references). Multiplying by
        # the mask is branch-free, several times faster than np.where on a random mask.
        return dout * (z > 0)


class LeakyReLU(_Elementwise):
    """Leaky ReLU layer with slope ``alpha`` for negative inputs."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = check_number(
            alpha, "alpha (the negative slope)", "LeakyReLU"
        )

    def _f(self, z: np.ndarray) -> np.ndarray:
        return leaky_relu(z, self.alpha)

    def _df(self, z: np.ndarray) -> np.ndarray:
        return leaky_relu_prime(z, self.alpha)

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.alpha})"


class Softmax(Layer):
    """Row-wise softmax layer.

    Notes
    -----
    The Jacobian of one row is :math:`J = \\mathrm{diag}(p) - p p^\\top`, so the backward pass is
    the vector-Jacobian product :math:`dz = p \\odot (dout - \\langle dout, p \\rangle)`, computed
    without forming :math:`J`. For classification, prefer
    :func:`nnscratch.losses.softmax_cross_entropy` on logits: it fuses the two and is stable.
    """

    _forward_state = ("_p",)

    def __init__(self) -> None:
        super().__init__()
        self._p: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Row-wise softmax of ``x`` of shape (N, C); same shape and dtype."""
        check_float_array(x, "x", ndim=2, where="Softmax.forward")
        self._p = softmax(x)
        return self._p

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Vector-Jacobian product with ``dout`` of shape (N, C); returns ``dx`` (N, C)."""
        self._require_forward(self._p)
        p = self._p
        check_float_array(
            dout, "dout", ndim=2, dtype=p.dtype, where="Softmax.backward"
        )
        if dout.shape != p.shape:
            raise ValueError(
                f"Softmax.backward: dout must have shape {p.shape}, got {dout.shape}"
            )
        if not need_dx:
            return None
        return p * (dout - np.sum(dout * p, axis=1, keepdims=True))


class GELU(_Elementwise):
    """GELU layer (tanh form): forward :func:`gelu`, backward ``dout * gelu_prime(z)``.

    The MLP of a Transformer block uses it (GPT-2, BERT).

    Notes
    -----
    With :math:`u = \\sqrt{2/\\pi}(z + 0.044715 z^3)`, :math:`\\tfrac12(1 + \\tanh u) =
    \\sigma(2u)`, so the layer computes :math:`\\mathrm{GELU}(z) = z\\,\\sigma(2u)` with one
    ``exp`` (NumPy's float32 ``exp`` is about twice as fast as its ``tanh``) and keeps
    :math:`s = \\sigma(2u)` for backward: since :math:`1 - \\tanh^2 u = 4 s (1 - s)`,

    .. math::

        \\mathrm{GELU}'(z) = s + 2 z\\, s (1 - s) \\sqrt{2/\\pi}\\,(1 + 3 \\cdot 0.044715\\, z^2).

    See Also
    --------
    Book, Step 9 "Attention" (practice): the Transformer block.
    """

    _forward_state = ("_z", "_s")

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Apply GELU elementwise to ``x`` of any shape; same shape and dtype."""
        check_float_array(x, "x", where="GELU.forward")
        # z * z overflows float16 beyond 256 (inf * 0 = nan in backward): float16
        # works in float32, as the dtype policy's sums do
        w = x.astype(accumulation_dtype(x.dtype), copy=False)
        f = w.dtype.type
        # |z|^3 = inf (|z| beyond about 1e13 in float32) gives u = -inf or inf and
        # exp(-2u) = inf or 0, so s = 0 or 1, as it should
        with np.errstate(over="ignore"):
            s = w * w
            s *= f(-2 * _GELU_C * _GELU_A)
            s -= f(2 * _GELU_C)
            s *= w  # -2u
            np.exp(s, out=s)
        s += f(1)
        np.reciprocal(s, out=s)  # s = sigma(2u) = (1 + tanh u) / 2
        self._z, self._s = x, s
        return (w * s).astype(x.dtype, copy=False)

    def _backward(self, dout: np.ndarray, z: np.ndarray) -> np.ndarray:
        s = self._s
        z = z.astype(s.dtype, copy=False)  # float16: float32, as in forward
        f = z.dtype.type
        # s (1 - s) is exactly 0 where |z| is so large that z^3 may be infinite: the
        # term is 0 there (the slope is 0 or 1), not inf * 0 = nan
        tails = (s == 0) | (s == 1)
        with np.errstate(over="ignore", invalid="ignore"):
            slope = z * z  # 2 z s (1 - s) c (1 + 3 a z^2) + s
            slope *= f(6 * _GELU_C * _GELU_A)
            slope += f(2 * _GELU_C)
            slope *= z
            slope *= s
            slope *= f(1) - s
        slope[tails] = 0
        slope += s
        slope *= dout
        return slope.astype(dout.dtype, copy=False)
