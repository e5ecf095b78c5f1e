"""What the package's objects print: ``repr`` of layers, models, optimizers and helpers.

A layer's or an optimizer's ``repr`` is its constructor call without the random generator:
``eval`` of it, with a generator supplied, rebuilds the same configuration. Objects that hold
data (vocabularies, a corpus, a gradient check's result) print a summary instead.
"""

import copy
import functools
import inspect
import sys

import numpy as np
import pytest

import nnscratch
from nnscratch import activations, layers, network, optim
from nnscratch.activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nnscratch.data.tinyshakespeare import CharVocab, TinyShakespeare
from nnscratch.generative import VAE, Reparameterize
from nnscratch.gradcheck import GradCheckResult
from nnscratch.layers import (
    LSTM,
    RNN,
    AttentionPooling,
    AvgPool2D,
    BatchNorm,
    BatchNorm2D,
    Conv2D,
    ConvTranspose2D,
    Dense,
    Dropout,
    Embedding,
    EmbeddingBag,
    Flatten,
    LayerNorm,
    MaxOverTime,
    MaxPool2D,
    MeanOverTime,
    MultiHeadAttention,
    PositionEmbedding,
    SinusoidalPositions,
    Unflatten,
)
from nnscratch.network import Residual, Sequential
from nnscratch.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from nnscratch.schedules import CosineLR, LinearWarmup, Product, Schedule, StepLR
from nnscratch.sentiment import BagOfNgrams, TextClassifier, text_classifier
from nnscratch.text import Vocab
from nnscratch.train import EarlyStopping


def namespace() -> dict:
    """The names a repr may use: the package's classes and numpy's float dtypes.

    The random generator is the one constructor argument a repr leaves out (it is not
    configuration): a class that needs one gets it here, bound by ``functools.partial``.
    """
    classes = {}
    for module in (activations, layers, network, optim):
        classes.update(
            (name, obj)
            for name, obj in vars(module).items()
            if inspect.isclass(obj) and obj.__module__.startswith("nnscratch")
        )
    classes.update(
        VAE=VAE,
        Reparameterize=Reparameterize,
        BagOfNgrams=BagOfNgrams,
        TextClassifier=TextClassifier,
        EarlyStopping=EarlyStopping,
    )
    ns = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
    for name, cls in classes.items():
        needs_rng = "rng" in inspect.signature(cls).parameters
        ns[name] = functools.partial(cls, rng=np.random.default_rng(0)) if needs_rng else cls
    return ns


def rebuilt(obj):
    """``eval(repr(obj))``, checked to be of obj's type and to print the same."""
    text = repr(obj)
    new = eval(text, namespace())
    assert type(new) is type(obj)
    assert repr(new) == text
    return new


def arrays(layer) -> dict:
    """Keys, shapes and dtypes of a layer's parameters and buffers: its architecture."""
    return {
        k: (v.shape, v.dtype)
        for k, v in {**layer.params, **{"buffer " + k: v for k, v in layer.buffers.items()}}.items()
    }


def differ_from_defaults(obj, attrs):
    """Every attribute in ``attrs`` that is also a constructor argument with a default is set
    to something else: a repr that dropped that argument would rebuild the default."""
    params = inspect.signature(type(obj)).parameters
    for a in attrs:
        if a in params and params[a].default is not inspect.Parameter.empty:
            assert getattr(obj, a) != params[a].default, f"{a} is the default"


