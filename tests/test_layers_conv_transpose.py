"""ConvTranspose2D: the adjoint of Conv2D, checked against loops, finite differences,
Conv2D's own input gradient and (if installed) PyTorch."""
import numpy as np
import pytest

from nnscratch.gradcheck import check_layer
from nnscratch.layers import Conv2D, ConvTranspose2D
from nnscratch.layers.conv import conv_output_size, conv_transpose2d_forward_naive, conv_transpose_output_size

# (kernel_size, stride, padding, output_padding, H, W): the DCGAN doubling (4, 2, 1),
# odd kernels with output_padding, a stride larger than the kernel (gaps in the output),
# non-square inputs, padding that crops more than a kernel's half.
CONFIGS = [
    (4, 2, 1, 0, 3, 4),
    (3, 2, 1, 1, 3, 3),
    (3, 1, 1, 0, 4, 5),
    (2, 2, 0, 0, 3, 2),
    (2, 3, 0, 2, 2, 3),
    (5, 3, 2, 1, 3, 4),
    (1, 1, 0, 0, 3, 3),
    (3, 2, 2, 0, 4, 4),
]


def _layer(k, s, p, op, rng, c_in=3, c_out=2):
    layer = ConvTranspose2D(c_in, c_out, k, s, p, op, rng=rng)
    layer.params["b"][:] = rng.standard_normal(c_out)  # a zero bias would not test db
    return layer


@pytest.mark.parametrize("k, s, p, op, h, w", CONFIGS)
def test_gradients_match_finite_differences(k, s, p, op, h, w, rng):
    layer = _layer(k, s, p, op, rng)
    result = check_layer(layer, rng.standard_normal((2, 3, h, w)), rng=rng).assert_ok()
    assert set(result.errors) == {"x", "W", "b"}


@pytest.mark.parametrize("k, s, p, op, h, w", CONFIGS)
def test_forward_agrees_with_naive_loops(k, s, p, op, h, w, rng):
    layer = _layer(k, s, p, op, rng)
    x = rng.standard_normal((2, 3, h, w))
    expected = conv_transpose2d_forward_naive(x, layer.params["W"], layer.params["b"], s, p, op)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k, s, p, op, h, w", CONFIGS)
def test_is_the_input_gradient_of_conv2d_and_its_adjoint(k, s, p, op, h, w, rng):
    # ConvTranspose2D(c_in, c_out) with kernel W computes the input gradient of
    # Conv2D(c_out, c_in) with the same W; so <conv(y), x> = <y, convT(x)> (no biases).
    t = _layer(k, s, p, op, rng)
    t.params["b"][:] = 0
    x = rng.standard_normal((2, 3, h, w))
    y_t = t.forward(x)
    conv = Conv2D(2, 3, k, stride=s, padding=p, rng=rng)
    conv.params["W"][...] = t.params["W"]
    conv.params["b"][:] = 0
    y = rng.standard_normal(y_t.shape)
    assert conv.output_shape(y.shape) == x.shape
    conv.forward(y)
    np.testing.assert_allclose(conv.backward(x), y_t, rtol=1e-12, atol=1e-12)
    assert np.sum(conv.forward(y) * x) == pytest.approx(np.sum(y * y_t), rel=1e-12)


@pytest.mark.parametrize("k, s, p, op, h, w", CONFIGS)
def test_agrees_with_pytorch(k, s, p, op, h, w, rng):
    torch = pytest.importorskip("torch")
    layer = _layer(k, s, p, op, rng)
    x = rng.standard_normal((2, 3, h, w))
    dout = rng.standard_normal(layer.output_shape(x.shape))
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(layer.params["W"], requires_grad=True)
    bt = torch.tensor(layer.params["b"], requires_grad=True)
    zt = torch.nn.functional.conv_transpose2d(xt, Wt, bt, stride=s, padding=p, output_padding=op)
    zt.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer.forward(x), zt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], Wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], bt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_output_size_formula_inverts_conv_output_size():
    assert conv_transpose_output_size(7, 4, 2, 1) == 14
    assert conv_transpose_output_size(14, 4, 2, 1) == 28
    assert conv_transpose_output_size(4, 3, 2, 1, 1) == 8
    for n in range(1, 9):
        for k, s, p in [(4, 2, 1), (3, 2, 1), (5, 3, 2), (2, 2, 0)]:
            for op in range(s):
                m = conv_transpose_output_size(n, k, s, p, op)
                if m >= 1:
                    assert conv_output_size(m, k, s, p) == n
    layer = ConvTranspose2D(2, 1, 4, 2, 1, rng=np.random.default_rng(0))
    assert layer.forward(np.zeros((5, 2, 7, 3))).shape == (5, 1, 14, 6)


