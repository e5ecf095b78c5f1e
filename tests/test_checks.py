"""The validation helpers of ``nnscratch._checks`` and the dtype policy they implement,
checked across every layer, loss, activation function and optimizer.

The policy (stated in the ``nnscratch`` docstring): floats in, the same float out; integers
and booleans refused with a TypeError naming the argument; float16 sums accumulated in
float32; float16 parameters stepped with float32 optimizer state. Layers pass an empty batch
through; losses refuse it.
"""

import importlib
import inspect
import math
import pkgutil

import numpy as np
import pytest

import nnscratch
from nnscratch import _checks, activations, losses
from nnscratch import layers as layers_module
from nnscratch.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nnscratch.generative import Reparameterize
from nnscratch.layers import (LSTM, RNN, AttentionPooling, AvgPool2D, BatchNorm, BatchNorm2D, Conv2D, ConvTranspose2D,
                              Dense, Dropout, Flatten, LayerNorm, MaxOverTime, MaxPool2D, MeanOverTime,
                              MultiHeadAttention, PositionEmbedding, SinusoidalPositions, Unflatten)
from nnscratch.network import Residual, Sequential
from nnscratch.optim import SGD, Adam, AdamW, RMSprop

FLOATS = [np.float16, np.float32, np.float64]
NON_FLOATS = [np.int64, np.int32, np.uint8, np.bool_]


def _rng():
    return np.random.default_rng(0)


# name -> (factory(dtype), shape of an input batch of 5 examples)
LAYERS = {
    "Dense": (lambda dt: Dense(4, 3, rng=_rng(), dtype=dt), (5, 4)),
    "Conv2D": (lambda dt: Conv2D(2, 3, 3, padding=1, rng=_rng(), dtype=dt), (5, 2, 6, 6)),
    "ConvTranspose2D": (lambda dt: ConvTranspose2D(2, 3, 4, 2, 1, rng=_rng(), dtype=dt), (5, 2, 3, 3)),
    "MaxPool2D": (lambda dt: MaxPool2D(2), (5, 2, 6, 6)),
    "AvgPool2D": (lambda dt: AvgPool2D(2), (5, 2, 6, 6)),
    "Flatten": (lambda dt: Flatten(), (5, 2, 3, 3)),
    "Unflatten": (lambda dt: Unflatten((2, 2)), (5, 4)),
    "BatchNorm": (lambda dt: BatchNorm(4, dtype=dt), (5, 4)),
    "BatchNorm2D": (lambda dt: BatchNorm2D(2, dtype=dt), (5, 2, 3, 3)),
    "Dropout": (lambda dt: Dropout(0.5, rng=_rng()), (5, 4)),
    "ReLU": (lambda dt: ReLU(), (5, 4)),
    "LeakyReLU": (lambda dt: LeakyReLU(0.1), (5, 4)),
    "Sigmoid": (lambda dt: Sigmoid(), (5, 4)),
    "Tanh": (lambda dt: Tanh(), (5, 4)),
    "Softmax": (lambda dt: Softmax(), (5, 4)),
    "Sequential": (lambda dt: Sequential([Dense(4, 6, rng=_rng(), dtype=dt), ReLU(),
                                          Dense(6, 3, rng=_rng(), dtype=dt)]), (5, 4)),
    "Residual": (lambda dt: Residual(Sequential([Dense(4, 4, rng=_rng(), dtype=dt), Tanh()])), (5, 4)),
    "RNN": (lambda dt: RNN(3, 4, rng=_rng(), dtype=dt), (5, 6, 3)),
    "LSTM": (lambda dt: LSTM(3, 4, rng=_rng(), dtype=dt), (5, 6, 3)),
    "GELU": (lambda dt: GELU(), (5, 4)),
    "LayerNorm": (lambda dt: LayerNorm(4, dtype=dt), (5, 3, 4)),
    "MultiHeadAttention": (lambda dt: MultiHeadAttention(4, 2, rng=_rng(), causal=True, dtype=dt), (5, 3, 4)),
    "PositionEmbedding": (lambda dt: PositionEmbedding(6, 4, rng=_rng(), dtype=dt), (5, 3, 4)),
    "SinusoidalPositions": (lambda dt: SinusoidalPositions(6, 4, dtype=dt), (5, 3, 4)),
    "MeanOverTime": (lambda dt: MeanOverTime(), (5, 3, 4)),
    "MaxOverTime": (lambda dt: MaxOverTime(), (5, 3, 4)),
    "AttentionPooling": (lambda dt: AttentionPooling(4, dtype=dt), (5, 3, 4)),
    "Reparameterize": (lambda dt: Reparameterize(_rng()), (5, 4)),
}
# Public layers the table leaves out, and why.
NOT_IN_LAYERS = {
    "Layer": "the base class",
    "Composite": "a base class; Sequential and Residual stand for it",
    "VAE": "a model made of the layers above (tests/test_generative.py)",
    "BagOfNgrams": "reads integer token ids, not floats (tests/test_sentiment.py)",
    "TextClassifier": "reads integer token ids, not floats (tests/test_sentiment.py)",
    "Embedding": "reads integer token ids, not floats (tests/test_layers_embedding.py)",
    "EmbeddingBag": "reads integer token ids, not floats (tests/test_layers_embedding.py)",
}
LOSSES = {
    "mean_squared_error": (losses.mean_squared_error, (5, 3), lambda n: np.zeros((n, 3))),
    "binary_cross_entropy": (losses.binary_cross_entropy, (5, 1), lambda n: np.arange(n) % 2),
    "softmax_cross_entropy": (losses.softmax_cross_entropy, (5, 3), lambda n: np.arange(n) % 3),
    "bernoulli_nll": (losses.bernoulli_nll, (5, 3), lambda n: (np.arange(3 * n).reshape(n, 3) % 2).astype(float)),
}
NOT_IN_LOSSES = {
    "bernoulli_nll_per_example": "a score per image, not a loss: no gradient (tests/test_losses.py)",
}
ACTIVATION_FUNCTIONS = [activations.sigmoid, activations.sigmoid_prime, activations.tanh, activations.tanh_prime,
                        activations.relu, activations.relu_prime, activations.leaky_relu,
                        activations.leaky_relu_prime, activations.softmax, activations.gelu, activations.gelu_prime]
