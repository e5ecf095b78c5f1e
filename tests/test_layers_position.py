"""Learned and sinusoidal position encodings: gradients, the fixed table, errors."""

import numpy as np
import pytest

from nnscratch.gradcheck import check_layer
from nnscratch.layers import PositionEmbedding, SinusoidalPositions
from nnscratch.layers.position import sinusoidal_table


def test_learned_positions_gradients(rng):
    check_layer(
        PositionEmbedding(7, 4, rng=rng, std=1.0),
        rng.standard_normal((3, 5, 4)),
        rng=rng,
    ).assert_ok()


def test_sinusoidal_positions_are_fixed_and_pass_the_gradient(rng):
    layer = SinusoidalPositions(10, 6)
    assert layer.params == {}
    x = rng.standard_normal((2, 4, 6))
    np.testing.assert_allclose(
        layer.forward(x) - x,
        np.broadcast_to(sinusoidal_table(10, 6)[:4], x.shape),
        atol=1e-15,
    )
    check_layer(layer, x, rng=rng).assert_ok()
    table = sinusoidal_table(50, 8)
    np.testing.assert_allclose(table[:, 0], np.sin(np.arange(50)))
    np.testing.assert_allclose(
        table[:, 7], np.cos(np.arange(50) / 10000 ** (6 / 8))
    )
    with pytest.raises(ValueError, match="T at most max_len = 10"):
        layer.forward(rng.standard_normal((2, 11, 6)))
    with pytest.raises(ValueError, match="n_embed must be even"):
        sinusoidal_table(4, 5)


def test_learned_positions_accumulate_float16_gradients_in_float32():
    """dP sums over the batch: in float16 a running sum of ones stops at 2048."""
    layer = PositionEmbedding(3, 2, rng=np.random.default_rng(0), dtype=np.float16)
    x = np.zeros((4000, 3, 2), np.float16)
    layer.forward(x, training=True)
    layer.backward(np.ones_like(x))
    assert layer.grads["P"].dtype == np.float16
    np.testing.assert_array_equal(layer.grads["P"], np.full((3, 2), 4000, np.float16))


@pytest.mark.parametrize("make", [lambda: PositionEmbedding(7, 4, rng=np.random.default_rng(0)),
                                  lambda: SinusoidalPositions(7, 4)])
def test_backward_refuses_a_dout_shaped_for_another_batch(make, rng):
    layer = make()
    name = type(layer).__name__
    layer.forward(rng.standard_normal((3, 5, 4)))
    grads = {k: v.copy() for k, v in layer.grads.items()}
    # each a valid (N, T, 4) input for the layer, but not the shape of the last forward's x
    for shape in [(2, 5, 4), (3, 6, 4), (3, 1, 4)]:
        with pytest.raises(ValueError, match=rf"{name}.backward: dout must have shape "
                                             rf"\(3, 5, 4\), got \({shape[0]}, {shape[1]}, 4\)$"):
            layer.backward(rng.standard_normal(shape))
    for k, v in grads.items():
        np.testing.assert_array_equal(layer.grads[k], v)
