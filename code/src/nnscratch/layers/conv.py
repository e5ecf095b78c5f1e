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
    a loop over the :math:`k^2` offsets, each one vectorized copy over the whole batch and
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
    ``(i, j)``, the exact mirror of :func:`im2col`'s copy. Each shift is one vectorized add
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


def _rows_against_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b.T``: every row of ``a`` against every row of ``b``, summed over their
    long shared axis (a kernel's gradient sums over every pixel of every example).

    Computed as ``(b @ a.T).T`` when ``b`` has more rows: the same sums, which
    OpenBLAS's float32 kernels run faster with the taller matrix on the left (the
    convolutions' backward passes in ``benchmarks/bench_cnn_epoch.py``). Either way
    the result is C-contiguous (a transposed product is copied: a small matrix).
    """
    if len(a) >= len(b):
        return a @ b.T
    return np.ascontiguousarray((b @ a.T).T)


class _Convolution(Layer):
    """What :class:`Conv2D` and :class:`ConvTranspose2D` share: their sizes, a kernel and a
    bias per output channel, and the checks of the input's channels and of ``dout``.
    """

    _forward_state = ("_cache",)

    def _setup(
        self,
        where: str,
        c_in: int,
        c_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        rng: np.random.Generator,
        dtype,
    ) -> None:
        self.c_in = check_int(c_in, "c_in", where)
        self.c_out = check_int(c_out, "c_out", where)
        self.kernel_size = check_int(kernel_size, "kernel_size", where)
        self.stride = check_int(stride, "stride", where)
        self.padding = check_int(padding, "padding", where, minimum=0)
        check_rng(rng, where)
        self.dtype = check_float_dtype(dtype, where)
        self._cache: tuple | None = None

    def _init_params(
        self, rng: np.random.Generator, w_shape: tuple, fan_in: float
    ) -> None:
        """He initialization: ``W`` normal with std :math:`\\sqrt{2 / \\text{fan-in}}`,
        ``b`` zero."""
        std = np.sqrt(2.0 / fan_in)
        self.params = {
            "W": (rng.standard_normal(w_shape) * std).astype(self.dtype),
            "b": np.zeros(self.c_out, dtype=self.dtype),
        }
        self.grads = {
            key: np.zeros_like(v) for key, v in self.params.items()
        }

    def _check_channels(self, x: np.ndarray, where: str) -> None:
        check_float_array(x, "x", ndim=4, dtype=self.dtype, where=where)
        if x.shape[1] != self.c_in:
            raise ValueError(
                f"{where}: x must have shape (N, {self.c_in}, H, W) with {self.c_in} input "
                f"channels, got {x.shape} ({x.shape[1]} channels)"
            )

    def _check_dout(self, dout: np.ndarray, out_shape: tuple) -> None:
        where = f"{type(self).__name__}.backward"
        check_float_array(
            dout, "dout", ndim=4, dtype=self.dtype, where=where
        )
        if dout.shape != out_shape:
            raise ValueError(
                f"{where}: dout must have shape {out_shape}, got {dout.shape}"
            )


class Conv2D(_Convolution):
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

    ``dX`` equals the full correlation of the upstream gradient with the flipped kernel, and
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
        self._setup(
            "Conv2D", c_in, c_out, kernel_size, stride, padding, rng, dtype
        )
        k = self.kernel_size
        self._init_params(
            rng, (self.c_out, self.c_in, k, k), fan_in=self.c_in * k * k
        )

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
        self._check_channels(x, where)
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
        self._check_dout(dout, out_shape)
        d = _examples_last(dout).reshape(
            self.c_out, -1
        )  # (c_out, Ho*Wo*N), like z
        w_mat = self.params["W"].reshape(self.c_out, -1)  # (c_out, C*k*k)
        self.grads["W"] = _rows_against_rows(d, cols).reshape(
            self.params["W"].shape
        )
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


def conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
) -> int:
    """Output length of a transposed convolution along one axis.

    :math:`(n - 1)s - 2P + k + P_{out}`: the largest image that a :class:`Conv2D` with the
    same ``kernel_size``, ``stride`` and ``padding`` maps to length ``n``, less
    ``stride - 1 - output_padding`` (several input lengths map to ``n`` when the stride is
    above 1; ``output_padding`` picks which).
    """
    return (size - 1) * stride - 2 * padding + kernel_size + output_padding


class ConvTranspose2D(_Convolution):
    """Transposed 2-D convolution: the adjoint of :class:`Conv2D`, an upsampling layer.

    Where a strided :class:`Conv2D` maps an image to a smaller one, a transposed convolution
    with the same kernel size, stride and padding maps back to the larger size: each input
    pixel paints a ``k × k`` patch of the output, scaled by the kernel, and overlapping
    patches add up. It is the layer a convolutional generator grows its images with.

    Parameters
    ----------
    c_in, c_out : int
        Input and output channels.
    kernel_size : int
        Side ``k`` of the square kernel.
    stride : int, default 1
        Spacing ``s`` of the painted patches in the output (the upsampling factor).
    padding : int, default 0
        Rows and columns cropped from each side of the output (the ``padding`` of the
        :class:`Conv2D` this layer is the transpose of).
    output_padding : int, default 0
        Extra rows and columns at the bottom and right, ``0 <= output_padding < stride``.
    rng : numpy.random.Generator
        Source of the initial weights: normal with standard deviation
        :math:`\\sqrt{2 / (c_{in} k^2 / s^2)}` (He, with the fan-in of one output pixel:
        :math:`c_{in} (k / s)^2` input values reach it when ``s`` divides ``k``).
    dtype : numpy dtype, default float64
        dtype of the parameters, float16, float32 or float64; inputs must have the same
        dtype.

    Attributes
    ----------
    params : dict
        ``"W"``: ndarray of shape (c_in, c_out, k, k) (PyTorch's layout for this layer);
        ``"b"``: ndarray of shape (c_out,).
    grads : dict
        Same keys and shapes, filled by :meth:`backward`.

    Notes
    -----
    With ``Wm = W.reshape(c_in, c_out·k²)`` and the input laid out as ``X`` of shape
    (c_in, H·W·N), the forward pass is :class:`Conv2D`'s backward pass for the input:

    .. math:: Y = \\text{col2im}(W_m^\\top X) + b,

    of output size :func:`conv_transpose_output_size`. Its own backward pass is therefore a
    convolution: with ``D = im2col(dY)`` of shape (c_out·k², H·W·N),
    :math:`dX = W_m D`, :math:`dW_m = X D^\\top` and :math:`db = \\sum dY` over examples
    and pixels. So ``ConvTranspose2D(c_in, c_out, ...)`` computes exactly the input
    gradient of a ``Conv2D(c_out, c_in, ...)`` with the same kernel.

    See Also
    --------
    conv_transpose2d_forward_naive : the same map as explicit loops.
    Book, Step 12 "Generative adversarial networks — theory": the adjoint relation checked.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        output_padding: int = 0,
        *,
        rng: np.random.Generator,
        dtype=np.float64,
    ) -> None:
        super().__init__()
        where = "ConvTranspose2D"
        self._setup(
            where, c_in, c_out, kernel_size, stride, padding, rng, dtype
        )
        self.output_padding = check_int(
            output_padding, "output_padding", where, minimum=0
        )
        if self.output_padding >= self.stride:
            raise ValueError(
                f"{where}: output_padding must be smaller than the stride "
                f"{self.stride}, got {self.output_padding}"
            )
        k, s = self.kernel_size, self.stride
        self._init_params(
            rng,
            (self.c_in, self.c_out, k, k),
            fan_in=self.c_in * k * k / (s * s),
        )

    def output_shape(self, x_shape: tuple) -> tuple:
        """Shape of the output for an input of shape ``(N, C, H, W)``."""
        n, _, h, w = x_shape
        size = (
            self.kernel_size,
            self.stride,
            self.padding,
            self.output_padding,
        )
        return (
            n,
            self.c_out,
            conv_transpose_output_size(h, *size),
            conv_transpose_output_size(w, *size),
        )

    def _check_input(self, x: np.ndarray) -> None:
        where = "ConvTranspose2D.forward"
        self._check_channels(x, where)
        out = self.output_shape(x.shape)
        if min(out[2:]) < 1:
            raise ValueError(
                f"{where}: a {x.shape[2]}x{x.shape[3]} input with kernel "
                f"{self.kernel_size}, stride {self.stride} and padding {self.padding} "
                f"gives an empty {out[2]}x{out[3]} output"
            )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Upsample ``x`` of shape (N, c_in, H, W) to (N, c_out, H_out, W_out)."""
        self._check_input(x)
        out_shape = self.output_shape(x.shape)
        xm = _examples_last(x).reshape(self.c_in, -1)  # (c_in, H*W*N)
        w_mat = self.params["W"].reshape(self.c_in, -1)  # (c_in, c_out*k*k)
        y = col2im(
            w_mat.T @ xm,
            out_shape,
            self.kernel_size,
            self.stride,
            self.padding,
        )  # (N, c_out, Ho, Wo), examples-innermost in memory
        y += self.params["b"][:, None, None]
        self._cache = (x.shape, xm)
        return y

    def backward(
        self, dout: np.ndarray, need_dx: bool = True
    ) -> np.ndarray | None:
        """Fill ``grads`` from ``dout`` of shape (N, c_out, H_out, W_out); return ``dx``.

        ``dx`` has the input's shape (N, c_in, H, W); None with ``need_dx=False``.
        """
        self._require_forward(self._cache)
        x_shape, xm = self._cache
        out_shape = self.output_shape(x_shape)
        self._check_dout(dout, out_shape)
        d = im2col(
            dout, self.kernel_size, self.stride, self.padding
        )  # (c_out*k*k, H*W*N)
        self.grads["W"] = _rows_against_rows(xm, d).reshape(
            self.params["W"].shape
        )
        self.grads["b"] = policy_sum(
            _examples_last(dout).reshape(self.c_out, -1), axis=1
        )
        if not need_dx:
            return None
        w_mat = self.params["W"].reshape(self.c_in, -1)  # (c_in, c_out*k*k)
        n, _, h, w = x_shape
        return (w_mat @ d).reshape(self.c_in, h, w, n).transpose(3, 0, 1, 2)

    def __repr__(self) -> str:
        return (
            f"ConvTranspose2D({self.c_in}, {self.c_out}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, output_padding={self.output_padding}, "
            f"dtype={self.dtype})"
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
    stride : int
        The step ``s`` between neighbouring patches, in both directions.
    padding : int
        Zeros added on every side of ``x`` before the patches are taken.

    Returns
    -------
    z : ndarray of shape (N, c_out, H_out, W_out)
        :math:`Z_{n,o,p,q} =` :math:`b_o +`
        :math:`\\sum_{c,i,j} X^{pad}_{n,c,sp+i,sq+j} W_{o,c,i,j}`.
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

    Parameters
    ----------
    dout : ndarray of shape (N, c_out, H_out, W_out)
        The upstream gradient, dL/dz.
    x : ndarray of shape (N, C, H, W)
        The forward pass's input (unpadded).
    W : ndarray of shape (c_out, C, k, k)
    stride, padding : int
        As in the forward pass.

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


def conv_transpose2d_forward_naive(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
) -> np.ndarray:
    """Transposed convolution written as loops (slow; the reference).

    Every input pixel ``(n, c, p, q)`` adds ``x[n, c, p, q] · W[c]`` onto the output patch
    whose top-left corner is ``(s·p, s·q)`` in the padded output; the padding is cropped
    at the end.

    Parameters
    ----------
    x : ndarray of shape (N, c_in, H, W)
    W : ndarray of shape (c_in, c_out, k, k)
    b : ndarray of shape (c_out,)
    stride : int
        The step ``s`` in the output between the patches of neighbouring input pixels.
    padding : int
        Rows and columns cropped from every side of the output (the ``padding`` of the
        convolution this one transposes).
    output_padding : int
        Rows and columns added at the bottom and right of the output, to pick among the
        output sizes that a strided convolution maps to the same input size.

    Returns
    -------
    y : ndarray of shape (N, c_out, H_out, W_out)
    """
    n, c_in, h, w = x.shape
    _, c_out, k, _ = W.shape
    s, pd = stride, padding
    h_out = conv_transpose_output_size(h, k, s, pd, output_padding)
    w_out = conv_transpose_output_size(w, k, s, pd, output_padding)
    yp = np.zeros((n, c_out, h_out + 2 * pd, w_out + 2 * pd), dtype=x.dtype)
    for e in range(n):
        for c in range(c_in):
            for p in range(h):
                for q in range(w):
                    yp[e, :, s * p : s * p + k, s * q : s * q + k] += (
                        x[e, c, p, q] * W[c]
                    )
    return yp[:, :, pd : pd + h_out, pd : pd + w_out] + b[:, None, None]