OPTIMIZERS = {
    "SGD": lambda: SGD(lr=0.01),
    "SGD-momentum": lambda: SGD(lr=0.01, momentum=0.9, nesterov=True),
    "RMSprop": lambda: RMSprop(lr=0.001, momentum=0.5),
    "Adam": lambda: Adam(lr=0.001, weight_decay=1e-4),
    "AdamW": lambda: AdamW(lr=0.001),
}


def test_the_policy_tables_cover_every_public_layer_loss_and_activation():
    """A new layer, loss or activation function is checked here by being added to a table."""
    public_layers = {
        n
        for info in pkgutil.walk_packages(nnscratch.__path__, "nnscratch.")
        for n, o in vars(importlib.import_module(info.name)).items()
        if inspect.isclass(o) and issubclass(o, layers_module.Layer) and o.__module__ == info.name
        and not n.startswith("_")
    }
    assert public_layers - set(NOT_IN_LAYERS) == set(LAYERS)
    public_losses = {
        n for n, o in vars(losses).items()
        if inspect.isfunction(o) and o.__module__ == losses.__name__ and not n.startswith("_")
    }
    assert public_losses - set(NOT_IN_LOSSES) == set(LOSSES)
    public_functions = {
        n for n, o in vars(activations).items()
        if inspect.isfunction(o) and o.__module__ == activations.__name__ and not n.startswith("_")
    }
    assert public_functions == {f.__name__ for f in ACTIVATION_FUNCTIONS}


