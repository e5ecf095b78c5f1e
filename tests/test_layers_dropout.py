import numpy as np
import pytest

from nnscratch.gradcheck import check_layer
from nnscratch.layers import Dense, Dropout
from nnscratch.network import Sequential


def test_identity_at_evaluation(rng):
    layer = Dropout(0.5, rng=rng)
    x = rng.standard_normal((4, 3))
    assert layer.forward(x) is x
    dout = rng.standard_normal((4, 3))
    assert layer.backward(dout) is dout


def test_training_scales_kept_units_and_backward_uses_same_mask(rng):
    layer = Dropout(0.25, rng=rng)
    x = rng.standard_normal((50, 40))
    out = layer.forward(x, training=True)
    keep = layer.mask
    assert keep.dtype == np.bool_ and keep.shape == x.shape
    np.testing.assert_allclose(out[keep], x[keep] / 0.75)
    assert not out[~keep].any()
    dout = rng.standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(dout), dout * keep / 0.75)


def test_drop_rate_and_expected_value():
    layer = Dropout(0.3, rng=np.random.default_rng(0))
    x = np.ones((400, 500))
    out = layer.forward(x, training=True)
    assert 1 - layer.mask.mean() == pytest.approx(0.3, abs=0.005)   # 200000 draws: sd ~0.001
    assert out.mean() == pytest.approx(1.0, abs=0.01)               # inverted scaling keeps E[y] = x


def test_gradient_check_with_a_fixed_mask(rng):
    layer = Dropout(0.4, rng=rng)
    x = rng.standard_normal((6, 5))
    layer.forward(x, training=True)
    first = layer.mask.copy()
    layer.fix_mask()
    check_layer(layer, x, rng=rng, training=True).assert_ok()
    np.testing.assert_array_equal(layer.mask, first)        # the check saw one mask only
    layer.release_mask()
    layer.forward(x, training=True)
    assert not np.array_equal(layer.mask, first)


def test_fix_mask_with_a_dtype_and_no_mask_rescales_the_last_mask_in_that_dtype(rng):
    # Before, the dtype was ignored: the float64 mask was frozen and the float32 pass raised.
    layer = Dropout(0.3, rng=rng)
    layer.forward(rng.standard_normal((4, 5)), training=True)           # a float64 mask
    keep = layer.mask.copy()
    layer.fix_mask(dtype=np.float32)
    x32 = rng.standard_normal((4, 5)).astype(np.float32)
    out = layer.forward(x32, training=True)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(layer.mask, keep)
    expected = Dropout(0.3, rng=rng).fix_mask(keep, dtype=np.float32).forward(x32, training=True)
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(TypeError, match="Dropout.fix_mask: dtype must be float16, float32 or "
                                        "float64, got <class 'numpy.int64'>"):
        layer.fix_mask(dtype=np.int64)


def test_gradient_check_inside_a_network_with_an_explicit_mask(rng):
    drop = Dropout(0.5, rng=rng)
    net = Sequential([Dense(3, 8, rng=rng), drop, Dense(8, 2, rng=rng)])
    keep = rng.random((5, 8)) >= 0.5
    drop.fix_mask(keep)
    check_layer(net, rng.standard_normal((5, 3)), rng=rng, training=True).assert_ok()
    np.testing.assert_array_equal(drop.mask, keep)


def test_same_seed_same_mask_and_float32():
    x = np.ones((3, 4), dtype=np.float32)
    a = Dropout(0.5, rng=np.random.default_rng(3)).forward(x, training=True)
    b = Dropout(0.5, rng=np.random.default_rng(3)).forward(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32


def test_no_mutation_and_p_zero_is_identity(rng):
    x = rng.standard_normal((4, 3))
    x0 = x.copy()
    layer = Dropout(0.5, rng=rng)
    layer.forward(x, training=True)
    dout = rng.standard_normal((4, 3))
    d0 = dout.copy()
    layer.backward(dout)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)
    assert Dropout(0.0, rng=rng).forward(x, training=True) is x
    assert layer.params == {} and layer.grads == {}


def test_works_on_image_shaped_input(rng):
    x = rng.standard_normal((2, 3, 4, 4))
    out = Dropout(0.5, rng=rng).forward(x, training=True)
    assert out.shape == x.shape


def test_torch_dropout_has_the_same_scaling(rng):
    torch = pytest.importorskip("torch")
    x = torch.ones(1000, 100, dtype=torch.float64)
    with torch.random.fork_rng():  # same seed, same numbers, without touching torch's state
        torch.manual_seed(0)
        out = torch.nn.functional.dropout(x, p=0.2, training=True).numpy()
    ours = Dropout(0.2, rng=rng).forward(x.numpy(), training=True)
    # the same two values, the same drop rate, the same mean (1: inverted dropout),
    # within 0.01 (about eight standard errors of a rate over 100,000 draws)
    for a in (out, ours):
        assert set(np.unique(a)) == {0.0, 1 / 0.8}
        assert np.mean(a == 0) == pytest.approx(0.2, abs=0.01)
        assert a.mean() == pytest.approx(1.0, abs=0.0125)


def test_errors(rng):
    with pytest.raises(ValueError, match=r"\[0, 1\), got 1"):
        Dropout(1.0, rng=rng)
    with pytest.raises(TypeError, match="Generator"):
        Dropout(0.5, rng=1)
    with pytest.raises(RuntimeError, match="before forward"):
        Dropout(0.5, rng=rng).backward(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="no mask yet"):
        Dropout(0.5, rng=rng).fix_mask()
    layer = Dropout(0.5, rng=rng).fix_mask(np.ones((2, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"fixed mask has shape \(2, 2\)"):
        layer.forward(np.zeros((3, 2)), training=True)
    with pytest.raises(TypeError, match="boolean"):
        layer.fix_mask(np.ones((2, 2)))
    layer.forward(np.zeros((2, 2)), training=True)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 2\)"):
        layer.backward(np.zeros((3, 2)))
    layer32 = Dropout(0.5, rng=rng)
    layer32.forward(np.zeros((2, 2), dtype=np.float32), training=True)
    with pytest.raises(TypeError, match="Dropout.backward: dout must have dtype float32"):
        layer32.backward(np.zeros((2, 2)))


@pytest.mark.parametrize("training", [False, True])
def test_dout_is_checked_in_evaluation_mode_too(rng, training):
    layer = Dropout(0.5, rng=rng)
    layer.forward(np.zeros((2, 6), dtype=np.float32), training=training)
    with pytest.raises(ValueError, match=r"Dropout.backward: dout must have shape \(2, 6\), got \(2, 7\)"):
        layer.backward(np.zeros((2, 7), dtype=np.float32))
    with pytest.raises(TypeError, match="Dropout.backward: dout must have dtype float32"):
        layer.backward(np.zeros((2, 6)), need_dx=False)
