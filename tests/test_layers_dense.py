import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnscratch.gradcheck import check_layer
from nnscratch.layers import Dense


def test_dense_gradients_match_finite_differences(rng):
    layer = Dense(4, 3, rng=rng)
    check_layer(layer, rng.standard_normal((5, 4)), rng=rng).assert_ok()


def test_dense_backward_formulas(rng):
    layer = Dense(3, 2, rng=rng)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    out = layer.forward(x)
    np.testing.assert_allclose(out, x @ layer.params["W"] + layer.params["b"])
    dx = layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], x.T @ dout)
    np.testing.assert_allclose(layer.grads["b"], dout.sum(axis=0))
    np.testing.assert_allclose(dx, dout @ layer.params["W"].T)


def test_backward_overwrites_rather_than_accumulates(rng):
    layer = Dense(3, 2, rng=rng)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x)
    layer.backward(dout)
    first = layer.grads["W"].copy()
    layer.backward(dout)
    np.testing.assert_array_equal(layer.grads["W"], first)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 8), n_in=st.integers(1, 8), n_out=st.integers(1, 8),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_shapes_dtypes_and_no_mutation(n, n_in, n_out, dtype, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(n_in, n_out, rng=rng, dtype=dtype)
    assert layer.params["W"].shape == (n_in, n_out) and layer.params["b"].shape == (n_out,)
    assert layer.params.keys() == layer.grads.keys()
    x = rng.standard_normal((n, n_in)).astype(dtype)
    dout = rng.standard_normal((n, n_out)).astype(dtype)
    x0, d0 = x.copy(), dout.copy()
    out = layer.forward(x, training=True)
    dx = layer.backward(dout)
    assert out.shape == (n, n_out) and out.dtype == dtype
    assert dx.shape == (n, n_in) and dx.dtype == dtype
    assert all(layer.grads[k].shape == layer.params[k].shape for k in layer.params)
    assert all(g.dtype == dtype for g in layer.grads.values())
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


def test_same_seed_same_weights():
    a = Dense(5, 4, rng=np.random.default_rng(7))
    b = Dense(5, 4, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])


@pytest.mark.parametrize("init, std", [("he", np.sqrt(2 / 400)), ("glorot", np.sqrt(2 / 500)), (0.5, 0.5)])
def test_initial_weight_scale(init, std):
    layer = Dense(400, 100, rng=np.random.default_rng(0), init=init)
    assert layer.params["W"].std() == pytest.approx(std, rel=0.02)
    assert not layer.params["b"].any()


def test_errors_name_expected_and_actual(rng):
    layer = Dense(3, 2, rng=rng)
    with pytest.raises(ValueError, match=r"shape \(N, 3\), got \(4, 5\)"):
        layer.forward(np.zeros((4, 5)))
    with pytest.raises(TypeError, match="dtype float64, got float32"):
        layer.forward(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="2 dimensions"):
        layer.forward(np.zeros(3))
    with pytest.raises(RuntimeError, match="before forward"):
        Dense(3, 2, rng=rng).backward(np.zeros((1, 2)))
    layer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(4, 2\), got \(4, 3\)"):
        layer.backward(np.zeros((4, 3)))
    with pytest.raises(TypeError, match="Generator"):
        Dense(3, 2, rng=0)
    with pytest.raises(ValueError, match="positive integer"):
        Dense(0, 2, rng=rng)
    with pytest.raises(ValueError, match="init must be"):
        Dense(3, 2, rng=rng, init="xavier-ish")


def test_backward_without_dx_gives_the_same_parameter_gradients(rng):
    layer = Dense(5, 3, rng=rng)
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    layer.forward(x)
    dx = layer.backward(dout)
    dW, db = layer.grads["W"].copy(), layer.grads["b"].copy()
    layer.forward(x)
    assert layer.backward(dout, need_dx=False) is None
    np.testing.assert_array_equal(layer.grads["W"], dW)
    np.testing.assert_array_equal(layer.grads["b"], db)
    np.testing.assert_allclose(dx, dout @ layer.params["W"].T)


def test_a_sequence_is_mapped_step_by_step_without_copying_it(rng):
    """Dense on (N, T, D): every step is a row; the contiguous input is kept, not copied."""
    layer = Dense(3, 2, rng=rng)
    x = rng.standard_normal((4, 5, 3))
    out = layer.forward(x)
    assert out.shape == (4, 5, 2)
    np.testing.assert_allclose(out[:, 2], x[:, 2] @ layer.params["W"] + layer.params["b"])
    assert np.shares_memory(layer._x, x)                       # kept by reference
    dout = rng.standard_normal((4, 5, 2))
    dx = layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], sum(x[:, t].T @ dout[:, t] for t in range(5)))
    assert dx.shape == x.shape
