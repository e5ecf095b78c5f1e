import numpy as np
import pytest

from nnscratch.gradcheck import check_layer
from nnscratch.layers import Conv2D
from nnscratch.activations import ReLU
from nnscratch.layers import AvgPool2D, MaxPool2D
from nnscratch.layers.conv import (col2im, conv2d_backward_naive, conv2d_forward_naive,
                                   conv_output_size, im2col)

# (kernel_size, stride, padding, H, W): square and non-square images, kernels that do and
# do not tile the image exactly, stride larger than the kernel, padding larger than k // 2.
CONFIGS = [
    (1, 1, 0, 5, 6),
    (3, 1, 0, 7, 6),
    (3, 1, 1, 5, 5),
    (3, 2, 0, 7, 8),
    (3, 2, 1, 6, 7),
    (2, 2, 0, 6, 6),
    (3, 3, 2, 5, 7),
    (4, 3, 1, 9, 8),
    (5, 1, 2, 6, 5),
    (2, 4, 0, 9, 9),
]


@pytest.mark.parametrize("k, s, p, h, w", CONFIGS)
def test_gradients_match_finite_differences(k, s, p, h, w, rng):
    layer = Conv2D(2, 3, k, stride=s, padding=p, rng=rng)
    layer.params["b"][:] = rng.standard_normal(3)  # a zero bias would not test db's path
    result = check_layer(layer, rng.standard_normal((2, 2, h, w)), rng=rng).assert_ok()
    assert set(result.errors) == {"x", "W", "b"}


@pytest.mark.parametrize("k, s, p, h, w", CONFIGS)
def test_fast_agrees_with_naive_loops(k, s, p, h, w, rng):
    layer = Conv2D(3, 4, k, stride=s, padding=p, rng=rng)
    layer.params["b"][:] = rng.standard_normal(4)
    x = rng.standard_normal((2, 3, h, w))
    out = layer.forward(x)
    expected = conv2d_forward_naive(x, layer.params["W"], layer.params["b"], s, p)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    dx_n, dW_n, db_n = conv2d_backward_naive(dout, x, layer.params["W"], s, p)
    np.testing.assert_allclose(dx, dx_n, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], dW_n, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], db_n, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k, s, p, h, w", CONFIGS)
def test_agrees_with_pytorch(k, s, p, h, w, rng):
    torch = pytest.importorskip("torch")
    layer = Conv2D(3, 4, k, stride=s, padding=p, rng=rng)
    layer.params["b"][:] = rng.standard_normal(4)
    x = rng.standard_normal((2, 3, h, w))
    dout = rng.standard_normal(layer.output_shape(x.shape))
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(layer.params["W"], requires_grad=True)
    bt = torch.tensor(layer.params["b"], requires_grad=True)
    zt = torch.nn.functional.conv2d(xt, Wt, bt, stride=s, padding=p)
    zt.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.forward(x), zt.detach().numpy(), rtol=1e-10, atol=1e-12)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], Wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], bt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_output_size_formula():
    assert conv_output_size(28, 5) == 24
    assert conv_output_size(28, 3, 1, 1) == 28
    assert conv_output_size(7, 3, 2, 0) == 3
    assert conv_output_size(8, 3, 2, 1) == 4
    layer = Conv2D(1, 2, 3, stride=2, padding=1, rng=np.random.default_rng(0))
    assert layer.forward(np.zeros((5, 1, 8, 9))).shape == (5, 2, 4, 5)


def test_col2im_is_the_adjoint_of_im2col(rng):
    # <im2col(x), c> = <x, col2im(c)> for all x, c: the defining property of the backward scatter.
    for k, s, p, h, w in CONFIGS:
        x = rng.standard_normal((2, 3, h, w))
        cols = im2col(x, k, s, p)
        c = rng.standard_normal(cols.shape)
        assert np.sum(cols * c) == pytest.approx(np.sum(x * col2im(c, x.shape, k, s, p)), rel=1e-12)


