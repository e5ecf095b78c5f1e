"""Attention: scaled dot-product attention and the multi-head attention layer.

Sequences are batch-first, (N, T, D), as everywhere in :mod:`nnscratch`. Inside
:class:`MultiHeadAttention` the heads are one more batch axis, (N, H, T, d): every head of
every sequence is one matrix product in a single batched ``matmul``, so no Python loop
runs over heads or over time steps, forward or backward.

See Also
--------
Book, Step 9 "Attention" (theory): the scale, the softmax Jacobian and the backward pass
derived by hand and checked.
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

__all__ = [
    "causal_mask",
    "attention_forward",
    "attention_backward",
    "MultiHeadAttention",
]


def causal_mask(t: int) -> np.ndarray:
    """Boolean (T, T) matrix, True where query ``i`` may look at key ``j``: ``j <= i``."""
    return np.tri(check_int(t, "t", "causal_mask"), dtype=bool)


def _check_qkv(q, k, v, causal: bool, where: str) -> None:
    for name, a in (("q", q), ("k", k), ("v", v)):
        check_float_array(a, name, dtype=q.dtype, where=where)
        if a.ndim < 2:
            raise ValueError(
                f"{where}: {name} must have shape (..., length, width), got {a.shape}"
            )
    if k.shape[-1] != q.shape[-1] or k.shape[:-2] != q.shape[:-2]:
        raise ValueError(
            f"{where}: k must have q's leading axes and width, (..., T_k, {q.shape[-1]}) with "
            f"... = {q.shape[:-2]}, got q {q.shape} and k {k.shape}"
        )
    if v.shape[:-1] != k.shape[:-1]:
        raise ValueError(
            f"{where}: v must have one row per key, shape {k.shape[:-1]} + (d_v,), got {v.shape}"
        )
    if k.shape[-2] == 0:
        raise ValueError(
            f"{where}: attention needs at least one key (a softmax over no keys is "
            f"undefined), got T_k = 0: q {q.shape}, k {k.shape}"
        )
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"{where}: a causal mask needs as many queries as keys, got T = {q.shape[-2]} "
            f"queries and T_k = {k.shape[-2]} keys"
        )


def attention_forward(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled dot-product attention :math:`\\mathrm{softmax}(QK^\\top/\\sqrt d)\\,V`.

    Parameters
    ----------
    q : ndarray of shape (..., T, d)
        Queries, one row per position that asks.
    k : ndarray of shape (..., T_k, d)
        Keys, one row per position that answers; same leading axes ``...`` as ``q``.
    v : ndarray of shape (..., T_k, d_v)
        Values, what each key's position hands back.
    causal : bool, default False
        Query ``i`` sees keys ``j <= i`` only (needs ``T == T_k``).

    Returns
    -------
    out : ndarray of shape (..., T, d_v)
    p : ndarray of shape (..., T, T_k)
        The attention weights; each row sums to one (zeros above the diagonal if causal).

    Notes
    -----
    .. math::

        S = \\frac{Q K^\\top}{\\sqrt d}, \\qquad
        P_{ij} = \\frac{e^{S_{ij}}}{\\sum_{l} e^{S_{il}}}, \\qquad O = P V,

    with :math:`S_{ij} = -\\infty` (so :math:`P_{ij} = 0`) for :math:`j > i` under the causal
    mask. The scale is folded into :math:`Q` before the product (``T d`` multiplications
    instead of ``T T_k``), and the row maximum is subtracted before ``exp``.

    See Also
    --------
    attention_backward
    Book, Step 9 "Attention" (theory): why divide by :math:`\\sqrt d`.
    """
    _check_qkv(q, k, v, causal, "attention_forward")
    scale = q.dtype.type(1.0 / np.sqrt(q.shape[-1]))
    s = (q * scale) @ np.swapaxes(k, -1, -2)  # (..., T, T_k)
    if causal:  # future keys: weight 0
        s += np.where(causal_mask(s.shape[-1]), 0, -np.inf).astype(s.dtype)
    s -= s.max(axis=-1, keepdims=True)
    p = np.exp(s, out=s)
    p /= p.sum(axis=-1, keepdims=True)
    return p @ v, p  # (..., T, d_v), (..., T, T_k)


