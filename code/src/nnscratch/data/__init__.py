"""Data sets: seeded synthetic 2-D sets, and MNIST.

:mod:`nnscratch.data.synthetic` makes the small two-dimensional problems of Steps 1 to 5
from a seed; :mod:`nnscratch.data.mnist` finds, downloads, verifies and loads MNIST, read
by :mod:`nnscratch.data.idx`. The loaders are re-exported here
(``from nnscratch.data import make_moons, load_mnist``).
"""

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
