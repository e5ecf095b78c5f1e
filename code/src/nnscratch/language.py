"""Character-level language models: a text as parallel streams, truncated BPTT, sampling.

A language model predicts each character from the ones before it. The text (token ids,
e.g. from :mod:`nnscratch.data.tinyshakespeare`) is cut into ``batch_size`` contiguous
streams, one per row of a batch; training walks through them ``seq_len`` characters at a
time, each window's target being the same window shifted by one character. The recurrent
layers carry their state from one window to the next (the model remembers what came before),
but gradients stop at the window's start: *truncated* backpropagation through time.

Losses are in nats per character (natural log); divide by ln 2 for bits per character.

See Also
--------
Book, Step 8 "Sequences" (practice): a character model of Shakespeare.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

import numpy as np

from ._checks import (
    check_array,
    check_finite,
    check_float_array,
    check_int,
    check_labels,
    check_nonempty_batch,
    check_number,
    check_rng,
    check_token_ids,
)
from .layers.dense import Dense
from .layers.embedding import Embedding
from .layers.recurrent import LSTM, RNN
from .losses import _softmax_cross_entropy
from .network import Sequential
from .optim import clip_grad_norm, global_norm
from .progress import make_reporter
from .train import History, TrainingDiverged

__all__ = [
    "char_model",
    "sequence_cross_entropy",
    "carried_state",
    "evaluate_lm",
    "train_lm",
    "sample",
]


def char_model(
    kind: str,
    n_tokens: int,
    *,
    n_embed: int,
    n_hidden: int,
    rng: np.random.Generator,
    dtype=np.float32,
) -> Sequential:
    """``Embedding -> RNN or LSTM -> Dense``: logits of the next character at every step.

    Parameters
    ----------
    kind : {"rnn", "lstm"}
    n_tokens : int
        Vocabulary size V.
    n_embed, n_hidden : int
        Embedding width E and hidden width H.
    rng : numpy.random.Generator
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Input (N, T) token ids, output (N, T, V) logits.
    """
    cells = {"rnn": RNN, "lstm": LSTM}
    if kind not in cells:
        raise ValueError(
            f"char_model: kind must be 'rnn' or 'lstm', got {kind!r}"
        )
    return Sequential(
        [
            Embedding(n_tokens, n_embed, rng=rng, dtype=dtype),
            cells[kind](n_embed, n_hidden, rng=rng, dtype=dtype),
            Dense(n_hidden, n_tokens, rng=rng, dtype=dtype, init="glorot"),
        ]
    )


def sequence_cross_entropy(
    logits: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy averaged over every position of every sequence.

    Parameters
    ----------
    logits : ndarray of shape (N, T, V)
    y : ndarray of shape (N, T), integer targets

    Returns
    -------
    loss : float
        Mean over the N·T positions, in nats per character.
    dlogits : ndarray of shape (N, T, V)

    Raises
    ------
    TypeError
        If ``logits`` is not a floating-point array, or ``y`` not an array of integers.
    ValueError
        If the shapes do not match, a target lies outside ``[0, V)``, or N·T = 0.
    """
    where = "sequence_cross_entropy"
    check_float_array(logits, "logits", where=where)
    check_array(y, "y", where=where)
    if logits.ndim != 3 or y.shape != logits.shape[:2]:
        raise ValueError(
            f"{where}: logits must be (N, T, V) and y (N, T), got "
            f"{logits.shape} and {y.shape}"
        )
    n, t, v = logits.shape
    check_labels(y.reshape(n * t), n * t, v, where=where)
    check_nonempty_batch(n * t, "logits", where=where)
    # checked above, so that an error names this function: the flattened views go to the
    # loss's unchecked core
    loss, dz = _softmax_cross_entropy(
        logits.reshape(n * t, v), y.reshape(n * t)
    )
    return loss, dz.reshape(n, t, v)


def _recurrent_layers(model) -> list:
    """Every layer inside ``model`` (nested ``Sequential`` too) that carries a state."""
    if hasattr(model, "reset_state"):
        return [model]
    return [
        x
        for layer in getattr(model, "layers", [])
        for x in _recurrent_layers(layer)
    ]


@contextmanager
def carried_state(model):
    """Inside the block, the model's recurrent layers carry their state, starting from zeros.

    On exit each layer gets back its own ``stateful`` flag and the state it had before, so a
    validation pass in the middle of training does not disturb the training streams.
    """
    layers = _recurrent_layers(model)
    saved = [(layer.stateful, layer.state) for layer in layers]
    for layer in layers:
        layer.stateful, layer.state = True, None
    try:
        yield model
    finally:
        for layer, (flag, state) in zip(layers, saved):
            layer.stateful, layer.state = flag, state


