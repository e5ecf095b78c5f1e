"""The training loop shared by every chapter and script: minibatches, history, early stopping.

``fit`` shuffles the training set once per epoch with the ``rng`` it is given (same seed,
same numbers), walks through it in minibatches (forward in training mode, loss, backward,
optimizer step), and records per-epoch metrics in a :class:`History`. Progress is a tqdm
bar in a terminal and one clean line per epoch elsewhere (the book, logs, pipes).

See Also
--------
Book, Step 4 "Optimization" (practice) introduces the loop; Step 5 "Regularization"
(practice) adds early stopping.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

import numpy as np

from ._checks import check_array
from .network import model_state

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
        stopping. ``history["val_loss"][history.best_epoch - 1]`` is its value.
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
    return np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct predictions.

    Parameters
    ----------
    logits : ndarray of shape (N, C), (N,) or (N, 1)
        Class scores; with one column (or none) a binary classifier whose logit is positive
        for class 1.
    y : ndarray of shape (N,)
        Integer class labels.
    """
    if logits.ndim not in (1, 2):
        raise ValueError(f"accuracy: logits must have shape (N, C), (N,) or (N, 1), got {logits.shape}")
    if y.shape != (len(logits),):
        raise ValueError(f"accuracy: y must have shape ({len(logits)},), got {y.shape}")
    return float(np.mean(_predict(logits) == y)) if len(y) else float("nan")


def evaluate(model, loss_fn: LossFn, X: np.ndarray, y: np.ndarray,
             batch_size: int = 1024) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on ``(X, y)`` in evaluation mode.

    Returns
    -------
    loss : float
        Mean loss over all examples (batch means weighted by batch size).
    acc : float
        Accuracy, or NaN when ``y`` does not hold integer class labels.
    """
    n = len(X)
    if n == 0 or len(y) != n:
        raise ValueError(f"evaluate: need as many labels as examples (> 0), got {n} and {len(y)}")
    total_loss, n_correct, classify = 0.0, 0.0, _is_classification(y)
    for start in range(0, n, batch_size):
        xb, yb = X[start:start + batch_size], y[start:start + batch_size]
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

    Notes
    -----
    ``fit`` calls :meth:`reset` at the start, :meth:`update` after every epoch and
    :meth:`restore` at the end, which copies the best epoch's parameters back into the model
    in place (so optimizers keyed on the same arrays keep working).

    See Also
    --------
    Book, Step 5 "Regularization": early stopping as a regulariser.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, monitor: str = "val_loss") -> None:
        if not isinstance(patience, (int, np.integer)) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be a positive integer, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        if monitor not in ("val_loss", "val_acc", "loss", "acc"):
            raise ValueError(f"EarlyStopping: monitor must be val_loss, val_acc, loss or acc, got {monitor!r}")
        self.patience, self.min_delta, self.monitor = int(patience), min_delta, monitor
        self.reset()

    def reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_params: dict[str, np.ndarray] | None = None
        self.wait = 0

    def update(self, value: float, epoch: int, params: dict[str, np.ndarray]) -> bool:
        """Record epoch ``epoch``'s ``value``; return True when training should stop."""
        sign = 1.0 if self.monitor.endswith("loss") else -1.0    # minimise sign * value
        if self.best is None or sign * value < sign * self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_params = {k: v.copy() for k, v in params.items()}
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, params: dict[str, np.ndarray]) -> None:
        """Copy the best parameters back into ``params``, in place."""
        if self.best_params is not None:
            for k, v in params.items():
                v[...] = self.best_params[k]

    def __repr__(self) -> str:
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, monitor={self.monitor!r})"


def format_epoch(epoch: int, epochs: int, metrics: dict[str, float], seconds: float) -> str:
    """One line of progress: ``epoch  3/10  loss 0.2345  acc 0.9312  (2.1 s)``."""
    width = len(str(epochs))
    parts = [f"epoch {epoch:>{width}}/{epochs}"]
    parts += [f"{k} {v:.4f}" if k != "lr" else f"lr {v:.3g}" for k, v in metrics.items()]
    return "  ".join(parts) + f"  ({seconds:.1f} s)"


def _progress_mode(progress) -> str:
    if progress is False:
        return "off"
    if progress in (None, True):
        return "bar" if sys.stderr.isatty() else "lines"
    if progress in ("bar", "lines"):
        return progress
    raise ValueError(f"fit: progress must be None, True, False, 'bar' or 'lines', got {progress!r}")


