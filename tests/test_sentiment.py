"""Sentence classifiers: gradients, padding that changes nothing, training on a toy task."""

import numpy as np
import pytest

from nnscratch import sentiment
from nnscratch.gradcheck import check_layer
from nnscratch.layers import Dense, Embedding, SinusoidalPositions
from nnscratch.layers.masked import MeanOverTime
from nnscratch.losses import binary_cross_entropy
from nnscratch.network import Sequential
from nnscratch.optim import Adam
from nnscratch.sentiment import (
    BagOfNgrams,
    TextClassifier,
    _buckets,
    predict_logits,
    text_classifier,
    train_classifier,
)
from nnscratch.text import PAD, pad

IDS = np.array([[3, 4, 5, 0, 0], [6, 0, 0, 0, 0], [2, 7, 7, 3, 5], [4, 2, 0, 0, 0]])


@pytest.mark.parametrize("kw", [dict(pool="mean"), dict(pool="max"),
                                dict(pool="attention"), dict(pool="mean", lstm=3),
                                dict(pool="attention", lstm=3)])
def test_every_classifier_passes_the_gradient_check(kw, rng):
    model = text_classifier(8, 4, rng=rng, dtype=np.float64, **kw)
    if kw["pool"] == "attention":
        model.pool.params["q"][:] = rng.standard_normal(model.pool.params["q"].shape)
    check_layer(model, IDS, rng=rng).assert_ok()


@pytest.mark.parametrize("kw", [dict(pool="max"), dict(pool="attention", lstm=3)])
def test_padding_changes_nothing_and_its_embedding_gets_exactly_zero(kw, rng):
    model = text_classifier(8, 4, rng=rng, dtype=np.float64, **kw)
    z = model.forward(IDS)
    # six more padding steps for every sentence, kept (not trimmed as trailing all-padding
    # columns would be) by a fifth sentence as long as the padded ones
    longer = np.concatenate([IDS, np.zeros((4, 6), np.int64)], axis=1)
    longer = np.vstack([longer, np.full((1, longer.shape[1]), 3)])
    np.testing.assert_allclose(model.forward(longer)[:4], z, rtol=1e-12)
    model.forward(IDS)
    g = rng.standard_normal((4, 1))
    model.backward(g)
    assert np.all(model.grads["embed.W"][PAD] == 0.0)
    one = model.forward(IDS[1:2, :1])                 # a sentence alone, without padding
    np.testing.assert_allclose(one, z[1:2], rtol=1e-13)


def test_bag_of_ngrams_is_logistic_regression_on_scaled_binary_features(rng):
    v = 9
    r = rng.standard_normal(v)
    model = BagOfNgrams(v, r)
    model.params["w"][:] = rng.standard_normal(v)
    model.params["b"][:] = 0.3
    bags = np.array([[2, 5, 8], [3, 0, 0], [4, 5, 0]])
    dense = np.zeros((3, v))
    np.put_along_axis(dense, bags, 1.0, axis=1)
    dense[:, PAD] = 0
    z = model.forward(bags)
    np.testing.assert_allclose(z[:, 0], (dense * r) @ model.params["w"] + 0.3, rtol=1e-13)
    y = np.array([1, 0, 1])
    _, dz = binary_cross_entropy(z, y)
    model.backward(dz)
    np.testing.assert_allclose(model.grads["w"], (dense * r).T @ dz[:, 0], rtol=1e-12)
    assert model.grads["w"][PAD] == 0
    check_layer(model, bags, rng=rng).assert_ok()
    with pytest.raises(ValueError, match=r"r must have shape \(9,\), got \(3,\)"):
        BagOfNgrams(v, np.ones(3))


def toy(rng, n=400):
    """Sentences of random words 3..9; positive iff token 2 ('good') appears."""
    seqs, y = [], []
    for _ in range(n):
        s = rng.integers(3, 12, rng.integers(1, 8))
        label = rng.random() < 0.5
        if label:
            s[rng.integers(len(s))] = 2
        seqs.append(s)
        y.append(int(label))
    return pad(seqs), np.array(y)


