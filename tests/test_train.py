import re

import numpy as np
import pytest

from nnscratch import losses
from nnscratch.activations import ReLU
from nnscratch.data import make_blobs, make_moons
from nnscratch.layers import Dense
from nnscratch.metrics import accuracy
from nnscratch.network import Sequential
from nnscratch.optim import SGD, Adam
from nnscratch.progress import format_epoch
from nnscratch.schedules import StepLR
from nnscratch.train import EarlyStopping, History, evaluate, fit

LINE = re.compile(r"^epoch +\d+/\d+(  [a-z_]+ -?\d+\.\d{4}(/-?\d+\.\d{4})?)+(  lr [0-9.e-]+)?  \d+\.\d s$")


def _model(seed, dtype=np.float64, width=16, n_in=2, n_out=3):
    rng = np.random.default_rng(seed)
    return Sequential([Dense(n_in, width, rng=rng, dtype=dtype), ReLU(), Dense(width, n_out, rng=rng, dtype=dtype)])


def _blobs(n=300, seed=0):
    X, y = make_blobs(n, np.random.default_rng(seed))
    return X, y


def test_accuracy_multiclass_and_binary():
    assert accuracy(np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(np.array([1.5, -0.2, 0.3]), np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(np.array([[1.5], [-0.2]]), np.array([1, 0])) == 1.0
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        accuracy(np.zeros((3, 2)), np.zeros(2, dtype=int))


def test_evaluate_matches_full_batch():
    X, y = _blobs()
    model = _model(1)
    loss, acc = evaluate(model, losses.softmax_cross_entropy, X, y, batch_size=37)
    out = model.forward(X)
    full_loss, _ = losses.softmax_cross_entropy(out, y)
    assert loss == pytest.approx(full_loss, rel=1e-12)
    assert acc == pytest.approx(accuracy(out, y))


def test_fit_learns_and_records_history():
    X, y = _blobs()
    Xv, yv = _blobs(100, seed=1)
    model = _model(0)
    h = fit(model, losses.softmax_cross_entropy, Adam(lr=0.01), X, y, rng=np.random.default_rng(0),
            epochs=15, batch_size=32, val_data=(Xv, yv), progress=False)
    assert isinstance(h, History)
    assert set(h) == {"loss", "acc", "val_loss", "val_acc", "time"}
    assert all(len(v) == 15 for v in h.values()) and h.epochs == 15
    assert h["loss"][-1] < h["loss"][0] / 2
    assert h["val_acc"][-1] > 0.9
    assert h.best_epoch == int(np.argmin(h["val_loss"])) + 1 and not h.stopped_early
    # the recorded val numbers are the model's on the validation set
    assert evaluate(model, losses.softmax_cross_entropy, Xv, yv) == pytest.approx((h["val_loss"][-1], h["val_acc"][-1]))


def test_best_epoch_is_none_without_validation_data_or_early_stopping():
    # nothing monitored, nothing best: not the last epoch, nor the one of the lowest loss
    X, y = _blobs(64)
    h = fit(
        _model(0),
        losses.softmax_cross_entropy,
        SGD(0.1),
        X,
        y,
        rng=np.random.default_rng(0),
        epochs=3,
        batch_size=32,
        progress=False,
    )
    assert h.epochs == 3 and "val_loss" not in h
    assert h.best_epoch is None and not h.stopped_early


def test_same_seed_same_history_different_seed_different():
    X, y = _blobs()
    runs = []
    for shuffle_seed in (5, 5, 6):
        model = _model(0)
        h = fit(model, losses.softmax_cross_entropy, SGD(0.1, momentum=0.9), X, y,
                rng=np.random.default_rng(shuffle_seed), epochs=4, batch_size=16, progress=False)
        runs.append((h["loss"], model.params["0.W"].copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_float32_training_stays_float32():
    X, y = _blobs()
    X = X.astype(np.float32)
    model = _model(0, dtype=np.float32)
    fit(model, losses.softmax_cross_entropy, Adam(0.01), X, y, rng=np.random.default_rng(0),
        epochs=2, progress=False)
    assert all(p.dtype == np.float32 for p in model.params.values())


def test_running_loss_is_mean_of_batch_losses():
    """The epoch's loss is the mean of the losses of its batches as they were trained on,
    weighted by batch size (the last batch of 200 by 30 holds 20), not an evaluation after the
    epoch: with a real learning rate the two differ."""
    X, y = _blobs(200)
    model = _model(0)
    seen = []  # (loss, batch size) of every call fit makes

    def recording_loss(z, t):
        loss, dz = losses.softmax_cross_entropy(z, t)
        seen.append((loss, len(t)))
        return loss, dz

    h = fit(model, recording_loss, SGD(0.5), X, y, rng=np.random.default_rng(0),
            epochs=1, batch_size=30, progress=False)
    batch_losses = seen[:7]  # the training batches come first
    assert [n for _, n in batch_losses] == [30] * 6 + [20]
    running = sum(loss * n for loss, n in batch_losses) / 200
    assert h["loss"][0] == pytest.approx(running, rel=1e-12)
    after = evaluate(model, losses.softmax_cross_entropy, X, y)[0]
    assert abs(h["loss"][0] - after) > 0.01  # the weights moved: a different number


def test_early_stopping_restores_best_weights():
    # a tiny training set and a large lr: validation loss gets worse after a few epochs
    X, y = make_moons(40, np.random.default_rng(0), noise=0.3)
    Xv, yv = make_moons(400, np.random.default_rng(1), noise=0.3)
    model = _model(0, width=64, n_out=2)
    stopper = EarlyStopping(patience=3)
    snapshots = {}

    class Recording(Adam):  # remembers the weights at the end of every epoch
        def step(self, params, grads):
            super().step(params, grads)
            snapshots[self.t] = {k: v.copy() for k, v in params.items()}

    opt = Recording(lr=0.05)
    h = fit(model, losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(0), epochs=200,
            batch_size=40, val_data=(Xv, yv), early_stopping=stopper, progress=False)
    assert h.stopped_early and h.epochs < 200
    best = h.best_epoch
    assert best == int(np.argmin(h["val_loss"])) + 1
    assert h.epochs == best + 3  # stopped after `patience` epochs without improvement
    # one batch per epoch: the step count equals the epoch number
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, snapshots[best][k])
    assert evaluate(model, losses.softmax_cross_entropy, Xv, yv)[0] == pytest.approx(h["val_loss"][best - 1])


def test_early_stopping_min_delta_and_accuracy_monitor():
    es = EarlyStopping(patience=2, min_delta=0.1, monitor="val_acc")
    p = {"w": np.zeros(1)}
    assert not es.update(0.5, 1, p)
    assert not es.update(0.55, 2, p)   # not better by more than 0.1
    assert es.update(0.58, 3, p)       # second epoch without improvement
    assert es.best_epoch == 1


def test_progress_lines_format(capsys):
    X, y = _blobs(100)
    Xv, yv = _blobs(50, seed=1)
    opt = SGD(0.1)
    fit(_model(0), losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(0), epochs=10,
        val_data=(Xv, yv), schedule=StepLR(opt, 5), progress="lines", log_every=3)
    legend, *lines = capsys.readouterr().out.strip().splitlines()
    assert legend == "(a/b: a on the training set, b on the validation set)"
    assert [line.split()[1] for line in lines] == [" 3/10".strip(), "6/10", "9/10", "10/10"]
    assert all(LINE.match(line) for line in lines), lines
    assert lines[0].startswith("epoch  3/10  loss ")
    assert re.search(r"acc \d\.\d{4}/\d\.\d{4}", lines[0]) and "lr 0.1" in lines[0]


def test_progress_auto_is_lines_when_not_a_terminal_and_false_is_silent(capsys):
    X, y = _blobs(50)
    fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, rng=np.random.default_rng(0),
        epochs=2)  # pytest's captured stderr is not a terminal
    out = capsys.readouterr()
    assert len(out.out.strip().splitlines()) == 2 and out.err == ""
    fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, rng=np.random.default_rng(0),
        epochs=2, progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_progress_bar_goes_to_stderr(capsys):
    X, y = _blobs(50)
    Xv, yv = _blobs(20, seed=1)
    h = fit(
        _model(0),
        losses.softmax_cross_entropy,
        SGD(0.1),
        X,
        y,
        rng=np.random.default_rng(0),
        epochs=2,
        val_data=(Xv, yv),
        progress="bar",
    )
    out = capsys.readouterr()
    # nothing on stdout, not even the lines' legend; the bar ends with the epoch's metrics,
    # the validation ones included
    assert out.out == "" and "epoch 2/2" in out.err
    for k in ("loss", "acc", "val_loss", "val_acc"):
        assert f"{k}={h[k][-1]:.4f}" in out.err, k


def test_format_epoch():
    line = format_epoch(3, 10, {"loss": 0.23451, "acc": 0.93121, "val_loss": 0.25012, "val_acc": 0.929}, 2.14)
    assert line == "epoch  3/10  loss 0.2345/0.2501  acc 0.9312/0.9290  2.1 s"
    line = format_epoch(15, 15, {"loss": 0.0052, "acc": 0.99921, "val_loss": 0.065,
                                 "val_acc": 0.982, "lr": 1.0856e-05}, 12.61)
    assert line == "epoch 15/15  loss 0.0052/0.0650  acc 0.9992/0.9820  lr 1.1e-05  12.6 s"
    assert len(line) <= 76          # fits the book's code column
    assert format_epoch(1, 2, {"loss": 0.5}, 0.04) == "epoch 1/2  loss 0.5000  0.0 s"


def test_schedule_is_stepped_each_epoch_and_recorded():
    X, y = _blobs(64)
    opt = SGD(0.4)
    h = fit(_model(0), losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(0), epochs=5,
            schedule=StepLR(opt, 2, gamma=0.5), progress=False)
    assert h["lr"] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])


