"""Datasets: seeded synthetic 2-D sets and (in :mod:`nnscratch.data.mnist`) MNIST."""

from .mnist import MNIST, load_mnist
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
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "one_hot",
    "train_test_split",
]
