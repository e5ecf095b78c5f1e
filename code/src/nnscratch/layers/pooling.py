"""Pooling layers (max and average over windows) and ``Flatten``.

Inputs are images ``(N, C, H, W)``. A window of side ``size`` moves by ``stride`` (default
``size``: windows side by side, as in LeNet); rows or columns that no whole window covers are
dropped, as in PyTorch. Output size :math:`\\lfloor (H - \\text{size}) / \\text{stride} \\rfloor + 1`.

See Also
--------
Book, Step 7 "Convolutional networks — theory": pooling's approximate invariance and how
max pooling routes its gradient.
"""

from __future__ import annotations

import numpy as np

from .._checks import (
    accumulation_dtype,
    check_dout,
    check_float_array,
    check_int,
)
from .base import Layer
from .conv import conv_output_size


def _window_offsets(
    x: np.ndarray, size: int, stride: int
) -> list[np.ndarray]:
    """The pixel at offset ``t = i·size + j`` of every window, for each ``t``: a list of
    ``size²`` views of ``x``, each of shape (N, C, H_out, W_out), no copy.

    View ``t`` is ``x[:, :, i::stride, j::stride]`` cut to the output's size: pooling is
    ``size²`` whole-array steps, one per offset, rather than a loop over windows.
    """
    k, s = size, stride
    h_out, w_out = (conv_output_size(n, k, s) for n in x.shape[2:])
    return [
        x[:, :, i : i + s * h_out : s, j : j + s * w_out : s]
        for i in range(k)
        for j in range(k)
    ]


def _memory_order(a: np.ndarray) -> tuple[int, ...]:
    """The axes of ``a`` from outermost to innermost in memory: its layout."""
    return tuple(int(i) for i in np.argsort(a.strides, kind="stable")[::-1])


def _in_layout(a: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """``a`` itself if its axes lie in memory in ``order`` (outermost first), else a copy
    that does.

    NumPy combines two arrays fastest when they are laid out alike: across layouts, an
    elementwise step reads one of them in short strided pieces, several times slower. The
    layers of this module give their gradient the layout of their input, so that the layer
    before combines it with what it cached at full speed.
    """
    if _memory_order(a) == tuple(order):
        return a
    return np.ascontiguousarray(a.transpose(order)).transpose(
        np.argsort(order)
    )


def _scatter_windows(
    x: np.ndarray, size: int, stride: int, share: np.ndarray, winner=None
) -> np.ndarray:
    """Send each window's gradient back onto the input: the backward pass of both poolings.

    Every window sends ``share``, an array of shape (N, C, H_out, W_out), to its pixel at
    offset ``t = i·size + j``: to all of them (average pooling), or, given ``winner`` (the
    offset that won each window), only to the winner (max pooling). Returns ``dx`` with the
    shape and memory layout of ``x`` (so the layers around keep reading it fast), zero where
    no window reaches. One vectorized step per offset: windows side by side
    (``stride >= size``) never share a pixel, so each offset's shares are written straight
    into their slice of ``dx``; overlapping windows add them up.
    """
    k, s = size, stride
    h, w = x.shape[2:]
    h_out, w_out = conv_output_size(h, k, s), conv_output_size(w, k, s)
    # e.g. a loss's gradient (examples outermost) for images stored examples innermost:
    # one copy, then every step below reads its arrays in the same order
    share = _in_layout(share, _memory_order(x))
    # Every pixel in exactly one window: nothing of dx is left unwritten, no zeros needed.
    tiled = s == k and h == k * h_out and w == k * w_out
    dx = np.empty_like(x) if tiled else np.zeros_like(x)
    for t, target in enumerate(_window_offsets(dx, k, s)):
        if winner is not None and s >= k:
            # straight into dx: no temporary array
            np.multiply(share, winner == t, out=target)
        elif winner is not None:
            target += share * (winner == t)
        elif s >= k:
            target[...] = share
        else:
            target += share
    return dx


class _Pool2D(Layer):
    """Shared argument and shape checks of the pooling layers."""

    _forward_state = ("_cache",)

    def __init__(self, size: int, stride: int | None = None) -> None:
        super().__init__()
        where = type(self).__name__
        self.size = check_int(size, "size", where)
        self.stride = (
            self.size
            if stride is None
            else check_int(stride, "stride", where)
        )
        self._cache: tuple | None = None

    def _check_input(self, x: np.ndarray) -> None:
        where = f"{type(self).__name__}.forward"
        check_float_array(x, "x", ndim=4, where=where)
        if min(x.shape[2:]) < self.size:
            raise ValueError(
                f"{where}: the {self.size}x{self.size} window does not fit in images of "
                f"{x.shape[2]}x{x.shape[3]} (x has shape {x.shape})"
            )

    def output_shape(self, x_shape: tuple) -> tuple:
        """Shape of the output for an input of shape ``(N, C, H, W)``."""
        n, c, h, w = x_shape
        return (
            n,
            c,
            conv_output_size(h, self.size, self.stride),
            conv_output_size(w, self.size, self.stride),
        )

    def _check_dout(self, dout: np.ndarray, x_shape: tuple, dtype) -> None:
        where = f"{type(self).__name__}.backward"
        check_float_array(dout, "dout", ndim=4, dtype=dtype, where=where)
        expected = self.output_shape(x_shape)
        if dout.shape != expected:
            raise ValueError(
                f"{where}: dout must have shape {expected}, got {dout.shape}"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, stride={self.stride})"
        )