def test_regression_has_no_accuracy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2))
    y = X @ np.array([[1.0], [-2.0]])
    model = Sequential([Dense(2, 1, rng=rng)])
    h = fit(model, losses.mean_squared_error, SGD(0.1), X, y, rng=rng, epochs=60, val_data=(X, y),
            progress=False)
    assert set(h) == {"loss", "val_loss", "time"}
    assert h["loss"][-1] < 1e-3


def test_errors():
    X, y = _blobs(20)
    kw = dict(rng=np.random.default_rng(0), epochs=1, progress=False)
    with pytest.raises(TypeError, match="Generator"):
        fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, rng=0, epochs=1)
    with pytest.raises(ValueError, match="same number"):
        fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y[:5], **kw)
    with pytest.raises(ValueError, match="batch_size"):
        fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, batch_size=0, **kw)
    with pytest.raises(ValueError, match="needs val_data"):
        fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, early_stopping=EarlyStopping(), **kw)
    with pytest.raises(ValueError, match="progress"):
        fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, rng=np.random.default_rng(0),
            epochs=1, progress="loud")
    rng = np.random.default_rng(0)
    Xr = rng.standard_normal((64, 2))
    with pytest.raises(FloatingPointError, match="learning rate"), np.errstate(all="ignore"):
        fit(Sequential([Dense(2, 1, rng=rng)]), losses.mean_squared_error, SGD(100.0), Xr, Xr[:, :1],
            rng=rng, epochs=50, batch_size=8, progress=False)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)