def _streams(
    ids: np.ndarray,
    n_rows: int,
    offset: int = 0,
    *,
    where: str,
    min_length: int = 2,
) -> np.ndarray:
    """``ids[offset:]`` cut into ``n_rows`` contiguous rows of equal length: (n_rows, L).

    The last ``(len(ids) - offset) % n_rows`` tokens are dropped. Each row needs at least
    ``min_length`` tokens: 2 (one input, one target) to be scored, ``seq_len + 1`` to hold
    a training window.
    """
    length = (len(ids) - offset) // n_rows
    if length < min_length:
        after = f" (this pass skips the first {offset}, a random offset)"
        raise ValueError(
            f"{where}: a text of {len(ids)} tokens is too short for {n_rows} "
            f"streams of at least {min_length} tokens each; it needs at least "
            f"{n_rows * min_length + offset} tokens{after if offset else ''}"
        )
    return ids[offset : offset + n_rows * length].reshape(n_rows, length)


_EVAL_ROWS = 32  # evaluate_lm's streams, also when train_lm calls it


def evaluate_lm(
    model,
    ids: np.ndarray,
    *,
    n_rows: int = _EVAL_ROWS,
    seq_len: int = 256,
    stride: int | None = None,
) -> float:
    """Mean loss of predicting every token but the first of each of ``n_rows`` streams of ``ids``.

    In nats per character. The text is cut into ``n_rows`` contiguous streams of
    ``len(ids) // n_rows`` tokens (the last ``len(ids) % n_rows`` tokens are dropped), so at
    least ``2 * n_rows`` tokens are needed. They are read in windows of ``seq_len`` with the
    state carried across windows, so every character but the first of each stream is predicted
    from all of its stream before it (and the result does not depend on ``seq_len``).
    A model without state (a Transformer) reads each window on its own: ``seq_len`` is then
    its context, at most the model's context length. With ``stride`` (such a model only)
    the windows overlap, each starting ``stride`` characters after the last, and only the
    characters no earlier window predicted are scored: after the first window every
    character is predicted from at least ``seq_len - stride + 1`` before it. Without it the
    windows are disjoint and character ``t`` of a window is predicted from the ``t``
    characters before it in the window.
    """
    check_array(ids, "ids", ndim=1, where="evaluate_lm")
    seq_len = check_int(seq_len, "seq_len", "evaluate_lm")
    stride = (
        seq_len
        if stride is None
        else check_int(stride, "stride", "evaluate_lm")
    )
    if stride > seq_len:
        raise ValueError(
            f"evaluate_lm: stride must be at most seq_len = {seq_len}, got {stride}"
        )
    if stride < seq_len and _recurrent_layers(model):
        raise ValueError(
            "evaluate_lm: stride is for models without state; a recurrent model "
            "carries its state across disjoint windows"
        )
    rows = _streams(
        ids, check_int(n_rows, "n_rows", "evaluate_lm"), where="evaluate_lm"
    )
    total, count, done = 0.0, 0, 0  # rows[:, 1 : done + 1] are scored
    with carried_state(model):
        for s in range(0, rows.shape[1] - 1, stride):
            y = rows[:, s + 1 : s + seq_len + 1]  # (n_rows, t) targets
            x = rows[:, s : s + y.shape[1]]  # (n_rows, t) inputs
            new = s + y.shape[1] - done  # targets no window scored yet
            z = model.forward(x, training=False)[:, -new:]
            loss, _ = sequence_cross_entropy(z, y[:, -new:])
            total += loss * y[:, -new:].size
            count += y[:, -new:].size
            done += new
            if done == rows.shape[1] - 1:
                break
    return total / count