@pytest.mark.parametrize("kw", [dict(pool="max"), dict(pool="mean", lstm=8)])
def test_training_learns_a_keyword_task_and_is_seeded(kw):
    x, y = toy(np.random.default_rng(0))
    runs = []
    for _ in range(2):
        model = text_classifier(12, 8, rng=np.random.default_rng(1), **kw)
        h = train_classifier(model, x[:300], y[:300], optimizer=Adam(0.02),
                             rng=np.random.default_rng(2), epochs=8, batch_size=20,
                             val=(x[300:], y[300:]), clip_norm=5.0)
        runs.append(h)
    assert runs[0] == runs[1]                                       # same seed, same numbers
    assert runs[0]["val_acc"][-1] > 0.9 and runs[0]["loss"][-1] < runs[0]["loss"][0]
    # the recorded accuracy is the trained model's on the validation set, all 100 sentences
    # in one forward pass (padding changes nothing), without predict_logits' batches
    z = model.forward(x[300:], training=False)
    assert z.shape == (100, 1) and np.mean((z[:, 0] > 0) == y[300:]) == runs[0]["val_acc"][-1]


def test_predict_logits_is_the_models_forward_for_every_row_in_every_batch():
    # 45 sentences of lengths 1..7 in batches of 7 (sorted by length): every row of every
    # batch, the last one short, is the model's output for that sentence alone, in evaluation
    # mode (the dropout would change it in training)
    x, _ = toy(np.random.default_rng(3), 45)
    model = text_classifier(
        12,
        4,
        rng=np.random.default_rng(0),
        dtype=np.float64,
        pool="mean",
        lstm=3,
        dropout=0.5,
    )
    z = predict_logits(model, x, batch_size=7)
    assert z.shape == (45, 1)
    for i, n in enumerate((x != PAD).sum(axis=1)):
        np.testing.assert_allclose(
            z[i],
            model.forward(x[i : i + 1, :n], training=False)[0],
            rtol=1e-12,
            err_msg=f"row {i}",
        )


def test_buckets_partition_every_epoch_into_batches_of_similar_lengths():
    lengths = np.random.default_rng(1).integers(1, 30, 100)
    # one chunk (100 <= 7 * 20): the batches are the sorted examples cut every 7, shuffled
    batches = _buckets(lengths, 7, np.random.default_rng(0))
    assert [len(b) for b in batches].count(7) == 14 and len(batches) == 15
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(100))
    by_length = sorted(batches, key=lambda b: (lengths[b].min(), lengths[b].max()))
    np.testing.assert_array_equal(lengths[np.concatenate(by_length)], np.sort(lengths))
    assert [b.tolist() for b in batches] != [b.tolist() for b in by_length]  # shuffled
    # chunks of 3 batches: each epoch (one call) still partitions the examples, into batches
    # of at most 7, each sorted by length
    rng = np.random.default_rng(0)
    for _ in range(3):
        batches = _buckets(lengths, 7, rng, chunk=3)
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(100))
        assert all(1 <= len(b) <= 7 for b in batches)
        assert all(np.all(np.diff(lengths[b]) >= 0) for b in batches)


def test_train_classifier_loss_is_the_size_weighted_mean_of_its_batch_losses(
    monkeypatch,
):
    # 50 sentences in batches of 15: three of 15 and one of 5 per epoch. The epoch's loss
    # weighs each batch's mean loss by its size and divides by N = 50.
    x, y = toy(np.random.default_rng(0), 50)
    seen = []  # (loss, batch size) of every batch trained on

    def recording(z, t):
        loss, dz = binary_cross_entropy(z, t)
        seen.append((loss, len(t)))
        return loss, dz

    monkeypatch.setattr(sentiment, "binary_cross_entropy", recording)
    h = train_classifier(
        text_classifier(12, 4, rng=np.random.default_rng(1)),
        x,
        y,
        optimizer=Adam(0.05),
        rng=np.random.default_rng(2),
        epochs=2,
        batch_size=15,
    )
    assert len(seen) == 8 and len(h["loss"]) == 2
    for epoch in range(2):
        batch = seen[4 * epoch : 4 * epoch + 4]
        assert sorted(n for _, n in batch) == [5, 15, 15, 15]
        assert h["loss"][epoch] == pytest.approx(
            sum(loss * n for loss, n in batch) / 50, rel=1e-12
        )


