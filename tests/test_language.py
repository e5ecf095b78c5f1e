"""Character language models: streams, truncated BPTT training, evaluation, seeded sampling."""

import numpy as np
import pytest

from nnscratch.language import (
    carried_state,
    char_model,
    evaluate_lm,
    sample,
    sequence_cross_entropy,
    train_lm,
)
from nnscratch.losses import softmax_cross_entropy
from nnscratch.models import gpt
from nnscratch.optim import SGD, Adam, global_norm
from nnscratch.train import TrainingDiverged

PATTERN = np.array(
    [0, 1, 2, 3, 2, 1] * 300
)  # a periodic "text" over 4 tokens


def small(kind, seed=0, dtype=np.float64):
    return char_model(
        kind,
        4,
        n_embed=3,
        n_hidden=8,
        rng=np.random.default_rng(seed),
        dtype=dtype,
    )


def test_sequence_loss_is_the_mean_over_every_position(rng):
    logits, y = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, (2, 3))
    loss, d = sequence_cross_entropy(logits, y)
    ref, dref = softmax_cross_entropy(logits.reshape(6, 5), y.reshape(6))
    assert loss == ref and d.shape == (2, 3, 5)
    np.testing.assert_array_equal(d.reshape(6, 5), dref)
    with pytest.raises(
        ValueError, match=r"logits must be \(N, T, V\) and y \(N, T\)"
    ):
        sequence_cross_entropy(logits, y[:, :2])


def test_sequence_loss_checks_its_own_arguments_and_says_so(rng):
    logits = rng.standard_normal((2, 3, 5))
    y = np.array([[0, 1, 2], [3, 4, 7]])  # 7 is not a class of V = 5
    with pytest.raises(
        ValueError,
        match=r"sequence_cross_entropy: y must lie in \[0, 5\), got values "
        r"from 0 to 7",
    ):
        sequence_cross_entropy(logits, y)
    with pytest.raises(
        TypeError,
        match="sequence_cross_entropy: y must hold integer class labels, "
        "got dtype float64",
    ):
        sequence_cross_entropy(logits, y.astype(float))
    with pytest.raises(
        TypeError,
        match="sequence_cross_entropy: logits must be a numpy.ndarray, got list",
    ):
        sequence_cross_entropy(logits.tolist(), y)
    with pytest.raises(
        ValueError,
        match=r"sequence_cross_entropy: logits must be \(N, T, V\) and y "
        r"\(N, T\), got \(6, 5\) and \(2, 3\)",
    ):
        sequence_cross_entropy(logits.reshape(6, 5), y)


def test_a_text_too_short_for_its_streams_names_the_caller_and_the_minimum():
    with pytest.raises(
        ValueError,
        match="evaluate_lm: a text of 10 tokens is too short for 8 streams of "
        "at least 2 tokens each; it needs at least 16 tokens",
    ):
        evaluate_lm(small("rnn"), PATTERN[:10], n_rows=8)
    # a stream shorter than a training window (seq_len + 1 tokens) is refused
    # up front, not by a shape mismatch in the loss
    with pytest.raises(
        ValueError,
        match=r"train_lm: a text of 20 tokens is too short for 2 streams of "
        r"at least 11 tokens each; it needs at least \d+ tokens",
    ):
        train_lm(
            small("rnn"),
            Adam(0.01),
            PATTERN[:20],
            rng=np.random.default_rng(0),
            steps=1,
            batch_size=2,
            seq_len=10,
            progress=False,
        )