@pytest.mark.parametrize("nested", [False, True])
def test_early_stopping_restores_batchnorm_running_statistics(nested):
    from nnscratch.layers import BatchNorm
    X, y = make_moons(40, np.random.default_rng(0), noise=0.3)
    Xv, yv = make_moons(200, np.random.default_rng(1), noise=0.3)
    rng = np.random.default_rng(0)
    bn = BatchNorm(32)
    block = [Dense(2, 32, rng=rng), bn, ReLU()]
    head = Dense(32, 2, rng=rng)
    # A block inside a block: its BatchNorm's statistics must be restored too.
    model = Sequential([Sequential(block), head]) if nested else Sequential([*block, head])
    h = fit(model, losses.softmax_cross_entropy, Adam(0.05), X, y, rng=np.random.default_rng(0),
            epochs=200, batch_size=40, val_data=(Xv, yv), early_stopping=EarlyStopping(patience=3),
            progress=False)
    assert h.stopped_early
    # with the restored weights *and* running statistics, validation loss is the best epoch's
    assert evaluate(model, losses.softmax_cross_entropy, Xv, yv)[0] == pytest.approx(h["val_loss"][h.best_epoch - 1])


# ------------------------------------------------ a non-finite batch loses nothing


def _state(model):
    return {k: v.copy() for k, v in {**model.params, **model.buffers}.items()}


def _assert_state_equal(model, state):
    current = {**model.params, **model.buffers}
    assert current.keys() == state.keys()
    for k, v in state.items():
        np.testing.assert_array_equal(current[k], v, err_msg=k)