# (factory of the object, its configuration attributes); arguments differ from the defaults
LAYERS = [
    pytest.param(lambda rng: ReLU(), (), id="ReLU"),
    pytest.param(lambda rng: Sigmoid(), (), id="Sigmoid"),
    pytest.param(lambda rng: Tanh(), (), id="Tanh"),
    pytest.param(lambda rng: GELU(), (), id="GELU"),
    pytest.param(lambda rng: Softmax(), (), id="Softmax"),
    pytest.param(lambda rng: LeakyReLU(0.2), ("alpha",), id="LeakyReLU"),
    pytest.param(
        lambda rng: Dense(3, 5, rng=rng, dtype=np.float32), ("n_in", "n_out", "dtype"), id="Dense"
    ),
    pytest.param(lambda rng: Dropout(0.3, rng=rng), ("p",), id="Dropout"),
    pytest.param(
        lambda rng: BatchNorm(5, momentum=0.2, eps=1e-3, dtype=np.float32),
        ("n_features", "momentum", "eps", "dtype"),
        id="BatchNorm",
    ),
    pytest.param(
        lambda rng: BatchNorm2D(3, momentum=0.05, eps=1e-4, dtype=np.float16),
        ("n_features", "momentum", "eps", "dtype"),
        id="BatchNorm2D",
    ),
    pytest.param(
        lambda rng: LayerNorm(6, eps=1e-6, dtype=np.float32),
        ("n_features", "eps", "dtype"),
        id="LayerNorm",
    ),
    pytest.param(
        lambda rng: Conv2D(2, 3, 5, stride=2, padding=1, rng=rng, dtype=np.float32),
        ("c_in", "c_out", "kernel_size", "stride", "padding", "dtype"),
        id="Conv2D",
    ),
    pytest.param(
        lambda rng: ConvTranspose2D(
            2, 3, 4, stride=3, padding=1, output_padding=2, rng=rng, dtype=np.float32
        ),
        ("c_in", "c_out", "kernel_size", "stride", "padding", "output_padding", "dtype"),
        id="ConvTranspose2D",
    ),
    pytest.param(lambda rng: MaxPool2D(3, stride=1), ("size", "stride"), id="MaxPool2D"),
    pytest.param(lambda rng: AvgPool2D(2, stride=3), ("size", "stride"), id="AvgPool2D"),
    pytest.param(lambda rng: Flatten(), (), id="Flatten"),
    pytest.param(lambda rng: Unflatten((2, 3, 4)), ("shape", "size"), id="Unflatten"),
    pytest.param(
        lambda rng: Embedding(7, 3, rng=rng, dtype=np.float32),
        ("n_tokens", "n_dim", "dtype"),
        id="Embedding",
    ),
    pytest.param(
        lambda rng: EmbeddingBag(7, 3, rng=rng, mode="mean", dtype=np.float32),
        ("n_tokens", "n_dim", "mode", "dtype"),
        id="EmbeddingBag",
    ),
    pytest.param(
        lambda rng: RNN(3, 4, rng=rng, dtype=np.float32, stateful=True),
        ("n_in", "n_hidden", "dtype", "stateful"),
        id="RNN",
    ),
    pytest.param(
        lambda rng: LSTM(3, 4, rng=rng, dtype=np.float32, stateful=True),
        ("n_in", "n_hidden", "dtype", "stateful"),
        id="LSTM",
    ),
    pytest.param(
        lambda rng: MultiHeadAttention(8, 2, rng=rng, causal=True, dtype=np.float32),
        ("n_embed", "n_heads", "causal", "dtype"),
        id="MultiHeadAttention",
    ),
    pytest.param(
        lambda rng: PositionEmbedding(10, 4, rng=rng, dtype=np.float32),
        ("max_len", "n_embed", "dtype"),
        id="PositionEmbedding",
    ),
    pytest.param(
        lambda rng: SinusoidalPositions(10, 4, dtype=np.float32),
        ("max_len", "n_embed", "dtype"),
        id="SinusoidalPositions",
    ),
    pytest.param(lambda rng: MeanOverTime(), (), id="MeanOverTime"),
    pytest.param(lambda rng: MaxOverTime(), (), id="MaxOverTime"),
    pytest.param(
        lambda rng: AttentionPooling(4, dtype=np.float32), ("n_dim", "dtype"), id="AttentionPooling"
    ),
    pytest.param(lambda rng: Reparameterize(rng), (), id="Reparameterize"),
    pytest.param(
        lambda rng: BagOfNgrams(5, dtype=np.float32), ("n_tokens", "dtype"), id="BagOfNgrams"
    ),
]


@pytest.mark.parametrize("make, attrs", LAYERS)
def test_layer_repr_rebuilds_the_same_configuration(make, attrs, rng):
    layer = make(rng)
    differ_from_defaults(layer, attrs)
    new = rebuilt(layer)
    for a in attrs:
        assert getattr(new, a) == getattr(layer, a), a
    assert arrays(new) == arrays(layer)


def test_the_default_layer_repr_names_the_subclass():
    class Square(layers.Layer):
        def forward(self, x, training=False):
            return x * x

    assert repr(Square()) == "Square()"
    assert repr(ReLU()) == "ReLU()"