def _run(layer, x, training=True):
    out = layer.forward(x, training=training)
    dx = layer.backward(np.ones_like(out))
    return out, dx


# ------------------------------------------------------------------- the helpers


def test_check_int_refuses_bools_floats_and_small_values():
    assert _checks.check_int(np.int64(3), "n", "f") == 3
    for bad, kind in ((True, "bool"), (2.0, "float"), ("3", "str"), (None, "NoneType")):
        with pytest.raises(TypeError,
                           match=rf"f: n must be a positive integer, got .* of type {kind}"):
            _checks.check_int(bad, "n", "f")
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf"f: n must be a positive integer, got {bad}$"):
            _checks.check_int(bad, "n", "f")
    with pytest.raises(ValueError, match="non-negative integer, got -1"):
        _checks.check_int(-1, "padding", "f", minimum=0)


def test_wrong_types_raise_type_error_and_wrong_values_value_error():
    # The module docstring's promise, through a public constructor.
    with pytest.raises(TypeError,
                       match=r"Dense: n_in must be a positive integer, got '3' of type str"):
        Dense("3", 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"Dense: n_in must be a positive integer, got 0"):
        Dense(0, 2, rng=np.random.default_rng(0))
    with pytest.raises(TypeError,
                       match=r"SGD: lr must be positive and finite, got '0.1' of type str"):
        SGD("0.1")
    with pytest.raises(ValueError, match=r"SGD: lr must be positive and finite, got -0.1"):
        SGD(-0.1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, -1.0])
def test_check_number_refuses_non_finite_and_out_of_range(bad):
    with pytest.raises(ValueError, match=r"g: lr must be positive and finite, got"):
        _checks.check_number(bad, "lr", "g", low=0, low_open=True)


@pytest.mark.parametrize("bad, kind",
                         [(True, "bool"), ("0.1", "str"), (None, "NoneType"), (1j, "complex")])
def test_check_number_refuses_what_is_not_a_real_number_with_type_error(bad, kind):
    with pytest.raises(TypeError,
                       match=rf"g: lr must be positive and finite, got .* of type {kind}"):
        _checks.check_number(bad, "lr", "g", low=0, low_open=True)


def test_check_number_names_the_interval():
    assert _checks.check_number(np.float32(0.5), "p", "h", low=0, high=1, high_open=True) == 0.5
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\), got 1"):
        _checks.check_number(1, "p", "h", low=0, high=1, high_open=True)


def test_check_rng_names_the_caller():
    with pytest.raises(TypeError, match=r"Thing: rng must be a numpy.random.Generator .*got int"):
        _checks.check_rng(0, "Thing")


def test_check_labels_refuses_what_is_not_an_array_naming_its_type():
    # a list has a len and integer items, but no dtype or shape to check
    for bad, kind in (([0, 1, 1], "list"), ((0, 1, 1), "tuple"), (None, "NoneType")):
        with pytest.raises(TypeError, match=rf"^f: labels must be a numpy.ndarray of integer "
                                            rf"labels, got {kind}$"):
            _checks.check_labels(bad, 3, 2, where="f", name="labels")
    y = np.array([0, 1, 1])
    assert _checks.check_labels(y, 3, 2, where="f", name="labels") is y


def test_accumulation_dtype():
    assert _checks.accumulation_dtype(np.float16) == np.float32
    assert _checks.accumulation_dtype(np.float32) == np.float32
    assert _checks.accumulation_dtype(np.float64) == np.float64


# ------------------------------------------------------------ the layer protocol


