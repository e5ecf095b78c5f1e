"""Sentence classifiers: bag-of-n-grams linear models and pooled-embedding networks.

Every model takes a padded array of token ids (N, T) (:func:`nnscratch.text.pad`, padding
``PAD = 0`` at the end) and returns one logit per sentence, (N, 1), positive for class 1;
the loss is :func:`nnscratch.losses.binary_cross_entropy`. The padding mask is read from
the ids (``ids != PAD``), so a model needs nothing but its input.

- :class:`BagOfNgrams`: logistic regression on a bag of n-grams, optionally with the
  naive-Bayes feature weights of Wang & Manning (2012) (NB-LR).
- :class:`TextClassifier`: embedding, optional encoder (an LSTM or a causal Transformer
  block), pooling over time that respects the mask, dropout and a dense head.

:func:`train_classifier` trains either on length-bucketed minibatches: sentences of similar
length share a batch, which is cut to its longest sentence, so a recurrent encoder runs over
little padding.

See Also
--------
Book, Step 10 "Words" (practice): every model on the movie reviews.
"""

from __future__ import annotations

import time

import numpy as np

from ._checks import (
    check_array,
    check_binary,
    check_int,
    check_labels,
    check_nonempty_batch,
    check_number,
    check_rng,
    check_token_ids,
)
from .layers import Dense, Dropout, Embedding, EmbeddingBag, LSTM, Layer
from .layers.base import Composite
from .layers.masked import AttentionPooling, MaxOverTime, MeanOverTime
from .layers.position import PositionEmbedding, SinusoidalPositions
from .losses import binary_cross_entropy
from .models import transformer_block
from .network import Sequential, _layers_within
from .optim import clip_grad_norm
from .progress import format_epoch
from .text import PAD

__all__ = [
    "BagOfNgrams",
    "TextClassifier",
    "text_classifier",
    "train_classifier",
    "predict_logits",
]


def _trim(ids: np.ndarray) -> np.ndarray:
    """``ids`` without its trailing all-padding columns (they change nothing)."""
    used = (ids != PAD).any(axis=0)
    t = int(np.flatnonzero(used)[-1]) + 1 if used.any() else 1
    return ids[:, :t]


class BagOfNgrams(Layer):
    """Logistic regression on the set of n-grams of a sentence: ``z = sum_f r_f w_f + b``.

    Parameters
    ----------
    n_tokens : int
        Size V of the n-gram vocabulary.
    r : ndarray of shape (V,), optional
        Fixed feature scales, e.g. the naive-Bayes log-count ratios
        (:func:`nnscratch.text.nb_log_count_ratio`): the model is then NB-LR, a logistic
        regression on the features :math:`\\hat x \\odot r` of Wang & Manning (2012).
        Default: all ones, plain logistic regression on binary features.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict
        ``"w"`` (V,), one weight per n-gram, starting at zero, and ``"b"`` (1,).

    Notes
    -----
    The input is a bag (:func:`nnscratch.text.bag`): each n-gram id at most once per row, so
    the features are binary, :math:`\\hat x_f \\in \\{0, 1\\}`. The sum over the bag is an
    :class:`~nnscratch.layers.EmbeddingBag` of width 1 with per-position weights
    :math:`r_{x_{nl}}`: no (N, V) matrix is formed, and the gradient of ``w`` is a bincount.
    """

    def __init__(
        self,
        n_tokens: int,
        r: np.ndarray | None = None,
        *,
        dtype=np.float64,
    ) -> None:
        super().__init__()
        self.n_tokens = check_int(n_tokens, "n_tokens", "BagOfNgrams")
        self.bag = EmbeddingBag(
            self.n_tokens,
            1,
            rng=np.random.default_rng(0),  # unused: std=0 starts at zero
            std=0.0,
            dtype=dtype,
        )
        self.dtype = self.bag.dtype
        if r is None:
            r = np.ones(self.n_tokens)
        r = np.asarray(r)
        if r.shape != (self.n_tokens,):
            raise ValueError(
                f"BagOfNgrams: r must have shape ({self.n_tokens},), got {r.shape}"
            )
        self.r = r.astype(self.dtype)
        self.params = {
            "w": self.bag.params["W"][:, 0],
            "b": np.zeros(1, self.dtype),
        }
        self.grads = {
            "w": np.zeros(self.n_tokens, self.dtype),
            "b": np.zeros(1, self.dtype),
        }

    def forward(self, x, training=False):
        """Bags (N, L) of integer ids in ``[0, n_tokens)`` -> logits (N, 1)."""
        where = "BagOfNgrams.forward"
        check_array(x, "x", ndim=2, where=where)
        check_token_ids(x, self.n_tokens, where=where, bags=True)
        self.bag.params["W"] = self.params["w"][
            :, None
        ]  # a view: one array
        out = self.bag.forward(x, weights=self.r[x])  # (N, 1)
        return out + self.params["b"]

    def backward(self, dout, need_dx=True):
        """dout (N, 1): fill ``grads``; return None (ids have no gradient)."""
        self.bag.backward(dout)
        self.grads["w"] = self.bag.grads["W"][:, 0]
        self.grads["b"] = dout.sum(axis=0)
        return None

    def __repr__(self) -> str:
        return f"BagOfNgrams({self.n_tokens}, dtype={self.dtype})"


