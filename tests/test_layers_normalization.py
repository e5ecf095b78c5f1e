import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnscratch.activations import Tanh
from nnscratch.gradcheck import check_layer
from nnscratch.layers import BatchNorm, BatchNorm2D, Dense, LayerNorm
from nnscratch.network import Sequential


def _randomized(layer, rng):
    """Non-trivial gamma, beta and running statistics, so every term of the maths is exercised."""
    d = layer.n_features
    layer.params["gamma"][:] = rng.uniform(0.5, 2.0, d)
    layer.params["beta"][:] = rng.standard_normal(d)
    layer.buffers["running_mean"][:] = rng.standard_normal(d)
    layer.buffers["running_var"][:] = rng.uniform(0.5, 2.0, d)
    return layer


def test_training_output_is_normalized(rng):
    layer = BatchNorm(4)
    x = rng.standard_normal((64, 4)) * [1, 10, 0.1, 3] + [5, -2, 0, 1]
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(
        out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5), rtol=1e-12
    )


@pytest.mark.parametrize("training", [True, False])
def test_gradient_check_both_modes(training, rng):
    layer = _randomized(BatchNorm(5), rng)
    check_layer(
        layer,
        rng.standard_normal((7, 5)) * 2 + 1,
        rng=rng,
        training=training,
    ).assert_ok()


def test_gradient_check_in_a_network(rng):
    # a tanh between Dense and BatchNorm: a bias directly before BatchNorm has gradient exactly
    # zero (the batch mean removes it), which a relative-error check cannot compare
    net = Sequential(
        [
            Dense(3, 6, rng=rng),
            Tanh(),
            _randomized(BatchNorm(6), rng),
            Dense(6, 2, rng=rng),
        ]
    )
    check_layer(
        net, rng.standard_normal((8, 3)), rng=rng, training=True
    ).assert_ok()


def test_bias_before_batchnorm_gets_zero_gradient(rng):
    net = Sequential([Dense(3, 6, rng=rng), BatchNorm(6)])
    net.forward(rng.standard_normal((8, 3)), training=True)
    net.backward(rng.standard_normal((8, 6)))
    np.testing.assert_allclose(net.grads["0.b"], 0, atol=1e-13)


def test_eval_uses_running_statistics(rng):
    layer = _randomized(BatchNorm(3), rng)
    x = rng.standard_normal((5, 3))
    m, v = layer.buffers["running_mean"], layer.buffers["running_var"]
    expected = (x - m) / np.sqrt(v + 1e-5) * layer.params[
        "gamma"
    ] + layer.params["beta"]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-13)
    before = (m.copy(), v.copy())
    layer.forward(x)
    # evaluation never updates them
    np.testing.assert_array_equal(m, before[0])
    np.testing.assert_array_equal(v, before[1])