def test_training_logs_one_line_per_epoch_and_errors_are_clear():
    x, y = toy(np.random.default_rng(0), 50)
    lines = []
    train_classifier(BagOfNgrams(12), x, y, optimizer=Adam(0.1),
                     rng=np.random.default_rng(0), epochs=2, log=lines.append)
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2  loss")
    with pytest.raises(ValueError, match=r"ids must be \(N, T\) and y \(N,\)"):
        train_classifier(BagOfNgrams(12), x, y[:-1], optimizer=Adam(0.1),
                         rng=np.random.default_rng(0), epochs=1)
    with pytest.raises(ValueError, match="pool must be one of"):
        text_classifier(5, 2, rng=np.random.default_rng(0), pool="sum")


def test_transformer_encoder_passes_the_gradient_check_and_ignores_padding(rng):
    model = text_classifier(8, 4, rng=rng, dtype=np.float64, pool="attention",
                            transformer=2, max_len=12)
    model.pool.params["q"][:] = rng.standard_normal(4)
    check_layer(model, IDS, rng=rng).assert_ok()
    z = model.forward(IDS)
    for i, n in enumerate((IDS != PAD).sum(axis=1)):             # causal: padding unseen
        np.testing.assert_allclose(model.forward(IDS[i : i + 1, :n]), z[i : i + 1], rtol=1e-12)
    model.forward(IDS)
    model.backward(np.ones_like(z))
    assert np.all(model.grads["embed.W"][PAD] == 0.0)
    with pytest.raises(ValueError, match="an LSTM or a Transformer encoder, not both"):
        text_classifier(8, 4, rng=rng, lstm=3, transformer=2)


# -- inputs refused before anything changes -------------------------------------------------

def test_bag_of_ngrams_checks_its_ids_before_looking_up_r():
    model = BagOfNgrams(10)
    with pytest.raises(ValueError, match=r"BagOfNgrams.forward: x must lie in \[0, 10\), "
                                         r"got values from 1 to 12"):
        model.forward(np.array([[1, 12]]))
    with pytest.raises(TypeError, match=r"BagOfNgrams.forward: x must be a \(N, L\) array of "
                                        r"integer token ids in \[0, 10\), got dtype float64"):
        model.forward(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"BagOfNgrams.forward: x must have 2 dimensions, "
                                         r"got shape \(2,\)"):
        model.forward(np.array([1, 2]))
    assert model.forward(np.array([[1, 9]], np.int32)).shape == (1, 1)


def test_text_classifier_checks_dropout_and_its_input():
    rng = np.random.default_rng(0)
    for bad in (-0.3, 1.0):  # -0.3 used to build a model without dropout
        with pytest.raises(ValueError, match=r"text_classifier: dropout must be a finite number "
                                             r"in \[0, 1\), got "):
            text_classifier(20, 4, rng=rng, dropout=bad)
    # checked before the rng draws the first weights
    state = rng.bit_generator.state
    with pytest.raises(ValueError, match="pool must be one of"):
        text_classifier(20, 4, rng=rng, pool="sum")
    assert rng.bit_generator.state == state
    model = text_classifier(20, 4, rng=rng, dropout=0.5)
    assert model.dropout is not None and model.dropout.p == 0.5
    with pytest.raises(ValueError, match=r"TextClassifier.forward: x must have 2 dimensions, "
                                         r"got shape \(3,\)"):
        model.forward(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"TextClassifier.forward: x must lie in "
                                         r"\[0, 20\), got values from 1 to 20"):
        model.forward(np.array([[1, 20]]))
    with pytest.raises(ValueError, match="predict_logits: batch_size must be a positive "
                                         "integer, got 0"):
        predict_logits(model, IDS, batch_size=0)
    with pytest.raises(ValueError, match=r"predict_logits: ids must have 2 dimensions"):
        predict_logits(model, IDS[0])


