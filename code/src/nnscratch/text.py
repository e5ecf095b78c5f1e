"""Text as integers: tokens, n-grams, a vocabulary, padded batches and their masks.

A sentence becomes a list of tokens (:func:`tokenize`), optionally extended with its
n-grams (:func:`ngrams`); a :class:`Vocab` numbers the tokens seen often enough in the
training set and maps every other token to one unknown id; :func:`pad` stacks sentences of
different lengths into one ``(N, T)`` array and a boolean mask of the real positions.
:func:`nb_log_count_ratio` gives the naive-Bayes weights of Wang & Manning (2012).

Id 0 is always padding and id 1 the unknown token, so that a padded array can be read
without its vocabulary: its mask is ``ids != PAD``.

See Also
--------
Book, Step 10 "Words": from words to vectors, and sentiment classifiers built on them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from ._checks import (
    check_array,
    check_binary,
    check_int,
    check_labels,
    check_number,
    check_token_ids,
)

PAD, UNK = 0, 1
PAD_TOKEN, UNK_TOKEN = "<pad>", "<unk>"

#: Penn-Treebank-like (MR itself splits punctuation off, not clitics): a word (letters
#: and digits, inner hyphens: ``well-made``) before a clitic is cut there (``is|n't``,
#: ``it|'s``); the clitic is a token; so is every other non-space character (punctuation).
#: The clitics are the English ones, ``n't 's 're 've 'll 'd 'm``, each followed by no
#: letter or digit; any other apostrophe is a quote, punctuation (``'great'`` is
#: ``' great '``, ``'dull`` is ``' dull``).
TOKEN = re.compile(
    r"[^\W_]+(?=n't)|n't"  # a word before n't; n't
    r"|'(?:s|re|ve|ll|d|m)(?![^\W_])"  # the other clitics, whole
    r"|[^\W_]+(?:-[^\W_]+)*|[^\w\s]|_"  # a word; a punctuation mark
)


def _refuse_str(
    value,
    name: str,
    where: str,
    expected: str = "a sequence of tokens (a list of str)",
) -> None:
    """Refuse a str where tokens are expected: iterating over it would give its characters."""
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        raise TypeError(
            f"{where}: {name} must be {expected}, got a str, {shown!r}; "
            f"cut it into tokens first, e.g. with tokenize()"
        )


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens of ``text``: words, clitics and punctuation marks.

    The clitics are ``n't 's 're 've 'll 'd 'm``; any other apostrophe is a quote, a
    punctuation mark of its own.

    >>> tokenize("It's a well-made film, isn't it?")
    ['it', "'s", 'a', 'well-made', 'film', ',', 'is', "n't", 'it', '?']
    >>> tokenize("He said 'great' and left.")
    ['he', 'said', "'", 'great', "'", 'and', 'left', '.']
    """
    if not isinstance(text, str):
        raise TypeError(
            f"tokenize: text must be a str, got {type(text).__name__}"
        )
    return TOKEN.findall(text.lower())


def ngrams(tokens: Sequence[str], n_max: int = 2) -> list[str]:
    """The tokens followed by their n-grams for n = 2 .. ``n_max``, joined by spaces.

    >>> ngrams(["not", "good", "at", "all"], 2)
    ['not', 'good', 'at', 'all', 'not good', 'good at', 'at all']
    """
    _refuse_str(tokens, "tokens", "ngrams")
    n_max = check_int(n_max, "n_max", "ngrams")
    out = list(tokens)
    for n in range(2, n_max + 1):
        out += [
            " ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)
        ]
    return out


