import re

import numpy as np
import pytest

from nnscratch.gradcheck import check_layer
from nnscratch.layers import AvgPool2D, Flatten, MaxPool2D, Unflatten

# (size, stride, H, W): windows side by side, overlapping, with gaps, and images that the
# windows do not tile exactly (the uncovered rows and columns get zero gradient).
POOL_CONFIGS = [(2, None, 6, 6), (2, None, 7, 5), (3, 2, 7, 8), (3, 1, 5, 6), (2, 3, 8, 7), (3, None, 9, 6)]


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("size, stride, h, w", POOL_CONFIGS)
def test_gradients_match_finite_differences(cls, size, stride, h, w, rng):
    # Random inputs: ties, where the max is not differentiable, have probability zero.
    layer = cls(size, stride)
    check_layer(layer, rng.standard_normal((2, 3, h, w)), rng=rng).assert_ok()


@pytest.mark.parametrize("size, stride, h, w", POOL_CONFIGS)
def test_agrees_with_pytorch(size, stride, h, w, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, h, w))
    for layer, fn in ((MaxPool2D(size, stride), torch.nn.functional.max_pool2d),
                      (AvgPool2D(size, stride), torch.nn.functional.avg_pool2d)):
        xt = torch.tensor(x, requires_grad=True)
        out_t = fn(xt, size, stride)
        dout = rng.standard_normal(tuple(out_t.shape))
        out_t.backward(torch.tensor(dout))
        np.testing.assert_allclose(layer.forward(x), out_t.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_maxpool_routes_gradient_to_the_winner_only():
    x = np.array([[[[1.0, 5.0, 2.0, 0.0],
                    [3.0, 4.0, 7.0, 1.0]]]])
    layer = MaxPool2D(2)
    np.testing.assert_array_equal(layer.forward(x), [[[[5.0, 7.0]]]])
    dx = layer.backward(np.array([[[[10.0, 20.0]]]]))
    np.testing.assert_array_equal(dx, [[[[0, 10.0, 0, 0], [0, 0, 20.0, 0]]]])


def test_maxpool_ties_go_to_the_first_maximum_like_pytorch():
    # After a ReLU, windows of zeros are common; the gradient must not be counted twice.
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 2] = x[0, 0, 0, 3] = 1.0
    layer = MaxPool2D(2)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 1, 2)))
    np.testing.assert_array_equal(dx, [[[[1.0, 0, 0, 1.0], [0, 0, 0, 0]]]])


def test_avgpool_spreads_evenly():
    layer = AvgPool2D(2)
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(layer.forward(x), [[[[2.5, 4.5], [10.5, 12.5]]]])
    np.testing.assert_allclose(layer.backward(np.full((1, 1, 2, 2), 4.0)), np.ones((1, 1, 4, 4)))