def test_layer_repr_shows_the_dtype_by_its_numpy_name(rng):
    assert repr(Dense(3, 5, rng=rng, dtype=np.float32)) == "Dense(3, 5, dtype=float32)"
    assert repr(LayerNorm(6, eps=1e-6, dtype=np.float16)) == (
        "LayerNorm(6, eps=1e-06, dtype=float16)"
    )


def test_attention_repr_names_causal_only_when_it_is(rng):
    assert repr(MultiHeadAttention(8, 2, rng=rng)) == (
        "MultiHeadAttention(8, n_heads=2, dtype=float64)"
    )
    assert repr(MultiHeadAttention(8, 2, rng=rng, causal=True)) == (
        "MultiHeadAttention(8, n_heads=2, causal=True, dtype=float64)"
    )


def test_recurrent_repr_names_stateful_only_when_it_is(rng):
    assert repr(LSTM(3, 4, rng=rng)) == "LSTM(3, 4, dtype=float64)"
    assert repr(RNN(3, 4, rng=rng, stateful=True)) == "RNN(3, 4, dtype=float64, stateful=True)"


def test_pooling_repr_shows_the_stride_it_resolved():
    new = rebuilt(AvgPool2D(3))  # stride=None means stride = size
    assert repr(new) == "AvgPool2D(size=3, stride=3)"
    assert new.stride == 3


def test_calling_a_layer_runs_forward_in_the_mode_asked(rng):
    x = rng.standard_normal((8, 3)) * 3 + 1
    bn = BatchNorm(3)
    twin = copy.deepcopy(bn)
    # default: evaluation mode, the running statistics (0 and 1) leave x almost unchanged
    np.testing.assert_array_equal(bn(x), twin.forward(x, training=False))
    np.testing.assert_array_equal(bn.buffers["running_mean"], np.zeros(3))
    # training mode: the batch's statistics, and the running ones move
    out = bn(x, training=True)
    np.testing.assert_array_equal(out, twin.forward(x, training=True))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_array_equal(bn.buffers["running_mean"], twin.buffers["running_mean"])
    assert np.all(bn.buffers["running_mean"] != 0)


# -- nested layers ----------------------------------------------------------------------


def test_sequential_repr_indents_each_nesting_level(rng):
    net = Sequential(
        [Dense(2, 3, rng=rng), ReLU(), Residual(Sequential([Dense(3, 3, rng=rng), Tanh()]))]
    )
    assert repr(net) == (
        "Sequential([\n"
        "  Dense(2, 3, dtype=float64),\n"
        "  ReLU(),\n"
        "  Residual(Sequential([\n"
        "    Dense(3, 3, dtype=float64),\n"
        "    Tanh()\n"
        "  ]))\n"
        "])"
    )


def test_sequential_and_residual_reprs_rebuild_the_same_network(rng):
    net = Sequential(
        [
            Conv2D(1, 4, 3, padding=1, rng=rng, dtype=np.float32),
            BatchNorm2D(4, momentum=0.2, dtype=np.float32),
            Residual(
                Sequential(
                    [Conv2D(4, 4, 3, padding=1, rng=rng, dtype=np.float32), LeakyReLU(0.1)]
                )
            ),
            MaxPool2D(2),
            Flatten(),
            Dropout(0.25, rng=rng),
            Dense(64, 10, rng=rng, dtype=np.float32),
        ]
    )
    new = rebuilt(net)
    assert [type(layer) for layer in new] == [type(layer) for layer in net]
    assert [type(layer) for layer in new[2].body] == [Conv2D, LeakyReLU]
    assert new[2].body[1].alpha == 0.1 and new[5].p == 0.25
    assert arrays(new) == arrays(net)


def test_vae_repr_rebuilds_its_encoder_and_decoder(rng):
    vae = VAE(
        Sequential([Dense(6, 8, rng=rng), ReLU(), Dense(8, 4, rng=rng)]),
        Sequential([Dense(2, 6, rng=rng)]),
        rng=rng,
    )
    assert repr(vae) == (
        "VAE(\n"
        "  encoder=Sequential([\n"
        "    Dense(6, 8, dtype=float64),\n"
        "    ReLU(),\n"
        "    Dense(8, 4, dtype=float64)\n"
        "  ]),\n"
        "  decoder=Sequential([\n"
        "    Dense(2, 6, dtype=float64)\n"
        "  ])\n"
        ")"
    )
    new = rebuilt(vae)
    assert [type(layer) for layer in new.encoder] == [Dense, ReLU, Dense]
    assert arrays(new) == arrays(vae)