class TextClassifier(Composite):
    """Embedding, optional encoder, masked pooling over time, dropout, dense head.

    Parameters
    ----------
    embed : Embedding
        Token ids (N, T) -> vectors (N, T, D).
    pool : MeanOverTime, MaxOverTime or AttentionPooling
        (N, T, H) and the mask -> (N, H).
    head : Layer
        (N, H) -> logits (N, 1), usually a ``Dense``.
    encoder : Layer, optional
        (N, T, D) -> (N, T, H), e.g. an ``LSTM``. It must be causal (position t sees only
        positions up to t), so that the padding at the end of a sentence cannot reach its
        real positions.
    dropout : Dropout, optional
        Applied to the pooled vector in training.

    Notes
    -----
    ``params`` and ``grads`` are keyed ``"<part>.<name>"`` (``"embed.W"``, ``"head.b"``), and
    are the parts' own arrays. Trailing columns of padding are cut before the embedding:
    they change nothing, and cost time in the encoder.
    """

    _parts = ("embed", "encoder", "pool", "dropout", "head")

    _forward_state = ("_mask",)

    def __init__(self, embed, pool, head, *, encoder=None, dropout=None):
        super().__init__()
        self.embed, self.encoder, self.pool = embed, encoder, pool
        self.dropout, self.head = dropout, head
        self._mask: np.ndarray | None = None

    def parts(self):
        """The parts present, in the order data flows: keys ``"embed.W"``, ``"head.b"``."""
        return [
            (n, getattr(self, n))
            for n in self._parts
            if getattr(self, n) is not None
        ]

    def forward(self, x, training=False):
        """Token ids (N, T) -> logits (N, 1)."""
        _check_ids(self, x, "x", "TextClassifier.forward")
        ids = _trim(x)
        mask = ids != PAD  # (N, T')
        h = self.embed.forward(ids, training=training)  # (N, T', D)
        if self.encoder is not None:
            h = self.encoder.forward(h, training=training)  # (N, T', H)
        p = self.pool.forward(h, training=training, mask=mask)  # (N, H)
        if self.dropout is not None:
            p = self.dropout.forward(p, training=training)
        self._mask = mask
        return self.head.forward(p, training=training)  # (N, 1)

    def backward(self, dout, need_dx=True):
        """Backpropagate ``dout`` (N, 1) through every part; return None (ids)."""
        self._require_forward(self._mask)
        d = self.head.backward(dout)
        if self.dropout is not None:
            d = self.dropout.backward(d)
        d = self.pool.backward(d)  # (N, T', H), exactly 0 at padding
        if self.encoder is not None:
            d = self.encoder.backward(d)
        self.embed.backward(d)
        return None

    def __repr__(self) -> str:
        # the constructor's order: embed, pool, head positional; the optional parts by name
        parts = [repr(self.embed), repr(self.pool), repr(self.head)]
        parts += [
            f"{name}={part!r}"
            for name, part in (
                ("encoder", self.encoder),
                ("dropout", self.dropout),
            )
            if part is not None
        ]
        return f"TextClassifier({', '.join(parts)})"


