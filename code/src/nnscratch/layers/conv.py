"""The 2-D convolution layer: a fast im2col version and a naive loop version for teaching.

Images are ``(N, C, H, W)``: examples, channels, height, width. The kernel is
``W`` of shape ``(c_out, c_in, k, k)`` (PyTorch's layout), the bias ``b`` of shape ``(c_out,)``.
What deep learning calls "convolution" is cross-correlation (the kernel is not flipped):

.. math:: Z_{n,o,p,q} = b_o + \\sum_{c,i,j} X^{pad}_{n,c,sp+i,sq+j}\\, W_{o,c,i,j}

with output size :math:`H_{out} = \\lfloor (H + 2P - k) / s \\rfloor + 1` (same for width).

Memory layout: the fast path keeps a batch *example-innermost* in memory, as if it were an
array of shape ``(C, H, W, N)``: the N values of one pixel of one channel side by side. The
arrays it returns still have shape (N, C, H, W) (they are transposed views), so nothing
changes for the caller; but every shift of the images by a kernel offset is then a copy of
long contiguous runs (a row of ``W_out`` outputs of all N examples is ``W_out·N`` numbers in
a row), which is what makes im2col, col2im and the pooling layers fast.

See Also
--------
Book, Step 7 "Convolutional networks — theory": the formulas, their derivation, im2col.
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


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0
) -> int:
    """Output length along one axis: :math:`\\lfloor (n + 2P - k) / s \\rfloor + 1`."""
    return (size + 2 * padding - kernel_size) // stride + 1


def _examples_last(x: np.ndarray) -> np.ndarray:
    """``x`` (N, C, H, W) as a C-contiguous array of shape (C, H, W, N).

    A view if ``x`` is already stored example-innermost (the outputs of this module's fast
    path and of the layers that keep their input's layout are), otherwise one copy.
    """
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0))


def im2col(
    x: np.ndarray, kernel_size: int, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """Unfold every k×k patch of ``x`` into one column of a matrix ("image to columns").

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    kernel_size, stride, padding : int

    Returns
    -------
    cols : ndarray of shape (C * k * k, H_out * W_out * N)
        Column ``(p, q, n)`` (row-major: the example index varies fastest) holds the patch
        under output pixel ``(p, q)`` of example ``n``, flattened in the order ``(c, i, j)`` —
        the order of ``W.reshape(c_out, -1)``, so that ``W.reshape(c_out, -1) @ cols`` is the
        convolution.

    Notes
    -----
    Row ``(c, i, j)`` of ``cols`` is channel ``c`` of every image shifted by the kernel offset
    ``(i, j)``: pixel ``(s·p + i, s·q + j)`` for every output pixel ``(p, q)``. So the copy is
    a loop over the :math:`k^2` offsets, each one vectorised copy over the whole batch and
    all channels. With the examples innermost in memory, each copies runs of ``W_out·N``
    contiguous numbers (``N`` if the stride is above 1).
    """
    n, c, h, w = x.shape
    k, s, p = kernel_size, stride, padding
    h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(
        w, k, s, p
    )
    xt = _examples_last(x)  # (C, H, W, N)
    if p:
        xt = np.pad(xt, ((0, 0), (p, p), (p, p), (0, 0)))
    cols = np.empty((c, k, k, h_out, w_out, n), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = xt[
                :, i : i + s * h_out : s, j : j + s * w_out : s
            ]
    return cols.reshape(c * k * k, h_out * w_out * n)


def col2im(
    cols: np.ndarray,
    x_shape: tuple,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
) -> np.ndarray:
    """Adjoint of :func:`im2col`: add every column back onto the patch it came from.

    Parameters
    ----------
    cols : ndarray of shape (C * k * k, H_out * W_out * N)
    x_shape : tuple (N, C, H, W)
        Shape of the unpadded input.

    Returns
    -------
    x : ndarray of shape (N, C, H, W)
        Where patches overlap, their contributions are summed. Stored examples-innermost
        (a transposed view).

    Notes
    -----
    A pixel belongs to up to :math:`k^2` patches, so the scatter is a sum of :math:`k^2`
    shifted images: row ``(c, i, j)`` of ``cols`` is added to the image shifted by
    ``(i, j)``, the exact mirror of :func:`im2col`'s copy. Each shift is one vectorised add
    over the whole batch and all channels (the loop runs over the kernel offsets, never over
    examples, channels or pixels).
    """
    n, c, h, w = x_shape
    k, s, p = kernel_size, stride, padding
    h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(
        w, k, s, p
    )
    shifted = cols.reshape(c, k, k, h_out, w_out, n)
    xp = np.zeros((c, h + 2 * p, w + 2 * p, n), dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            xp[:, i : i + s * h_out : s, j : j + s * w_out : s] += shifted[
                :, i, j
            ]
    return xp[:, p : p + h, p : p + w].transpose(
        3, 0, 1, 2
    )  # (N, C, H, W), a view


class Conv2D(Layer):
    """2-D convolution (cross-correlation) over a batch of images.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels (``c_out`` is the number of filters).
    kernel_size : int
        Side ``k`` of the square kernel.
    stride : int, default 1
        Step ``s`` between neighbouring windows.
    padding : int, default 0
        Zeros added on each side of height and width.
    rng : numpy.random.Generator
        Source of the initial weights (He: normal with std :math:`\\sqrt{2 / (c_{in} k^2)}`).
    dtype : numpy dtype, default float64
        dtype of the parameters, float16, float32 or float64; inputs must have the same
        dtype (nothing is cast silently; see the dtype policy in :mod:`nnscratch`).

    Attributes
    ----------
    params : dict
        ``"W"``: ndarray of shape (c_out, c_in, k, k); ``"b"``: ndarray of shape (c_out,).
    grads : dict
        Same keys and shapes, filled by :meth:`backward`.

    Notes
    -----
    With ``cols = im2col(x)`` of shape (c_in·k², H_out·W_out·N) and
    ``Wm = W.reshape(c_out, -1)`` of shape (c_out, c_in·k²):

    - forward :math:`Z = W_m\\, \\text{cols} + b`, of shape (c_out, H_out·W_out·N), seen as
      (N, c_out, H_out, W_out);
    - backward, with ``d`` the upstream gradient laid out as (c_out, H_out·W_out·N):
      :math:`dW_m = d\\, \\text{cols}^\\top`, :math:`db = \\sum d` (over columns), and
      :math:`dX = \\text{col2im}(W_m^\\top d)`.

    ``dX`` equals the full convolution of the upstream gradient with the flipped kernel, and
    ``dW`` the correlation of the input with the upstream gradient; the book derives both.

    See Also
    --------
    conv2d_forward_naive, conv2d_backward_naive : the same maths as explicit loops.
    Book, Step 7 "Convolutional networks — theory".
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        *,
        rng: np.random.Generator,
        dtype=np.float64,
    ) -> None:
        super().__init__()
        where = "Conv2D"
        self.c_in = check_int(c_in, "c_in", where)
        self.c_out = check_int(c_out, "c_out", where)
        self.kernel_size = check_int(kernel_size, "kernel_size", where)
        self.stride = check_int(stride, "stride", where)
        self.padding = check_int(padding, "padding", where, minimum=0)
        check_rng(rng, where)
        self.dtype = check_float_dtype(dtype, where)
        k = self.kernel_size
        std = np.sqrt(2.0 / (self.c_in * k * k))
        self.params = {
            "W": (
                rng.standard_normal((self.c_out, self.c_in, k, k)) * std
            ).astype(self.dtype),
            "b": np.zeros(self.c_out, dtype=self.dtype),
        }
        self.grads = {
            key: np.zeros_like(v) for key, v in self.params.items()
        }
        self._cache: tuple | None = None

    def output_shape(self, x_shape: tuple) -> tuple:
        """Shape of the output for an input of shape ``(N, C, H, W)``."""
        n, _, h, w = x_shape
        k, s, p = self.kernel_size, self.stride, self.padding
        return (
            n,
            self.c_out,
            conv_output_size(h, k, s, p),
            conv_output_size(w, k, s, p),
        )

    def _check_input(self, x: np.ndarray) -> None:
        where = "Conv2D.forward"
        check_float_array(x, "x", ndim=4, dtype=self.dtype, where=where)
        if x.shape[1] != self.c_in:
            raise ValueError(
                f"{where}: x must have shape (N, {self.c_in}, H, W) with {self.c_in} input "
                f"channels, got {x.shape} ({x.shape[1]} channels)"
            )
        k, p = self.kernel_size, self.padding
        if min(x.shape[2:]) + 2 * p < k:
            raise ValueError(
                f"{where}: the {k}x{k} kernel does not fit: the padded image is "
                f"{x.shape[2] + 2 * p}x{x.shape[3] + 2 * p} (input {x.shape[2]}x{x.shape[3]}, "
                f"padding {p})"
            )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Convolve ``x`` of shape (N, c_in, H, W); returns shape (N, c_out, H_out, W_out)."""
        self._check_input(x)
        n, _, h_out, w_out = self.output_shape(x.shape)
        cols = im2col(
            x, self.kernel_size, self.stride, self.padding
        )  # (C*k*k, Ho*Wo*N)
        w_mat = self.params["W"].reshape(self.c_out, -1)  # (c_out, C*k*k)
        z = w_mat @ cols  # (c_out, Ho*Wo*N)
        z += self.params["b"][:, None]
        self._cache = (x.shape, cols)
        # The transpose to (N, c_out, Ho, Wo) is a view: the output stays
        # examples-innermost
        # in memory, the layout the next layers read fastest.
        return z.reshape(self.c_out, h_out, w_out, n).transpose(3, 0, 1, 2)

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Fill ``grads`` from ``dout`` of shape (N, c_out, H_out, W_out); return ``dx``.

        ``dx`` has the input's shape (N, c_in, H, W). With ``need_dx=False`` (a first layer,
        whose input is the data) it is not computed, which saves a matrix product and the
        col2im scatter, and None is returned.
        """
        self._require_forward(self._cache)
        x_shape, cols = self._cache
        out_shape = self.output_shape(x_shape)
        check_float_array(
            dout, "dout", ndim=4, dtype=self.dtype, where="Conv2D.backward"
        )
        if dout.shape != out_shape:
            raise ValueError(
                f"Conv2D.backward: dout must have shape {out_shape}, got "
                f"{dout.shape}"
            )
        d = _examples_last(dout).reshape(
            self.c_out, -1
        )  # (c_out, Ho*Wo*N), like z
        w_mat = self.params["W"].reshape(self.c_out, -1)  # (c_out, C*k*k)
        self.grads["W"] = (d @ cols.T).reshape(self.params["W"].shape)
        self.grads["b"] = policy_sum(d, axis=1)  # float16 summed in float32
        if not need_dx:
            return None
        dcols = w_mat.T @ d  # (C*k*k, Ho*Wo*N)
        return col2im(
            dcols, x_shape, self.kernel_size, self.stride, self.padding
        )

    def __repr__(self) -> str:
        return (
            f"Conv2D({self.c_in}, {self.c_out}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dtype={self.dtype})"
        )


