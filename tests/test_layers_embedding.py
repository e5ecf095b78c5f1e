"""Embedding: lookup, sparse gradient with repeated tokens, errors."""

import numpy as np
import pytest

from nnscratch.gradcheck import check_layer
from nnscratch.layers import Embedding


def test_gradient_matches_finite_differences(rng):
    layer = Embedding(7, 3, rng=rng)
    result = check_layer(layer, rng.integers(0, 7, (4, 6)), rng=rng).assert_ok()
    assert set(result.errors) == {"W"}                  # token ids have no gradient


def test_lookup_and_sparse_gradient_with_repeated_tokens(rng):
    layer = Embedding(5, 2, rng=rng)
    x = np.array([[1, 3, 1], [1, 0, 3]])
    out = layer.forward(x)
    np.testing.assert_array_equal(out, layer.params["W"][x])
    dout = rng.standard_normal((2, 3, 2))
    assert layer.backward(dout) is None
    expected = np.zeros((5, 2))
    np.add.at(expected, x, dout)                         # the obvious, slow reference
    np.testing.assert_allclose(layer.grads["W"], expected, rtol=1e-15)
    np.testing.assert_array_equal(layer.grads["W"][[2, 4]], 0)   # absent tokens: zero rows
    np.testing.assert_allclose(layer.grads["W"][1], dout[0, 0] + dout[0, 2] + dout[1, 0])


def test_float32_table_and_seeded_init():
    a = Embedding(6, 4, rng=np.random.default_rng(3), dtype=np.float32)
    b = Embedding(6, 4, rng=np.random.default_rng(3), dtype=np.float32)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    out = a.forward(np.arange(6).reshape(2, 3))
    assert out.shape == (2, 3, 4) and out.dtype == np.float32
    a.backward(np.ones_like(out))
    assert a.grads["W"].dtype == np.float32


def test_errors_name_what_was_expected_and_what_arrived(rng):
    layer = Embedding(5, 2, rng=rng)
    with pytest.raises(TypeError, match=r"Embedding.forward: x must hold integer token ids in \[0, 5\), got dtype float64"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 5\), got values from 0 to 5"):
        layer.forward(np.array([[0, 5]]))
    with pytest.raises(RuntimeError, match="Embedding.backward called before forward"):
        layer.backward(np.zeros((1, 2, 2)))
    layer.forward(np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 2, 2\), got \(1, 2, 3\)"):
        layer.backward(np.zeros((1, 2, 3)))
