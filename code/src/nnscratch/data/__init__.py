"""Datasets: seeded synthetic 2-D sets, MNIST and Tiny Shakespeare.

Every downloaded data set is found, fetched and verified by one mechanism,
:mod:`nnscratch.data.store` (environment variable ``NNSCRATCH_DATA``: a folder with one
sub-folder per data set).
"""

from .mnist import MNIST, load_mnist
from .tinyshakespeare import CharVocab, TinyShakespeare, load_tinyshakespeare
from .synthetic import (
    make_blobs,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    one_hot,
    train_test_split,
)

__all__ = [
    "MNIST",
    "load_mnist",
    "CharVocab",
    "TinyShakespeare",
    "load_tinyshakespeare",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "one_hot",
    "train_test_split",
]