# ------------------------------------------------------- naive reference, for teaching


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    if padding == 0:
        return x
    return np.pad(
        x, ((0, 0), (0, 0), (padding, padding), (padding, padding))
    )


def conv2d_forward_naive(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    stride: int = 1,
    padding: int = 0,
) -> np.ndarray:
    """Convolution written as the loops of its definition (slow; the reference).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    W : ndarray of shape (c_out, C, k, k)
    b : ndarray of shape (c_out,)

    Returns
    -------
    z : ndarray of shape (N, c_out, H_out, W_out)
        :math:`Z_{n,o,p,q} = b_o + \\sum_{c,i,j} X^{pad}_{n,c,sp+i,sq+j} W_{o,c,i,j}`.
    """
    n, _, h, w = x.shape
    c_out, _, k, _ = W.shape
    s = stride
    xp = _pad(x, padding)
    h_out, w_out = conv_output_size(h, k, s, padding), conv_output_size(
        w, k, s, padding
    )
    z = np.zeros((n, c_out, h_out, w_out), dtype=x.dtype)
    for e in range(n):
        for o in range(c_out):
            for p in range(h_out):
                for q in range(w_out):
                    patch = xp[
                        e, :, s * p : s * p + k, s * q : s * q + k
                    ]  # (C, k, k)
                    z[e, o, p, q] = np.sum(patch * W[o]) + b[o]
    return z


