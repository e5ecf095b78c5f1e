"""Recurrent layers on batch-first sequences (N, T, D): the tanh ``RNN`` and the ``LSTM``.

Both return the whole sequence of hidden states, (N, T, n_h) with n_h = ``n_hidden``, and their backward pass is
backpropagation through time (BPTT). Only the recurrence itself loops over time: the input
projections of all T steps are one (batched) matrix product before the loop, and the weight
gradients of all T steps are one matrix product each after it.

Inside, sequences are kept time-major with the examples last, (T, ·, N): step ``t`` is one
contiguous (·, N) block, each gate's rows of it are contiguous too, and the step's matrix
product is :math:`W_h^\\top h_{t-1}`, (4 n_h, n_h) times (n_h, N). BLAS runs that orientation
faster than :math:`h_{t-1} W_h` on (N, n_h) rows (1.7 times per step with OpenBLAS's AVX-512
kernels, for the LSTM of ``benchmarks/bench_lstm.py``). The layer's inputs, outputs and
carried ``state`` are batch-first like every other layer's.

A layer built with ``stateful=True`` starts each forward pass from the last hidden state of
the previous one (truncated BPTT with carried state: no gradient flows into the previous
call) until ``reset_state()``; otherwise every sequence starts from zeros.

See Also
--------
Book, Step 8 "Sequences" (theory): BPTT derived for both layers and checked.
"""

from __future__ import annotations

import numpy as np

from .._checks import (
    check_float_array,
    check_float_dtype,
    check_int,
    check_rng,
    policy_sum,
)
from .base import Layer

__all__ = ["RNN", "LSTM", "sigmoid_"]


def sigmoid_(a: np.ndarray) -> np.ndarray:
    """The logistic sigmoid of ``a``, computed in place as :math:`(1 + \\tanh(a/2)) / 2`.

    That form never overflows (``exp(-a)`` does for large negative ``a``) and costs one
    transcendental call, as ``exp`` would. It gives up relative precision for very negative
    ``a`` (exactly 0 below about -37, an absolute error under 1e-16), which a gate cannot
    notice; :func:`nnscratch.activations.sigmoid` keeps it, at the price of a temporary array.
    """
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


def _columns(a: np.ndarray) -> np.ndarray:
    """(T, K, N) -> (K, T*N), contiguous: column t*N + n is a[t, :, n]."""
    t, k, n = a.shape
    return np.ascontiguousarray(a.transpose(1, 0, 2)).reshape(k, t * n)


