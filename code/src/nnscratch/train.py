"""The training loop shared by every chapter and script: minibatches, history, early stopping.

``fit`` shuffles the training set once per epoch with the ``rng`` it is given (same seed,
same numbers), walks through it in minibatches (forward in training mode, loss, backward,
optimizer step), and records per-epoch metrics in a :class:`History`. What it shows while
it runs is up to a reporter (:mod:`nnscratch.progress`): a tqdm bar in a terminal and one
clean line per epoch elsewhere (the book, logs, pipes).

Training stops at the first minibatch whose loss, gradients or updated parameters are not
finite, with a :class:`TrainingDiverged` error that names the epoch, the batch and what was
not finite; the model is left as it was before that batch (or at the best epoch, with early
stopping), never half updated.

See Also
--------
Book, Step 4 "Optimization" (practice) introduces the loop; Step 5 "Regularization"
(practice) adds early stopping.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ._checks import (
    check_array,
    check_finite,
    check_int,
    check_number,
    check_rng,
)
from .layers.normalization import BatchNorm
from .metrics import accuracy, predict_classes
from .network import PREDICT_BATCH, _layers_within, model_state
from .optim import clip_grad_norm
from .progress import make_reporter

LossFn = Callable[[np.ndarray, np.ndarray], "tuple[float, np.ndarray]"]


class History(dict):
    """Per-epoch metrics: ``history["loss"][e]`` is the training loss of epoch ``e + 1``.

    Keys: ``"loss"``, ``"acc"`` (class labels only), ``"val_loss"``, ``"val_acc"`` (with
    validation data), ``"lr"`` (with a schedule) and ``"time"`` (seconds per epoch).

    Attributes
    ----------
    best_epoch : int or None
        1-based number of the epoch with the best monitored value (early stopping's
        ``monitor``, else the lowest ``val_loss``); None without validation data or early
        stopping. ``history[monitor][history.best_epoch - 1]`` is its value
        (``monitor`` being ``"val_loss"`` without early stopping).
    stopped_early : bool
        Whether early stopping ended training before ``epochs``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.best_epoch: int | None = None
        self.stopped_early = False

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.get("loss", []))


def _is_classification(y: np.ndarray) -> bool:
    """True for class labels: integers (or booleans) of shape (N,)."""
    return y.ndim == 1 and (
        np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_
    )


def _refuse_a_lone_last_example(model, n: int, batch_size: int) -> None:
    """Refuse, before training, an epoch whose last minibatch would hold one example for a
    model with a BatchNorm, which cannot estimate a variance from one row.
    """
    if n % batch_size != 1:
        return
    if any(
        type(layer) is BatchNorm for layer in _layers_within(model)
    ):  # BatchNorm2D has H·W values per channel even for one image
        raise ValueError(
            f"fit: N={n} examples in minibatches of {batch_size} leave 1 example for the "
            "last minibatch of every epoch, and BatchNorm cannot train on one; choose a "
            f"batch_size that leaves 0 or at least 2 over (N mod batch_size is now 1)"
        )