def conv2d_backward_naive(
    dout: np.ndarray,
    x: np.ndarray,
    W: np.ndarray,
    stride: int = 1,
    padding: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward_naive`, by looping over every output pixel.

    Each output pixel ``(n, o, p, q)`` was computed from one patch; its upstream gradient
    flows back to that patch's inputs (weighted by ``W[o]``) and to ``W[o]`` (weighted by the
    patch).

    Returns
    -------
    dx : ndarray of shape (N, C, H, W)
    dW : ndarray of shape (c_out, C, k, k)
    db : ndarray of shape (c_out,)
    """
    n, _, h, w = x.shape
    c_out, _, k, _ = W.shape
    s, pd = stride, padding
    xp = _pad(x, pd)
    dxp = np.zeros_like(xp)
    dW = np.zeros_like(W)
    h_out, w_out = dout.shape[2:]
    for e in range(n):
        for o in range(c_out):
            for p in range(h_out):
                for q in range(w_out):
                    g = dout[e, o, p, q]
                    dxp[e, :, s * p : s * p + k, s * q : s * q + k] += (
                        g * W[o]
                    )
                    dW[o] += (
                        g * xp[e, :, s * p : s * p + k, s * q : s * q + k]
                    )
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, pd : pd + h, pd : pd + w], dW, db