def test_running_statistics_update_like_pytorch(rng):
    torch = pytest.importorskip("torch")
    ours = BatchNorm(4, momentum=0.2, eps=1e-3)
    theirs = torch.nn.BatchNorm1d(
        4, momentum=0.2, eps=1e-3, dtype=torch.float64
    )
    gamma, beta = rng.uniform(0.5, 2, 4), rng.standard_normal(4)
    ours.params["gamma"][:], ours.params["beta"][:] = gamma, beta
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    for _ in range(3):
        x = rng.standard_normal((10, 4)) * 3 + 1
        dout = rng.standard_normal((10, 4))
        xt = torch.tensor(x, requires_grad=True)
        theirs.train()
        yt = theirs(xt)
        yt.backward(torch.tensor(dout))
        y = ours.forward(x, training=True)
        dx = ours.backward(dout)
        np.testing.assert_allclose(
            y, yt.detach().numpy(), rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(
            dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(
            ours.grads["gamma"], theirs.weight.grad.numpy(), rtol=1e-10
        )
        np.testing.assert_allclose(
            ours.grads["beta"], theirs.bias.grad.numpy(), rtol=1e-10
        )
        theirs.weight.grad = theirs.bias.grad = None
    np.testing.assert_allclose(
        ours.buffers["running_mean"],
        theirs.running_mean.numpy(),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        ours.buffers["running_var"], theirs.running_var.numpy(), rtol=1e-12
    )
    theirs.eval()
    x = rng.standard_normal((6, 4))
    np.testing.assert_allclose(
        ours.forward(x),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-10,
    )


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 9),
    d=st.integers(1, 6),
    dtype=st.sampled_from([np.float32, np.float64]),
    training=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_shapes_dtypes_and_no_mutation(n, d, dtype, training, seed):
    rng = np.random.default_rng(seed)
    layer = BatchNorm(d, dtype=dtype)
    x = rng.standard_normal((n, d)).astype(dtype)
    dout = rng.standard_normal((n, d)).astype(dtype)
    x0, d0 = x.copy(), dout.copy()
    out = layer.forward(x, training=training)
    dx = layer.backward(dout)
    assert (
        out.shape == dx.shape == (n, d) and out.dtype == dx.dtype == dtype
    )
    assert all(
        g.shape == (d,) and g.dtype == dtype for g in layer.grads.values()
    )
    assert all(b.dtype == dtype for b in layer.buffers.values())
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


def test_errors(rng):
    layer = BatchNorm(3)
    with pytest.raises(ValueError, match=r"shape \(N, 3\), got \(4, 2\)"):
        layer.forward(np.zeros((4, 2)))
    with pytest.raises(TypeError, match="dtype float64, got float32"):
        layer.forward(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="at least 2 examples"):
        layer.forward(np.zeros((1, 3)), training=True)
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm(3).backward(np.zeros((2, 3)))
    layer.forward(np.zeros((4, 3)), training=True)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 3\)"):
        layer.backward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_features"):
        BatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=2)


# ---------------------------------------------------------------------------- LayerNorm


def test_layer_norm_gradients_on_rows_and_sequences(rng):
    layer = LayerNorm(5)
    layer.params["gamma"] = rng.standard_normal(5)
    layer.params["beta"] = rng.standard_normal(5)
    check_layer(layer, rng.standard_normal((4, 5)), rng=rng).assert_ok()
    check_layer(layer, rng.standard_normal((2, 3, 5)), rng=rng).assert_ok()


def test_layer_norm_normalizes_each_row_alone(rng):
    layer = LayerNorm(6)
    x = rng.standard_normal((3, 4, 6)) * 5 + 2
    y = layer.forward(x)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-3)  # eps/var off 1
    np.testing.assert_allclose(
        layer.forward(x[:1])[0], y[0]
    )  # no batch dependence
    with pytest.raises(
        ValueError, match=r"x must have shape \(N, \.\.\., 6\)"
    ):
        layer.forward(x[..., :5])


def test_layer_norm_float16_statistics_do_not_overflow():
    layer = LayerNorm(4, dtype=np.float16)
    x = np.array(
        [[300.0, 310.0, 290.0, 305.0]], dtype=np.float16
    )  # squares overflow fp16
    y = layer.forward(x)
    exact = LayerNorm(4, dtype=np.float64).forward(x.astype(np.float64))
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, exact, atol=4e-3)  # float16 rounding


def test_layer_norm_equals_torch(rng):
    torch = pytest.importorskip("torch")
    layer = LayerNorm(6)
    layer.params["gamma"] = rng.standard_normal(6)
    layer.params["beta"] = rng.standard_normal(6)
    x, g = rng.standard_normal((3, 4, 6)), rng.standard_normal((3, 4, 6))
    twin = torch.nn.LayerNorm(6).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.params["gamma"]))
        twin.bias.copy_(torch.from_numpy(layer.params["beta"]))
    tx = torch.tensor(x, requires_grad=True)
    ty = twin(tx)
    ty.backward(torch.from_numpy(g))
    out, dx = layer.forward(x), layer.backward(g)
    for ours, theirs in (
        (out, ty),
        (dx, tx.grad),
        (layer.grads["gamma"], twin.weight.grad),
        (layer.grads["beta"], twin.bias.grad),
    ):
        np.testing.assert_allclose(
            ours, theirs.detach().numpy(), rtol=0, atol=1e-10
        )


# ---------------------------------------------------------------- BatchNorm2D (per channel)