def evaluate(
    model,
    loss_fn: LossFn,
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int = PREDICT_BATCH,
) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on ``(X, y)`` in evaluation mode.

    In batches of ``batch_size``, as :meth:`~nnscratch.network.Sequential.predict` and with
    its default.

    Returns
    -------
    loss : float
        Mean loss over all examples (batch means weighted by batch size).
    acc : float
        Accuracy, or NaN when ``y`` does not hold integer class labels of shape (N,).
    """
    n = len(X)
    if n == 0 or len(y) != n:
        raise ValueError(
            f"evaluate: need as many labels as examples (> 0), got {n} and {len(y)}"
        )
    batch_size = check_int(batch_size, "batch_size", "evaluate")
    for name, a in (("X", X), ("y", y)):
        if np.issubdtype(a.dtype, np.inexact):
            check_finite(a, name, "evaluate")
    total_loss, n_correct, classify = 0.0, 0.0, _is_classification(y)
    for start in range(0, n, batch_size):
        xb, yb = (
            X[start : start + batch_size],
            y[start : start + batch_size],
        )
        out = model.forward(xb, training=False)
        loss, _ = loss_fn(out, yb)
        total_loss += loss * len(xb)
        if classify:
            n_correct += accuracy(out, yb) * len(xb)
    return total_loss / n, (n_correct / n if classify else float("nan"))


class EarlyStopping:
    """Stop when a monitored metric has not improved for ``patience`` epochs, keep the best weights.

    Parameters
    ----------
    patience : int, default 5
        Epochs without improvement tolerated before stopping.
    min_delta : float, default 0
        An epoch counts as an improvement only if it beats the best by more than this.
    monitor : {"val_loss", "val_acc", "loss", "acc"}, default "val_loss"
        Losses improve downwards, accuracies upwards.

    Attributes
    ----------
    best, best_epoch : float and int, or None
        The best monitored value so far and its 1-based epoch (None before the first update).
    best_params : dict of str to ndarray, or None
        Copies of the best epoch's model state: its parameters **and** its buffers
        (:func:`~nnscratch.network.model_state`), so that BatchNorm's running statistics
        are kept and restored along with the weights.

    Notes
    -----
    ``fit`` calls :meth:`reset` at the start, :meth:`update` after every epoch and
    :meth:`restore` at the end, each with ``model_state(model)``; :meth:`restore` copies the
    best epoch's parameters and buffers back into the model in place (so optimizers keyed on
    the same arrays keep working, and BatchNorm predicts with the running statistics of the
    best epoch, not those of the last one).

    See Also
    --------
    Book, Step 5 "Regularization": early stopping as a regularizer.
    """

    def __init__(
        self,
        patience: int = 5,
        min_delta: float = 0.0,
        monitor: str = "val_loss",
    ) -> None:
        if monitor not in ("val_loss", "val_acc", "loss", "acc"):
            raise ValueError(
                f"EarlyStopping: monitor must be val_loss, val_acc, loss or acc, got {monitor!r}"
            )
        self.patience = check_int(patience, "patience", "EarlyStopping")
        self.min_delta = check_number(
            min_delta, "min_delta", "EarlyStopping", low=0
        )
        self.monitor = monitor
        self.reset()

    def reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_params: dict[str, np.ndarray] | None = None
        self.wait = 0

    def update(
        self, value: float, epoch: int, state: dict[str, np.ndarray]
    ) -> bool:
        """Record ``value`` and, if best, a copy of ``state``; True means stop."""
        # A NaN is never better nor worse: it would stay the best forever.
        if not np.isfinite(value):
            raise ValueError(
                f"EarlyStopping.update: the monitored {self.monitor} "
                f"of epoch {epoch} must be finite, got {value}"
            )
        sign = (
            1.0 if self.monitor.endswith("loss") else -1.0
        )  # minimize sign * value
        if (
            self.best is None
            or sign * value < sign * self.best - self.min_delta
        ):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_params = {k: v.copy() for k, v in state.items()}
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Copy the best epoch's parameters and buffers back into ``state``, in place."""
        if self.best_params is not None:
            for k, v in state.items():
                v[...] = self.best_params[k]

    def __repr__(self) -> str:
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, monitor={self.monitor!r})"


class TrainingDiverged(FloatingPointError):
    """Training met a non-finite loss, gradient or parameter, and stopped.

    Attributes
    ----------
    epoch, batch : int
        1-based numbers of the epoch and of the minibatch within it (for
        :func:`~nnscratch.language.train_lm`: of the pass over the text and of the window
        within that pass).
    history : History
        The metrics of the epochs completed before.
    """

    def __init__(
        self, message: str, epoch: int, batch: int, history: History
    ) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.history = epoch, batch, history


def _not_finite(arrays: dict[str, np.ndarray]) -> list[str]:
    """Keys of the arrays that hold a NaN or an infinity."""
    return [k for k, v in arrays.items() if not np.isfinite(v).all()]


def _diagnose_loss(
    loss: float, xb: np.ndarray, yb: np.ndarray, out: np.ndarray, optimizer
) -> str:
    """Say why a minibatch's loss is not finite: the data, the model's output, or the loss."""
    what = f"the training loss is {loss}"
    if np.issubdtype(xb.dtype, np.inexact) and not np.isfinite(xb).all():
        n_bad = int(np.count_nonzero(~np.isfinite(xb)))
        return f"{what} because the batch's inputs X hold {n_bad} NaN or infinite values"
    if np.issubdtype(yb.dtype, np.inexact) and not np.isfinite(yb).all():
        return f"{what} because the batch's targets y hold NaN or infinite values"
    if not np.isfinite(out).all():
        return (
            f"{what}: the model's outputs are not finite although its inputs are; "
            f"the learning rate ({getattr(optimizer, 'lr', '?')}) is probably too large"
        )
    return (
        f"{what} although the inputs and the model's outputs are finite (the largest output "
        f"is {float(np.abs(out).max()):.3g}); the learning rate "
        f"({getattr(optimizer, 'lr', '?')}) is probably too large"
    )