def fit(model, loss_fn: LossFn, optimizer, X: np.ndarray, y: np.ndarray, *,
        rng: np.random.Generator, epochs: int, batch_size: int = 64,
        val_data: tuple[np.ndarray, np.ndarray] | None = None, schedule=None,
        early_stopping: EarlyStopping | None = None, progress=None, log_every: int = 1,
        eval_train: bool = False) -> History:
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
        Targets. Integer labels also give accuracies.
    rng : numpy.random.Generator
        Shuffles the training set at the start of every epoch.
    epochs : int
    batch_size : int, default 64
        The last minibatch of an epoch holds the remaining ``N mod batch_size`` examples.
    val_data : (X_val, y_val), optional
        Evaluated after every epoch (``val_loss``, ``val_acc``).
    schedule : Schedule, optional
        Its ``step()`` is called after every epoch.
    early_stopping : EarlyStopping, optional
        Stops training and restores the best weights.
    progress : None, True, False, "bar" or "lines"
        None or True: a tqdm bar when stderr is a terminal, else one line per epoch on stdout;
        False: silent.
    log_every : int, default 1
        Print a line every ``log_every`` epochs (and always the last one).
    eval_train : bool, default False
        Report the training loss and accuracy measured in evaluation mode after the epoch,
        instead of the running mean over the epoch's minibatches (one more pass over ``X``;
        useful with dropout, whose training-mode loss is not comparable to ``val_loss``).

    Returns
    -------
    History
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"fit: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    check_array(X, "X", where="fit")
    check_array(y, "y", where="fit")
    n = len(X)
    if n == 0 or len(y) != n:
        raise ValueError(f"fit: X and y must hold the same number (> 0) of examples, got {n} and {len(y)}")
    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("log_every", log_every)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"fit: {name} must be a positive integer, got {v!r}")
    if early_stopping is not None and early_stopping.monitor.startswith("val") and val_data is None:
        raise ValueError(f"fit: early stopping monitors {early_stopping.monitor!r}, which needs val_data")
    mode = _progress_mode(progress)
    classify = _is_classification(y)
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

    if mode == "bar":
        from tqdm import tqdm

    # A network's input is the data, whose gradient nobody uses: skip computing it if the
    # model can (for a first Dense or Conv2D layer that is one matrix product in three).
    skip_dx = getattr(model, "can_skip_dx", False)
    for epoch in range(1, epochs + 1):
        start_time = time.perf_counter()
        perm = rng.permutation(n)
        X_epoch, y_epoch = X[perm], y[perm]          # one shuffled copy per epoch
        total_loss, n_correct = 0.0, 0
        bar = tqdm(total=n, desc=f"epoch {epoch}/{epochs}", unit="ex", leave=True) if mode == "bar" else None
        for s in range(0, n, batch_size):
            xb, yb = X_epoch[s:s + batch_size], y_epoch[s:s + batch_size]
            out = model.forward(xb, training=True)
            loss, dout = loss_fn(out, yb)
            if skip_dx:
                model.backward(dout, need_dx=False)  # the data needs no gradient
            else:
                model.backward(dout)
            optimizer.step(model.params, model.grads)
            total_loss += loss * len(xb)
            if classify and not eval_train:
                n_correct += int(np.count_nonzero(_predict(out) == yb))
            if bar is not None:
                bar.update(len(xb))
        if not np.isfinite(total_loss):
            if bar is not None:
                bar.close()
            raise FloatingPointError(
                f"fit: the training loss became {total_loss} in epoch {epoch}; "
                f"the learning rate ({getattr(optimizer, 'lr', '?')}) is probably too large"
            )
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
            metrics["lr"] = optimizer.lr              # the rate this epoch ran with
            schedule.step()
        seconds = time.perf_counter() - start_time
        for k, v in metrics.items():
            history[k].append(v)
        history["time"].append(seconds)

        stop = False
        if early_stopping is not None:
            stop = early_stopping.update(metrics[early_stopping.monitor], epoch, model_state(model))
        if bar is not None:
            bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items() if k != "lr"}, refresh=False)
            bar.close()
        elif mode == "lines" and (epoch % log_every == 0 or epoch == epochs or stop):
            print(format_epoch(epoch, epochs, metrics, seconds), flush=True)
        if stop:
            history.stopped_early = True
            if mode != "off":
                print(f"early stopping: no improvement of {early_stopping.monitor} for "
                      f"{early_stopping.patience} epochs; restoring epoch {early_stopping.best_epoch}",
                      flush=True)
            break

    if early_stopping is not None:
        early_stopping.restore(model_state(model))
        history.best_epoch = early_stopping.best_epoch
    elif "val_loss" in history:
        history.best_epoch = int(np.argmin(history["val_loss"])) + 1
    return history


def _predict(out: np.ndarray) -> np.ndarray:
    """Predicted classes from logits (N, C), or from binary logits (N,) / (N, 1)."""
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    return out.reshape(-1) > 0
