"""The ready-made MNIST models: shapes, dtype, parameter count, seeding, and a learning check."""

import numpy as np
import pytest

from nnscratch.losses import softmax_cross_entropy
from nnscratch.gradcheck import check_layer
from nnscratch.models import (
    INPUT_SHAPES,
    MODELS,
    gpt,
    mnist_mlp,
    transformer_block,
)
from nnscratch.optim import Adam


def test_mnist_mlp_shapes_and_parameter_count(rng):
    model = mnist_mlp(rng)
    assert (
        model.n_params == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    )
    out = model.forward(rng.random((5, 784), dtype=np.float32))
    assert out.shape == (5, 10) and out.dtype == np.float32
    assert all(v.dtype == np.float32 for v in model.params.values())


def dropout_masks(model, x):
    """The keep-masks every Dropout layer of ``model`` draws in one training pass on ``x``."""
    from nnscratch.layers import Dropout

    model.forward(x, training=True)
    masks = [k.mask for k in model.layers if isinstance(k, Dropout)]
    assert masks, "expected a model with Dropout layers, got none"
    return masks


def assert_seeded(factory, x):
    """Same seed: same weights and dropout masks; another seed: other ones, every array."""
    a, b, c = (factory(np.random.default_rng(s)) for s in (3, 3, 4))
    for k, v in a.params.items():
        np.testing.assert_array_equal(v, b.params[k])
        if k.endswith(".b"):  # biases start at zero, whatever the seed
            assert not v.any() and not c.params[k].any(), k
        else:
            assert not np.array_equal(v, c.params[k]), (
                f"{k}: expected seeds 3 and 4 to draw different weights, "
                "got equal ones"
            )
    for ma, mb, mc in zip(
        dropout_masks(a, x), dropout_masks(b, x), dropout_masks(c, x)
    ):
        np.testing.assert_array_equal(ma, mb)
        assert not np.array_equal(ma, mc), (
            "expected seeds 3 and 4 to draw different dropout masks, got equal ones"
        )


def test_mnist_mlp_dtype_and_seed():
    a = mnist_mlp(np.random.default_rng(3), np.float64)
    for k, v in a.params.items():
        assert v.dtype == np.float64, f"{k}: expected float64, got {v.dtype}"
    x = np.random.default_rng(0).random((8, 784))
    assert_seeded(lambda r: mnist_mlp(r, np.float64), x)


def test_mnist_mlp_can_memorize_a_small_batch(rng):
    model = mnist_mlp(rng)
    x = rng.random((32, 784), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    opt = Adam(lr=1e-3)
    first = softmax_cross_entropy(model.forward(x, training=True), y)[0]
    for _ in range(100):
        loss, dz = softmax_cross_entropy(model.forward(x, training=True), y)
        model.backward(dz)
        opt.step(model.params, model.grads)
    assert loss < 0.05 * first


def test_every_registered_model_has_an_input_shape():
    assert INPUT_SHAPES.keys() == MODELS.keys()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_takes_an_rng_and_a_dtype(name, rng):
    # float64, not the default float32: a factory that ignored dtype would fail
    model = MODELS[name](rng, dtype=np.float64)
    assert model.n_params > 0
    for k, v in model.params.items():
        assert v.dtype == np.float64, f"{name} {k}: expected float64, got {v.dtype}"
    # a batch of the shape the command line reshapes the images to
    x = rng.random((2,) + INPUT_SHAPES[name])
    out = model.forward(x, training=True)
    assert out.shape == (2, 10) and out.dtype == np.float64, (
        f"{name}: expected logits (2, 10) float64, got {out.shape} {out.dtype}"
    )
    dx = model.backward(np.ones_like(out) / 2)
    assert dx.shape == x.shape and dx.dtype == np.float64
    for k, g in model.grads.items():
        assert g.dtype == np.float64, f"{name} {k}: expected float64, got {g.dtype}"


def test_mnist_mlp_dropout_only_while_training(rng):
    model = mnist_mlp(rng)
    x = rng.random((8, 784), dtype=np.float32)
    np.testing.assert_array_equal(
        model.forward(x), model.forward(x)
    )  # evaluation: deterministic
    assert not np.array_equal(
        model.forward(x, training=True), model.forward(x, training=True)
    )


def test_mnist_cnn_shapes_parameter_count_and_dtype(rng):
    from nnscratch.models import mnist_cnn

    model = mnist_cnn(rng)
    assert (
        model.n_params
        == 16 * 25
        + 16
        + 32 * 16 * 25
        + 32
        + 512 * 128
        + 128
        + 128 * 10
        + 10
    )
    x = rng.random((3, 1, 28, 28), dtype=np.float32)
    out = model.forward(x, training=True)
    assert out.shape == (3, 10) and out.dtype == np.float32
    dx = model.backward(np.ones_like(out) / 3)
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())
    assert MODELS["cnn"] is mnist_cnn


