"""Data sets: synthetic 2-D sets, MNIST, Fashion-MNIST, Tiny Shakespeare, movie reviews.

:mod:`nnscratch.data.synthetic` makes the small two-dimensional problems of Steps 1 to 5
from a seed; :mod:`nnscratch.data.mnist` finds, downloads, verifies and loads MNIST, read
by :mod:`nnscratch.data.idx`, and :mod:`nnscratch.data.fashion_mnist` does the same for
Fashion-MNIST (Step 11); :mod:`nnscratch.data.tinyshakespeare` does the same for the
text of Step 8, and :mod:`nnscratch.data.rt_polarity` for the movie reviews of Step 10;
:mod:`nnscratch.data.canvases` scatters digits on canvases for the detector of Step 14.
Every downloaded data set is found, fetched and verified by one mechanism,
:mod:`nnscratch.data.store` (environment variable ``NNSCRATCH_DATA``: a folder with one
sub-folder per data set). The loaders are re-exported here
(``from nnscratch.data import make_moons, load_mnist, load_rt_polarity``).
"""

from .mnist import MNIST, load_mnist
from .fashion_mnist import FashionMNIST, load_fashion_mnist
from .tinyshakespeare import (
    CharVocab,
    TinyShakespeare,
    load_tinyshakespeare,
)
from .rt_polarity import MovieReviews, cv_folds, load_rt_polarity
from .canvases import make_canvases
from .synthetic import (
    make_blobs,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    one_hot,
    ring_centers,
    ring_of_gaussians,
    train_test_split,
)

__all__ = [
    "MNIST",
    "load_mnist",
    "FashionMNIST",
    "load_fashion_mnist",
    "CharVocab",
    "TinyShakespeare",
    "load_tinyshakespeare",
    "MovieReviews",
    "load_rt_polarity",
    "cv_folds",
    "make_canvases",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "one_hot",
    "ring_centers",
    "ring_of_gaussians",
    "train_test_split",
]