@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_declares_buffers_and_accepts_need_dx(name):
    make, shape = LAYERS[name]
    layer = make(np.float64)
    assert isinstance(layer.buffers, dict)
    assert "need_dx" in inspect.signature(layer.backward).parameters
    x = np.random.default_rng(1).standard_normal(shape)
    if isinstance(layer, Dropout):
        layer.forward(x, training=True)
        layer.fix_mask()
    out, dx = _run(layer, x)
    full = {k: v.copy() for k, v in layer.grads.items()}
    layer.forward(x, training=True)
    assert layer.backward(np.ones_like(out), need_dx=False) is None
    assert dx.shape == x.shape
    for k, v in full.items():
        np.testing.assert_array_equal(layer.grads[k], v)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_every_layer_keeps_each_float_dtype(name, dtype):
    make, shape = LAYERS[name]
    layer = make(dtype)
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    out, dx = _run(layer, x)
    assert out.dtype == dtype and dx.dtype == dtype
    assert all(g.dtype == dtype for g in layer.grads.values())
    assert np.isfinite(out).all() and np.isfinite(dx).all()


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dtype", NON_FLOATS)
def test_every_layer_refuses_integer_and_bool_inputs(name, dtype):
    make, shape = LAYERS[name]
    layer = make(np.float64)
    x = np.ones(shape, dtype=dtype)
    with pytest.raises(TypeError, match=rf"\.forward: x must hold floating-point numbers .*"
                                        rf"got dtype {np.dtype(dtype)}; convert it"):
        layer.forward(x, training=True)


@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_refuses_an_integer_dout(name):
    make, shape = LAYERS[name]
    layer = make(np.float64)
    out = layer.forward(np.random.default_rng(3).standard_normal(shape), training=True)
    with pytest.raises(TypeError, match=r"\.backward: dout must hold floating-point numbers .*got dtype int64"):
        layer.backward(np.ones(out.shape, dtype=np.int64))


@pytest.mark.parametrize("name", [n for n in LAYERS if not n.startswith("BatchNorm")])
def test_every_layer_passes_an_empty_batch_through(name):
    make, shape = LAYERS[name]
    layer = make(np.float32)
    x = np.zeros((0,) + shape[1:], dtype=np.float32)
    out, dx = _run(layer, x)
    assert out.shape[0] == 0 and dx.shape == x.shape


def test_batchnorm_refuses_a_training_batch_too_small_for_a_variance_and_passes_it_in_evaluation():
    layer = BatchNorm(4)
    with pytest.raises(ValueError, match="at least 2 examples.*N=0"):
        layer.forward(np.zeros((0, 4)), training=True)
    assert layer.forward(np.zeros((0, 4))).shape == (0, 4)


# ------------------------------------------------------- reductions in float16


def test_batchnorm_statistics_do_not_overflow_in_float16():
    # Deviations of a few hundred: their squares, and the batch sums, exceed float16's 65504,
    # while the variance itself (about 10^4) is a float16.
    x64 = 1000 + 100 * np.random.default_rng(4).standard_normal((64, 3))
    layer16, layer64 = BatchNorm(3, dtype=np.float16), BatchNorm(3)
    out16 = layer16.forward(x64.astype(np.float16), training=True)
    out64 = layer64.forward(x64, training=True)
    assert np.isfinite(out16).all()
    np.testing.assert_allclose(out16, out64, atol=0.02)
    np.testing.assert_allclose(layer16.buffers["running_var"], layer64.buffers["running_var"], rtol=0.01)
    dx = layer16.backward(np.full_like(out16, 1000))
    assert np.isfinite(dx).all() and np.isfinite(layer16.grads["beta"]).all()


def test_average_pooling_does_not_overflow_in_float16():
    x = np.full((1, 1, 4, 4), 60000, dtype=np.float16)   # a window's sum, 240000, is not a float16
    np.testing.assert_array_equal(AvgPool2D(2).forward(x), np.full((1, 1, 2, 2), 60000, np.float16))


@pytest.mark.parametrize("name", LOSSES)
def test_losses_sum_float16_in_float32(name):
    fn, shape, targets = LOSSES[name]
    z = np.full(shape, 300, dtype=np.float16)               # 300**2 and 300 * N overflow float16
    if name == "softmax_cross_entropy":
        z[:, 0] = -300
    loss, dz = fn(z, targets(shape[0]).astype(np.int64 if name != "mean_squared_error" else np.float16))
    assert math.isfinite(loss) and loss > 100
    assert dz.dtype == np.float16 and np.isfinite(dz).all()


