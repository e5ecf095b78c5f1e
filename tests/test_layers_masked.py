"""Pooling over time with a mask: values, exact zeros at padding, gradients, PyTorch."""

import numpy as np
import pytest

from nnscratch.gradcheck import numerical_gradient, relative_error
from nnscratch.layers import AttentionPooling, MaxOverTime, MeanOverTime

MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)


def make(kind, rng):
    if kind is AttentionPooling:
        layer = AttentionPooling(4)
        layer.params["q"] = rng.standard_normal(4)        # away from the uniform start
        return layer
    return kind()


@pytest.mark.parametrize("kind", [MeanOverTime, MaxOverTime, AttentionPooling])
def test_gradients_match_finite_differences_and_padding_gets_exact_zero(kind, rng):
    layer = make(kind, rng)
    x = rng.standard_normal((3, 5, 4))
    g = rng.standard_normal((3, 4))

    def f():
        return float(np.sum(layer.forward(x, mask=MASK) * g))

    layer.forward(x, mask=MASK)
    dx = layer.backward(g)
    assert relative_error(dx, numerical_gradient(f, x)) < 1e-7
    assert np.all(dx[~MASK] == 0.0)                        # exactly, not approximately
    for k in layer.params:
        layer.forward(x, mask=MASK)
        layer.backward(g)
        assert relative_error(layer.grads[k], numerical_gradient(f, layer.params[k])) < 1e-7


@pytest.mark.parametrize("kind", [MeanOverTime, MaxOverTime, AttentionPooling])
def test_output_ignores_whatever_the_padding_holds(kind, rng):
    layer = make(kind, rng)
    x = rng.standard_normal((3, 5, 4))
    out = layer.forward(x, mask=MASK)
    x2 = x.copy()
    x2[~MASK] = 1e6
    np.testing.assert_array_equal(layer.forward(x2, mask=MASK), out)
    short = layer.forward(x[1:2, :1], mask=MASK[1:2, :1])   # the same sentence, unpadded
    np.testing.assert_allclose(short, out[1:2], rtol=1e-15)


def test_values_mean_max_and_uniform_attention_at_start(rng):
    x = rng.standard_normal((3, 5, 4))
    lengths = MASK.sum(1)
    mean = MeanOverTime().forward(x, mask=MASK)
    np.testing.assert_allclose(mean[0], x[0, :3].mean(0))
    np.testing.assert_allclose(MaxOverTime().forward(x, mask=MASK)[0], x[0, :3].max(0))
    att = AttentionPooling(4)
    np.testing.assert_allclose(att.forward(x, mask=MASK), mean, rtol=1e-14)
    np.testing.assert_allclose(att.attention.sum(1), 1)
    np.testing.assert_array_equal(att.attention[~MASK], 0)
    np.testing.assert_allclose(att.attention[0, :3], 1 / lengths[0])
    np.testing.assert_allclose(MeanOverTime().forward(x), x.mean(1))   # no mask: all real


def test_attention_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5, 4))
    g = rng.standard_normal((3, 4))
    layer = AttentionPooling(4)
    layer.params["q"] = rng.standard_normal(4)
    out = layer.forward(x, mask=MASK)
    dx = layer.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    qt = torch.tensor(layer.params["q"], requires_grad=True)
    s = (xt @ qt).masked_fill(~torch.tensor(MASK), float("-inf"))
    a = torch.softmax(s, dim=1)
    ot = (a[..., None] * xt).sum(1)
    (ot * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(layer.grads["q"], qt.grad.numpy(), rtol=1e-10)


def test_errors_name_what_was_expected_and_what_arrived(rng):
    x = rng.standard_normal((2, 3, 4))
    with pytest.raises(
        TypeError,
        match=r"MeanOverTime.forward: mask must be a boolean array of shape \(2, 3\), "
        r"got dtype int64 \(shape \(2, 3\)\)",
    ):
        MeanOverTime().forward(x, mask=np.ones((2, 3), dtype=np.int64))
    with pytest.raises(
        ValueError, match=r"mask must be a boolean array of shape \(2, 3\), got bool \(2, 4\)"
    ):
        MeanOverTime().forward(x, mask=np.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"every row of mask needs a real position; rows \[1\]"):
        MaxOverTime().forward(x, mask=np.array([[1, 0, 0], [0, 0, 0]], dtype=bool))
    with pytest.raises(ValueError, match=r"x must have shape \(N, T, D\)"):
        MeanOverTime().forward(x[0])
    with pytest.raises(ValueError, match="x must have 5 features, got 4"):
        AttentionPooling(5).forward(x)
    with pytest.raises(RuntimeError, match="AttentionPooling.backward called before forward"):
        AttentionPooling(4).backward(np.zeros((2, 4)))


@pytest.mark.parametrize("make", [MeanOverTime, MaxOverTime, lambda: AttentionPooling(4)])
def test_backward_refuses_a_dout_of_the_wrong_shape_or_dtype(make, rng):
    layer = make()
    name = type(layer).__name__
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    if name == "AttentionPooling":
        layer = AttentionPooling(4, dtype=np.float32)
    layer.forward(x, mask=np.ones((2, 3), dtype=bool))
    for shape in [(1, 4), (2, 1), (2, 3, 4)]:     # each once broadcast silently
        with pytest.raises(ValueError, match=rf"{name}.backward: dout must have shape \(2, 4\), "
                                             rf"got \({shape[0]}, {shape[1]}"):
            layer.backward(np.zeros(shape, dtype=np.float32))
    with pytest.raises(TypeError, match=rf"{name}.backward: dout must have dtype float32"):
        layer.backward(np.zeros((2, 4)))            # float64 would make dx float64


def test_attention_pooling_without_dx_returns_none_and_the_same_gradient_of_q(rng):
    layer = make(AttentionPooling, rng)
    x, dout = rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 4))
    layer.forward(x, mask=MASK)
    dx = layer.backward(dout)
    dq = layer.grads["q"].copy()
    layer.grads["q"] = np.full(4, np.nan)            # must be overwritten, not kept
    layer.forward(x, mask=MASK)
    assert layer.backward(dout, need_dx=False) is None
    assert dx.shape == x.shape
    np.testing.assert_array_equal(layer.grads["q"], dq)


@pytest.mark.parametrize("kind", [MeanOverTime, MaxOverTime, AttentionPooling])
def test_a_sequence_without_positions_is_refused_with_or_without_a_mask(kind, rng):
    layer = make(kind, rng)
    with pytest.raises(
        ValueError,
        match=rf"{kind.__name__}.forward: x must hold at least one position \(T >= 1\) to pool "
        r"over, got shape \(2, 0, 4\)",
    ):
        layer.forward(np.zeros((2, 0, 4)))


@pytest.mark.parametrize("kind", [MeanOverTime, MaxOverTime])
def test_pooling_without_dx_returns_none(kind, rng):
    layer = kind()
    layer.forward(rng.standard_normal((3, 5, 4)), mask=MASK)
    assert layer.backward(np.ones((3, 4)), need_dx=False) is None