def test_train_lm_names_itself_for_a_bad_progress():
    with pytest.raises(
        ValueError, match="train_lm: progress must be None, True, False"
    ):
        train_lm(
            small("rnn"),
            Adam(0.01),
            PATTERN,
            rng=np.random.default_rng(0),
            steps=1,
            batch_size=2,
            seq_len=5,
            progress="x",
        )


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_whole_model_gradients_match_finite_differences(kind, rng):
    from nnscratch.gradcheck import numerical_gradient, relative_error

    model = small(kind)
    x, y = rng.integers(0, 4, (2, 6)), rng.integers(0, 4, (2, 6))
    loss, d = sequence_cross_entropy(model.forward(x), y)
    model.backward(d, need_dx=False)
    for k, p in model.params.items():
        num = numerical_gradient(
            lambda: sequence_cross_entropy(model.forward(x), y)[0], p
        )
        assert relative_error(model.grads[k], num) < 1e-7, k


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_training_learns_a_periodic_text_and_is_seeded(kind):
    def run():
        model = small(kind)
        hist = train_lm(
            model,
            Adam(0.02),
            PATTERN,
            rng=np.random.default_rng(1),
            steps=60,
            batch_size=4,
            seq_len=12,
            clip_norm=1.0,
            val_ids=PATTERN[:300],
            eval_every=30,
            progress=False,
        )
        return model, hist

    model, hist = run()
    _, again = run()
    assert hist["val_loss"] == again["val_loss"]  # same seed, same numbers
    assert hist["step"] == [30, 60] and len(hist["loss"]) == 2
    assert hist["val_loss"][-1] < 0.5 * np.log(4)  # far better than uniform
    assert all(
        layer.state is None and not getattr(layer, "stateful", False)
        for layer in model.layers
        if hasattr(layer, "stateful")
    )


@pytest.mark.parametrize("clip_norm", [None, 1e-3])
def test_a_step_moves_the_weights_by_the_clipped_gradient(clip_norm):
    """With SGD one step moves the weights by lr times the gradient, whose norm the report
    gives before clipping: the move's norm is lr * grad_norm unclipped, lr * clip_norm clipped.
    """
    model, lr = small("rnn"), 0.1
    before = {k: p.copy() for k, p in model.params.items()}
    hist = train_lm(
        model,
        SGD(lr),
        PATTERN,
        rng=np.random.default_rng(1),
        steps=1,
        batch_size=4,
        seq_len=12,
        clip_norm=clip_norm,
        progress=False,
    )
    moved = global_norm(
        {k: p - before[k] for k, p in model.params.items()}
    )
    assert hist["grad_norm"][0] > 1e-2  # so a clip at 1e-3 must act
    norm = hist["grad_norm"][0]
    # clip_grad_norm scales by clip_norm / (norm + 1e-6), as PyTorch does
    expected = lr * (clip_norm * norm / (norm + 1e-6) if clip_norm else norm)
    assert moved == pytest.approx(expected, rel=1e-9)
    assert hist["clipped"] == [float(clip_norm is not None)]
    assert hist["lr"] == [lr] and hist["time"][0] > 0


def test_evaluation_does_not_depend_on_the_window_length():
    model = small("lstm")
    a = evaluate_lm(model, PATTERN[:400], n_rows=4, seq_len=7)
    b = evaluate_lm(model, PATTERN[:400], n_rows=4, seq_len=100)
    assert a == pytest.approx(b, rel=1e-12)


def test_carried_state_restores_the_layers_flags_and_state():
    model = small("rnn")
    rnn = model.layers[1]
    with carried_state(model):
        assert rnn.stateful
        model.forward(np.zeros((2, 3), dtype=np.int64))
        assert rnn.state[0].shape == (2, 8)
    assert not rnn.stateful and rnn.state is None


def test_sampling_is_seeded_and_temperature_sharpens():
    model = small("lstm")
    train_lm(
        model,
        Adam(0.02),
        PATTERN,
        rng=np.random.default_rng(1),
        steps=80,
        batch_size=4,
        seq_len=12,
        progress=False,
    )
    prompt = np.array([0, 1, 2])
    a = sample(
        model, prompt, 40, rng=np.random.default_rng(3), temperature=0.5
    )
    b = sample(
        model, prompt, 40, rng=np.random.default_rng(3), temperature=0.5
    )
    np.testing.assert_array_equal(a, b)
    assert (
        a.dtype == np.int64
        and a.shape == (40,)
        and a.min() >= 0
        and a.max() < 4
    )
    cold = sample(
        model, prompt, 60, rng=np.random.default_rng(4), temperature=0.05
    )
    expected = np.tile([3, 2, 1, 0, 1, 2], 10)  # the pattern continues
    assert np.mean(cold == expected) > 0.9
    with pytest.raises(
        ValueError, match="temperature must be positive and finite, got 0"
    ):
        sample(
            model, prompt, 5, rng=np.random.default_rng(0), temperature=0
        )
    with pytest.raises(
        TypeError, match="rng must be a numpy.random.Generator"
    ):
        sample(model, prompt, 5, rng=0)