def test_train_classifier_checks_every_label_and_id_before_the_first_step():
    x, y = toy(np.random.default_rng(0), 40)

    def attempt(**kw):
        model = text_classifier(12, 4, rng=np.random.default_rng(0))
        before = {k: v.copy() for k, v in model.params.items()}
        opt = Adam(0.01)
        args = dict(ids=x, y=y) | kw
        with pytest.raises((ValueError, TypeError)) as err:
            train_classifier(model, args.pop("ids"), args.pop("y"), optimizer=opt,
                             rng=np.random.default_rng(0), epochs=1, batch_size=4, **args)
        assert opt.t == 0
        assert all(np.array_equal(before[k], v) for k, v in model.params.items())
        return err

    y2 = y.copy()
    y2[-1] = 2      # used to train a few batches, then raise in the loss
    err = attempt(y=y2)
    assert err.type is ValueError
    assert err.match(r"train_classifier: y must contain only 0 and 1, got 1 other values: \[2\]")
    err = attempt(y=y.astype(float))
    assert err.type is TypeError
    assert err.match("train_classifier: y must hold integer class labels, got dtype float64")
    x2 = x.copy()
    x2[-1, 0] = 12  # past the vocabulary, in the last batches
    err = attempt(ids=x2)
    assert err.type is ValueError
    assert err.match(r"train_classifier: ids must lie in \[0, 12\), got values from 0 to 12")
    # (N, 1) validation labels broadcast to (N, N) and reported a wrong accuracy
    err = attempt(val=(x, y[:, None]))
    assert err.type is ValueError
    assert err.match(r"train_classifier: y_val must have shape \(40,\) to match the batch, "
                     r"got \(40, 1\)")
    err = attempt(val=(x, 2 * y))
    assert err.type is ValueError and err.match("y_val must contain only 0 and 1")
    err = attempt(val=(x.astype(float), y))
    assert err.type is TypeError
    assert err.match(r"train_classifier: ids_val must hold integer token ids in \[0, 12\), "
                     r"got dtype float64")
    err = attempt(val={"ids_val": x, "y_val": y})
    assert err.type is TypeError
    assert err.match(r"train_classifier: val must be a pair \(ids_val, y_val\), got dict")
    err = attempt(val=(x,))
    assert err.type is ValueError and err.match(r"val must be a pair \(ids_val, y_val\), got 1")
    err = attempt(ids=x[:0], y=y[:0])
    assert err.type is ValueError and err.match("ids holds no examples")
    # int32 ids and labels train
    model = text_classifier(12, 4, rng=np.random.default_rng(0))
    h = train_classifier(model, x.astype(np.int32), y.astype(np.int32), optimizer=Adam(0.01),
                         rng=np.random.default_rng(0), epochs=1,
                         val=(x.astype(np.int32), y.astype(np.int32)))
    assert len(h["val_acc"]) == 1


@pytest.mark.parametrize("attr", ["params", "grads"])
def test_text_classifier_arrays_belong_to_its_parts_and_cannot_be_replaced(attr):
    model = text_classifier(12, 4, rng=np.random.default_rng(0))
    before = getattr(model, attr)
    copies = {k: v.copy() for k, v in before.items()}
    with pytest.raises(AttributeError, match=rf"TextClassifier.{attr} is assembled from its "
                                             r"parts; set the arrays there \(only \{\} may be "
                                             r"assigned\), got a non-empty dict"):
        setattr(model, attr, {"embed.W": np.zeros((12, 4), np.float32)})
    setattr(model, attr, {})  # what Layer.__init__ assigns: accepted, and changes nothing
    after = getattr(model, attr)
    assert after.keys() == before.keys()
    for k, v in after.items():  # still the parts' own arrays, untouched
        assert v is before[k] and np.array_equal(v, copies[k])
    assert after["embed.W"] is getattr(model.embed, attr)["W"]