class MaxPool2D(_Pool2D):
    """Maximum over each ``size × size`` window of each channel.

    Parameters
    ----------
    size : int
        Side of the window.
    stride : int, optional
        Step between windows; defaults to ``size``.

    Notes
    -----
    Forward :math:`Y_{n,c,p,q} = \\max_{i,j} X_{n,c,sp+i,sq+j}`. The maximum is locally the
    identity on its winning input and constant in the others, so the backward pass routes
    each upstream gradient :math:`dY_{n,c,p,q}` to the one input that won (the first, in
    row-major order, if several tie, as PyTorch does) and sends zero to the rest.

    See Also
    --------
    Book, Step 7 "Convolutional networks — theory": max-pool gradient routing.
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Max-pool ``x`` of shape (N, C, H, W); returns shape (N, C, H_out, W_out)."""
        self._check_input(x)
        k = self.size
        # k² views (N, C, Ho, Wo), one per window offset
        offsets = _window_offsets(x, k, self.stride)
        # One pass per window offset over whole (N, C, Ho, Wo) arrays, instead of one per
        # window: k² vectorized steps. A later offset wins only if strictly larger, so ties
        # go to the first maximum in row-major order.
        out = np.copy(offsets[0], order="K")  # keeps x's memory layout
        # Offset i*k + j of each window's maximum, in the smallest integer type that holds
        # k*k - 1 (uint8 up to 16x16 windows, wider beyond: a fixed int16 overflowed at 182x182).
        index = np.min_scalar_type(k * k - 1).type
        # In out's memory layout (x's), into which backward also copies a dout that arrives
        # in another: arrays read in the same order combine several times faster.
        winner = np.zeros_like(out, dtype=index)
        for t in range(1, k * k):
            v = offsets[t]
            # Branch-free updates (masked writes are several times slower here): winner only
            # holds offsets below t, so max(winner, t·better) sets t exactly where v is better.
            np.maximum(winner, (v > out) * index(t), out=winner)
            np.maximum(out, v, out=out)
        self._cache = (x, winner)
        return out

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Route ``dout`` of shape (N, C, H_out, W_out) to the winners; returns ``dx``."""
        self._require_forward(self._cache)
        x, winner = self._cache
        self._check_dout(dout, x.shape, x.dtype)
        if not need_dx:
            return None
        # Branch-free routing: offset t gets dout where t won its window, zero elsewhere.
        return _scatter_windows(x, self.size, self.stride, dout, winner)


class AvgPool2D(_Pool2D):
    """Mean over each ``size × size`` window of each channel.

    Parameters
    ----------
    size : int
        Side of the window.
    stride : int, optional
        Step between windows; defaults to ``size``.

    Notes
    -----
    Forward :math:`Y_{n,c,p,q} = \\frac{1}{k^2} \\sum_{i,j} X_{n,c,sp+i,sq+j}`; backward
    spreads :math:`dY_{n,c,p,q} / k^2` evenly over the window (summed where windows overlap).
    """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Average-pool ``x`` of shape (N, C, H, W); returns shape (N, C, H_out, W_out)."""
        self._check_input(x)
        k = self.size
        # k² views (N, C, Ho, Wo), one per window offset
        offsets = _window_offsets(x, k, self.stride)
        # A sum of k² whole-array views: the output keeps x's memory layout, as
        # MaxPool2D's does. float16 windows are summed in float32 (a sum of k² values
        # overflows long before their mean does).
        acc = accumulation_dtype(x.dtype)
        out = offsets[0].astype(acc, order="K")
        for v in offsets[1:]:
            out += v
        out *= acc.type(1 / (k * k))
        out = out.astype(x.dtype, copy=False)
        self._cache = x
        return out

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Spread ``dout`` of shape (N, C, H_out, W_out) over the windows; returns ``dx``."""
        self._require_forward(self._cache)
        x = self._cache
        self._check_dout(dout, x.shape, x.dtype)
        if not need_dx:
            return None
        share = dout * x.dtype.type(1 / (self.size * self.size))
        return _scatter_windows(x, self.size, self.stride, share)


class Flatten(Layer):
    """Reshape ``(N, d1, d2, ...)`` to ``(N, d1·d2·...)``, e.g. feature maps to a Dense input.

    Backward reshapes the gradient back, laid out in memory as the input was (Conv2D's
    outputs are stored examples-innermost, a Dense layer's gradient examples-outermost), so
    that the layers before read it at full speed. Nothing is learned.
    """

    _forward_state = ("_shape", "_order")

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple | None = None
        # the input's axes, outermost first in memory
        self._order: tuple | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Return ``x`` of shape (N, ...) as shape (N, prod(...))."""
        check_float_array(x, "x", where="Flatten.forward")
        if x.ndim < 2:
            raise ValueError(
                f"Flatten.forward: x must have at least 2 dimensions (N, ...), got shape {x.shape}"
            )
        self._shape, self._order = x.shape, _memory_order(x)
        self._dtype = x.dtype
        return x.reshape(
            x.shape[0], int(np.prod(x.shape[1:]))
        )  # not -1: N may be 0

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Reshape ``dout`` of shape (N, prod(...)) back to the input's shape."""
        self._require_forward(self._shape)
        n = self._shape[0]
        expected = (n, int(np.prod(self._shape[1:])))
        check_dout(dout, expected, self._dtype, "Flatten.backward")
        if not need_dx:
            return None
        return _in_layout(dout.reshape(self._shape), self._order)


class Unflatten(Layer):
    """Reshape ``(N, d)`` to ``(N, *shape)``: the inverse of :class:`Flatten`.

    A generator's dense layer makes ``d = C·H·W`` numbers per example; ``Unflatten((C, H,
    W))`` turns them into feature maps for the convolutions that follow. Nothing is learned.
    Backward returns rows ``(N, d)`` stored row after row (C order), as a dense layer's
    outputs are, whatever the layout of the gradient the convolutions send back.

    Parameters
    ----------
    shape : tuple of int
        The shape of one example after the layer; its product must equal ``d``.
    """

    def __init__(self, shape: tuple) -> None:
        super().__init__()
        where = "Unflatten"
        if not isinstance(shape, (tuple, list)) or not shape:
            raise TypeError(
                f"{where}: shape must be a non-empty tuple of positive ints, "
                f"got {shape!r}"
            )
        self.shape = tuple(
            check_int(d, f"shape[{i}]", where) for i, d in enumerate(shape)
        )
        self.size = int(np.prod(self.shape))
        self._out: tuple | None = None  # (shape, dtype) of the last output

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Return ``x`` of shape ``(N, d)`` as shape ``(N, *shape)``."""
        check_float_array(x, "x", ndim=2, where="Unflatten.forward")
        if x.shape[1] != self.size:
            raise ValueError(
                f"Unflatten.forward: x must have shape (N, {self.size}) to become "
                f"(N, {', '.join(map(str, self.shape))}), got {x.shape}"
            )
        self._out = ((x.shape[0], *self.shape), x.dtype)
        return x.reshape((x.shape[0], *self.shape))

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Reshape ``dout`` of shape ``(N, *shape)`` back to ``(N, d)``."""
        self._require_forward(self._out)
        check_dout(dout, *self._out, "Unflatten.backward")
        if not need_dx:
            return None
        return np.ascontiguousarray(dout.reshape(dout.shape[0], self.size))

    def __repr__(self) -> str:
        return f"Unflatten({self.shape})"