def _check_val_data(val_data, X: np.ndarray, y: np.ndarray) -> None:
    """Refuse validation data that does not match the training data, before any training."""
    if not isinstance(val_data, (tuple, list)) or len(val_data) != 2:
        raise TypeError(
            "fit: val_data must be a pair (X_val, y_val), "
            f"got {type(val_data).__name__}"
            + (
                f" of length {len(val_data)}"
                if isinstance(val_data, (tuple, list))
                else ""
            )
        )
    x_val, y_val = val_data
    check_array(x_val, "val_data[0]", where="fit")
    check_array(y_val, "val_data[1]", where="fit")
    if len(x_val) == 0 or len(y_val) != len(x_val):
        raise ValueError(
            "fit: val_data must hold the same number (> 0) of inputs and targets, "
            f"got {len(x_val)} and {len(y_val)}"
        )
    if X.shape[1:] != x_val.shape[1:] or X.dtype != x_val.dtype:
        raise ValueError(
            f"fit: the inputs of val_data must be like those of X: shape {X.shape[1:]} "
            f"and dtype {X.dtype} each; got shape {x_val.shape[1:]} and dtype "
            f"{x_val.dtype}"
        )
    kind = lambda a: (  # noqa: E731
        "class labels" if _is_classification(a) else f"{a.dtype} targets"
    )
    if y.shape[1:] != y_val.shape[1:] or kind(y) != kind(y_val):
        raise ValueError(
            f"fit: the targets of val_data must be like those of y, {kind(y)} of shape "
            f"{y.shape[1:]} each; got {kind(y_val)} of shape {y_val.shape[1:]}"
        )
    # now, not at the end of the first epoch, whose training would then be undone
    for name, a in (("val_data[0]", x_val), ("val_data[1]", y_val)):
        if np.issubdtype(a.dtype, np.inexact):
            check_finite(a, name, "fit")


