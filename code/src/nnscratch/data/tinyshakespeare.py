"""Tiny Shakespeare: the character-level corpus of char-rnn, minGPT and nanoGPT.

One file, ``input.txt``: 1,115,394 characters of Shakespeare's plays (65 distinct, all
ASCII), public-domain text collected by Andrej Karpathy for char-rnn. It is found,
downloaded and verified by the mechanism every data set uses (:mod:`nnscratch.data.store`):
the ``directory`` argument, else ``$NNSCRATCH_DATA/tinyshakespeare``, else the per-user
cache, filled from ``MIRRORS``.

The split is nanoGPT's: the first 90 % of the characters for training, the last 10 % for
validation, so that validation losses compare with published ones. The vocabulary is the
sorted set of characters of the whole text; token ``k`` is its ``k``-th character.

See Also
--------
Book, Step 8 "Sequences" (practice): a character model trained on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .._checks import check_number
from . import store

#: The char-rnn repository's copy, the one nanoGPT downloads.
MIRRORS: tuple[str, ...] = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/",
)
FILE = "input.txt"
#: File name -> MD5 of its bytes.
MD5: dict[str, str] = {FILE: "6fb458f1232090904fb40fe944165e91"}

SOURCE = store.DataSource(
    name="tinyshakespeare",
    title="Tiny Shakespeare",
    files=MD5,
    mirrors=MIRRORS,
)


def resolve_directory(
    directory: str | Path | None = None,
) -> tuple[Path, str]:
    """Where Tiny Shakespeare is looked for, and why (:func:`~nnscratch.data.store.resolve_directory`)."""
    return store.resolve_directory(SOURCE, directory)


class CharVocab:
    """Numbers the characters of a text and encodes text to ids and back.

    Parameters
    ----------
    chars : str
        The distinct characters, in the order that numbers them.
    """

    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars) or not chars:
            raise ValueError(
                f"CharVocab: chars must be distinct and not empty, got {chars!r}"
            )
        self.chars = chars
        self._codes = np.array([ord(c) for c in chars], dtype=np.uint32)
        self._order = np.argsort(self._codes)

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of ``text``: its distinct characters, sorted."""
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``, shape (len(text),), int64; unknown characters are an error."""
        codes = np.frombuffer(
            text.encode("utf-32-le"), dtype=np.uint32
        )  # one code per char
        pos = np.searchsorted(self._codes[self._order], codes)
        pos = np.minimum(pos, len(self.chars) - 1)
        ids = self._order[pos]
        bad = self._codes[ids] != codes
        if bad.any():
            unknown = sorted({chr(c) for c in codes[bad]})
            raise ValueError(
                f"CharVocab.encode: characters {unknown} are not in the vocabulary "
                f"of {len(self)} characters"
            )
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        """The text of the token ids ``ids`` (any integer sequence)."""
        ids = np.asarray(ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(
                f"CharVocab.decode: ids must be integers, got dtype {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(
                f"CharVocab.decode: ids must lie in [0, {len(self)}), got values "
                f"from {ids.min()} to {ids.max()}"
            )
        return "".join(self.chars[i] for i in ids.reshape(-1))

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"


@dataclass(frozen=True, repr=False)
class TinyShakespeare:
    """The corpus split for training: ids are int64 arrays of shape (L,)."""

    text: str
    vocab: CharVocab
    train_ids: np.ndarray
    val_ids: np.ndarray

    def __repr__(self) -> str:
        return (
            f"TinyShakespeare({len(self.text)} characters, vocab {len(self.vocab)}, "
            f"train {len(self.train_ids)}, val {len(self.val_ids)})"
        )


def load_tinyshakespeare(
    directory: str | Path | None = None,
    *,
    val_fraction: float = 0.1,
    download: bool | None = None,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = MD5,
    progress: bool | None = None,
) -> TinyShakespeare:
    """Load Tiny Shakespeare, encoded as characters and split like nanoGPT.

    Parameters
    ----------
    directory : str or Path, optional
        Folder holding ``input.txt`` (see the module docstring for the lookup order).
    val_fraction : float, default 0.1
        The last ``val_fraction`` of the text is the validation set (nanoGPT's split:
        ``n = int(0.9 * len(text))``, train ``[:n]``, validation ``[n:]``).
    download, mirrors, checksums, progress
        See :func:`nnscratch.data.store.read_files`.

    Returns
    -------
    TinyShakespeare
        ``text``, ``vocab`` (:class:`CharVocab` of the whole text), ``train_ids`` and
        ``val_ids``.

    Examples
    --------
    >>> data = load_tinyshakespeare()                       # doctest: +SKIP
    >>> len(data.vocab), len(data.train_ids), len(data.val_ids)   # doctest: +SKIP
    (65, 1003854, 111540)
    """
    frac = check_number(
        val_fraction,
        "val_fraction",
        "load_tinyshakespeare",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
    )
    raw = store.read_files(
        SOURCE,
        directory,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        progress=progress,
    )[FILE]
    text = raw.decode("utf-8")
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    n = int((1 - frac) * len(ids))
    return TinyShakespeare(text, vocab, ids[:n], ids[n:])
