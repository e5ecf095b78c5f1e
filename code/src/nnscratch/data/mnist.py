"""MNIST: find, download, verify and load the four IDX files.

Where the files are looked for, how they are downloaded and verified: see
:mod:`nnscratch.data.store`, the one mechanism every data set uses. In short: the
``directory`` argument, else ``$NNSCRATCH_MNIST_DIR`` (this data set's own, older
variable), else ``$NNSCRATCH_DATA/mnist``, else the per-user cache, filled from ``MIRRORS``.
Each file is checked against the MD5 of its *decompressed* bytes, so a copy from any
mirror passes, compressed or not, and anything else fails.

The data: Yann LeCun, Corinna Cortes and Christopher J. C. Burges, "The MNIST database of
handwritten digits", distributed under CC BY-SA 3.0.

See Also
--------
Book, Step 6 "MNIST".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .._checks import check_int
from . import store
from .idx import IDXError, decompress, parse_idx
from .store import (
    ChecksumError,
    DataSource,
)  # noqa: F401  (ChecksumError: part of this API)

#: This data set's own, older environment variable (a folder holding the four files);
#: ``NNSCRATCH_DATA`` (a root folder with a sub-folder ``mnist/``) is the general one.
ENV_VAR = "NNSCRATCH_MNIST_DIR"

#: Public mirrors of the canonical gzip files, tried in order.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Role -> file name (as served by the mirrors).
FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

#: Training images in the files of ``MD5`` (validation images are taken from them).
N_TRAIN = 60_000

#: File name -> MD5 of the decompressed bytes (the published MD5s of the original files).
MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}


@dataclass(frozen=True, repr=False)
class MNIST:
    """The loaded data set. Images are ``(N, 784)`` or ``(N, 1, 28, 28)``; labels ``(N,)`` int64.

    ``x_val`` and ``y_val`` are empty (zero rows) unless a validation split was asked for.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __repr__(self) -> str:
        # One array per line: the book shows it in a column of 76 characters.
        parts = "".join(
            f"    {k}={getattr(self, k).shape} {getattr(self, k).dtype},\n"
            for k in (
                "x_train",
                "y_train",
                "x_val",
                "y_val",
                "x_test",
                "y_test",
            )
        )
        return f"MNIST(\n{parts})"


def _content(data: bytes, where: str) -> bytes:
    return decompress(
        data, name=where
    )  # gzip or not, the IDX bytes are what is verified


def _local_names(name: str) -> tuple[str, ...]:
    return (
        name,
        name.removesuffix(".gz"),
    )  # the .gz file, or the decompressed one


SOURCE = DataSource(
    name="mnist",
    title="MNIST",
    files=MD5,
    mirrors=MIRRORS,
    content=_content,
    local_names=_local_names,
    env_var=ENV_VAR,
)


def default_cache_dir() -> Path:
    """Per-user cache directory for MNIST (:func:`nnscratch.data.store.default_cache_dir`)."""
    return store.default_cache_dir(SOURCE.name)