@pytest.mark.parametrize("training", [True, False])
def test_batchnorm2d_gradient_check_both_modes(training, rng):
    layer = BatchNorm2D(3)
    layer.params["gamma"][:] = rng.random(3) + 0.5
    layer.params["beta"][:] = rng.standard_normal(3)
    layer.buffers["running_mean"][:] = rng.standard_normal(3)
    layer.buffers["running_var"][:] = rng.random(3) + 0.5
    x = rng.standard_normal((4, 3, 5, 6)) * 2 + 1
    check_layer(layer, x, rng=rng, training=training).assert_ok()


def test_batchnorm2d_normalizes_each_channel_over_examples_and_pixels(rng):
    x = rng.standard_normal((6, 2, 4, 5)) * np.array([3.0, 0.5])[:, None, None] + np.array([2.0, -1.0])[:, None, None]
    y = BatchNorm2D(2).forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)   # eps = 1e-5 keeps it just below 1
    # a channel is one column of the (N·H·W, C) matrix that BatchNorm normalizes
    rows = x.transpose(0, 2, 3, 1).reshape(-1, 2)
    np.testing.assert_allclose(y.transpose(0, 2, 3, 1).reshape(-1, 2),
                               BatchNorm(2).forward(rows, training=True), rtol=1e-13)