class Vocab:
    """Tokens numbered by decreasing frequency, after the padding and unknown tokens.

    Build it with :meth:`build` on the *training* sentences only: a token of the test set
    that training never saw must be unknown to the model, as it would be in use.

    Parameters
    ----------
    tokens : sequence of str
        The known tokens in id order, starting with ``"<pad>"`` and ``"<unk>"``.
    counts : sequence of int, optional
        Their training counts (0 for the two special tokens).

    Attributes
    ----------
    tokens : list of str
        ``tokens[i]`` is the token of id ``i``.
    index : dict
        Token -> id.
    """

    def __init__(
        self, tokens: Sequence[str], counts: Sequence[int] | None = None
    ) -> None:
        tokens = list(tokens)
        if tokens[:2] != [PAD_TOKEN, UNK_TOKEN]:
            raise ValueError(
                f"Vocab: tokens must start with {PAD_TOKEN!r}, {UNK_TOKEN!r} (ids {PAD}, "
                f"{UNK}), got {tokens[:2]}"
            )
        if len(set(tokens)) != len(tokens):
            repeated = [t for t, k in Counter(tokens).items() if k > 1]
            raise ValueError(
                f"Vocab: tokens must be distinct, got {len(repeated)} repeated: "
                f"{repeated[:5]}"
            )
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        self.counts = np.zeros(len(tokens), np.int64)
        if counts is not None:
            if len(counts) != len(tokens):
                raise ValueError(
                    f"Vocab: counts must hold one count per token, {len(tokens)}, "
                    f"got {len(counts)}"
                )
            self.counts[:] = counts

    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        *,
        min_count: int = 1,
        max_size: int | None = None,
    ) -> Vocab:
        """The vocabulary of tokenized ``sentences``.

        Parameters
        ----------
        sentences : iterable of sequences of str
            Tokenized training sentences (with their n-grams, for a bag-of-n-grams model).
        min_count : int, default 1
            Tokens seen fewer times are left out (they will be unknown): a token seen once
            cannot be learned, only memorized.
        max_size : int, optional
            Keep at most this many tokens besides the two special ones, the most frequent.

        Notes
        -----
        Ties in frequency are broken alphabetically, so the ids do not depend on the order
        of the sentences.
        """
        where = "Vocab.build"
        _refuse_str(
            sentences,
            "sentences",
            where,
            "an iterable of tokenized sentences (lists of str)",
        )
        min_count = check_int(min_count, "min_count", where)
        counts: Counter[str] = Counter()
        for i, s in enumerate(sentences):
            _refuse_str(s, f"sentences[{i}]", where)
            counts.update(s)
        for special in (PAD_TOKEN, UNK_TOKEN):
            counts.pop(special, None)
        # (-count, token) tuples compare in C: ten times faster than a key function
        ranked = sorted(
            (-c, t) for t, c in counts.items() if c >= min_count
        )
        kept = [t for _, t in ranked]
        if max_size is not None:
            kept = kept[: check_int(max_size, "max_size", where)]
        return cls(
            [PAD_TOKEN, UNK_TOKEN] + kept,
            [0, 0] + [counts[t] for t in kept],
        )

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of ``tokens``, int64 of shape (len(tokens),); unknown tokens get ``UNK``.

        ``tokens`` is a sequence of str, one per token; a str is refused (its characters
        are not its tokens).
        """
        _refuse_str(tokens, "tokens", "Vocab.encode")
        get = self.index.get
        return np.array([get(t, UNK) for t in tokens], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` (padding included, as ``"<pad>"``).

        ``ids`` are integers in ``[0, len(self))``; any other id is refused, not wrapped
        round (``-1`` is not the last token).
        """
        ids = np.asarray(list(ids))
        if ids.size == 0:
            return []
        check_token_ids(ids, len(self), where="Vocab.decode", name="ids")
        return [self.tokens[i] for i in ids.tolist()]

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens)"


def pad(
    sequences: Sequence[np.ndarray], max_len: int | None = None
) -> np.ndarray:
    """Stack id sequences of different lengths into one array, padded with ``PAD`` at the end.

    Parameters
    ----------
    sequences : sequence of 1-D integer arrays
        Non-negative ids; floats are refused rather than truncated.
    max_len : int, optional
        Longer sequences are cut to their first ``max_len`` ids. Default: the longest.

    Returns
    -------
    ids : ndarray of shape (N, T), int64
        ``T`` is the longest length (at most ``max_len``); row ``i`` holds sequence ``i``
        then ``PAD``. The mask of the real positions is ``ids != PAD``. An empty sequence
        keeps one ``UNK``, so that every row has at least one position to pool over.
    """
    for i, s in enumerate(sequences):
        s = np.asarray(s)
        if s.ndim != 1:
            raise ValueError(
                f"pad: sequences[{i}] must be a 1-D array of ids, got shape {s.shape}"
            )
        # an empty sequence holds no wrong id, whatever its dtype
        if s.size:
            check_token_ids(s, None, where="pad", name=f"sequences[{i}]")
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if max_len is not None:
        lengths = np.minimum(lengths, check_int(max_len, "max_len", "pad"))
    t = max(1, int(lengths.max(initial=0)))
    ids = np.full((len(sequences), t), PAD, dtype=np.int64)
    for i, (s, n) in enumerate(zip(sequences, lengths)):
        if n == 0:
            ids[i, 0] = UNK
        else:
            ids[i, :n] = s[:n]
    if (ids < 0).any():
        row, col = (int(i[0]) for i in np.nonzero(ids < 0))
        raise ValueError(
            f"pad: ids must be non-negative, got {ids[row, col]} in sequence "
            f"{row} at position {col}"
        )
    return ids