def _float16_gradient_cases():
    """Every loss whose gradient carries a 1/N, at N = 70,000 > 65504, float16's largest."""
    from nnscratch import adversarial, generative

    n = 70_000
    z = np.full((n, 1), 0.5, dtype=np.float16)
    labels = np.arange(n) % 2
    return {
        "mean_squared_error": lambda: losses.mean_squared_error(z, np.zeros_like(z))[1],
        "binary_cross_entropy": lambda: losses.binary_cross_entropy(z, labels)[1],
        "softmax_cross_entropy": lambda: losses.softmax_cross_entropy(np.hstack([z, -z]), labels)[1],
        "bernoulli_nll": lambda: losses.bernoulli_nll(z, np.ones_like(z))[1],
        "discriminator_loss": lambda: adversarial.discriminator_loss(z, z)[1],
        "generator_loss": lambda: adversarial.generator_loss(z)[1],
        "gaussian_kl": lambda: generative.gaussian_kl(z, z)[1],
    }


@pytest.mark.parametrize("name", list(_float16_gradient_cases()))
def test_float16_gradients_survive_a_batch_larger_than_float16_can_count(name):
    """float16(70000) is infinite: a 1/N taken in float16 would make every gradient 0."""
    grad = _float16_gradient_cases()[name]()
    assert grad.dtype == np.float16
    assert np.count_nonzero(grad) == grad.size and np.isfinite(grad).all()
    # each entry is a number of order 1 over N (MSE: 2 z / N = 1 / N here)
    assert 1e-6 < np.abs(grad.astype(np.float64)).max() < 1e-4


def test_float16_mean_squared_error_scales_in_float32():
    """2/size is subnormal in float16 (8.0e-7 rounds to 7.75e-7 at 2,500,000 elements)."""
    y_hat = np.full((2_500, 1_000), 100, dtype=np.float16)
    grad = losses.mean_squared_error(y_hat, np.zeros_like(y_hat))[1]
    np.testing.assert_allclose(grad.astype(np.float64), 2 * 100 / y_hat.size, rtol=1e-3)


# --------------------------------------------------------------------- losses


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_losses_keep_each_float_dtype(name, dtype):
    fn, shape, targets = LOSSES[name]
    z = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    loss, dz = fn(z, targets(shape[0]))
    assert isinstance(loss, float) and math.isfinite(loss)
    assert dz.dtype == dtype


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", NON_FLOATS)
def test_losses_refuse_integer_predictions(name, dtype):
    fn, shape, targets = LOSSES[name]
    with pytest.raises(TypeError, match=rf"{name}: (y_hat|z) must hold floating-point numbers.*"
                                        rf"got dtype {np.dtype(dtype)}"):
        fn(np.ones(shape, dtype=dtype), targets(shape[0]))


@pytest.mark.parametrize("name", LOSSES)
def test_losses_refuse_an_empty_batch(name):
    fn, shape, targets = LOSSES[name]
    with pytest.raises(ValueError, match=rf"{name}: .*no examples \(N = 0\)"):
        fn(np.zeros((0,) + shape[1:]), targets(0))


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("fn", [activations.leaky_relu, activations.leaky_relu_prime, activations.softmax,
                                activations.gelu, activations.gelu_prime])
def test_activation_functions_that_would_truncate_refuse_integers(fn):
    with pytest.raises(TypeError, match="must hold floating-point numbers.*got dtype int64"):
        fn(np.array([[-3, 2]]))