def download_file(
    name: str,
    directory: str | Path,
    *,
    expected_md5: str,
    mirrors: Sequence[str] = MIRRORS,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download one MNIST file, verified, into ``directory`` (:func:`~nnscratch.data.store.download_file`)."""
    return store.download_file(
        SOURCE,
        name,
        directory,
        expected_md5=expected_md5,
        mirrors=mirrors,
        progress=progress,
        timeout=timeout,
    )


def resolve_directory(
    directory: str | Path | None = None,
) -> tuple[Path, str]:
    """Where MNIST is looked for, and why: ``(path, how)`` (:func:`~nnscratch.data.store.resolve_directory`)."""
    return store.resolve_directory(SOURCE, directory)


def mnist_files(
    directory: str | Path | None = None,
    *,
    download: bool | None = None,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = MD5,
    progress: bool | None = None,
) -> dict[str, bytes]:
    """Locate (downloading if allowed), verify and return the decompressed bytes of each file.

    Parameters
    ----------
    directory : str or Path, optional
        See the module docstring for the lookup order.
    download : bool, optional
        Whether missing files may be downloaded. Default: only into the cache directory.
    mirrors : sequence of str
        Base URLs tried in order.
    checksums : mapping
        File name -> MD5 of the decompressed bytes (the real files' by default; tests pass
        their own).
    progress : bool, optional
        Download progress bar; default: only when stderr is a terminal.

    Returns
    -------
    dict
        Role (``"train_images"``, ...) -> decompressed IDX bytes, verified.
    """
    return image_files(
        SOURCE,
        directory,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        progress=progress,
    )


def load_mnist(
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
) -> MNIST:
    """Load MNIST as NumPy arrays.

    Parameters
    ----------
    directory : str or Path, optional
        Folder holding the four files (``.gz`` or decompressed). Default: ``$NNSCRATCH_MNIST_DIR``,
        else ``$NNSCRATCH_DATA/mnist``, else the per-user cache (:func:`default_cache_dir`),
        downloading what is missing.
    normalize : bool, default True
        Scale pixels from 0..255 to [0, 1] (``dtype`` must then be a float type).
    flatten : bool, default True
        Images as rows of 784 pixels, shape (N, 784); else shape (N, 1, 28, 28).
    dtype : numpy dtype, default float32
        dtype of the images.
    val_size : int, default 0
        Number of training examples moved, at random, to a validation set.
    rng : numpy.random.Generator, optional
        Chooses the validation examples; required when ``val_size > 0``.
    download, mirrors, checksums, progress
        See :func:`mnist_files`.

    Returns
    -------
    MNIST
        ``x_*`` images of shape (N, 784) or (N, 1, 28, 28) in ``dtype``; ``y_*`` labels of
        shape (N,), int64. The training set keeps its original order.

    Examples
    --------
    >>> data = load_mnist(val_size=5000, rng=np.random.default_rng(0))  # doctest: +SKIP
    >>> data.x_train.shape, data.x_val.shape, data.x_test.shape         # doctest: +SKIP
    ((55000, 784), (5000, 784), (10000, 784))
    """
    return load_images(
        MNIST,
        SOURCE,
        directory,
        where="load_mnist",
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


def image_files(
    source: DataSource,
    directory: str | Path | None,
    *,
    download: bool | None,
    mirrors: Sequence[str],
    checksums: Mapping[str, str],
    progress: bool | None,
) -> dict[str, bytes]:
    """Role (``"train_images"``, ...) -> verified decompressed bytes of an MNIST-format
    data set's four :data:`FILES`, read through ``source`` (shared by MNIST and
    Fashion-MNIST; arguments as for :func:`mnist_files`)."""
    files = store.read_files(
        source,
        directory,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        progress=progress,
    )
    return {role: files[name] for role, name in FILES.items()}


def load_images(
    cls: type,
    source: DataSource,
    directory: str | Path | None,
    *,
    where: str,
    normalize: bool,
    flatten: bool,
    dtype,
    val_size: int,
    rng: np.random.Generator | None,
    download: bool | None,
    mirrors: Sequence[str],
    checksums: Mapping[str, str],
    progress: bool | None,
) -> MNIST:
    """An MNIST-format data set as ``cls`` (:class:`MNIST` or a subclass): options
    checked before any file is read (:func:`check_options`), files read
    (:func:`image_files`), arrays made (:func:`image_splits`). Shared by
    :func:`load_mnist` and :func:`nnscratch.data.fashion_mnist.load_fashion_mnist`.
    """
    dtype, val_size = check_options(where, normalize, dtype, val_size, rng)
    raw = image_files(
        source,
        directory,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        progress=progress,
    )
    return cls(
        *image_splits(
            raw,
            FILES,
            source.title,
            where,
            normalize=normalize,
            flatten=flatten,
            dtype=dtype,
            val_size=val_size,
            rng=rng,
        )
    )


def check_options(
    where: str, normalize: bool, dtype, val_size: int, rng
) -> tuple[np.dtype, int]:
    """Check a loader's options before any file is read: ``(dtype, val_size)``."""
    dtype = np.dtype(dtype)
    if normalize and not np.issubdtype(dtype, np.floating):
        raise TypeError(
            f"{where}: normalize=True scales to [0, 1] and needs a float dtype, got {dtype}"
        )
    if not np.can_cast(np.uint8, dtype):
        raise TypeError(
            f"{where}: dtype must hold the pixel values 0 to 255, got {dtype}"
        )
    val_size = check_int(val_size, "val_size", where, minimum=0)
    if val_size > 0 and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{where}: val_size > 0 needs rng=np.random.default_rng(seed) to choose the "
            f"validation examples reproducibly, got rng={rng!r}"
        )
    return dtype, val_size


def image_splits(
    raw: Mapping[str, bytes],
    files: Mapping[str, str],
    title: str,
    where: str,
    *,
    normalize: bool,
    flatten: bool,
    dtype: np.dtype,
    val_size: int,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, ...]:
    """The six arrays of an MNIST-format data set, from its four verified IDX files.

    Shared by :func:`load_mnist` and
    :func:`nnscratch.data.fashion_mnist.load_fashion_mnist` (same format, same options,
    checked first by :func:`check_options`). ``raw`` maps roles (``"train_images"``, ...)
    to decompressed bytes, ``files`` the same roles to file names (for messages).

    Returns
    -------
    tuple
        ``(x_train, y_train, x_val, y_val, x_test, y_test)``; the training set keeps its
        original order.
    """
    arrays = {}
    for split in ("train", "test"):
        images = parse_idx(
            raw[f"{split}_images"], name=files[f"{split}_images"], ndim=3
        )
        labels = parse_idx(
            raw[f"{split}_labels"], name=files[f"{split}_labels"], ndim=1
        )
        if images.shape[0] != labels.shape[0]:
            raise IDXError(
                f"{title} {split}: {images.shape[0]} images but {labels.shape[0]} labels"
            )
        x = images.astype(dtype)  # (N, 28, 28)
        if normalize:
            x /= dtype.type(255)
        n, h, w = x.shape
        x = (
            x.reshape(n, h * w) if flatten else x.reshape(n, 1, h, w)
        )  # (N, 784) or (N, 1, 28, 28)
        arrays[split] = (x, labels.astype(np.int64))
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    if val_size >= len(y_train):
        raise ValueError(
            f"{where}: val_size={val_size} leaves no training data (of {len(y_train)})"
        )
    if val_size == 0:
        return x_train, y_train, x_train[:0], y_train[:0], x_test, y_test
    perm = rng.permutation(len(y_train))
    val_idx, train_idx = np.sort(perm[:val_size]), np.sort(perm[val_size:])
    return (
        x_train[train_idx],
        y_train[train_idx],
        x_train[val_idx],
        y_train[val_idx],
        x_test,
        y_test,
    )