class FixedLogits:
    """A stand-in model whose next-token logits are always ``z``."""

    def __init__(self, z):
        self.z = np.asarray(z, dtype=np.float64)

    def forward(self, x, training=False):
        return np.broadcast_to(self.z, (*x.shape, len(self.z)))


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_tokens_are_drawn_with_the_softmax_of_the_logits_over_temperature(
    temperature,
):
    z = np.array([0.0, 1.0, 2.0, -1.0])
    n = 40_000
    drawn = sample(
        FixedLogits(z),
        np.array([0]),
        n,
        rng=np.random.default_rng(5),
        temperature=temperature,
        context=1,
    )
    p = np.exp(z / temperature) / np.exp(z / temperature).sum()
    freq = np.bincount(drawn, minlength=len(z)) / n
    # five standard errors of a frequency, at most 0.0125 here
    np.testing.assert_allclose(freq, p, atol=5 * np.sqrt(0.25 / n))


def test_divergence_is_reported():
    model = small("rnn")
    model.layers[2].params["W"][...] = np.inf
    with (
        pytest.raises(
            TrainingDiverged, match="train_lm: the loss is nan at step 1"
        ),
        np.errstate(invalid="ignore"),
    ):
        train_lm(
            model,
            Adam(0.01),
            PATTERN,
            rng=np.random.default_rng(0),
            steps=2,
            batch_size=2,
            seq_len=5,
            progress=False,
        )


class _PoisonAfter:
    """A schedule whose n-th step makes the output layer's weights infinite."""

    def __init__(self, layer, n):
        self.layer, self.n, self.calls = layer, n, 0

    def step(self):
        self.calls += 1
        if self.calls == self.n:
            self.layer.params["W"][...] = np.inf


def test_divergence_names_the_pass_and_the_window_within_it():
    # 50 tokens in 2 streams of 23 to 25 (after an offset below 5): 4 windows
    # of 5 per pass, so step 7 is window 3 of pass 2.
    model = small("rnn")
    with (
        pytest.raises(
            TrainingDiverged,
            match=r"train_lm: the loss is nan at step 7 \(pass 2, window 3\)",
        ) as info,
        np.errstate(invalid="ignore"),
    ):
        train_lm(
            model,
            Adam(0.01),
            PATTERN[:50],
            rng=np.random.default_rng(0),
            steps=10,
            batch_size=2,
            seq_len=5,
            schedule=_PoisonAfter(model.layers[2], 6),
            eval_every=100,
            progress=False,
        )
    assert (info.value.epoch, info.value.batch) == (2, 3)


def test_char_model_refuses_an_unknown_kind():
    with pytest.raises(
        ValueError, match="kind must be 'rnn' or 'lstm', got 'gru'"
    ):
        char_model(
            "gru", 4, n_embed=2, n_hidden=3, rng=np.random.default_rng(0)
        )


def test_sample_with_a_context_window_for_stateless_models():
    model = gpt(
        7,
        block_size=5,
        n_embed=8,
        n_heads=2,
        n_layers=1,
        rng=np.random.default_rng(0),
    )
    prompt = np.array(
        [1, 2, 3, 4, 5, 6, 0]
    )  # longer than the context: its tail is read
    a = sample(model, prompt, 12, rng=np.random.default_rng(3), context=5)
    b = sample(model, prompt, 12, rng=np.random.default_rng(3), context=5)
    assert (
        a.shape == (12,)
        and a.dtype == np.int64
        and a.min() >= 0
        and a.max() < 7
    )
    np.testing.assert_array_equal(a, b)
    with pytest.raises(
        ValueError, match="context must be a positive integer"
    ):
        sample(model, prompt, 3, rng=np.random.default_rng(3), context=0)
    # without context it would read one token a step and forget the rest: refused
    with pytest.raises(ValueError, match="carries no state.*pass context="):
        sample(model, prompt, 3, rng=np.random.default_rng(3))


def test_train_lm_evaluates_a_transformer_on_its_own_context():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 7, 3000)
    model = gpt(7, block_size=16, n_embed=8, n_heads=2, n_layers=1, rng=rng)
    h = train_lm(
        model,
        Adam(1e-2),
        ids,
        rng=rng,
        steps=4,
        batch_size=4,
        seq_len=16,
        val_ids=ids[:600],
        eval_every=2,
        eval_seq_len=16,
    )
    assert len(h["val_loss"]) == 2 and all(np.isfinite(h["val_loss"]))
    with pytest.raises(ValueError, match="T at most max_len = 16"):
        evaluate_lm(model, ids[:600], seq_len=32)


