"""Recurrent layers on batch-first sequences (N, T, D): the tanh ``RNN`` and the ``LSTM``.

Both return the whole sequence of hidden states, (N, T, n_h) with n_h = ``n_hidden``, and their backward pass is
backpropagation through time (BPTT). Only the recurrence itself loops over time: the input
projections of all T steps are one matrix product before the loop, and the weight gradients
of all T steps are one matrix product each after it.

Inside, sequences are kept time-major, (T, N, ·), so that step ``t`` is one contiguous
(N, ·) block; the layer's inputs and outputs are batch-first like every other layer's.

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
    transcendental call, as ``exp`` would.
    """
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


class _Recurrent(Layer):
    """What RNN and LSTM share: parameters, checks, state, and the all-steps products.

    A subclass sets ``n_gates`` (how many blocks of width n_h the pre-activation has) and writes
    ``_scan`` (forward over time) and ``_scan_back`` (backward over time).
    """

    n_gates = 1

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
        k = 1.0 / np.sqrt(
            h
        )  # PyTorch's default: every weight uniform in [-k, k]
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
        xt = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(
            t * n, d
        )  # (T*N, D)
        a = (
            xt @ self.params["Wx"]
        )  # (T*N, G*H): every step's input projection
        a += self.params["b"]
        a = a.reshape(
            t, n, self.n_gates * self.n_hidden
        )  # (T, N, G*H), step t is a[t]
        state0 = self._initial_state(n)
        h_all, cache = self._scan(
            a, state0
        )  # h_all: (T+1, N, H), h_all[0] = h_0
        if self.stateful:
            self.state = tuple(s.copy() for s in cache["last"])
        self._cache = {"xt": xt, "h_all": h_all, "shape": x.shape, **cache}
        return np.ascontiguousarray(
            h_all[1:].transpose(1, 0, 2)
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
        # dL/d(pre-activation) of every step, (T, N, G*H); then T*N rows
        da = self._scan_back(dout.transpose(1, 0, 2), c)
        da2 = da.reshape(t * n, da.shape[2])  # (T*N, G*H)
        # h_{t-1} of each row, (T*N, H)
        h_prev = c["h_all"][:-1].reshape(t * n, self.n_hidden)
        # all steps in one product each
        self.grads["Wx"] = c["xt"].T @ da2  # (D, G*H)
        self.grads["Wh"] = h_prev.T @ da2  # (H, G*H)
        self.grads["b"] = policy_sum(da2, axis=0)  # (G*H,)
        if not need_dx:
            return None
        dx = (da2 @ self.params["Wx"].T).reshape(t, n, d)  # (T, N, D)
        return np.ascontiguousarray(dx.transpose(1, 0, 2))  # (N, T, D)

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
        Initial weights, uniform in :math:`[-1/\\sqrt{n_h}, 1/\\sqrt{n_h}]` (PyTorch's default).
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
        wh = self.params["Wh"]
        shape = (t_max + 1,) + state0[0].shape  # (T+1, N, H)
        h_all = np.empty(shape, self.dtype)
        h_all[0] = state0[0]
        for t in range(t_max):
            a[t] += h_all[t] @ wh  # a_t = x_t Wx + b + h_{t-1} Wh
            np.tanh(a[t], out=h_all[t + 1])
        return h_all, {"last": (h_all[t_max],)}

    def _scan_back(self, dh_above, c):
        h_all, wh_t = c["h_all"], self.params["Wh"].T
        t_max = dh_above.shape[0]
        da = np.empty_like(h_all[1:])  # (T, N, H)
        carry = None  # delta a_{t+1} Wh^T
        for t in range(t_max - 1, -1, -1):
            dh = dh_above[t] if carry is None else dh_above[t] + carry
            h = h_all[t + 1]
            np.multiply(dh, 1 - h * h, out=da[t])
            if t:
                carry = da[t] @ wh_t
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
        Initial weights, uniform in :math:`[-1/\\sqrt{n_h}, 1/\\sqrt{n_h}]` (PyTorch's default).
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

        i_t &= \\sigma(a^i_t), \\quad f_t = \\sigma(a^f_t), \\quad
        o_t = \\sigma(a^o_t), \\quad g_t = \\tanh(a^g_t), \\\\
        c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t, \\qquad h_t = o_t \\odot \\tanh(c_t).

    Backward, from :math:`t = T` down, with :math:`\\bar h_t` = ``dout[:, t]`` and
    :math:`\\delta a_{T+1} = 0,\\ \\delta c_{T+1} = 0`:

    .. math::

        \\delta h_t &= \\bar h_t + \\delta a_{t+1} W_h^\\top \\\\
        \\delta c_t &= \\delta h_t \\odot o_t \\odot (1 - \\tanh^2 c_t)
                      + \\delta c_{t+1} \\odot f_{t+1} \\\\
        \\delta a^o_t &= \\delta h_t \\odot \\tanh c_t \\odot o_t (1 - o_t), \\quad
        \\delta a^i_t = \\delta c_t \\odot g_t \\odot i_t (1 - i_t), \\\\
        \\delta a^f_t &= \\delta c_t \\odot c_{t-1} \\odot f_t (1 - f_t), \\quad
        \\delta a^g_t = \\delta c_t \\odot i_t \\odot (1 - g_t^2),

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
        t_max, n, _ = a.shape
        hd, wh = self.n_hidden, self.params["Wh"]
        h_all = np.empty((t_max + 1, n, hd), self.dtype)  # (T+1, N, H)
        c_all = np.empty((t_max + 1, n, hd), self.dtype)  # (T+1, N, H)
        tanh_c = np.empty((t_max, n, hd), self.dtype)  # (T, N, H)
        h_all[0], c_all[0] = state0
        for t in range(t_max):
            at = a[t]  # (N, 4H), becomes [i f o g] in place
            at += h_all[t] @ wh
            sigmoid_(at[:, : 3 * hd])
            np.tanh(at[:, 3 * hd :], out=at[:, 3 * hd :])
            i, f, g = at[:, :hd], at[:, hd : 2 * hd], at[:, 3 * hd :]
            np.multiply(f, c_all[t], out=c_all[t + 1])
            c_all[t + 1] += i * g  # c_t = f c_{t-1} + i g
            np.tanh(c_all[t + 1], out=tanh_c[t])
            np.multiply(at[:, 2 * hd : 3 * hd], tanh_c[t], out=h_all[t + 1])
        return h_all, {
            "gates": a,
            "c_all": c_all,
            "tanh_c": tanh_c,
            "last": (h_all[t_max], c_all[t_max]),
        }

    def _scan_back(self, dh_above, c):
        gates, c_all, tanh_c = c["gates"], c["c_all"], c["tanh_c"]
        t_max, n, _ = gates.shape
        hd, wh_t = self.n_hidden, self.params["Wh"].T
        da = np.empty_like(gates)  # (T, N, 4H)
        carry = None  # delta a_{t+1} Wh^T
        dc_next = None  # delta c_{t+1} * f_{t+1}
        for t in range(t_max - 1, -1, -1):
            dh = dh_above[t] if carry is None else dh_above[t] + carry
            gt, dat = gates[t], da[t]
            i, f, o, g = (gt[:, k * hd : (k + 1) * hd] for k in range(4))
            tc = tanh_c[t]
            dc = 1 - tc * tc
            dc *= o
            dc *= dh
            if dc_next is not None:
                dc += dc_next
            np.multiply(dc, g, out=dat[:, :hd])  # through i
            np.multiply(dc, c_all[t], out=dat[:, hd : 2 * hd])  # through f
            np.multiply(dh, tc, out=dat[:, 2 * hd : 3 * hd])  # through o
            sig = gt[:, : 3 * hd]
            dat[:, : 3 * hd] *= sig  # sigma' = s (1 - s)
            dat[:, : 3 * hd] *= 1 - sig
            np.multiply(dc, i, out=dat[:, 3 * hd :])  # through g
            dat[:, 3 * hd :] *= 1 - g * g
            dc_next = dc
            dc_next *= f
            if t:
                carry = dat @ wh_t
        return da