def test_text_classifier_repr_without_optional_parts_rebuilds_it(rng):
    model = text_classifier(10, 4, rng=rng, pool="attention")
    assert repr(model) == (
        "TextClassifier(Embedding(10, 4, dtype=float32), AttentionPooling(4, dtype=float32), "
        "Dense(4, 1, dtype=float32))"
    )
    new = rebuilt(model)
    assert new.encoder is None and new.dropout is None
    assert arrays(new) == arrays(model)


def test_text_classifier_repr_names_its_optional_parts_as_the_constructor_does(rng):
    model = text_classifier(10, 4, rng=rng, lstm=3, dropout=0.5)
    assert repr(model) == (
        "TextClassifier(Embedding(10, 4, dtype=float32), MeanOverTime(), "
        "Dense(3, 1, dtype=float32), encoder=LSTM(4, 3, dtype=float32), "
        "dropout=Dropout(p=0.5))"
    )


def test_text_classifier_repr_with_an_encoder_and_dropout_rebuilds_it(rng):
    model = text_classifier(10, 4, rng=rng, lstm=3, dropout=0.5)
    new = rebuilt(model)
    assert arrays(new) == arrays(model) and new.dropout.p == 0.5


# -- optimizers -------------------------------------------------------------------------

OPTIMIZERS = [
    pytest.param(
        lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
        ("lr", "momentum", "nesterov", "weight_decay"),
        id="SGD",
    ),
    pytest.param(
        lambda: RMSprop(0.02, alpha=0.9, eps=1e-6, momentum=0.5, weight_decay=1e-3),
        ("lr", "alpha", "eps", "momentum", "weight_decay"),
        id="RMSprop",
    ),
    pytest.param(
        lambda: Adam(2e-3, betas=(0.8, 0.99), eps=1e-7, weight_decay=1e-4),
        ("lr", "betas", "eps", "weight_decay"),
        id="Adam",
    ),
    pytest.param(
        lambda: AdamW(2e-3, betas=[0.8, 0.99], eps=1e-7, weight_decay=0.05),
        ("lr", "betas", "eps", "weight_decay"),
        id="AdamW",
    ),
]


@pytest.mark.parametrize("make, attrs", OPTIMIZERS)
def test_optimizer_repr_rebuilds_the_same_settings(make, attrs):
    opt = make()
    differ_from_defaults(opt, attrs)
    new = rebuilt(opt)
    for a in attrs:
        assert getattr(new, a) == getattr(opt, a), a


def test_optimizer_repr_shows_sgd_settings_in_constructor_order():
    assert repr(SGD(0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0)"
    )


def test_an_optimizer_subclass_prints_the_base_settings_under_its_own_name():
    class SignSGD(Optimizer):
        def _update(self, key, p, g):
            p -= p.dtype.type(self.lr_for(key)) * np.sign(g)

    opt = SignSGD(0.05, weight_decay=1e-3)
    assert repr(opt) == "SignSGD(lr=0.05, weight_decay=0.001)"
    new = eval(repr(opt), {"SignSGD": SignSGD})
    assert (new.lr, new.weight_decay) == (0.05, 0.001)


def test_optimizer_repr_shows_its_per_parameter_learning_rates():
    opt = Adam(1e-3, lr_scale={"0.W": 0.0})
    assert rebuilt(opt).lr_scale == {"0.W": 0.0}


def test_embedding_bag_repr_shows_its_padding_id(rng):
    bag = EmbeddingBag(7, 3, rng=rng, padding_idx=2)
    assert rebuilt(bag).padding_idx == 2


# -- learning-rate schedules ------------------------------------------------------------


def test_schedule_reprs_give_their_settings_and_leave_out_the_optimizer():
    opt = Adam(0.01)
    warm_cos = Product(LinearWarmup(opt, 30), CosineLR(opt, 1000, lr_min=1e-3))
    assert repr(warm_cos) == (
        "Product(LinearWarmup(warmup=30), CosineLR(t_max=1000, lr_min=0.001))"
    )
    assert repr(StepLR(SGD(0.1), 10, gamma=0.5)) == "StepLR(step_size=10, gamma=0.5)"