def test_evaluate_lm_with_a_stride_scores_every_character_once_with_its_context():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 5, 2 * 41)
    model = gpt(
        5,
        block_size=8,
        n_embed=8,
        n_heads=2,
        n_layers=1,
        rng=rng,
        dtype=np.float64,
    )
    rows, seq_len, stride = ids.reshape(2, 41), 8, 3
    losses, later_contexts = [], []
    for row in rows:
        for t in range(
            1, row.size
        ):  # target t, read by the first window reaching it
            s = max(0, -(-(t - seq_len) // stride) * stride)
            if s > 0:
                later_contexts.append(t - s)
            z = model.forward(row[None, s:t], training=False)[0, -1]
            losses.append(
                np.log(np.exp(z - z.max()).sum()) + z.max() - z[row[t]]
            )
    got = evaluate_lm(model, ids, n_rows=2, seq_len=seq_len, stride=stride)
    assert abs(got - np.mean(losses)) < 1e-12
    # after the first window, at least seq_len - stride + 1 characters of
    # context, as its docstring says, and no more is promised
    assert min(later_contexts) == seq_len - stride + 1
    # a stride of the whole window is the default, disjoint windows
    assert evaluate_lm(
        model, ids, n_rows=2, seq_len=8, stride=8
    ) == evaluate_lm(model, ids, n_rows=2, seq_len=8)
    with pytest.raises(
        ValueError, match="stride must be at most seq_len = 8, got 9"
    ):
        evaluate_lm(model, ids, n_rows=2, seq_len=8, stride=9)
    lstm = char_model("lstm", 5, n_embed=4, n_hidden=6, rng=rng)
    with pytest.raises(
        ValueError, match="stride is for models without state"
    ):
        evaluate_lm(lstm, ids, n_rows=2, seq_len=8, stride=4)


def test_sample_refuses_float_prompts_and_non_finite_logits():
    model = gpt(7, block_size=5, n_embed=8, n_heads=2, n_layers=1, rng=np.random.default_rng(0))
    for context in (None, 5):  # both ways of reading agree
        with pytest.raises(TypeError, match="sample: prompt must hold integer token ids, got dtype float64"):
            sample(model, np.array([1.9, 2.7]), 3, rng=np.random.default_rng(0), context=context)
    last = model.layers[-1]
    last.params["b"][2] = np.nan  # every logit vector now holds a NaN
    with pytest.raises(ValueError, match=r"sample: the model's logits for token 1 must be finite, got 1 non-finite values of 7, the first nan at index 2"):
        sample(model, np.array([1, 2]), 3, rng=np.random.default_rng(0), context=5)


def test_sample_refuses_an_empty_prompt_before_drawing():
    model = gpt(7, block_size=5, n_embed=8, n_heads=2, n_layers=1, rng=np.random.default_rng(0))
    for context in (None, 5):  # both ways of reading refuse it
        rng = np.random.default_rng(0)
        with pytest.raises(
            ValueError,
            match=r"sample: prompt must hold at least one token, got an empty prompt of "
            r"shape \(0,\)",
        ):
            sample(model, np.array([], dtype=np.int64), 3, rng=rng, context=context)
        assert rng.bit_generator.state == np.random.default_rng(0).bit_generator.state


def test_train_lm_checks_val_ids_before_the_first_step():
    model, opt = small("rnn"), Adam(0.01)
    before = {k: v.copy() for k, v in model.params.items()}
    kw = dict(rng=np.random.default_rng(0), steps=3, batch_size=2, seq_len=5, eval_every=2,
              progress=False)
    for val_ids, error, message in [
        (PATTERN[:40].astype(float), TypeError, "train_lm: val_ids must hold integer token ids, got dtype float64"),
        (PATTERN[:40].reshape(2, 20), ValueError, "val_ids"),
        (PATTERN[:40], ValueError, r"train_lm \(val_ids\): a text of 40 tokens is too short for 32 streams"),
    ]:
        with pytest.raises(error, match=message):
            train_lm(model, opt, PATTERN, val_ids=val_ids, **kw)
        assert opt.t == 0
        for k, v in model.params.items():
            np.testing.assert_array_equal(v, before[k])