def test_mnist_cnn_same_seed_same_weights_another_seed_other_ones():
    from nnscratch.models import mnist_cnn

    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    assert_seeded(mnist_cnn, x)


def test_mnist_cnn_pooling_is_chosen_and_leaves_the_weights_alone():
    from nnscratch.layers import AvgPool2D, MaxPool2D
    from nnscratch.models import mnist_cnn

    avg = mnist_cnn(np.random.default_rng(5), pool=AvgPool2D)
    mx = mnist_cnn(np.random.default_rng(5))
    kinds = [type(layer) for layer in avg.layers]
    assert kinds.count(AvgPool2D) == 2 and MaxPool2D not in kinds
    assert [type(layer) for layer in mx.layers].count(MaxPool2D) == 2
    for k, v in mx.params.items():  # pooling has no weights to draw
        np.testing.assert_array_equal(v, avg.params[k])
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    assert avg.forward(x).shape == (2, 10)
    assert not np.allclose(avg.forward(x), mx.forward(x))


# ------------------------------------------------------------- block and whole model


def sharpen(model):
    """Weights 20 times GPT-2's 0.02: gradients large enough for a sharp finite-difference check."""
    for k, v in model.params.items():
        if not k.endswith(("gamma", "beta")):
            v *= 20
    return model


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_gradients(causal, rng):
    block = sharpen(
        transformer_block(8, 2, rng=rng, causal=causal, dtype=np.float64)
    )
    check_layer(block, rng.standard_normal((2, 5, 8)), rng=rng).assert_ok()
    assert block.n_params == 12 * 8 * 8 + 13 * 8


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_causal_mask_hides_later_positions(causal, rng):
    block = transformer_block(8, 2, rng=rng, causal=causal, dtype=np.float64)
    x = rng.standard_normal((2, 5, 8))
    out = block.forward(x)
    x2 = x.copy()
    x2[:, -1] = rng.standard_normal((2, 8))  # only the last position changes
    out2 = block.forward(x2)
    assert not np.allclose(out2[:, -1], out[:, -1])
    earlier_change = np.abs(out2[:, :-1] - out[:, :-1]).max(axis=-1)  # (2, 4)
    if causal:  # positions 0..3 cannot see position 4
        np.testing.assert_allclose(out2[:, :-1], out[:, :-1], rtol=0, atol=1e-12)
    else:  # every position attends to the last one
        assert np.all(earlier_change > 1e-6), (
            "expected every earlier position to change without the causal mask, "
            f"got largest changes {earlier_change}"
        )


def test_gpt_gradients_and_causality(rng):
    model = sharpen(
        gpt(
            11,
            block_size=6,
            n_embed=8,
            n_heads=2,
            n_layers=2,
            rng=rng,
            dtype=np.float64,
        )
    )
    x = rng.integers(0, 11, (3, 6))
    check_layer(model, x, rng=rng).assert_ok()
    out = model.forward(x)
    x2 = x.copy()
    x2[:, -1] = (x2[:, -1] + 1) % 11
    np.testing.assert_allclose(
        model.forward(x2)[:, :-1], out[:, :-1], atol=1e-12
    )
    sin = sharpen(
        gpt(
            11,
            block_size=6,
            n_embed=8,
            n_heads=2,
            n_layers=1,
            rng=rng,
            positions="sinusoidal",
            dtype=np.float64,
        )
    )
    check_layer(sin, x, rng=rng).assert_ok()
    with pytest.raises(
        ValueError, match="positions must be 'learned' or 'sinusoidal'"
    ):
        gpt(
            11,
            block_size=6,
            n_embed=8,
            n_heads=2,
            n_layers=1,
            rng=rng,
            positions="rope",
        )


def test_transformer_block_scales_its_residual_projections_by_depth():
    # GPT-2: the projections that write into the residual stream start with std 0.02/sqrt(2L).
    block = transformer_block(
        64, 4, rng=np.random.default_rng(0), n_layers=8, dtype=np.float64
    )
    out_std = 0.02 / np.sqrt(2 * 8)
    assert block.params["0.0.1.W_o"].std() == pytest.approx(
        out_std, rel=0.1
    )
    assert block.params["1.0.3.W"].std() == pytest.approx(out_std, rel=0.1)


def test_mnist_mlp_takes_another_activation_and_initialization():
    from nnscratch.activations import Sigmoid

    model = mnist_mlp(np.random.default_rng(0), activation=Sigmoid, init=1.0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Sigmoid") == 2 and "ReLU" not in kinds
    w = model.layers[0].params["W"]  # 784 x 256 draws of N(0, 1)
    assert abs(float(w.std()) - 1.0) < 0.01
    he = mnist_mlp(np.random.default_rng(0)).layers[0].params["W"]
    assert abs(float(he.std()) - np.sqrt(2 / 784)) < 0.001