def _bn_model(seed):
    from nnscratch.layers import BatchNorm
    rng = np.random.default_rng(seed)
    return Sequential([Dense(2, 8, rng=rng), BatchNorm(8), ReLU(), Dense(8, 3, rng=rng)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("make", [_model, _bn_model])
def test_a_non_finite_input_stops_at_its_first_batch_with_the_model_untouched(value, make):
    X, y = _blobs(64)
    X = X.copy()
    X[10, 1] = value
    model, opt = make(0), Adam(0.01)
    before = _state(model)
    with pytest.raises(FloatingPointError, match=r"fit: stopped at epoch 1, batch 1: the training "
                                                 r"loss is nan because the batch's inputs X hold 1 "
                                                 r"NaN or infinite values") as info:
        fit(model, losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(0),
            epochs=3, batch_size=64, progress=False)
    assert (info.value.epoch, info.value.batch) == (1, 1)
    _assert_state_equal(model, before)            # parameters and BatchNorm statistics alike
    assert opt.t == 0 and opt.state == {}


def test_the_error_names_the_batch_that_holds_the_bad_example():
    X, y = _blobs(100)
    X = X.copy()
    X[37, 0] = np.nan
    position = int(np.flatnonzero(np.random.default_rng(5).permutation(100) == 37)[0])
    with pytest.raises(FloatingPointError) as info:
        fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, rng=np.random.default_rng(5),
            epochs=2, batch_size=10, progress=False)
    batch = position // 10 + 1
    assert (info.value.epoch, info.value.batch) == (1, batch)
    assert f"epoch 1, batch {batch}:" in str(info.value)
    assert info.value.history.epochs == 0


class _NaNLossAt:
    """softmax_cross_entropy, except that call number ``at`` returns a NaN loss."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, out, y):
        loss, dout = losses.softmax_cross_entropy(out, y)
        self.calls += 1
        return (float("nan"), dout) if self.calls == self.at else (loss, dout)


def _sgd_batch(model, xb, yb, lr):
    """One plain SGD step on one batch, as fit takes it."""
    out = model.forward(xb, training=True)
    model.backward(losses.softmax_cross_entropy(out, yb)[1], need_dx=False)
    SGD(lr).step(model.params, model.grads)


def test_divergence_after_some_epochs_keeps_the_last_finite_state_and_the_history():
    X, y = _blobs(60)
    model = _model(0)
    with pytest.raises(FloatingPointError, match="epoch 3, batch 2") as info:
        fit(model, _NaNLossAt(at=2 * 3 + 2), SGD(0.1), X, y, rng=np.random.default_rng(0),
            epochs=5, batch_size=20, progress=False)          # 3 batches per epoch
    assert info.value.history.epochs == 2
    # the same as 2 good epochs and the one good batch of epoch 3
    reference, rng = _model(0), np.random.default_rng(0)
    fit(reference, losses.softmax_cross_entropy, SGD(0.1), X, y, rng=rng, epochs=2, batch_size=20,
        progress=False)
    perm = rng.permutation(60)
    _sgd_batch(reference, X[perm][:20], y[perm][:20], 0.1)
    _assert_state_equal(model, _state(reference))


def test_divergence_with_early_stopping_restores_the_best_epoch():
    X, y = _blobs(60)
    Xv, yv = _blobs(40, seed=1)
    model, stopper = _model(0), EarlyStopping(patience=10)
    with pytest.raises(FloatingPointError, match="the model holds the weights of its best epoch") as info:
        # 3 training batches and 1 validation batch per epoch: call 13 is epoch 4, batch 1
        fit(model, _NaNLossAt(at=3 * 4 + 1), SGD(0.1), X, y, rng=np.random.default_rng(0), epochs=6,
            batch_size=20, val_data=(Xv, yv), early_stopping=stopper, progress=False)
    assert info.value.epoch == 4 and info.value.history.best_epoch == stopper.best_epoch
    _assert_state_equal(model, stopper.best_params)


def test_non_finite_gradients_stop_before_the_optimizer_step():
    X, y = _blobs(40)
    model, opt = _model(0), Adam(0.01)
    before = _state(model)

    def loss_fn(out, yb):
        loss, dout = losses.softmax_cross_entropy(out, yb)
        dout[0, 0] = np.inf
        return loss, dout

    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 1: the gradients of \[.*'2.W'.*\] "
                                                 r"are not finite"), np.errstate(all="ignore"):
        fit(model, loss_fn, opt, X, y, rng=np.random.default_rng(0), epochs=1, progress=False)
    _assert_state_equal(model, before)
    assert opt.t == 0


class _Overflowing(SGD):
    """An optimizer whose second step writes an infinity into the first parameter."""

    def step(self, params, grads):
        super().step(params, grads)
        if self.t == 2:
            next(iter(params.values()))[0, 0] = np.inf


def test_a_step_that_makes_parameters_non_finite_is_undone():
    X, y = _blobs(40)
    model, opt = _model(0), _Overflowing(0.1)
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2: the optimizer step made the "
                                                 r"parameters \['0.W'\] non-finite"):
        fit(model, losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(0), epochs=1,
            batch_size=20, progress=False)
    # the state after batch 1, which one plain SGD step reproduces
    reference, perm = _model(0), np.random.default_rng(0).permutation(40)
    _sgd_batch(reference, X[perm][:20], y[perm][:20], 0.1)
    _assert_state_equal(model, _state(reference))


def test_the_optimizer_is_restored_with_the_model_after_a_diverged_step():
    X, y = _blobs(40)
    model, opt = _model(0), _Overflowing(0.1, momentum=0.9)
    start = _state(model)
    with pytest.raises(FloatingPointError, match="batch 2"):
        fit(model, losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(0), epochs=1,
            batch_size=20, progress=False)
    # as after batch 1: one step taken, and the momentum buffer is that step's gradient
    assert opt.t == 1 and set(opt.steps.values()) == {1}
    for k, b in opt.state.items():
        np.testing.assert_allclose(b["b"], (start[k] - model.params[k]) / 0.1, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("monitor", ["acc", "val_acc"])
def test_early_stopping_on_an_accuracy_needs_class_labels(monitor):
    X = np.random.default_rng(0).standard_normal((20, 2))
    y = X @ np.ones((2, 3))                               # regression targets
    with pytest.raises(ValueError, match=rf"fit: early stopping monitors '{monitor}', an accuracy, "
                                         r"which needs integer class labels; (y|val_data\[1\]) holds "
                                         r"float64 values of shape \(20, 3\)"):
        fit(_model(0), losses.mean_squared_error, SGD(0.1), X, y, rng=np.random.default_rng(0),
            epochs=1, val_data=(X, y), early_stopping=EarlyStopping(monitor=monitor), progress=False)


def test_huge_learning_rate_is_named_in_the_error():
    rng = np.random.default_rng(0)
    Xr = rng.standard_normal((64, 2))
    with pytest.raises(FloatingPointError, match=r"learning rate \(100.0\) is probably too large"), \
            np.errstate(all="ignore"):
        fit(Sequential([Dense(2, 1, rng=rng)]), losses.mean_squared_error, SGD(100.0), Xr, Xr[:, :1],
            rng=rng, epochs=50, batch_size=8, progress=False)


# ----------------------------------------------------------------- reporting


class _Recorder:
    def __init__(self):
        from nnscratch.progress import Reporter
        self.calls = []
        recorder = self

        class R(Reporter):
            def start_epoch(self, epoch, epochs, n):
                recorder.calls.append(("start", epoch, n))

            def end_batch(self, n_examples):
                recorder.calls.append(("batch", n_examples))

            def end_epoch(self, epoch, epochs, metrics, seconds, last):
                recorder.calls.append(("end", epoch, sorted(metrics), last))

            def close(self):
                recorder.calls.append(("close",))

        self.reporter = R()


def test_fit_reports_through_a_reporter_and_prints_nothing_itself(capsys):
    X, y = _blobs(50)
    rec = _Recorder()
    fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, rng=np.random.default_rng(0),
        epochs=2, batch_size=20, progress=rec.reporter)
    assert rec.calls == [("start", 1, 50), ("batch", 20), ("batch", 20), ("batch", 10),
                         ("end", 1, ["acc", "loss"], False),
                         ("start", 2, 50), ("batch", 20), ("batch", 20), ("batch", 10),
                         ("end", 2, ["acc", "loss"], True), ("close",)]
    assert capsys.readouterr() == ("", "")


def test_the_reporter_is_closed_when_training_fails():
    X, y = _blobs(50)
    X = X.copy()
    X[0, 0] = np.nan
    rec = _Recorder()
    with pytest.raises(FloatingPointError):
        fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, rng=np.random.default_rng(0),
            epochs=2, batch_size=50, progress=rec.reporter)
    assert rec.calls[-1] == ("close",)


@pytest.mark.parametrize("opt", [lambda: Adam(0.01), lambda: SGD(0.1, momentum=0.9)])
def test_a_float16_model_trains_like_a_float32_one(opt):
    X, y = _blobs(200)
    accs = {}
    for dtype in (np.float16, np.float32):
        model = _model(0, dtype=dtype)
        h = fit(model, losses.softmax_cross_entropy, opt(), X.astype(dtype), y,
                rng=np.random.default_rng(0), epochs=10, batch_size=32, progress=False)
        assert all(v.dtype == dtype and np.isfinite(v).all() for v in model.params.values())
        accs[dtype] = h["acc"][-1]
    assert accs[np.float16] > 0.9 and accs[np.float16] == pytest.approx(accs[np.float32], abs=0.03)


def test_fit_trains_on_sequences_through_dense_layers():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 5, 3))                       # (N, T, D)
    y = X.sum(axis=2, keepdims=True) * 0.5                     # a target per position
    model = Sequential([Dense(3, 8, rng=rng), ReLU(), Dense(8, 1, rng=rng)])
    h = fit(model, losses.mean_squared_error, Adam(0.01), X, y, rng=rng, epochs=30, batch_size=16,
            progress=False)
    assert h["loss"][-1] < 0.1 * h["loss"][0]


def test_fit_clips_the_global_norm_before_each_step():
    """fit(clip_norm=c) steps with gradients whose global norm is at most c."""
    from nnscratch.layers import Dense
    from nnscratch.losses import mean_squared_error
    from nnscratch.optim import SGD, global_norm

    class Spy(SGD):
        norms: list = []

        def step(self, params, grads):
            self.norms.append(global_norm(grads))
            super().step(params, grads)

    rng = np.random.default_rng(0)
    X, y = 100 * rng.standard_normal((32, 3)), rng.standard_normal((32, 2))  # huge gradients
    opt = Spy(0.001)
    fit(Dense(3, 2, rng=rng), mean_squared_error, opt, X, y, rng=rng, epochs=2,
        batch_size=8, progress=False, clip_norm=0.5)
    assert len(opt.norms) == 8 and max(opt.norms) <= 0.5 + 1e-6
    with pytest.raises(ValueError, match="fit: clip_norm must be positive and finite, got 0"):
        fit(Dense(3, 2, rng=rng), mean_squared_error, opt, X, y, rng=rng, epochs=1,
            progress=False, clip_norm=0)


def test_fit_eval_train_reports_the_evaluation_mode_loss():
    # With dropout, the running training loss differs from the evaluation-mode loss that
    # eval_train=True promises to record.
    from nnscratch.layers import Dropout

    rng = np.random.default_rng(0)
    X, y = make_blobs(120, np.random.default_rng(0))
    model = Sequential(
        [
            Dense(2, 16, rng=rng),
            ReLU(),
            Dropout(0.5, rng=rng),
            Dense(16, 3, rng=rng),
        ]
    )
    h = fit(
        model,
        losses.softmax_cross_entropy,
        SGD(0.1),
        X,
        y,
        rng=rng,
        epochs=2,
        batch_size=32,
        eval_train=True,
        progress=False,
    )
    loss, acc = evaluate(model, losses.softmax_cross_entropy, X, y)
    assert h["loss"][-1] == loss and h["acc"][-1] == acc


@pytest.mark.parametrize(
    "monitor, values, best",
    [("loss", [1.0, 0.5, 0.7], 2), ("acc", [0.5, 0.9, 0.7], 2)],
)
def test_early_stopping_minimizes_a_loss_and_maximizes_an_accuracy(
    monitor, values, best
):
    stopper = EarlyStopping(patience=2, monitor=monitor)
    params = {"w": np.zeros(1)}
    for epoch, value in enumerate(values, start=1):
        assert not stopper.update(value, epoch, params)
    assert stopper.best_epoch == best


@pytest.mark.parametrize("monitor", ["loss", "acc"])
def test_best_epoch_indexes_the_monitored_metric_even_without_validation_data(monitor):
    # History.best_epoch documents history[monitor][best_epoch - 1] as the best value;
    # without val_data there is no "val_loss" at all.
    X, y = _blobs(60)
    h = fit(_model(0), losses.softmax_cross_entropy, SGD(0.5), X, y, rng=np.random.default_rng(0),
            epochs=4, batch_size=20, early_stopping=EarlyStopping(patience=10, monitor=monitor),
            progress=False)
    assert "val_loss" not in h
    best = min(h[monitor]) if monitor == "loss" else max(h[monitor])
    assert h[monitor][h.best_epoch - 1] == best


def test_fit_names_itself_for_a_bad_progress():
    X, y = _blobs(20)
    with pytest.raises(ValueError, match="fit: progress must be None, True, False, 'bar', "
                                         "'lines' or a Reporter, got 'x'"):
        fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y, rng=np.random.default_rng(0),
            epochs=1, progress="x")


# ------------------------------------------------ any other error loses nothing either


@pytest.mark.parametrize("make", [_model, _bn_model])
def test_a_bad_label_in_a_later_batch_leaves_model_optimizer_and_rng_as_before_fit(make):
    X, y = _blobs(64)
    y = y.copy()
    model, opt = make(0), Adam(0.01)
    fit(model, losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(9), epochs=1,
        batch_size=16, progress=False)  # some optimizer state to keep
    state, t, m = _state(model), opt.t, {k: s["m"].copy() for k, s in opt.state.items()}
    rng = np.random.default_rng(3)
    rng_state = rng.bit_generator.state
    sched = StepLR(opt, step_size=1, gamma=0.5)
    y[np.random.default_rng(3).permutation(64)[-1]] = 7  # 3 classes: met in the last batch
    # raised by the loss in the last batch of the first epoch, after three steps
    with pytest.raises(
        ValueError,
        match=r"^softmax_cross_entropy: y must lie in \[0, 3\), "
        r"got values from 0 to 7$",
    ):
        fit(model, losses.softmax_cross_entropy, opt, X, y, rng=rng, epochs=2, batch_size=16,
            schedule=sched, progress=False)
    _assert_state_equal(model, state)
    assert opt.t == t and opt.lr == 0.01 and sched.epoch == 0
    for k, s in opt.state.items():
        np.testing.assert_array_equal(s["m"], m[k])
    assert rng.bit_generator.state == rng_state  # a retry gives the same numbers


def test_val_data_is_checked_before_any_training():
    X, y = _blobs(64)
    model, opt = _model(0), SGD(0.1)
    state = _state(model)
    kw = dict(rng=np.random.default_rng(0), epochs=1, progress=False)
    bad = [
        ((X[:8],), TypeError, r"fit: val_data must be a pair \(X_val, y_val\), got tuple of length 1"),
        ([X[:8], y[:8], y[:8]], TypeError, "of length 3"),
        ((X[:8], y[:7]), ValueError, "same number .* got 8 and 7"),
        ((X[:8, :1], y[:8]), ValueError, r"inputs of val_data must be like those of X: shape \(2,\)"),
        ((X[:8].astype(np.float32), y[:8]), ValueError, "dtype float64 each; got shape .* float32"),
        ((X[:8], y[:8, None]), ValueError, r"targets of val_data must be like those of y, class labels of shape \(\)"),
        ((X[:8], y[:8].astype(float)), ValueError, "got float64 targets"),
        ((np.where(np.arange(16).reshape(8, 2) == 5, np.nan, X[:8]), y[:8]), ValueError,
         r"fit: val_data\[0\] must be finite, got 1 non-finite values of 16, the first nan "
         r"at index \(2, 1\)"),
    ]
    for val_data, error, message in bad:
        with pytest.raises(error, match=message):
            fit(model, losses.softmax_cross_entropy, opt, X, y, val_data=val_data, **kw)
        assert opt.t == 0
        _assert_state_equal(model, state)


def test_evaluate_refuses_non_finite_inputs_and_early_stopping_a_non_finite_value():
    X, y = _blobs(20)
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"evaluate: X must be finite, got 1 non-finite values of 40, the first nan at index \(3, 1\)"):
        evaluate(_model(0), losses.softmax_cross_entropy, X, y)
    stop = EarlyStopping(patience=2)
    stop.update(0.5, 1, {"w": np.zeros(2)})
    with pytest.raises(ValueError, match="monitored val_loss of epoch 2 must be finite, got nan"):
        stop.update(float("nan"), 2, {"w": np.ones(2)})
    assert stop.best == 0.5 and stop.best_epoch == 1 and stop.wait == 0


# ------------------------------------------------ Ctrl-C keeps every complete step, undoes the rest


class _Recording(Adam):
    """Adam that keeps the model's state after each complete step, and is interrupted (as
    by Ctrl-C) in step ``interrupt_at`` after updating one parameter but not the others."""

    def __init__(self, model, interrupt_at=None, **kw):
        super().__init__(0.01, **kw)
        self.model, self.interrupt_at, self.after = model, interrupt_at, []

    def step(self, params, grads):
        self.calls = getattr(self, "calls", 0) + 1
        self.updated = 0
        super().step(params, grads)
        self.after.append((_state(self.model), self.snapshot()))

    def _update(self, key, p, g):
        if self.calls == self.interrupt_at and self.updated == 1:
            raise KeyboardInterrupt   # one parameter updated, its neighbours not
        super()._update(key, p, g)
        self.updated += 1


def _assert_optimizer_as(opt, saved):
    assert opt.t == saved["t"] and opt.steps == saved["steps"]
    assert opt.state.keys() == saved["state"].keys()
    for k, buffers in saved["state"].items():
        for name, a in buffers.items():
            np.testing.assert_array_equal(opt.state[k][name], a, err_msg=f"{k} {name}")


@pytest.mark.parametrize("make", [_model, _bn_model])
def test_an_interrupted_optimizer_step_is_undone_and_the_steps_before_it_kept(make):
    X, y = _blobs(64)
    model = make(0)
    opt = _Recording(model, interrupt_at=7)   # epoch 2, batch 3 of 4
    with pytest.raises(KeyboardInterrupt) as caught:
        fit(model, losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(0), epochs=3,
            batch_size=16, progress=False)
    assert len(opt.after) == 6
    state, saved = opt.after[-1]
    _assert_state_equal(model, state)         # as after step 6: parameters and BatchNorm statistics
    _assert_optimizer_as(opt, saved)
    assert len(caught.value.history["loss"]) == 1   # the one finished epoch


class _InterruptedLoss:
    """softmax_cross_entropy, interrupted (as by Ctrl-C) at call ``at``: after the forward
    pass of that batch has moved BatchNorm's running statistics."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, out, y):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return losses.softmax_cross_entropy(out, y)


