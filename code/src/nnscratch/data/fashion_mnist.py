"""Fashion-MNIST: find, download, verify and load the four IDX files.

Fashion-MNIST (Han Xiao, Kashif Rasul and Roland Vollgraf, Zalando Research, 2017; MIT
licence) has the format, the sizes and the file names of MNIST: 60,000 training and 10,000
test images of 28x28 grey pixels, in ten classes of clothing (:data:`CLASSES`), 6,000
training and 1,000 test images per class. The book uses it as images a model of MNIST has
never seen (Step 11).

Where the files are looked for, how they are downloaded and verified: see
:mod:`nnscratch.data.store`. In short: the ``directory`` argument, else
``$NNSCRATCH_DATA/fashion-mnist``, else the per-user cache, filled from ``MIRRORS``. Each
file is checked against the MD5 of its *decompressed* bytes, so a copy re-compressed by
another distributor passes and anything else fails.

See Also
--------
:mod:`nnscratch.data.mnist`, whose parsing this module shares; Book, Step 11
"Autoencoders — practice".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import store
from .mnist import (  # FILES: the same four file names, by role
    FILES,
    MNIST,
    _content,
    _local_names,
    image_files,
    load_images,
)
from .store import DataSource

#: The data set's official mirror (the one its README links to; plain HTTP, which is why
#: every file is verified against its MD5 before it is used).
MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)

#: File name -> MD5 of the decompressed bytes (the same whichever mirror served them).
MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
}

#: Label -> class name, in the order of the labels 0 to 9.
CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclass(frozen=True, repr=False)
class FashionMNIST(MNIST):
    """The loaded data set: the arrays of :class:`~nnscratch.data.mnist.MNIST`.

    Images are ``(N, 784)`` or ``(N, 1, 28, 28)``; labels ``(N,)`` int64, named by
    :data:`CLASSES`.
    """

    def __repr__(self) -> str:
        return "Fashion" + super().__repr__()


SOURCE = DataSource(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files=MD5,
    mirrors=MIRRORS,
    content=_content,
    local_names=_local_names,
)


def default_cache_dir() -> Path:
    """Per-user cache directory for Fashion-MNIST (:func:`nnscratch.data.store.default_cache_dir`)."""
    return store.default_cache_dir(SOURCE.name)


def resolve_directory(
    directory: str | Path | None = None,
) -> tuple[Path, str]:
    """Where Fashion-MNIST is looked for, and why: ``(path, how)`` (:func:`~nnscratch.data.store.resolve_directory`)."""
    return store.resolve_directory(SOURCE, directory)


def fashion_mnist_files(
    directory: str | Path | None = None,
    *,
    download: bool | None = None,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = MD5,
    progress: bool | None = None,
) -> dict[str, bytes]:
    """Locate (downloading if allowed), verify and return the decompressed bytes of each file.

    Parameters and result as for :func:`nnscratch.data.mnist.mnist_files`: role
    (``"train_images"``, ...) -> decompressed IDX bytes, verified.
    """
    return image_files(
        SOURCE,
        directory,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        progress=progress,
    )


def load_fashion_mnist(
    directory: str | Path | None = None,
    *,
    normalize: bool = True,
    flatten: bool = True,
    dtype=np.float32,
    val_size: int = 0,
    rng: np.random.Generator | None = None,
    download: bool | None = None,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = MD5,
    progress: bool | None = None,
) -> FashionMNIST:
    """Load Fashion-MNIST as NumPy arrays.

    Parameters
    ----------
    directory : str or Path, optional
        Folder holding the four files (``.gz`` or decompressed). Default:
        ``$NNSCRATCH_DATA/fashion-mnist``, else the per-user cache
        (:func:`default_cache_dir`), downloading what is missing.
    normalize, flatten, dtype, val_size, rng
        As for :func:`nnscratch.data.mnist.load_mnist`.
    download, mirrors, checksums, progress
        See :func:`fashion_mnist_files`.

    Returns
    -------
    FashionMNIST
        ``x_*`` images of shape (N, 784) or (N, 1, 28, 28) in ``dtype``; ``y_*`` labels of
        shape (N,), int64, named by :data:`CLASSES`.

    Examples
    --------
    >>> data = load_fashion_mnist()                        # doctest: +SKIP
    >>> data.x_test.shape, CLASSES[data.y_test[0]]       # doctest: +SKIP
    ((10000, 784), 'Ankle boot')
    """
    return load_images(
        FashionMNIST,
        SOURCE,
        directory,
        where="load_fashion_mnist",
        normalize=normalize,
        flatten=flatten,
        dtype=dtype,
        val_size=val_size,
        rng=rng,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        progress=progress,
    )