def attention_backward(
    dout: np.ndarray,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    p: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of scaled dot-product attention, from ``dout`` and the forward's ``p``.

    Parameters
    ----------
    dout : ndarray of shape (..., T, d_v)
        Gradient of the loss with respect to the output :math:`O`.
    q, k, v : ndarrays
        The forward's inputs, shapes as in :func:`attention_forward`.
    p : ndarray of shape (..., T, T_k)
        The forward's attention weights (the mask is in them: masked weights are 0).

    Returns
    -------
    dq, dk, dv : ndarrays of the shapes of ``q``, ``k``, ``v``

    Notes
    -----
    With :math:`\\bar O` = ``dout``, through :math:`O = PV`, the row-wise softmax Jacobian
    :math:`\\partial P_{i\\cdot}/\\partial S_{i\\cdot} = \\mathrm{diag}(P_{i\\cdot}) -
    P_{i\\cdot}^\\top P_{i\\cdot}`, and :math:`S = QK^\\top/\\sqrt d`:

    .. math::

        \\bar V &= P^\\top \\bar O, \\quad \\bar P = \\bar O V^\\top, \\\\
        \\bar S &= P \\odot \\big(\\bar P - \\mathrm{rowsum}(\\bar P \\odot P)\\big), \\\\
        \\bar Q &= \\bar S K / \\sqrt d, \\quad \\bar K = \\bar S^\\top Q / \\sqrt d.

    A masked weight is 0, so its :math:`\\bar S_{ij}` is 0 too: the mask needs no code here.

    See Also
    --------
    attention_forward
    Book, Step 9 "Attention" (theory): this backward pass derived and verified three ways.
    """
    scale = q.dtype.type(1.0 / np.sqrt(q.shape[-1]))
    dv = np.swapaxes(p, -1, -2) @ dout  # (..., T_k, d_v)
    ds = dout @ np.swapaxes(v, -1, -2)  # (..., T, T_k): dP for now
    ds -= (ds * p).sum(axis=-1, keepdims=True)
    ds *= p  # dS = P (dP - rowsum(dP P))
    ds *= scale  # the 1/sqrt(d) of S, once
    dq = ds @ k  # (..., T, d)
    dk = np.swapaxes(ds, -1, -2) @ q  # (..., T_k, d)
    return dq, dk, dv


class MultiHeadAttention(Layer):
    """Multi-head self-attention on sequences (N, T, D), optionally causal.

    Parameters
    ----------
    n_embed : int
        Width D of the input and of the output.
    n_heads : int
        Number of heads H; must divide D. Each head works at width d = D / H.
    rng : numpy.random.Generator
        Initial weights, normal with standard deviation ``init_std``.
    causal : bool, default False
        Position ``i`` attends to positions ``j <= i`` only (a decoder, a language model).
    dtype : numpy dtype, default float64
    init_std : float, default 0.02
        Standard deviation of the initial weights (GPT-2's); biases start at zero.

    Attributes
    ----------
    params : dict
        ``"W_qkv"`` (D, 3D) and ``"b_qkv"`` (3D,): queries, keys and values of every head,
        in the column blocks [Q | K | V], each split into H blocks of width d;
        ``"W_o"`` (D, D) and ``"b_o"`` (D,), the output projection. PyTorch's
        ``nn.MultiheadAttention`` holds ``in_proj_weight`` = ``W_qkv.T``, ``in_proj_bias``
        = ``b_qkv``, ``out_proj.weight`` = ``W_o.T``, ``out_proj.bias`` = ``b_o``.
    attention : ndarray of shape (N, H, T, T) or None
        The weights of the last forward pass, one map per head (for plots).

    Notes
    -----
    With :math:`X` of shape (T, D) for one sequence, head :math:`h` computes
    :math:`O_h = \\mathrm{attention}(Q_h, K_h, V_h)` with :math:`Q_h = X W_q^h + b_q^h`,
    :math:`K_h = X W_k^h + b_k^h` and :math:`V_h = X W_v^h + b_v^h`,
    and the layer returns :math:`[O_1 \\,|\\, \\cdots \\,|\\, O_H]\\, W_o + b_o`: the
    concatenation of H single-head attentions, projected. The heads are computed together as
    one batched product over the axes (N, H). Backward applies
    :func:`attention_backward` to all heads at once, then the two dense maps' rules.

    See Also
    --------
    attention_forward, attention_backward
    Book, Step 9 "Attention" (theory): multi-head attention as concatenated heads.
    """

    _forward_state = ("_cache", "attention")

    def __init__(
        self,
        n_embed: int,
        n_heads: int,
        *,
        rng: np.random.Generator,
        causal: bool = False,
        dtype=np.float64,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        self.n_embed = d = check_int(
            n_embed, "n_embed", "MultiHeadAttention"
        )
        self.n_heads = h = check_int(
            n_heads, "n_heads", "MultiHeadAttention"
        )
        if d % h:
            raise ValueError(
                f"MultiHeadAttention: n_heads ({h}) must divide n_embed ({d})"
            )
        check_rng(rng, "MultiHeadAttention")
        self.dtype = check_float_dtype(dtype, "MultiHeadAttention")
        std = check_number(
            init_std, "init_std", "MultiHeadAttention", low=0
        )
        self.causal = bool(causal)
        self.params = {
            "W_qkv": (rng.standard_normal((d, 3 * d)) * std).astype(
                self.dtype
            ),
            "b_qkv": np.zeros(3 * d, self.dtype),
            "W_o": (rng.standard_normal((d, d)) * std).astype(self.dtype),
            "b_o": np.zeros(d, self.dtype),
        }
        self.grads = {
            key: np.zeros_like(val) for key, val in self.params.items()
        }
        self.attention: np.ndarray | None = None
        self._cache: tuple | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Self-attention over ``x`` of shape (N, T, D); returns (N, T, D)."""
        where = "MultiHeadAttention.forward"
        check_float_array(x, "x", dtype=self.dtype, where=where)
        if x.ndim != 3 or x.shape[2] != self.n_embed or x.shape[1] == 0:
            raise ValueError(
                f"{where}: x must have shape (N, T, {self.n_embed}) (batch, time, features) "
                f"with T >= 1 (a position attends to at least itself), got {x.shape}"
            )
        n, t, d = x.shape
        hd, dh = self.n_heads, d // self.n_heads
        x2 = x.reshape(n * t, d)  # every position a row
        qkv = x2 @ self.params["W_qkv"]  # (N*T, 3D)
        qkv += self.params["b_qkv"]
        # (3, N, H, T, d): queries, keys, values, the heads a batch axis
        qkv = qkv.reshape(n, t, 3, hd, dh).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv  # each (N, H, T, d)
        # o (N, H, T, d), p (N, H, T, T)
        o, p = attention_forward(q, k, v, causal=self.causal)
        # (N*T, D): heads side by side
        o = o.transpose(0, 2, 1, 3).reshape(n * t, d)
        self.attention = p
        self._cache = (x2, q, k, v, p, o, x.shape)
        out = o @ self.params["W_o"]  # (N*T, D)
        out += self.params["b_o"]
        return out.reshape(n, t, d)

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Fill ``grads`` from ``dout`` (N, T, D); return ``dx`` (N, T, D)."""
        where = "MultiHeadAttention.backward"
        self._require_forward(self._cache)
        x2, q, k, v, p, o, shape = self._cache
        check_float_array(dout, "dout", dtype=self.dtype, where=where)
        if dout.shape != shape:
            raise ValueError(
                f"{where}: dout must have the output's shape {shape}, got {dout.shape}"
            )
        n, t, d = shape
        hd, dh = self.n_heads, d // self.n_heads
        d2 = dout.reshape(n * t, d)
        self.grads["W_o"] = o.T @ d2  # (D, D)
        self.grads["b_o"] = policy_sum(d2, axis=0)
        do = d2 @ self.params["W_o"].T  # (N*T, D)
        do = do.reshape(n, t, hd, dh).transpose(0, 2, 1, 3)  # (N, H, T, d)
        dq, dk, dv = attention_backward(do, q, k, v, p)
        dqkv = np.stack([dq, dk, dv])  # (3, N, H, T, d)
        dqkv = dqkv.transpose(1, 3, 0, 2, 4).reshape(
            n * t, 3 * d
        )  # (N*T, 3D)
        self.grads["W_qkv"] = x2.T @ dqkv  # (D, 3D)
        self.grads["b_qkv"] = policy_sum(dqkv, axis=0)
        if not need_dx:
            return None
        return (dqkv @ self.params["W_qkv"].T).reshape(n, t, d)

    def __repr__(self) -> str:
        extra = ", causal=True" if self.causal else ""
        return (
            f"MultiHeadAttention({self.n_embed}, n_heads={self.n_heads}{extra}, "
            f"dtype={self.dtype})"
        )