def test_an_interrupted_forward_pass_leaves_batchnorm_statistics_as_after_the_last_step():
    X, y = _blobs(64)
    model = _bn_model(0)
    opt = _Recording(model)
    with pytest.raises(KeyboardInterrupt):
        fit(model, _InterruptedLoss(at=3), opt, X, y, rng=np.random.default_rng(0), epochs=1,
            batch_size=16, progress=False)
    state, saved = opt.after[-1]
    assert len(opt.after) == 2
    _assert_state_equal(model, state)
    _assert_optimizer_as(opt, saved)


def test_an_interrupt_between_steps_keeps_everything_and_is_reported(capsys):
    X, y = _blobs(64)
    model = _model(0)
    opt = _Recording(model)
    calls = []

    def stop_at_the_second_epoch(value, epoch, state):   # as EarlyStopping.update is called
        calls.append(epoch)
        if epoch == 2:
            raise KeyboardInterrupt
        return False

    stopper = EarlyStopping(monitor="loss", patience=5)
    stopper.update = stop_at_the_second_epoch
    with pytest.raises(KeyboardInterrupt) as caught:
        fit(model, losses.softmax_cross_entropy, opt, X, y, rng=np.random.default_rng(0), epochs=3,
            batch_size=16, early_stopping=stopper, progress="lines")
    state, saved = opt.after[-1]
    assert len(opt.after) == 8                     # two whole epochs of four steps
    _assert_state_equal(model, state)
    _assert_optimizer_as(opt, saved)
    assert len(caught.value.history["loss"]) == 2
    assert "interrupted: the model holds the weights of its last complete step" in capsys.readouterr().out