@pytest.mark.parametrize("fn", ACTIVATION_FUNCTIONS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_activation_functions_keep_each_float_dtype(fn, dtype):
    z = np.linspace(-3, 3, 8).reshape(2, 4).astype(dtype)
    assert fn(z).dtype == dtype


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_leaky_relu_refuses_a_non_finite_slope(bad):
    with pytest.raises(ValueError, match=r"LeakyReLU: alpha \(the negative slope\) must be finite, got"):
        LeakyReLU(bad)


def test_leaky_relu_refuses_a_slope_that_is_not_a_number():
    with pytest.raises(TypeError, match=r"LeakyReLU: alpha \(the negative slope\) must be finite, "
                                        r"got '0.1' of type str"):
        LeakyReLU("0.1")


# ----------------------------------------------------------------- optimizers


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_optimizers_keep_the_parameters_dtype_and_track_float32(name, dtype):
    rng = np.random.default_rng(6)
    # weights near 0.1, where float16's spacing (about 1e-4) is far below one step's move
    p0 = rng.standard_normal(20) * 0.1
    # small gradients for the adaptive methods: g**2 underflows float16; SGD's move is lr*g,
    # so its gradients are of order 1 to move the weights at all
    scale = 1.0 if name.startswith("SGD") else 1e-3
    grads = [rng.standard_normal(20) * scale for _ in range(5)]
    p_low, p_ref = p0.astype(dtype), p0.copy()
    opt_low, opt_ref = OPTIMIZERS[name](), OPTIMIZERS[name]()
    for g in grads:
        opt_low.step({"w": p_low}, {"w": g.astype(dtype)})
        opt_ref.step({"w": p_ref}, {"w": g})
    assert p_low.dtype == dtype and np.isfinite(p_low).all()
    # the move, not the weights: a weight that never moved must fail
    moved_low = p_low.astype(np.float64) - p0.astype(dtype).astype(np.float64)
    moved_ref = p_ref - p0
    rel = {np.float16: 0.1, np.float32: 1e-4, np.float64: 1e-10}[dtype]
    np.testing.assert_allclose(moved_low, moved_ref, rtol=0, atol=rel * np.abs(moved_ref).max())
    state_dtype = np.float32 if dtype == np.float16 else dtype
    assert all(v.dtype == state_dtype for st in opt_low.state.values() for v in st.values())


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("lr", [math.nan, math.inf, 0.0, -1e-3])
def test_optimizers_refuse_a_non_finite_or_non_positive_lr(name, lr):
    cls = type(OPTIMIZERS[name]())
    with pytest.raises(ValueError, match=rf"{cls.__name__}: lr must be positive and finite, got"):
        cls(lr=lr)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_refuse_integer_parameters_and_change_nothing(name):
    opt = OPTIMIZERS[name]()
    p = np.arange(3)
    with pytest.raises(TypeError, match=r"params\['w'\] has dtype int64; only floating-point"):
        opt.step({"w": p}, {"w": np.ones(3, dtype=np.int64)})
    np.testing.assert_array_equal(p, np.arange(3))
    assert opt.t == 0 and opt.state == {}


@pytest.mark.parametrize("kwargs, words", [
    ({"eps": math.nan}, "eps must be positive and finite"),
    ({"weight_decay": math.inf}, "weight_decay must be non-negative and finite"),
    ({"betas": (0.9, math.nan)}, r"betas\[1\] must be a finite number in \[0, 1\)"),
    ({"betas": 0.9}, "betas must be two numbers"),
])
def test_adam_refuses_bad_hyperparameters(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Adam(**kwargs)


@pytest.mark.parametrize("make", [lambda dt: Dense(2, 3, rng=_rng(), dtype=dt),
                                  lambda dt: Conv2D(1, 2, 3, rng=_rng(), dtype=dt),
                                  lambda dt: BatchNorm(3, dtype=dt)])
@pytest.mark.parametrize("dtype", [np.int64, np.int8, bool, "complex128", "not a dtype"])
def test_layers_refuse_a_parameter_dtype_that_cannot_learn(make, dtype):
    with pytest.raises(TypeError, match=r"dtype must be float16, float32 or float64, got"):
        make(dtype)