def bag(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """Each sequence's distinct ids, padded: the binarized bag of a bag-of-n-grams model.

    ``UNK`` is dropped (an unknown token carries no learned weight). Returns an int64 array
    of shape (N, L), ``L`` the largest number of distinct ids, padded with ``PAD``; each
    row's ids are sorted.
    """
    ids = pad(sequences)  # (N, T)
    ids[ids == UNK] = PAD
    ids.sort(axis=1)  # PAD = 0 first, then the ids in order
    dup = np.zeros_like(ids, dtype=bool)
    dup[:, 1:] = ids[:, 1:] == ids[:, :-1]  # repeats of the previous id
    ids[dup] = PAD
    # real ids to the front, in order (a stable sort on "is padding")
    order = np.argsort(ids == PAD, axis=1, kind="stable")
    ids = np.take_along_axis(ids, order, axis=1)
    return ids[:, : max(1, int((ids != PAD).sum(axis=1).max(initial=0)))]


def nb_log_count_ratio(
    bags: np.ndarray, y: np.ndarray, n_tokens: int, alpha: float = 1.0
) -> np.ndarray:
    """The naive-Bayes log-count ratio of every token (Wang & Manning, 2012).

    Parameters
    ----------
    bags : ndarray of shape (N, L), int
        Distinct ids of each training example, padded with ``PAD`` (:func:`bag`).
    y : ndarray of shape (N,), int
        Labels, 1 positive and 0 negative.
    n_tokens : int
        Size V of the vocabulary; the ids of ``bags`` lie in ``[0, V)``.
    alpha : float, default 1.0
        Smoothing count added to every token of each class.

    Returns
    -------
    r : ndarray of shape (V,), float64
        :math:`r = \\log\\big((p / \\lVert p \\rVert_1) / (q / \\lVert q \\rVert_1)\\big)` with
        :math:`p = \\alpha + \\sum_{i: y_i = 1} \\hat x_i` and
        :math:`q = \\alpha + \\sum_{i: y_i = 0} \\hat x_i`, where :math:`\\hat x_i` is the
        binarized bag of example :math:`i`. ``r[PAD]`` and ``r[UNK]`` are 0.
    """
    where = "nb_log_count_ratio"
    n_tokens = check_int(n_tokens, "n_tokens", where)
    alpha = check_number(alpha, "alpha", where, low=0, low_open=True)
    check_array(bags, "bags", where=where)
    y = np.asarray(y)
    if bags.ndim != 2 or y.shape != (len(bags),):
        raise ValueError(
            f"nb_log_count_ratio: bags must be (N, L) and y (N,), got {bags.shape} and "
            f"{y.shape}"
        )
    check_labels(y, len(bags), where=where, name="y")
    check_binary(
        y, "y must contain only 0 (negative) and 1 (positive)", where
    )
    check_token_ids(bags, n_tokens, where=where, name="bags")
    pos = bags[y == 1].reshape(-1)
    neg = bags[y == 0].reshape(-1)
    p = alpha + np.bincount(pos, minlength=n_tokens).astype(np.float64)
    q = alpha + np.bincount(neg, minlength=n_tokens).astype(np.float64)
    # PAD and UNK are not features: left out of the norms, and r = 0 for them
    p[[PAD, UNK]] = q[[PAD, UNK]] = 1.0
    r = np.log(p / (p.sum() - 2)) - np.log(q / (q.sum() - 2))
    r[[PAD, UNK]] = 0.0
    return r