# ------------------------------------------------ rarely taken paths of evaluate, EarlyStopping, fit


def test_evaluate_refuses_no_examples_or_a_label_count_that_differs():
    X, y = _blobs(20)
    for xs, ys, counts in [(X[:0], y[:0], "0 and 0"), (X, y[:19], "20 and 19"), (X[:5], y, "5 and 20")]:
        with pytest.raises(ValueError, match=rf"^evaluate: need as many labels as examples \(> 0\), "
                                             rf"got {counts}$"):
            evaluate(_model(0), losses.softmax_cross_entropy, xs, ys)


def test_early_stopping_refuses_a_metric_fit_does_not_record():
    for monitor in ("accuracy", "val_accuracy", "Loss", "lr"):
        with pytest.raises(ValueError, match=rf"^EarlyStopping: monitor must be val_loss, val_acc, "
                                             rf"loss or acc, got '{monitor}'$"):
            EarlyStopping(monitor=monitor)


def test_a_non_finite_target_is_named_as_the_cause_of_a_non_finite_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 2))
    y = X @ np.array([[1.0], [-2.0]])
    y[5, 0] = np.nan                                   # the inputs are all finite
    model = Sequential([Dense(2, 1, rng=rng)])
    before = _state(model)
    with pytest.raises(FloatingPointError, match=r"^fit: stopped at epoch 1, batch 1: the training "
                                                 r"loss is nan because the batch's targets y hold "
                                                 r"NaN or infinite values; the model is as it was "
                                                 r"before this batch$"):
        fit(model, losses.mean_squared_error, SGD(0.1), X, y, rng=np.random.default_rng(0),
            epochs=2, batch_size=32, progress=False)
    _assert_state_equal(model, before)