def text_classifier(
    n_tokens: int,
    n_dim: int,
    *,
    rng: np.random.Generator,
    pool: str = "mean",
    lstm: int | None = None,
    transformer: int | None = None,
    max_len: int = 64,
    dropout: float = 0.0,
    dtype=np.float32,
) -> TextClassifier:
    """A :class:`TextClassifier` with the usual parts.

    Parameters
    ----------
    n_tokens, n_dim : int
        Vocabulary size and embedding width D.
    rng : numpy.random.Generator
    pool : {"mean", "max", "attention"}
    lstm : int, optional
        Hidden width of an LSTM encoder; None: pool the embeddings themselves.
    transformer : int, optional
        Number of heads of a Transformer encoder instead: learned positions
        (``max_len`` of them) added to the embeddings, then one *causal* pre-norm block
        (:func:`nnscratch.models.transformer_block`). Causal, so that the padding at the
        end of a sentence cannot reach its real positions, as with the LSTM.
    max_len : int, default 64
        Longest sentence the Transformer's positions cover.
    dropout : float in [0, 1), default 0
        Dropout rate on the pooled vector (0: no dropout layer).
    dtype : numpy dtype, default float32
        Training precision (float64 for gradient checks).
    """
    where = "text_classifier"
    check_rng(rng, where)
    dropout = check_number(
        dropout, "dropout", where, low=0, high=1, high_open=True
    )
    if lstm is not None and transformer is not None:
        raise ValueError(
            "text_classifier: choose an LSTM or a Transformer encoder, not both"
        )
    pools = {
        "mean": lambda: MeanOverTime(),
        "max": lambda: MaxOverTime(),
        "attention": lambda: AttentionPooling(width, dtype=dtype),
    }
    if pool not in pools:
        raise ValueError(
            f"text_classifier: pool must be one of {sorted(pools)}, got {pool!r}"
        )
    # std 0.1: embeddings start small, so that a mean of a few of them is not noise
    embed = Embedding(n_tokens, n_dim, rng=rng, dtype=dtype, std=0.1)
    encoder = None
    width = n_dim
    if lstm is not None:
        encoder = LSTM(n_dim, lstm, rng=rng, dtype=dtype)
        width = lstm
    if transformer is not None:
        encoder = Sequential(
            [
                PositionEmbedding(max_len, n_dim, rng=rng, dtype=dtype),
                transformer_block(
                    n_dim, transformer, rng=rng, causal=True, dtype=dtype
                ),
            ]
        )
    drop = Dropout(dropout, rng=rng) if dropout > 0 else None
    head = Dense(width, 1, rng=rng, dtype=dtype)
    return TextClassifier(
        embed, pools[pool](), head, encoder=encoder, dropout=drop
    )


def _buckets(lengths, batch_size, rng, chunk=20):
    """Minibatches of indices whose sentences have similar lengths, in random order.

    The examples are shuffled, cut into chunks of ``chunk`` batches, each chunk sorted by
    length and cut into batches; the batches are then shuffled.
    """
    order = rng.permutation(len(lengths))
    batches = []
    span = batch_size * chunk
    for i in range(0, len(order), span):
        part = order[i : i + span]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [
            part[j : j + batch_size]
            for j in range(0, len(part), batch_size)
        ]
    return [batches[k] for k in rng.permutation(len(batches))]


def _n_tokens(model) -> int | None:
    """The vocabulary size a model's ids must lie below, if it has one."""
    if isinstance(model, TextClassifier):
        model = model.embed
    return getattr(model, "n_tokens", None)


def _check_ids(model, ids, name: str, where: str) -> None:
    """Refuse ``ids`` unless they are (N, T) integer ids that ``model`` can look up."""
    check_array(ids, name, ndim=2, where=where)
    check_token_ids(ids, _n_tokens(model), where=where, name=name)


def _max_len(model) -> int | None:
    """The longest sentence a model's encoder takes (its positions' ``max_len``), if any."""
    found = [
        layer.max_len
        for layer in _layers_within(getattr(model, "encoder", None))
        if isinstance(layer, (PositionEmbedding, SinusoidalPositions))
    ]
    return min(found, default=None)


def _check_length(ids, max_len: int, name: str, where: str) -> None:
    """Refuse ``ids`` if a sentence (to its last non-padding id) is over ``max_len``."""
    longer = np.flatnonzero((ids[:, max_len:] != PAD).any(axis=1))
    if longer.size:
        longest = _trim(ids).shape[1]
        raise ValueError(
            f"{where}: {name} must hold sentences of at most max_len = {max_len} tokens "
            f"(the positions of the model's encoder), got {longer.size} longer, the "
            f"first in row {longer[0]}, the longest of {longest} tokens; cut them "
            f"(pad(..., max_len={max_len})) or build the model with max_len >= {longest}"
        )