def train_lm(
    model,
    optimizer,
    ids: np.ndarray,
    *,
    rng: np.random.Generator,
    steps: int,
    batch_size: int = 32,
    seq_len: int = 64,
    clip_norm: float | None = None,
    schedule=None,
    val_ids: np.ndarray | None = None,
    eval_every: int = 100,
    eval_seq_len: int = 256,
    progress=None,
) -> History:
    """Train a character model by truncated BPTT on ``batch_size`` parallel streams.

    Parameters
    ----------
    model : Layer
        Maps (N, T) token ids to (N, T, V) logits (see :func:`char_model`).
    optimizer : Optimizer
        ``step(model.params, model.grads)`` after every window.
    ids : ndarray of shape (L,), integers
        The training text.
    rng : numpy.random.Generator
        Each pass over the text starts at a random offset in ``[0, seq_len)``, so that the
        windows' edges fall elsewhere every pass.
    steps : int
        Number of windows (optimizer steps) to train on.
    batch_size, seq_len : int
        Streams N and window length T: each step sees N·T characters.
    clip_norm : float, optional
        Clip the gradients' global norm to this (:func:`nnscratch.optim.clip_grad_norm`).
    schedule : Schedule, optional
        Its ``step()`` is called after **every optimizer step** (here a schedule's
        "epoch" is one step), e.g. ``CosineLR(optimizer, t_max=steps)``.
    val_ids : ndarray, optional
        Validation text, evaluated every ``eval_every`` steps and at the end.
    eval_every : int, default 100
    eval_seq_len : int, default 256
        Window of :func:`evaluate_lm`; for a model without state (a Transformer) its
        context length.
    progress : see :func:`nnscratch.train.fit`

    Returns
    -------
    History
        One entry per report (every ``eval_every`` steps): ``"step"``, ``"loss"`` (mean
        training loss since the previous report), ``"val_loss"``, ``"grad_norm"`` (mean norm
        before clipping), ``"clipped"`` (fraction of steps clipped), ``"lr"`` and ``"time"``
        (training seconds of the report's steps, evaluation excluded).

    Raises
    ------
    TrainingDiverged
        When the loss of a window is not finite (NaN or infinite). Its ``epoch`` is the
        1-based pass over the text and its ``batch`` the 1-based window within that pass
        (the message also gives the global step); its ``history`` holds the reports made
        before. Unlike :func:`~nnscratch.train.fit`, ``train_lm`` restores nothing: the
        model keeps the parameters the failing forward pass used (those after the
        previous step; no backward pass or optimizer step is taken for the failing window),
        and its recurrent layers get back the state they had before the call. Only the loss
        is checked, not the gradients.
    TypeError, ValueError
        When an argument is of the wrong type or out of range, or when ``ids`` is too short
        for ``batch_size`` streams of at least ``seq_len + 1`` tokens after the pass's
        random offset.
    """
    check_rng(rng, "train_lm")
    check_array(ids, "ids", ndim=1, where="train_lm")
    steps, eval_every = check_int(steps, "steps", "train_lm"), check_int(
        eval_every, "eval_every", "train_lm"
    )
    batch_size, seq_len = check_int(
        batch_size, "batch_size", "train_lm"
    ), check_int(seq_len, "seq_len", "train_lm")
    if clip_norm is not None:
        check_number(
            clip_norm, "clip_norm", "train_lm", low=0, low_open=True
        )
    eval_seq_len = check_int(eval_seq_len, "eval_seq_len", "train_lm")
    if (
        val_ids is not None
    ):  # checked now, not eval_every steps into training
        check_array(val_ids, "val_ids", ndim=1, where="train_lm")
        check_token_ids(val_ids, None, where="train_lm", name="val_ids")
        _streams(val_ids, _EVAL_ROWS, where="train_lm (val_ids)")
    history = History(
        step=[],
        loss=[],
        grad_norm=[],
        clipped=[],
        lr=[],
        time=[],
        **({"val_loss": []} if val_ids is not None else {}),
    )
    reporter = make_reporter(progress, unit="step", where="train_lm")
    rows, pos, n_pass = None, 0, 0
    sums = dict(loss=0.0, norm=0.0, clipped=0, n=0, seconds=0.0)
    try:
        with carried_state(model) as m:
            for step in range(1, steps + 1):
                if sums["n"] == 0:
                    reporter.start_epoch(
                        min(step + eval_every - 1, steps),
                        steps,
                        min(eval_every, steps - step + 1),
                    )
                start = time.perf_counter()
                if (
                    rows is None or pos + seq_len + 1 > rows.shape[1]
                ):  # a new pass
                    rows, pos, n_pass = (
                        _streams(
                            ids,
                            batch_size,
                            int(rng.integers(seq_len)),
                            where="train_lm",
                            min_length=seq_len + 1,
                        ),
                        0,
                        n_pass + 1,
                    )
                    for layer in _recurrent_layers(m):
                        layer.reset_state()
                x, y = (
                    rows[:, pos : pos + seq_len],
                    rows[:, pos + 1 : pos + seq_len + 1],
                )  # (N, T)
                pos += seq_len
                loss, dout = sequence_cross_entropy(
                    m.forward(x, training=True), y
                )
                if not math.isfinite(loss):
                    window = pos // seq_len  # 1-based, within this pass
                    raise TrainingDiverged(
                        f"train_lm: the loss is {loss} at step {step} (pass {n_pass}, "
                        f"window {window}); the learning rate ({optimizer.lr}) is "
                        f"probably too large",
                        n_pass,
                        window,
                        history,
                    )
                m.backward(dout, need_dx=False)
                grads = m.grads
                norm = (
                    clip_grad_norm(grads, clip_norm)
                    if clip_norm
                    else global_norm(grads)
                )
                optimizer.step(m.params, grads)
                lr = optimizer.lr
                if schedule is not None:
                    schedule.step()
                sums["seconds"] += time.perf_counter() - start
                sums["loss"] += loss
                sums["norm"] += norm
                sums["clipped"] += bool(clip_norm and norm > clip_norm)
                sums["n"] += 1
                reporter.end_batch(1)
                if step % eval_every and step != steps:
                    continue
                n = sums["n"]
                metrics = {"loss": sums["loss"] / n}
                if val_ids is not None:
                    metrics["val_loss"] = evaluate_lm(
                        m, val_ids, seq_len=eval_seq_len
                    )
                for k, v in (
                    ("step", step),
                    ("grad_norm", sums["norm"] / n),
                    ("clipped", sums["clipped"] / n),
                    ("lr", lr),
                    ("time", sums["seconds"]),
                ):
                    history[k].append(v)
                for k, v in metrics.items():
                    history[k].append(v)
                reporter.end_epoch(
                    step,
                    steps,
                    metrics | {"lr": lr},
                    sums["seconds"],
                    last=step == steps,
                )
                sums = dict(loss=0.0, norm=0.0, clipped=0, n=0, seconds=0.0)
    finally:
        reporter.close()
    return history