class _Recurrent(Layer):
    """What RNN and LSTM share: parameters, checks, state, and the all-steps products.

    A subclass sets ``n_gates`` (how many blocks of width n_h the pre-activation has) and writes
    ``_scan`` (forward over time) and ``_scan_back`` (backward over time).
    """

    n_gates = 1

    _forward_state = ("_cache",)

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        *,
        rng: np.random.Generator,
        dtype=np.float64,
        stateful: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.n_in = check_int(n_in, "n_in", name)
        self.n_hidden = h = check_int(n_hidden, "n_hidden", name)
        check_rng(rng, name)
        self.dtype = check_float_dtype(dtype, name)
        self.stateful = bool(stateful)
        # PyTorch's default: every weight (and each of its two biases)
        # uniform in [-k, k]
        k = 1.0 / np.sqrt(h)
        g = self.n_gates * h
        self.params = {
            "Wx": rng.uniform(-k, k, (self.n_in, g)).astype(self.dtype),
            "Wh": rng.uniform(-k, k, (h, g)).astype(self.dtype),
            "b": rng.uniform(-k, k, g).astype(self.dtype),
        }
        self.grads = {
            key: np.zeros_like(v) for key, v in self.params.items()
        }
        self.state: tuple[np.ndarray, ...] | None = None
        self._cache: dict | None = None

    def reset_state(self) -> None:
        """Forget the carried state: the next forward pass starts from zeros."""
        self.state = None

    def _initial_state(self, n: int) -> tuple[np.ndarray, ...]:
        where = f"{type(self).__name__}.forward"
        zeros = tuple(
            np.zeros((n, self.n_hidden), self.dtype)
            for _ in self._state_names
        )
        if not self.stateful or self.state is None:
            return zeros
        if self.state[0].shape[0] != n:
            raise ValueError(
                f"{where}: the carried state holds {self.state[0].shape[0]} sequences but x "
                f"holds {n}; call reset_state() before changing the batch size"
            )
        return self.state

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run the recurrence over ``x`` of shape (N, T, n_in); return (N, T, n_hidden)."""
        where = f"{type(self).__name__}.forward"
        check_float_array(x, "x", dtype=self.dtype, where=where)
        if x.ndim != 3 or x.shape[2] != self.n_in:
            raise ValueError(
                f"{where}: x must have shape (N, T, {self.n_in}) (batch, time, features), "
                f"got {x.shape}"
            )
        n, t, d = x.shape
        xs = np.ascontiguousarray(x.transpose(1, 2, 0))  # (T, D, N)
        wx_t = np.ascontiguousarray(self.params["Wx"].T)  # (G*H, D)
        a = wx_t @ xs  # (T, G*H, N): every step's input projection
        a += self.params["b"][:, None]
        state0 = tuple(s.T for s in self._initial_state(n))  # (H, N) each
        h_all, cache = self._scan(
            a, state0
        )  # h_all: (T+1, H, N), h_all[0] = h_0
        if self.stateful:
            self.state = tuple(
                np.ascontiguousarray(s.T) for s in cache["last"]
            )
        self._cache = {"xs": xs, "h_all": h_all, "shape": x.shape, **cache}
        return np.ascontiguousarray(
            h_all[1:].transpose(2, 0, 1)
        )  # (N, T, H)

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """BPTT from ``dout`` (N, T, n_hidden): fill ``grads``, return ``dx``.

        ``dx`` has shape (N, T, n_in). The gradient stops at the initial
        state (zeros, or the carried state of a ``stateful`` layer:
        truncated BPTT).
        """
        where = f"{type(self).__name__}.backward"
        self._require_forward(self._cache)
        c = self._cache
        n, t, d = c["shape"]
        check_float_array(dout, "dout", dtype=self.dtype, where=where)
        if dout.shape != (n, t, self.n_hidden):
            raise ValueError(
                f"{where}: dout must have shape "
                f"{(n, t, self.n_hidden)}, got {dout.shape}"
            )
        # dL/d(pre-activation) of every step, (T, G*H, N)
        da = self._scan_back(
            np.ascontiguousarray(dout.transpose(1, 2, 0)), c
        )
        # Each weight gradient sums over steps and examples: one product
        # each, over columns (t, n) of da and of the layer's inputs to it
        da2 = _columns(da)  # (G*H, T*N)
        x2 = _columns(c["xs"])  # (D, T*N)
        # h_{t-1} of each column, (H, T*N)
        h_prev = _columns(c["h_all"][:-1])
        self.grads["Wx"] = x2 @ da2.T  # (D, G*H)
        self.grads["Wh"] = h_prev @ da2.T  # (H, G*H)
        self.grads["b"] = policy_sum(da2, axis=1)  # (G*H,)
        if not need_dx:
            return None
        dx = self.params["Wx"] @ da  # (T, D, N)
        return np.ascontiguousarray(dx.transpose(2, 0, 1))  # (N, T, D)

    def __repr__(self) -> str:
        extra = ", stateful=True" if self.stateful else ""
        return f"{type(self).__name__}({self.n_in}, {self.n_hidden}, dtype={self.dtype}{extra})"


class RNN(_Recurrent):
    """Vanilla (Elman) recurrent layer with tanh: :math:`h_t = \\tanh(x_t W_x + h_{t-1} W_h + b)`.

    Parameters
    ----------
    n_in : int
        Features D of each step of the input.
    n_hidden : int
        Width :math:`n_h` of the hidden state.
    rng : numpy.random.Generator
        Initial weights and bias, each uniform in :math:`[-1/\\sqrt{n_h}, 1/\\sqrt{n_h}]`:
        PyTorch's default for the weights. PyTorch draws its two biases so, which makes their
        sum wider than our one bias.
    dtype : numpy dtype, default float64
    stateful : bool, default False
        Carry the last hidden state into the next forward pass (see the module docstring).

    Attributes
    ----------
    params : dict
        ``"Wx"`` (n_in, n_h), ``"Wh"`` (n_h, n_h), ``"b"`` (n_h,). PyTorch's ``torch.nn.RNN`` has
        ``weight_ih_l0`` = ``Wx.T``, ``weight_hh_l0`` = ``Wh.T`` and two biases whose sum is ``b``.

    Notes
    -----
    Forward, for :math:`t = 1 .. T` from :math:`h_0`:
    :math:`a_t = x_t W_x + h_{t-1} W_h + b`, :math:`h_t = \\tanh(a_t)`.
    Backward, with :math:`\\bar h_t = \\partial L / \\partial h_t` from the layer above
    (``dout[:, t]``) and the recurrence run from :math:`t = T` down:

    .. math::

        \\delta h_t = \\bar h_t + \\delta a_{t+1} W_h^\\top, \\qquad
        \\delta a_t = \\delta h_t \\odot (1 - h_t^2),

    with :math:`\\delta a_{T+1} = 0`; then :math:`dW_x = \\sum_t x_t^\\top \\delta a_t`,
    :math:`dW_h = \\sum_t h_{t-1}^\\top \\delta a_t`, :math:`db = \\sum_t \\sum_i \\delta a_{t,i}`,
    :math:`dx_t = \\delta a_t W_x^\\top`. Each sum over t is one matrix product over all rows.

    See Also
    --------
    Book, Step 8 "Sequences" (theory): BPTT for the vanilla RNN.
    """

    n_gates = 1
    _state_names = ("h",)

    def _scan(self, a, state0):
        t_max = a.shape[0]
        wh_t = np.ascontiguousarray(self.params["Wh"].T)  # (H, H)
        shape = (t_max + 1,) + state0[0].shape  # (T+1, H, N)
        h_all = np.empty(shape, self.dtype)
        h_all[0] = state0[0]
        rec = np.empty(shape[1:], self.dtype)  # Wh^T h_{t-1}, (H, N)
        for t in range(t_max):
            np.matmul(wh_t, h_all[t], out=rec)
            a[t] += rec  # a_t = x_t Wx + b + h_{t-1} Wh, transposed
            np.tanh(a[t], out=h_all[t + 1])
        return h_all, {"last": (h_all[t_max],)}

    def _scan_back(self, dh_above, c):
        h_all, wh = c["h_all"], self.params["Wh"]
        t_max = dh_above.shape[0]
        da = np.empty_like(h_all[1:])  # (T, H, N)
        carry = None  # (delta a_{t+1} Wh^T)^T = Wh delta a_{t+1}^T
        for t in range(t_max - 1, -1, -1):
            dh = dh_above[t] if carry is None else dh_above[t] + carry
            h = h_all[t + 1]
            np.multiply(dh, 1 - h * h, out=da[t])
            if t:
                carry = wh @ da[t]
        return da


class LSTM(_Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber, with a forget gate).

    Parameters
    ----------
    n_in : int
        Features D of each step of the input.
    n_hidden : int
        Width :math:`n_h` of the hidden and cell states.
    rng : numpy.random.Generator
        Initial weights and bias, each uniform in :math:`[-1/\\sqrt{n_h}, 1/\\sqrt{n_h}]`:
        PyTorch's default for the weights. PyTorch draws its two biases so, which makes their
        sum wider than our one bias.
    dtype : numpy dtype, default float64
    stateful : bool, default False
        Carry the last (h, c) into the next forward pass (see the module docstring).

    Attributes
    ----------
    params : dict
        ``"Wx"`` (n_in, 4 n_h), ``"Wh"`` (n_h, 4 n_h), ``"b"`` (4 n_h,); the four column blocks
        are the gates in the order **i, f, o, g** (the three sigmoid gates first, so one call
        computes them). PyTorch orders them i, f, g, o, stores the transposes and two biases.

    Notes
    -----
    For :math:`t = 1 .. T`, from :math:`h_0 = c_0 = 0` (or the carried state), with
    :math:`[\\cdot]` the column blocks of :math:`a_t = x_t W_x + h_{t-1} W_h + b`:

    .. math::

        i_t &= \\sigma(a^i_t), \\quad f_t = \\sigma(a^f_t), \\\\
        o_t &= \\sigma(a^o_t), \\quad g_t = \\tanh(a^g_t), \\\\
        c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t, \\\\
        h_t &= o_t \\odot \\tanh(c_t).

    Backward, from :math:`t = T` down, with :math:`\\bar h_t` = ``dout[:, t]`` and
    :math:`\\delta a_{T+1} = 0,\\ \\delta c_{T+1} = 0`:

    .. math::

        \\delta h_t &= \\bar h_t + \\delta a_{t+1} W_h^\\top, \\\\
        \\delta c_t &= \\delta h_t \\odot o_t \\odot (1 - \\tanh^2 c_t) \\\\
        &\\quad {} + \\delta c_{t+1} \\odot f_{t+1}, \\\\
        \\delta a^o_t &= \\delta h_t \\odot \\tanh c_t \\odot o_t (1 - o_t), \\\\
        \\delta a^i_t &= \\delta c_t \\odot g_t \\odot i_t (1 - i_t), \\\\
        \\delta a^f_t &= \\delta c_t \\odot c_{t-1} \\odot f_t (1 - f_t), \\\\
        \\delta a^g_t &= \\delta c_t \\odot i_t \\odot (1 - g_t^2),

    and the weight and input gradients as in :class:`RNN`, one matrix product each over
    all steps. The cell path's factor :math:`\\partial c_t / \\partial c_{t-1} = f_t` is
    why gradients survive over long distances.

    See Also
    --------
    Book, Step 8 "Sequences" (theory): one LSTM cell backpropagated by hand.
    """

    n_gates = 4
    _state_names = ("h", "c")

    def _scan(self, a, state0):
        t_max, _, n = a.shape
        hd = self.n_hidden
        wh_t = np.ascontiguousarray(self.params["Wh"].T)  # (4H, H)
        h_all = np.empty((t_max + 1, hd, n), self.dtype)  # (T+1, H, N)
        c_all = np.empty((t_max + 1, hd, n), self.dtype)  # (T+1, H, N)
        tanh_c = np.empty((t_max, hd, n), self.dtype)  # (T, H, N)
        rec = np.empty((4 * hd, n), self.dtype)  # Wh^T h_{t-1}, (4H, N)
        h_all[0], c_all[0] = state0
        for t in range(t_max):
            at = a[t]  # (4H, N), becomes [i f o g] in place
            np.matmul(wh_t, h_all[t], out=rec)
            at += rec
            sigmoid_(at[: 3 * hd])
            np.tanh(at[3 * hd :], out=at[3 * hd :])
            i, f, o, g = (at[k * hd : (k + 1) * hd] for k in range(4))
            np.multiply(f, c_all[t], out=c_all[t + 1])
            c_all[t + 1] += i * g  # c_t = f c_{t-1} + i g
            np.tanh(c_all[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h_all[t + 1])
        return h_all, {
            "gates": a,
            "c_all": c_all,
            "tanh_c": tanh_c,
            "last": (h_all[t_max], c_all[t_max]),
        }

    def _scan_back(self, dh_above, c):
        gates, c_all, tanh_c = c["gates"], c["c_all"], c["tanh_c"]
        t_max = gates.shape[0]
        hd, wh = self.n_hidden, self.params["Wh"]  # Wh: (H, 4H)
        da = np.empty_like(gates)  # (T, 4H, N)
        carry = None  # Wh delta a_{t+1}, (H, N)
        dc_next = None  # delta c_{t+1} * f_{t+1}
        for t in range(t_max - 1, -1, -1):
            dh = dh_above[t] if carry is None else dh_above[t] + carry
            gt, dat = gates[t], da[t]
            i, f, o, g = (gt[k * hd : (k + 1) * hd] for k in range(4))
            tc = tanh_c[t]
            dc = 1 - tc * tc
            dc *= o
            dc *= dh
            if dc_next is not None:
                dc += dc_next
            np.multiply(dc, g, out=dat[:hd])  # through i
            np.multiply(dc, c_all[t], out=dat[hd : 2 * hd])  # through f
            np.multiply(dh, tc, out=dat[2 * hd : 3 * hd])  # through o
            sig = gt[: 3 * hd]
            dat[: 3 * hd] *= sig  # sigma' = s (1 - s)
            dat[: 3 * hd] *= 1 - sig
            np.multiply(dc, i, out=dat[3 * hd :])  # through g
            dat[3 * hd :] *= 1 - g * g
            dc_next = dc
            dc_next *= f
            if t:
                carry = wh @ dat
        return da