def test_batchnorm2d_equals_torch_in_training_and_evaluation(rng):
    torch = pytest.importorskip("torch")
    layer, twin = BatchNorm2D(3, momentum=0.2), torch.nn.BatchNorm2d(3, momentum=0.2).double()
    layer.params["gamma"][:] = rng.random(3) + 0.5
    layer.params["beta"][:] = rng.standard_normal(3)
    twin.weight.data = torch.tensor(layer.params["gamma"])
    twin.bias.data = torch.tensor(layer.params["beta"])
    for _ in range(2):   # two steps: the running statistics move twice
        x = rng.standard_normal((4, 3, 5, 6)) * 2 + 1
        d = rng.standard_normal(x.shape)
        xt = torch.tensor(x, requires_grad=True)
        yt = twin(xt)
        yt.backward(torch.tensor(d))
        np.testing.assert_allclose(layer.forward(x, training=True), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.backward(d), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["gamma"], twin.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(layer.grads["beta"], twin.bias.grad.numpy(), rtol=1e-10)
        twin.weight.grad = twin.bias.grad = None
    np.testing.assert_allclose(layer.buffers["running_mean"], twin.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_var"], twin.running_var.numpy(), rtol=1e-12)
    twin.eval()
    x = rng.standard_normal((2, 3, 4, 4))
    np.testing.assert_allclose(layer.forward(x), twin(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def examples_innermost(x, pad=0):
    """x (N, C, H, W) stored as a convolution leaves it: (C, H, W, N) in
    memory, and with pad > 0 a cropped view of a larger such array."""
    n, c, h, w = x.shape
    big = np.zeros((c, h + 2 * pad, w + 2 * pad, n), dtype=x.dtype)
    big[:, pad : pad + h, pad : pad + w] = x.transpose(1, 2, 3, 0)
    return big[:, pad : pad + h, pad : pad + w].transpose(3, 0, 1, 2)


@pytest.mark.parametrize("pad", [0, 1])
@pytest.mark.parametrize("dout_layout", ["same", "c_order"])
def test_batchnorm2d_is_the_same_for_examples_innermost_input(pad, dout_layout, rng):
    # Convolutions leave (N, C, H, W) with the examples innermost in memory; BatchNorm2D then
    # orders its rows that way to avoid copies. The result must not depend on it.
    x = rng.standard_normal((5, 3, 4, 6)) * 2 + 1
    d = rng.standard_normal(x.shape)
    plain, strided = BatchNorm2D(3), BatchNorm2D(3)
    for layer in (plain, strided):
        layer.params["gamma"][:] = [0.5, 1.5, 2.0]
        layer.params["beta"][:] = [0.1, -0.2, 0.3]
    xs = examples_innermost(x, pad)
    assert xs.strides[0] == x.itemsize and not xs.flags.c_contiguous
    ds = examples_innermost(d, pad) if dout_layout == "same" else d.copy()
    for training in (True, False):
        y, ys = plain.forward(x, training), strided.forward(xs, training)
        assert ys.strides[0] == x.itemsize  # the layout is kept for the next layer
        np.testing.assert_allclose(ys, y, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(strided.backward(ds), plain.backward(d), rtol=1e-10, atol=1e-12)
        for k in ("gamma", "beta"):
            np.testing.assert_allclose(strided.grads[k], plain.grads[k], rtol=1e-12)
    for k in ("running_mean", "running_var"):
        np.testing.assert_allclose(strided.buffers[k], plain.buffers[k], rtol=1e-12)
    np.testing.assert_array_equal(xs, x)  # the input is not written to


def test_batchnorm2d_errors(rng):
    layer = BatchNorm2D(3)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3, H, W\), got \(2, 4, 5, 5\)"):
        layer.forward(np.zeros((2, 4, 5, 5)))
    with pytest.raises(ValueError, match=r"4 dimensions, got shape \(2, 3\)"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm2D(3).backward(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"at least 2 values per channel \(N·H·W\).*N=1, H=1, W=1"):
        layer.forward(np.zeros((1, 3, 1, 1)), training=True)
    assert layer.forward(np.zeros((0, 3, 2, 2))).shape == (0, 3, 2, 2)   # evaluation: fine
    layer.forward(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 5, 5\), got \(2, 3, 4, 4\)"):
        layer.backward(np.zeros((2, 3, 4, 4)))


def test_batchnorm2d_float16_backward_is_finite_for_large_batches(rng):
    """N*H*W = 131,072 > 65,504, float16's largest value: an N-times-larger intermediate
    (N * dx_hat, or N itself) would be inf and every dx NaN. The float16 result must also
    agree with the float64 one to float16's precision."""
    x = rng.standard_normal((128, 2, 32, 32))
    # an upstream gradient with a channel mean and a part along x: the batch
    # statistics' terms of the backward pass are then of order 0.1, so a
    # backward without them would miss the tolerance by far
    g = 0.1 + 0.25 * x + rng.standard_normal(x.shape)
    dx = {}
    for dtype in (np.float16, np.float64):
        layer = BatchNorm2D(2, dtype=dtype)
        layer.forward(x.astype(dtype), training=True)
        dx[dtype] = layer.backward(g.astype(dtype))
    assert dx[np.float16].dtype == np.float16
    assert np.all(np.isfinite(dx[np.float16]))
    np.testing.assert_allclose(dx[np.float16], dx[np.float64], atol=2e-2, rtol=2e-2)


def test_layer_norm_backward_refuses_a_dout_of_the_wrong_shape_and_keeps_its_gradients(rng):
    layer = LayerNorm(4)
    layer.forward(rng.standard_normal((2, 3, 4)))
    layer.backward(np.ones((2, 3, 4)))
    before = {k: v.copy() for k, v in layer.grads.items()}
    for shape in [(2, 3, 5), (6, 4), (1, 3, 4), (3, 4)]:   # the last two would broadcast
        with pytest.raises(ValueError, match=rf"LayerNorm.backward: dout must have shape "
                                             rf"\(2, 3, 4\), got {re.escape(str(shape))}$"):
            layer.backward(np.ones(shape))
    for k, v in before.items():
        np.testing.assert_array_equal(layer.grads[k], v)


def test_layer_norm_without_dx_returns_none_and_the_same_parameter_gradients(rng):
    layer = LayerNorm(5)
    layer.params["gamma"] = rng.uniform(0.5, 2.0, 5)
    x, dout = rng.standard_normal((3, 2, 5)), rng.standard_normal((3, 2, 5))
    layer.forward(x)
    dx = layer.backward(dout)
    full = {k: v.copy() for k, v in layer.grads.items()}
    layer.grads = {k: np.full_like(v, np.nan) for k, v in full.items()}  # to be overwritten
    layer.forward(x)
    assert layer.backward(dout, need_dx=False) is None
    assert dx.shape == x.shape
    for k, v in full.items():
        np.testing.assert_array_equal(layer.grads[k], v)