@pytest.mark.parametrize("k, s, p, h, w", CONFIGS)
def test_im2col_columns_are_the_patches_in_documented_order(k, s, p, h, w, rng):
    # Column (p, q, n) is example n's patch under output pixel (p, q), read in (c, i, j) order.
    x = rng.standard_normal((2, 3, h, w))
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
    cols = im2col(x, k, s, p).reshape(3 * k * k, h_out, w_out, 2)
    for n, r, q in [(0, 0, 0), (1, h_out - 1, w_out - 1), (1, 0, w_out - 1), (0, h_out // 2, 0)]:
        patch = xp[n, :, s * r:s * r + k, s * q:s * q + k]
        np.testing.assert_array_equal(cols[:, r, q, n], patch.ravel())


def test_feature_maps_stay_examples_innermost_through_the_block(rng):
    # The speed of the fast path rests on this layout (see the module's docstring): conv,
    # ReLU and both poolings hand on arrays whose examples are adjacent in memory (the
    # example axis has the smallest stride), so the next im2col needs no transposing copy.
    # Without padding the (C, H, W, N) transpose is even contiguous. Shapes are unaffected.
    x = rng.standard_normal((4, 1, 12, 12)).astype(np.float32)
    layers = [Conv2D(1, 3, 3, rng=rng, dtype=np.float32), ReLU(), MaxPool2D(2),
              Conv2D(3, 2, 3, padding=1, rng=rng, dtype=np.float32), AvgPool2D(3, stride=1),
              Conv2D(2, 2, 1, rng=rng, dtype=np.float32), MaxPool2D(3, stride=2)]
    a = x
    for layer in layers:
        a = layer.forward(a, training=True)
        assert a.transpose(1, 2, 3, 0).flags.c_contiguous, layer
        assert a.strides[0] == a.itemsize, layer
    d = np.ones(a.shape, dtype=np.float32)
    for layer in reversed(layers[1:]):
        d = layer.backward(d)
        assert d.strides[0] == d.itemsize, layer
    assert d.shape == (4, 3, 10, 10)   # the gradient at the first convolution's output


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_end_to_end(dtype, rng):
    layer = Conv2D(2, 3, 3, padding=1, rng=rng, dtype=dtype)
    x = rng.standard_normal((4, 2, 6, 6)).astype(dtype)
    out = layer.forward(x, training=True)
    dx = layer.backward(np.ones(out.shape, dtype=dtype))
    assert out.dtype == dtype and dx.dtype == dtype
    assert all(p.dtype == dtype for p in layer.params.values())
    assert all(g.dtype == dtype for g in layer.grads.values())


def test_no_mutation_and_overwriting_grads(rng):
    layer = Conv2D(2, 3, 3, stride=2, padding=1, rng=rng)
    x = rng.standard_normal((3, 2, 7, 7))
    x0 = x.copy()
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    d0 = dout.copy()
    layer.backward(dout)
    first = {k: v.copy() for k, v in layer.grads.items()}
    layer.backward(dout)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)
    for k in first:
        np.testing.assert_array_equal(layer.grads[k], first[k])


def test_he_initialization_and_seed():
    a = Conv2D(16, 32, 3, rng=np.random.default_rng(3))
    b = Conv2D(16, 32, 3, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert a.params["W"].shape == (32, 16, 3, 3) and a.params["b"].shape == (32,)
    assert a.params["W"].std() == pytest.approx(np.sqrt(2 / (16 * 9)), rel=0.05)
    assert not a.params["b"].any()


def test_errors_name_expected_and_actual(rng):
    layer = Conv2D(3, 2, 3, rng=rng)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) with 3 input channels, got \(2, 1, 5, 5\)"):
        layer.forward(np.zeros((2, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"4 dimensions, got shape \(2, 75\)"):
        layer.forward(np.zeros((2, 75)))
    with pytest.raises(TypeError, match="dtype float64, got float32"):
        layer.forward(np.zeros((2, 3, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="3x3 kernel does not fit.*2x5"):
        layer.forward(np.zeros((2, 3, 2, 5)))
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2D(3, 2, 3, rng=rng).backward(np.zeros((2, 2, 3, 3)))
    layer.forward(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 2, 3, 3\), got \(2, 2, 4, 4\)"):
        layer.backward(np.zeros((2, 2, 4, 4)))
    with pytest.raises(ValueError, match="stride must be a positive integer, got 0"):
        Conv2D(3, 2, 3, stride=0, rng=rng)
    with pytest.raises(ValueError, match="padding must be a non-negative integer, got -1"):
        Conv2D(3, 2, 3, padding=-1, rng=rng)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        Conv2D(3, 2, 3, rng=0)


def test_need_dx_false_skips_dx_but_not_the_parameter_gradients(rng):
    full = Conv2D(2, 3, 3, stride=2, padding=1, rng=np.random.default_rng(4))
    first = Conv2D(2, 3, 3, stride=2, padding=1, rng=np.random.default_rng(4))
    x = rng.standard_normal((2, 2, 7, 7))
    dout = rng.standard_normal(full.output_shape(x.shape))
    full.forward(x), first.forward(x)
    assert full.backward(dout) is not None
    assert first.backward(dout, need_dx=False) is None
    for k in full.grads:
        np.testing.assert_array_equal(first.grads[k], full.grads[k])


@pytest.mark.parametrize("rows_a, rows_b", [(3, 7), (7, 3), (4, 4)])
def test_the_kernel_gradients_product_is_the_same_in_either_order(rows_a, rows_b, rng):
    from nnscratch.layers.conv import _rows_against_rows

    a, b = rng.standard_normal((rows_a, 50)), rng.standard_normal((rows_b, 50))
    product = _rows_against_rows(a, b)
    assert product.shape == (rows_a, rows_b) and product.flags.c_contiguous
    np.testing.assert_allclose(product, a @ b.T, rtol=1e-13, atol=1e-13)


def test_a_kernel_gradient_is_laid_out_as_its_kernel(rng):
    # (b @ a.T).T is a transposed view, which reshapes to the kernel's shape as a
    # strided view: the optimizers' buffers (zeros_like) would copy its layout
    for layer in (Conv2D(2, 3, 3, rng=rng), Conv2D(3, 8, 1, rng=rng)):  # both orders
        out = layer.forward(rng.standard_normal((2, layer.c_in, 5, 5)))
        layer.backward(rng.standard_normal(out.shape))
        assert layer.grads["W"].flags.c_contiguous
        assert layer.grads["W"].shape == layer.params["W"].shape