def sample(
    model,
    prompt: np.ndarray,
    n: int,
    *,
    rng: np.random.Generator,
    temperature: float = 1.0,
    context: int | None = None,
) -> np.ndarray:
    """Draw ``n`` tokens from the model, one at a time, after reading ``prompt``.

    Parameters
    ----------
    model : Layer
        Maps (N, T) token ids to (N, T, V) logits.
    prompt : ndarray of shape (P,), integers, P >= 1
        Read first; sampling continues from the state it leaves.
    n : int
        Tokens to draw.
    rng : numpy.random.Generator
        The only source of randomness: same seed, same text.
    temperature : float, default 1.0
        Divides the logits before the softmax: below 1 sharper (more likely, more
        repetitive), above 1 flatter (more surprising, more misspelt).
    context : int, optional
        For a model without state (a Transformer, :func:`nnscratch.models.gpt`): at every
        step it re-reads the last ``context`` tokens (prompt and drawn ones), its context
        length. By default the model must be recurrent (a model without state is refused):
        it reads one token per step, carrying its state.

    Returns
    -------
    ndarray of shape (n,), int64

    Notes
    -----
    :math:`p_v = e^{z_v / \\tau} / \\sum_u e^{z_u / \\tau}`, computed in float64; a token is
    drawn by inverting the cumulative distribution at one uniform number from ``rng``.
    """
    check_rng(rng, "sample")
    check_array(prompt, "prompt", ndim=1, where="sample")
    if len(prompt) == 0:
        raise ValueError(
            "sample: prompt must hold at least one token, got an empty "
            f"prompt of shape {prompt.shape}"
        )
    check_token_ids(prompt, None, where="sample", name="prompt")
    n = check_int(n, "n", "sample", minimum=0)
    tau = check_number(
        temperature, "temperature", "sample", low=0, low_open=True
    )
    out = np.empty(n, dtype=np.int64)
    if context is not None:
        context = check_int(context, "context", "sample")
        window = np.asarray(prompt[-context:], dtype=np.int64)
        for k in range(n):
            # (V,) logits of the token after the window
            z = model.forward(window[None, :], training=False)[0, -1]
            out[k] = _draw(z, tau, rng, k)
            window = np.append(window, out[k])[-context:]
        return out
    if not _recurrent_layers(model):
        raise ValueError(
            "sample: the model carries no state, so without context it "
            "would see only the last token at each step; pass "
            "context=<its context length> (context=1 for a model meant "
            "to see one token)"
        )
    with carried_state(model):
        # (V,) logits of the token after the prompt
        z = model.forward(prompt[None, :], training=False)[0, -1]
        for k in range(n):
            out[k] = _draw(z, tau, rng, k)
            z = model.forward(out[None, k : k + 1], training=False)[0, -1]
    return out


def _draw(
    z: np.ndarray, tau: float, rng: np.random.Generator, k: int = 0
) -> int:
    """One token from the logits ``z`` (V,) at temperature ``tau``, by inverting the CDF.

    ``k`` (0-based) numbers the token in the error for logits that are not finite, which
    would otherwise silently give the last token.
    """
    check_finite(z, f"the model's logits for token {k + 1}", "sample")
    zf = z.astype(np.float64) / tau
    p = np.exp(zf - zf.max())
    cdf = np.cumsum(p)
    return min(
        int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")),
        len(p) - 1,
    )