def test_gradients_sum_over_the_batch_and_keep_the_dtype(rng):
    layer = ConvTranspose2D(2, 3, 4, 2, 1, rng=rng, dtype=np.float32)
    x = rng.standard_normal((4, 2, 5, 5)).astype(np.float32)
    out = layer.forward(x, training=True)
    dx = layer.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    # every output pixel gets the bias once: db counts the output pixels of the batch
    np.testing.assert_array_equal(layer.grads["b"], np.full(3, 4 * 10 * 10, np.float32))
    single = ConvTranspose2D(2, 3, 4, 2, 1, rng=np.random.default_rng(1))
    grads = []
    for xs in (x[:2].astype(np.float64), x[2:].astype(np.float64)):
        single.forward(xs)
        single.backward(np.ones((2, 3, 10, 10)))
        grads.append(single.grads["W"].copy())
    single.forward(x.astype(np.float64))
    single.backward(np.ones((4, 3, 10, 10)))
    np.testing.assert_allclose(single.grads["W"], grads[0] + grads[1], rtol=1e-12)


def test_need_dx_false_skips_dx_but_not_the_parameter_gradients(rng):
    full, first = (ConvTranspose2D(2, 3, 3, 2, 1, 1, rng=np.random.default_rng(4)) for _ in range(2))
    x = rng.standard_normal((2, 2, 4, 4))
    dout = rng.standard_normal(full.output_shape(x.shape))
    full.forward(x), first.forward(x)
    assert full.backward(dout) is not None
    assert first.backward(dout, need_dx=False) is None
    for k in full.grads:
        np.testing.assert_array_equal(first.grads[k], full.grads[k])


def test_initialization_and_seed():
    a = ConvTranspose2D(64, 32, 4, 2, 1, rng=np.random.default_rng(3))
    b = ConvTranspose2D(64, 32, 4, 2, 1, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert a.params["W"].shape == (64, 32, 4, 4) and a.params["b"].shape == (32,)
    # He with the fan-in of one output pixel, c_in (k / s)^2 = 64 * 4
    assert a.params["W"].std() == pytest.approx(np.sqrt(2 / (64 * 4)), rel=0.05)
    assert not a.params["b"].any()


def test_errors_name_expected_and_actual(rng):
    layer = ConvTranspose2D(3, 2, 4, 2, 1, rng=rng)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) with 3 input channels, got \(2, 1, 5, 5\)"):
        layer.forward(np.zeros((2, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"4 dimensions, got shape \(2, 75\)"):
        layer.forward(np.zeros((2, 75)))
    with pytest.raises(TypeError, match="dtype float64, got float32"):
        layer.forward(np.zeros((2, 3, 5, 5), dtype=np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        ConvTranspose2D(3, 2, 3, rng=rng).backward(np.zeros((2, 2, 3, 3)))
    layer.forward(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 2, 10, 10\), got \(2, 2, 9, 9\)"):
        layer.backward(np.zeros((2, 2, 9, 9)))
    with pytest.raises(ValueError, match="output_padding must be smaller than the stride 2, got 2"):
        ConvTranspose2D(3, 2, 3, 2, 1, 2, rng=rng)
    with pytest.raises(ValueError, match="empty 0x0 output"):
        ConvTranspose2D(3, 2, 1, 1, 1, rng=rng).forward(np.zeros((1, 3, 2, 2)))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        ConvTranspose2D(3, 2, 3, rng=0)