@pytest.mark.parametrize(
    "make",
    [
        lambda opt: StepLR(opt, 7, gamma=0.3),
        lambda opt: CosineLR(opt, 50, lr_min=0.01),
        lambda opt: LinearWarmup(opt, 4),
        lambda opt: Product(LinearWarmup(opt, 5), StepLR(opt, 3, gamma=0.5)),
    ],
    ids=["StepLR", "CosineLR", "LinearWarmup", "Product"],
)
def test_a_schedule_repr_rebuilds_the_same_schedule_of_a_given_optimizer(make):
    schedule = make(SGD(0.1))
    # the optimizer a repr leaves out is supplied, as the random generator is for layers
    fresh = SGD(0.1)
    names = {cls.__name__: functools.partial(cls, fresh) for cls in (StepLR, CosineLR, LinearWarmup)}
    names["Product"] = Product
    new = eval(repr(schedule), names)
    assert type(new) is type(schedule) and repr(new) == repr(schedule)
    assert [new.lr_at(e) for e in range(12)] == [schedule.lr_at(e) for e in range(12)]


def test_a_schedule_subclass_prints_its_name_and_no_settings_unless_it_gives_some():
    class Halving(Schedule):
        def factor(self, epoch):
            return 0.5**epoch

    assert repr(Halving(SGD(0.1))) == "Halving()"


# -- training helpers and summaries -----------------------------------------------------


def test_early_stopping_repr_rebuilds_the_same_rule():
    stop = EarlyStopping(patience=3, min_delta=0.01, monitor="val_acc")
    assert repr(stop) == "EarlyStopping(patience=3, min_delta=0.01, monitor='val_acc')"
    differ_from_defaults(stop, ("patience", "min_delta", "monitor"))
    new = rebuilt(stop)
    assert (new.patience, new.min_delta, new.monitor) == (3, 0.01, "val_acc")


def test_vocab_repr_counts_its_tokens_padding_included():
    assert repr(Vocab(["<pad>", "<unk>", "the", "cat"])) == "Vocab(4 tokens)"


def test_char_vocab_repr_counts_its_characters():
    assert repr(CharVocab.from_text("to be or not")) == "CharVocab(7 characters)"


def test_tinyshakespeare_repr_summarizes_the_split():
    text = "to be or not to be"
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    data = TinyShakespeare(text, vocab, ids[:15], ids[15:])
    assert repr(data) == "TinyShakespeare(18 characters, vocab 7, train 15, val 3)"


def test_gradcheck_result_prints_one_row_per_array_with_its_verdict():
    result = GradCheckResult({"W": 3.2e-9, "b": 4.56e-3, "gamma": 1e-7}, tol=1e-7)
    assert str(result) == (
        "       array  rel. error (tolerance 1e-07)\n"
        "           W  3.20e-09  ok\n"
        "           b  4.56e-03  FAIL\n"
        "       gamma  1.00e-07  FAIL"  # at the tolerance fails, as assert_ok says
    )
    with pytest.raises(AssertionError, match="b: 4.56e-03, gamma: 1.00e-07"):
        result.assert_ok()


def test_gradcheck_result_with_nothing_checked_prints_only_the_header():
    assert str(GradCheckResult(tol=1e-5)) == "       array  rel. error (tolerance 1e-05)"


# -- the package ------------------------------------------------------------------------


def test_dir_of_the_package_lists_its_submodules_without_importing_them(monkeypatch):
    # as in a fresh interpreter: plots and cli not imported yet
    for name in ("plots", "cli"):
        monkeypatch.delattr(nnscratch, name, raising=False)
        monkeypatch.delitem(sys.modules, f"nnscratch.{name}", raising=False)
    names = dir(nnscratch)
    assert {"plots", "cli"} <= set(names)
    assert set(nnscratch._SUBMODULES) <= set(names)
    assert "__version__" in names
    assert names == sorted(names)
    assert "nnscratch.plots" not in sys.modules and "nnscratch.cli" not in sys.modules


def test_dir_of_the_package_lists_an_imported_submodule_once():
    assert "optim" in vars(nnscratch)  # imported above
    assert dir(nnscratch).count("optim") == 1