def predict_logits(
    model, ids: np.ndarray, batch_size: int = 500
) -> np.ndarray:
    """Logits (N, 1) of ``model`` in evaluation mode, batch by batch (sorted by length)."""
    _check_ids(model, ids, "ids", "predict_logits")
    batch_size = check_int(batch_size, "batch_size", "predict_logits")
    lengths = (ids != PAD).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    out = np.empty((len(ids), 1))
    for i in range(0, len(ids), batch_size):
        idx = order[i : i + batch_size]
        out[idx] = model.forward(ids[idx], training=False)
    return out


def train_classifier(
    model,
    ids: np.ndarray,
    y: np.ndarray,
    *,
    optimizer,
    rng: np.random.Generator,
    epochs: int,
    batch_size: int = 50,
    clip_norm: float | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    log=None,
) -> dict[str, list[float]]:
    """Train a sentence classifier with binary cross-entropy on length-bucketed minibatches.

    Parameters
    ----------
    model : BagOfNgrams or TextClassifier
    ids : ndarray of shape (N, T), int
        Padded token ids (or bags, for :class:`BagOfNgrams`).
    y : ndarray of shape (N,), int
        Labels 0 or 1.
    optimizer : Optimizer
        Stepped after every minibatch (its ``weight_decay`` is the L2 penalty).
    rng : numpy.random.Generator
        Shuffles the batches every epoch (and drives dropout through the model's own rng).
    epochs, batch_size : int
    clip_norm : float, optional
        Clip the global gradient norm before each step.
    val : (ids_val, y_val), optional
        Evaluated after every epoch; ``ids_val`` (M, T') and ``y_val`` (M,) as ``ids``
        and ``y``.
    log : callable, optional
        Called with one :func:`nnscratch.progress.format_epoch` line per epoch (``print``).

    Returns
    -------
    dict
        ``"loss"`` (mean training loss of each epoch), ``"val_acc"`` with ``val``.

    Notes
    -----
    Every argument is checked before the first step, so a bad id or label anywhere, or
    a sentence longer than a Transformer encoder's ``max_len``, raises before the model
    or the optimizer has changed.
    """
    where = "train_classifier"
    check_rng(rng, where)
    epochs = check_int(epochs, "epochs", where)
    batch_size = check_int(batch_size, "batch_size", where)
    if clip_norm is not None:
        check_number(clip_norm, "clip_norm", where, low=0, low_open=True)
    check_array(ids, "ids", where=where)
    y = np.asarray(y)
    if ids.ndim != 2 or y.shape != (len(ids),):
        raise ValueError(
            f"train_classifier: ids must be (N, T) and y (N,), got {ids.shape} and {y.shape}"
        )
    check_nonempty_batch(len(ids), "ids", where)
    sets = [("ids", ids, "y", y)]
    if val is not None:
        if not isinstance(val, (tuple, list)):
            raise TypeError(
                f"{where}: val must be a pair (ids_val, y_val), got {type(val).__name__}"
            )
        if len(val) != 2:
            raise ValueError(
                f"{where}: val must be a pair (ids_val, y_val), got {len(val)} items"
            )
        val = (val[0], np.asarray(val[1]))
        sets.append(("ids_val", val[0], "y_val", val[1]))
    max_len = _max_len(model)
    for ids_name, x, y_name, labels in sets:
        _check_ids(model, x, ids_name, where)
        if max_len is not None:
            _check_length(x, max_len, ids_name, where)
        check_labels(labels, len(x), where=where, name=y_name)
        check_binary(labels, f"{y_name} must contain only 0 and 1", where)
    dtype = next(iter(model.params.values())).dtype
    lengths = (ids != PAD).sum(axis=1)
    history: dict[str, list[float]] = {"loss": []}
    if val is not None:
        history["val_acc"] = []
    for epoch in range(1, epochs + 1):
        start, total = time.perf_counter(), 0.0
        for idx in _buckets(lengths, batch_size, rng):
            z = model.forward(ids[idx], training=True)
            loss, dz = binary_cross_entropy(z, y[idx])
            model.backward(dz.astype(dtype, copy=False))
            grads = model.grads
            if clip_norm is not None:
                clip_grad_norm(grads, clip_norm)
            optimizer.step(model.params, grads)
            total += loss * len(idx)
        history["loss"].append(total / len(ids))
        metrics = {"loss": history["loss"][-1]}
        if val is not None:
            z = predict_logits(model, val[0])
            history["val_acc"].append(
                float(np.mean((z[:, 0] > 0) == val[1]))
            )
            metrics["val_acc"] = history["val_acc"][-1]
        if log is not None:
            log(
                format_epoch(
                    epoch, epochs, metrics, time.perf_counter() - start
                )
            )
    return history
