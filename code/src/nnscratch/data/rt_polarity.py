"""Movie reviews (MR): the sentence polarity data set v1.0 of Pang & Lee (2005).

5,331 positive and 5,331 negative snippets of Rotten Tomatoes reviews, one sentence per
line, already lower-cased, with punctuation split off but clitics left attached
(``isn't``, ``it's``: :func:`nnscratch.text.tokenize` cuts them), in two files,
``rt-polarity.pos`` and ``rt-polarity.neg``, **Latin-1 encoded**. The authors distribute
them at Cornell inside ``rt-polaritydata.tar.gz``; the loader downloads that archive and
keeps the two files, each verified against its MD5 (:mod:`nnscratch.data.store`). A local
copy is found, as for every data set, from the ``directory`` argument, else
``$NNSCRATCH_DATA/rt-polarity``, else the per-user cache.

There is no standard train/test split: the literature (Wang & Manning 2012, Kim 2014)
reports the mean accuracy of 10-fold cross-validation. :func:`cv_folds` assigns each
sentence to one of ``k`` folds from a seed, balanced per class.

See Also
--------
Book, Step 10 "Words" (practice): sentiment classifiers on MR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .._checks import check_int, check_labels, check_rng
from . import store

#: The authors' page at Cornell, which serves ``rt-polaritydata.tar.gz``.
MIRRORS: tuple[str, ...] = (
    "https://www.cs.cornell.edu/people/pabo/movie-review-data/",
)
ARCHIVE = "rt-polaritydata.tar.gz"
POS, NEG = "rt-polarity.pos", "rt-polarity.neg"
#: File name -> MD5 of its bytes.
MD5: dict[str, str] = {
    POS: "afcc7ff580b3b4df4bdb6528e6558ab5",
    NEG: "1e35b7f7c5df24a135ca62b8eecded53",
}

SOURCE = store.DataSource(
    name="rt-polarity",
    title="the movie reviews (rt-polarity)",
    files=MD5,
    mirrors=MIRRORS,
    archive=ARCHIVE,
)


def resolve_directory(
    directory: str | Path | None = None,
) -> tuple[Path, str]:
    """Where the movie reviews are looked for, and why (:func:`~nnscratch.data.store.resolve_directory`)."""
    return store.resolve_directory(SOURCE, directory)


@dataclass(frozen=True, repr=False)
class MovieReviews:
    """The sentences and their labels: ``y[i]`` is 1 for positive, 0 for negative.

    The positive sentences come first, in file order, then the negative ones.
    """

    sentences: list[str]
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.sentences)

    def __repr__(self) -> str:
        return (
            f"MovieReviews({len(self)} sentences, {int(self.y.sum())} positive, "
            f"{int(len(self) - self.y.sum())} negative)"
        )


def load_rt_polarity(
    directory: str | Path | None = None,
    *,
    download: bool | None = None,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = MD5,
    progress: bool | None = None,
) -> MovieReviews:
    """Load the movie reviews: one string per sentence, and its label.

    Parameters
    ----------
    directory : str or Path, optional
        Folder holding the two files (see the module docstring for the lookup order).
    download, mirrors, checksums, progress
        See :func:`nnscratch.data.store.read_files`; the mirrors serve the archive.

    Returns
    -------
    MovieReviews
        ``sentences`` (list of str, without their line ends and surrounding spaces) and
        ``y`` (int64 array, 1 = positive).

    Examples
    --------
    >>> data = load_rt_polarity()                           # doctest: +SKIP
    >>> len(data), int(data.y.sum())                        # doctest: +SKIP
    (10662, 5331)
    """
    raw = store.read_files(
        SOURCE,
        directory,
        download=download,
        mirrors=mirrors,
        checksums=dict(checksums),
        progress=progress,
    )
    # Lines are split on b"\n" before decoding: str.splitlines would also split
    # at the Latin-1 characters that Unicode counts as line breaks (\x85, \x0c).
    # Latin-1: every byte is a character, so decoding cannot fail; UTF-8 would.
    pos, neg = (raw[f].rstrip(b"\n").split(b"\n") for f in (POS, NEG))
    sentences = [s.decode("latin-1").strip() for s in pos + neg]
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))]).astype(
        np.int64
    )
    return MovieReviews(sentences, y)


def cv_folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold of each example for ``k``-fold cross-validation, balanced per class.

    The examples of each class are shuffled by ``rng`` and dealt to the folds in turn,
    so every fold holds ``len(y) / k`` examples (to within one per class) and the same
    proportion of each class as the whole.

    Parameters
    ----------
    y : ndarray of shape (N,)
        Integer class labels.
    k : int
        Number of folds, at least 2.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (N,), int64
        ``fold[i]`` in ``[0, k)``; fold ``j`` is the test set of round ``j``.
    """
    k = check_int(k, "k", "cv_folds", minimum=2)
    check_rng(rng, "cv_folds")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) < k:
        raise ValueError(
            f"cv_folds: y must have shape (N,) with N >= k = {k}, got {y.shape}"
        )
    check_labels(y, len(y), where="cv_folds", name="y")
    fold = np.empty(len(y), dtype=np.int64)
    start = 0
    # every example belongs to exactly one class of the inverse: every fold[i] is set
    _, inverse = np.unique(y, return_inverse=True)
    for c in range(inverse.max() + 1):
        idx = rng.permutation(np.flatnonzero(inverse == c))
        fold[idx] = (start + np.arange(len(idx))) % k
        start += len(idx)  # the next class continues the deal: sizes even
    return fold