def _examples_innermost(a):
    """``a`` (N, C, H, W) stored as (C, H, W, N), the layout of Conv2D's outputs."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("size, stride, h, w", POOL_CONFIGS)
def test_any_memory_layout_gives_the_same_gradient_in_the_inputs_layout(
    cls, size, stride, h, w, rng
):
    # Inside a CNN the images arrive examples-innermost (from Conv2D) while the gradient may
    # arrive examples-outermost (reshaped by Flatten); the layer copies it into the images'
    # layout once, for speed. Every pairing of layouts must give the same numbers.
    x = rng.standard_normal((3, 2, h, w))
    ref = cls(size, stride)
    dout = rng.standard_normal(ref.forward(x).shape)
    expected = ref.backward(dout)
    for lay_x in (np.ascontiguousarray, _examples_innermost):
        for lay_d in (np.ascontiguousarray, _examples_innermost):
            layer = cls(size, stride)
            xl = lay_x(x)
            np.testing.assert_array_equal(layer.forward(xl), ref.forward(x))
            dx = layer.backward(lay_d(dout))
            np.testing.assert_array_equal(dx, expected)
            # dx keeps the input's layout: the layer before reads it without a copy
            assert np.argsort(dx.strides).tolist() == np.argsort(xl.strides).tolist()


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept_and_no_mutation(cls, dtype, rng):
    layer = cls(2)
    x = rng.standard_normal((3, 2, 6, 6)).astype(dtype)
    x0 = x.copy()
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(dtype)
    d0 = dout.copy()
    dx = layer.backward(dout)
    assert out.dtype == dtype and dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


def test_flatten_gradient_and_shapes(rng):
    layer = Flatten()
    x = rng.standard_normal((3, 2, 4, 5))
    assert layer.forward(x).shape == (3, 40)
    check_layer(layer, x, rng=rng).assert_ok()
    assert layer.backward(np.ones((3, 40))).shape == x.shape


def test_flatten_and_unflatten_give_the_gradient_the_layout_of_their_input(rng):
    # Conv2D's outputs are stored examples-innermost, a Dense layer's gradient examples-
    # outermost: Flatten's dx takes the layout of Flatten's input, so that the layer before
    # it combines dx with its own cache in one order; Unflatten's dx is plain C-ordered rows,
    # the layout of the Dense outputs it unflattens. Values are untouched either way.
    dout = rng.standard_normal((3, 40))
    maps = rng.standard_normal((3, 2, 4, 5))
    for x in (maps, _examples_innermost(maps)):
        layer = Flatten()
        layer.forward(x)
        dx = layer.backward(dout)
        np.testing.assert_array_equal(dx, dout.reshape(x.shape))
        assert np.argsort(dx.strides).tolist() == np.argsort(x.strides).tolist()
    un = Unflatten((2, 4, 5))
    un.forward(dout)
    d_maps = _examples_innermost(rng.standard_normal((3, 2, 4, 5)))
    dx = un.backward(d_maps)
    assert dx.flags.c_contiguous
    np.testing.assert_array_equal(dx, d_maps.reshape(3, 40))


def test_unflatten_inverts_flatten_and_passes_gradients_back(rng):
    layer = Unflatten((2, 4, 5))
    x = rng.standard_normal((3, 40))
    y = layer.forward(x)
    assert y.shape == (3, 2, 4, 5)
    np.testing.assert_array_equal(Flatten().forward(y), x)
    check_layer(layer, x, rng=rng).assert_ok()
    assert layer.backward(np.ones((3, 2, 4, 5))).shape == x.shape
    assert layer.forward(np.zeros((0, 40))).shape == (0, 2, 4, 5)   # an empty batch too


def test_unflatten_errors_name_expected_and_actual():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 40\) to become \(N, 2, 4, 5\), got \(3, 41\)"):
        Unflatten((2, 4, 5)).forward(np.zeros((3, 41)))
    with pytest.raises(RuntimeError, match="Unflatten.backward called before forward"):
        Unflatten((2, 4, 5)).backward(np.zeros((3, 2, 4, 5)))
    layer = Unflatten((2, 4, 5))
    layer.forward(np.zeros((3, 40), dtype=np.float32))
    with pytest.raises(ValueError, match=r"dout must have shape \(3, 2, 4, 5\), got \(3, 40\)"):
        layer.backward(np.zeros((3, 40), dtype=np.float32))
    with pytest.raises(TypeError, match="Unflatten.backward: dout must .*dtype float32, got float64"):
        layer.backward(np.zeros((3, 2, 4, 5)))  # a float64 dout would make dx float64
    flat = Flatten()
    flat.forward(np.zeros((3, 2, 4, 5), dtype=np.float32))
    with pytest.raises(TypeError, match="Flatten.backward: dout must .*dtype float32, got float64"):
        flat.backward(np.zeros((3, 40)))
    with pytest.raises(TypeError, match="non-empty tuple of positive ints, got 40"):
        Unflatten(40)
    with pytest.raises(ValueError, match=r"shape\[1\] must be a positive integer, got 0"):
        Unflatten((2, 0))


def test_errors_name_expected_and_actual(rng):
    with pytest.raises(ValueError, match=r"4 dimensions, got shape \(2, 36\)"):
        MaxPool2D(2).forward(np.zeros((2, 36)))
    with pytest.raises(ValueError, match="3x3 window does not fit in images of 2x5"):
        AvgPool2D(3).forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(TypeError, match="floating-point.*int64"):
        MaxPool2D(2).forward(np.zeros((1, 1, 4, 4), dtype=np.int64))
    layer = MaxPool2D(2)
    layer.forward(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 2, 2, 2\), got \(1, 2, 4, 4\)"):
        layer.backward(np.zeros((1, 2, 4, 4)))
    with pytest.raises(TypeError, match="dtype float64, got float32"):
        layer.backward(np.zeros((1, 2, 2, 2), dtype=np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        AvgPool2D(2).backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
        MaxPool2D(0)
    with pytest.raises(ValueError, match=r"Flatten.backward: dout must have shape \(3, 40\), got \(3, 41\)"):
        f = Flatten()
        f.forward(np.zeros((3, 2, 4, 5)))
        f.backward(np.zeros((3, 41)))


def test_maxpool_windows_larger_than_181_do_not_overflow_the_winner_index():
    k = 183                                            # k*k - 1 = 33488 > the int16 maximum
    x = np.zeros((1, 1, k, k))
    x[0, 0, k - 1, k - 2] = 1.0                        # the winner sits at offset k*k - 2
    layer = MaxPool2D(k)
    assert layer.forward(x)[0, 0, 0, 0] == 1.0
    dx = layer.backward(np.ones((1, 1, 1, 1)))
    assert dx[0, 0, k - 1, k - 2] == 1.0 and dx.sum() == 1.0


def test_flatten_refuses_an_input_without_a_batch_axis():
    for shape in [(6,), ()]:
        with pytest.raises(ValueError, match=r"Flatten.forward: x must have at least 2 dimensions "
                                             rf"\(N, \.\.\.\), got shape {re.escape(str(shape))}$"):
            Flatten().forward(np.zeros(shape))