class _FailsAt:
    """softmax_cross_entropy, except that call number ``at`` raises a ValueError."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, out, y):
        self.calls += 1
        if self.calls == self.at:
            raise ValueError("the loss function failed")
        return losses.softmax_cross_entropy(out, y)


def test_a_failed_fit_leaves_early_stopping_with_no_best_epoch_of_the_undone_training():
    """fit undoes its training when it fails; the weights early stopping kept of it must go too,
    else restoring them would bring the undone training back."""
    X, y = _blobs(60)
    model, stopper = _model(0), EarlyStopping(monitor="loss", patience=10)
    before = _state(model)
    with pytest.raises(ValueError, match="the loss function failed"):
        # 3 batches per epoch: call 7 is epoch 3, batch 1, after two epochs were recorded
        fit(model, _FailsAt(at=3 * 2 + 1), SGD(0.1), X, y, rng=np.random.default_rng(0),
            epochs=5, batch_size=20, early_stopping=stopper, progress=False)
    _assert_state_equal(model, before)
    assert (stopper.best, stopper.best_epoch, stopper.best_params, stopper.wait) == (None, None, None, 0)
    stopper.restore({**model.params, **model.buffers})  # a no-op now
    _assert_state_equal(model, before)


def test_integer_targets_of_several_columns_are_not_class_labels():
    """Integer targets of shape (N, 1) are regression targets: no accuracy (a running
    accuracy of (N,) predictions against (N, 1) labels would count N² pairs).
    """
    X, _ = _blobs(40)
    y = (X[:, :1] > 0).astype(np.int64)  # (N, 1)
    hist = fit(
        _model(0, n_out=1), losses.mean_squared_error, SGD(0.05), X, y,
        rng=np.random.default_rng(0), epochs=2, batch_size=10,
        val_data=(X, y), progress=False,
    )
    assert "acc" not in hist and "val_acc" not in hist
    assert np.isnan(evaluate(_model(0, n_out=1), losses.mean_squared_error, X, y)[1])


def test_a_lone_last_example_for_batchnorm_is_refused_before_training():
    from nnscratch.layers import BatchNorm

    X, y = _blobs(65)
    rng = np.random.default_rng(0)
    model = Sequential(
        [Dense(2, 8, rng=rng), BatchNorm(8), ReLU(), Dense(8, 3, rng=rng)]
    )
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(
        ValueError,
        match=r"fit: N=65 examples in minibatches of 64 leave 1 example .* BatchNorm",
    ):
        fit(model, losses.softmax_cross_entropy, SGD(0.1), X, y,
            rng=np.random.default_rng(0), epochs=1, batch_size=64, progress=False)
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])
    # without a BatchNorm, or with 2 left over, the same split trains
    fit(_model(0), losses.softmax_cross_entropy, SGD(0.1), X, y,
        rng=np.random.default_rng(0), epochs=1, batch_size=64, progress=False)
    fit(model, losses.softmax_cross_entropy, SGD(0.1), X, y,
        rng=np.random.default_rng(0), epochs=1, batch_size=63, progress=False)
