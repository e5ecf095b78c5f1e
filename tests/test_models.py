"""The ready-made MNIST models: shapes, dtype, parameter count, seeding, and a learning check."""

import numpy as np
import pytest

from nnscratch.losses import softmax_cross_entropy
from nnscratch.models import MODELS, mnist_mlp
from nnscratch.optim import Adam


def test_mnist_mlp_shapes_and_parameter_count(rng):
    model = mnist_mlp(rng)
    assert model.n_params == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    out = model.forward(rng.random((5, 784), dtype=np.float32))
    assert out.shape == (5, 10) and out.dtype == np.float32
    assert all(v.dtype == np.float32 for v in model.params.values())


def test_mnist_mlp_dtype_and_seed():
    a, b = mnist_mlp(np.random.default_rng(3), np.float64), mnist_mlp(np.random.default_rng(3), np.float64)
    for k, v in a.params.items():
        assert v.dtype == np.float64
        np.testing.assert_array_equal(v, b.params[k])


def test_mnist_mlp_can_memorise_a_small_batch(rng):
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


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_takes_an_rng_and_a_dtype(name, rng):
    model = MODELS[name](rng, dtype=np.float32)
    assert model.n_params > 0
    assert all(v.dtype == np.float32 for v in model.params.values())


def test_mnist_mlp_dropout_only_while_training(rng):
    model = mnist_mlp(rng)
    x = rng.random((8, 784), dtype=np.float32)
    np.testing.assert_array_equal(model.forward(x), model.forward(x))  # evaluation: deterministic
    assert not np.array_equal(model.forward(x, training=True), model.forward(x, training=True))


def test_mnist_cnn_shapes_parameter_count_and_dtype(rng):
    from nnscratch.models import mnist_cnn

    model = mnist_cnn(rng)
    assert model.n_params == 16 * 25 + 16 + 32 * 16 * 25 + 32 + 512 * 128 + 128 + 128 * 10 + 10
    x = rng.random((3, 1, 28, 28), dtype=np.float32)
    out = model.forward(x, training=True)
    assert out.shape == (3, 10) and out.dtype == np.float32
    dx = model.backward(np.ones_like(out) / 3)
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.grads.values())
    assert MODELS["cnn"] is mnist_cnn


def test_mnist_cnn_same_seed_same_weights():
    from nnscratch.models import mnist_cnn

    a, b = mnist_cnn(np.random.default_rng(5)), mnist_cnn(np.random.default_rng(5))
    for k, v in a.params.items():
        np.testing.assert_array_equal(v, b.params[k])