def fit(
    model,
    loss_fn: LossFn,
    optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    rng: np.random.Generator,
    epochs: int,
    batch_size: int = 64,
    val_data: tuple[np.ndarray, np.ndarray] | None = None,
    schedule=None,
    early_stopping: EarlyStopping | None = None,
    progress=None,
    log_every: int = 1,
    eval_train: bool = False,
    clip_norm: float | None = None,
) -> History:
    """Train ``model`` with minibatch gradient descent.

    Parameters
    ----------
    model : Layer
        A model following the layer protocol (usually a ``Sequential``).
    loss_fn : callable
        ``loss_fn(out, y_batch) -> (loss, dout)``, e.g. ``losses.softmax_cross_entropy``.
    optimizer : Optimizer
        Its ``step(model.params, model.grads)`` is called after every minibatch.
    X : ndarray of shape (N, ...)
        Training inputs, in the model's dtype (nothing is cast).
    y : ndarray of shape (N,) or (N, D)
        Targets. Integer labels of shape (N,) also give accuracies.
    rng : numpy.random.Generator
        Shuffles the training set at the start of every epoch.
    epochs : int
    batch_size : int, default 64
        The last minibatch of an epoch holds the remaining ``N mod batch_size`` examples
        (refused when that is 1 and the model has a ``BatchNorm``).
    val_data : (X_val, y_val), optional
        Evaluated after every epoch (``val_loss``, ``val_acc``).
    schedule : Schedule, optional
        Its ``step()`` is called after every epoch.
    early_stopping : EarlyStopping, optional
        Stops training and restores the best weights.
    progress : None, True, False, "bar", "lines" or Reporter
        None or True: a tqdm bar when stderr is a terminal, else one line per epoch on stdout;
        False: silent; a :class:`nnscratch.progress.Reporter`: that reporter.
    log_every : int, default 1
        Print a line every ``log_every`` epochs (and always the last one).
    eval_train : bool, default False
        Report the training loss and accuracy measured in evaluation mode after the epoch,
        instead of the running mean over the epoch's minibatches (one more pass over ``X``;
        useful with dropout, whose training-mode loss is not comparable to ``val_loss``).
    clip_norm : float, optional
        Before every optimizer step, clip the gradients' global norm to this
        (:func:`nnscratch.optim.clip_grad_norm`); None: no clipping.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        At the first minibatch whose loss, gradients or updated parameters are not finite,
        naming the epoch, the batch and what was not finite. The model is restored to its
        state before that batch (parameters and buffers), or to its best epoch when
        ``early_stopping`` has recorded one; the optimizer to its state before that batch
        (:meth:`~nnscratch.optim.Optimizer.restore`), so training can go on from there.
    TypeError, ValueError
        When an argument is refused: before training starts where it can be seen then
        (``val_data`` must match ``X`` and ``y`` example for example, in shape and dtype);
        otherwise (a label out of range in a later minibatch, say) the model's parameters
        and buffers, the optimizer (state and ``lr``), the schedule and ``rng`` are put
        back as they were before ``fit`` was called.
    KeyboardInterrupt
        Ctrl-C: the minibatch it interrupted is undone (buffers, parameters and optimizer
        state as before that batch), every complete step is kept, and the exception's
        ``history`` attribute holds the epochs finished so far.
    """
    check_rng(rng, "fit")
    check_array(X, "X", where="fit")
    check_array(y, "y", where="fit")
    n = len(X)
    if n == 0 or len(y) != n:
        raise ValueError(
            f"fit: X and y must hold the same number (> 0) of examples, got {n} and {len(y)}"
        )
    epochs = check_int(epochs, "epochs", "fit")
    batch_size = check_int(batch_size, "batch_size", "fit")
    _refuse_a_lone_last_example(model, n, batch_size)
    log_every = check_int(log_every, "log_every", "fit")
    if clip_norm is not None:
        check_number(clip_norm, "clip_norm", "fit", low=0, low_open=True)
    if (
        early_stopping is not None
        and early_stopping.monitor.startswith("val")
        and val_data is None
    ):
        raise ValueError(
            f"fit: early stopping monitors {early_stopping.monitor!r}, which needs val_data"
        )
    classify = _is_classification(y)
    if val_data is not None:
        _check_val_data(val_data, X, y)
    monitor = None if early_stopping is None else early_stopping.monitor
    if monitor in ("acc", "val_acc"):
        name, labels = (
            ("y", y) if monitor == "acc" else ("val_data[1]", val_data[1])
        )
        if not _is_classification(labels):
            raise ValueError(
                f"fit: early stopping monitors {monitor!r}, an accuracy, "
                f"which needs integer class labels; {name} holds {labels.dtype} values "
                f"of shape {labels.shape}"
            )
    reporter = make_reporter(progress, log_every, where="fit")
    history = History(loss=[], **({"acc": []} if classify else {}))
    if val_data is not None:
        history["val_loss"] = []
        if _is_classification(val_data[1]):
            history["val_acc"] = []
    if schedule is not None:
        history["lr"] = []
    history["time"] = []
    if early_stopping is not None:
        early_stopping.reset()

    # What fit changes, as it was before: put back if anything but divergence stops it
    # (a label out of range in a later batch, a loss function's error), so that nothing is
    # left half trained.
    before = {k: v.copy() for k, v in model_state(model).items()}
    before_optimizer, before_lr = optimizer.snapshot(), optimizer.lr
    before_rng = rng.bit_generator.state
    before_schedule = None if schedule is None else schedule.epoch

    # Copies of the state before each minibatch, to undo one that went non-finite or was
    # interrupted.
    params, buffers = model.params, model.buffers
    saved_params = {k: np.empty_like(v) for k, v in params.items()}
    saved_buffers = {k: np.empty_like(v) for k, v in buffers.items()}
    saved_optimizer = None  # optimizer.snapshot(), taken before each step
    saved = {**saved_params, **saved_buffers}
    # What the current minibatch may have changed so far: nothing (None), the buffers
    # (forward and backward) or, from the optimizer step on, the parameters too.
    half_done = None
    everything = {**params, **buffers}

    def undo_batch() -> None:
        """Put back what the current minibatch has changed; an optimizer step with it."""
        for k, v in (half_done or {}).items():
            v[...] = saved[k]
        if half_done is everything:
            optimizer.restore(saved_optimizer)

    def diverged(reason: str, epoch: int, batch: int) -> TrainingDiverged:
        undo_batch()  # back to the state before this batch
        where = "the model is as it was before this batch"
        if (
            early_stopping is not None
            and early_stopping.best_params is not None
        ):
            early_stopping.restore(model_state(model))
            history.best_epoch = early_stopping.best_epoch
            where = f"the model holds the weights of its best epoch, {early_stopping.best_epoch}"
        return TrainingDiverged(
            f"fit: stopped at epoch {epoch}, batch {batch}: {reason}; {where}",
            epoch,
            batch,
            history,
        )

    try:
        for epoch in range(1, epochs + 1):
            start_time = time.perf_counter()
            perm = rng.permutation(n)
            X_epoch, y_epoch = (
                X[perm],
                y[perm],
            )  # one shuffled copy per epoch
            total_loss, n_correct = 0.0, 0
            reporter.start_epoch(epoch, epochs, n)
            for batch, s in enumerate(range(0, n, batch_size), 1):
                xb, yb = (
                    X_epoch[s : s + batch_size],
                    y_epoch[s : s + batch_size],
                )
                for (
                    k,
                    v,
                ) in buffers.items():  # a training forward updates buffers
                    np.copyto(saved_buffers[k], v)
                half_done = buffers
                out = model.forward(xb, training=True)
                loss, dout = loss_fn(out, yb)
                if not np.isfinite(loss):
                    raise diverged(
                        _diagnose_loss(loss, xb, yb, out, optimizer),
                        epoch,
                        batch,
                    )
                model.backward(
                    dout, need_dx=False
                )  # the data needs no gradient
                bad = _not_finite(model.grads)
                if bad:
                    raise diverged(
                        f"the gradients of {bad} are not finite although the loss is "
                        f"{loss:.4g}",
                        epoch,
                        batch,
                    )
                if clip_norm is not None:
                    clip_grad_norm(model.grads, clip_norm)
                for k, v in params.items():
                    np.copyto(saved_params[k], v)
                saved_optimizer = optimizer.snapshot(saved_optimizer)
                half_done = everything
                optimizer.step(params, model.grads)
                bad = _not_finite(params)
                if bad:
                    raise diverged(
                        f"the optimizer step made the parameters {bad} non-finite; the "
                        f"learning rate ({getattr(optimizer, 'lr', '?')}) is probably too "
                        f"large",
                        epoch,
                        batch,
                    )
                half_done = None
                total_loss += loss * len(xb)
                if classify and not eval_train:
                    n_correct += int(
                        np.count_nonzero(predict_classes(out) == yb)
                    )
                reporter.end_batch(len(xb))
            if eval_train:
                loss_e, acc_e = evaluate(model, loss_fn, X, y)
            else:
                loss_e, acc_e = total_loss / n, n_correct / n
            metrics = {"loss": loss_e}
            if classify:
                metrics["acc"] = acc_e
            if val_data is not None:
                val_loss, val_acc = evaluate(model, loss_fn, *val_data)
                metrics["val_loss"] = val_loss
                if "val_acc" in history:
                    metrics["val_acc"] = val_acc
            if schedule is not None:
                metrics["lr"] = optimizer.lr  # the rate this epoch ran with
                schedule.step()
            seconds = time.perf_counter() - start_time
            for k, v in metrics.items():
                history[k].append(v)
            history["time"].append(seconds)

            stop = False
            if early_stopping is not None:
                stop = early_stopping.update(
                    metrics[early_stopping.monitor],
                    epoch,
                    model_state(model),
                )
            reporter.end_epoch(
                epoch,
                epochs,
                metrics,
                seconds,
                last=stop or epoch == epochs,
            )
            if stop:
                history.stopped_early = True
                reporter.note(
                    f"early stopping: no improvement of {early_stopping.monitor} for "
                    f"{early_stopping.patience} epochs; restoring epoch {early_stopping.best_epoch}"
                )
                break
    except TrainingDiverged:
        raise
    except KeyboardInterrupt as interrupt:
        # Keep every complete step; undo the one under way, which may have updated
        # some buffers, or some parameters and their optimizer state, but not all.
        undo_batch()
        reporter.note(
            "interrupted: the model holds the weights of its last complete step"
        )
        interrupt.history = history
        raise
    except Exception:
        for k, v in model_state(model).items():
            v[...] = before[k]
        optimizer.restore(before_optimizer)
        optimizer.lr = before_lr
        rng.bit_generator.state = before_rng
        if schedule is not None:
            schedule.epoch = before_schedule
        if early_stopping is not None:
            early_stopping.reset()
        raise
    finally:
        reporter.close()

    if early_stopping is not None:
        early_stopping.restore(model_state(model))
        history.best_epoch = early_stopping.best_epoch
    elif "val_loss" in history:
        history.best_epoch = int(np.argmin(history["val_loss"])) + 1
    return history