def test_train_classifier_checks_clip_norm_first():
    x, y = toy(np.random.default_rng(0), 8)
    model = text_classifier(12, 4, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="train_classifier: clip_norm must be"):
        train_classifier(model, x, y, optimizer=Adam(0.01), rng=np.random.default_rng(0),
                         epochs=1, batch_size=4, clip_norm=-1.0)


def test_train_classifier_checks_every_length_against_the_encoders_positions_first():
    # 40 sentences of 3 tokens and one of 12, for positions up to max_len = 8: the long one
    # used to raise in PositionEmbedding.forward mid-epoch, after the optimizer's first steps
    rng = np.random.default_rng(0)
    x = pad([rng.integers(2, 12, 3) for _ in range(40)] + [rng.integers(2, 12, 12)])
    y = rng.integers(0, 2, 41)

    def transformer():
        return text_classifier(
            12, 4, rng=np.random.default_rng(0), transformer=2, max_len=8
        )

    def attempt(make, ids, labels, val=None):
        model = make()
        before = {k: v.copy() for k, v in model.params.items()}
        opt = Adam(0.01)
        with pytest.raises(ValueError) as err:
            train_classifier(
                model,
                ids,
                labels,
                optimizer=opt,
                rng=np.random.default_rng(0),
                epochs=1,
                batch_size=4,
                val=val,
            )
        assert opt.t == 0
        assert all(np.array_equal(before[k], v) for k, v in model.params.items())
        return err

    err = attempt(transformer, x, y)
    assert err.match(
        r"^train_classifier: ids must hold sentences of at most max_len = 8 tokens "
        r"\(the positions of the model's encoder\), got 1 longer, the first in "
        r"row 40, the longest of 12 tokens; cut them \(pad\(\.\.\., max_len=8\)\) "
        r"or build the model with max_len >= 12$"
    )
    # the validation set too, which used to be read only after the first epoch's steps
    err = attempt(transformer, x[:40], y[:40], val=(x[[5, 40, 40]], y[[5, 40, 40]]))
    assert err.match(
        r"^train_classifier: ids_val must hold sentences of at most max_len = 8 "
        r"tokens .*, got 2 longer, the first in row 1, the longest of 12 tokens"
    )

    # any encoder's positions, however deep, e.g. fixed ones for sentences of up to 6 tokens
    def sinusoidal():
        r = np.random.default_rng(0)
        encoder = Sequential(
            [Sequential([SinusoidalPositions(6, 4, dtype=np.float32)])]
        )
        return TextClassifier(
            Embedding(12, 4, rng=r, dtype=np.float32),
            MeanOverTime(),
            Dense(4, 1, rng=r, dtype=np.float32),
            encoder=encoder,
        )

    err = attempt(sinusoidal, x[:40], y[:40], val=(x[[0, 40], :7], y[[0, 40]]))
    assert err.match(
        r"ids_val must hold sentences of at most max_len = 6 tokens .*, got 1 "
        r"longer, the first in row 1, the longest of 7 tokens"
    )
    # a sentence of exactly max_len tokens trains, however much padding follows it: the
    # batch is cut to its longest sentence before the encoder
    x8 = np.zeros((41, 20), np.int64)
    x8[:, :8] = x[:, :8]
    model, opt = transformer(), Adam(0.01)
    h = train_classifier(
        model,
        x8,
        y,
        optimizer=opt,
        rng=np.random.default_rng(0),
        epochs=1,
        batch_size=4,
        val=(x8, y),
    )
    assert opt.t == 11 and len(h["val_acc"]) == 1


def test_a_classifier_with_dropout_passes_the_gradient_check_in_training(rng):
    # the gradient goes back through the dropped units' mask, frozen here so that every
    # training-mode forward of the check drops the same units
    model = text_classifier(8, 4, rng=rng, dtype=np.float64, lstm=3, dropout=0.5)
    model.forward(IDS, training=True)
    mask = model.dropout.fix_mask().mask
    assert mask.any() and not mask.all()
    check_layer(model, IDS, rng=rng, training=True).assert_ok()
