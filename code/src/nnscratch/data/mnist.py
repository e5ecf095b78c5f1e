"""MNIST: find, download, verify and load the four IDX files.

Where the files are looked for, in order:

1. the ``directory`` argument of :func:`load_mnist`;
2. the directory named by the environment variable ``NNSCRATCH_MNIST_DIR``;
3. a per-user cache directory (:func:`default_cache_dir`).

Only the cache directory is filled automatically: files missing there are downloaded from
``MIRRORS``, one mirror after the other until one works. A directory you chose yourself
(argument or environment variable) is never written to unless you pass ``download=True``;
a missing file there is an error, because it usually means a typo in the path.

Every file is checked against the MD5 of its *decompressed* bytes, so a copy from any mirror
passes, compressed or not, and anything else fails. A download goes to a temporary file in
the target directory and is renamed into place only once verified: an interrupted or corrupt
download never leaves a file behind that a later run would trust.

The data: Yann LeCun, Corinna Cortes and Christopher J. C. Burges, "The MNIST database of
handwritten digits", distributed under CC BY-SA 3.0.

See Also
--------
Book, Step 6 "MNIST".
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .._checks import check_int
from .idx import IDXError, decompress, parse_idx

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

#: File name -> MD5 of the decompressed bytes (the published MD5s of the original files).
MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}


class ChecksumError(ValueError):
    """A data file whose content is not the expected one."""


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


def default_cache_dir() -> Path:
    """Per-user cache directory for MNIST, following each platform's convention.

    Linux and other Unix: ``$XDG_CACHE_HOME/nnscratch/mnist`` (default ``~/.cache/...``);
    macOS: ``~/Library/Caches/nnscratch/mnist``; Windows: ``%LOCALAPPDATA%\\nnscratch\\mnist``.
    """
    if sys.platform == "win32":
        base = Path(
            os.environ.get("LOCALAPPDATA")
            or Path.home() / "AppData" / "Local"
        )
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(
            os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        )
    return base / "nnscratch" / "mnist"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _verified(
    data: bytes, name: str, expected_md5: str, where: str, fix: str
) -> bytes:
    """Decompress ``data`` and check its MD5; return the decompressed bytes or raise."""
    try:
        content = decompress(data, name=where)
    except IDXError as exc:
        raise ChecksumError(f"{exc}. {fix}") from exc
    got = _md5(content)
    if got != expected_md5:
        raise ChecksumError(
            f"{where}: the decompressed content of {name} has MD5 {got}, expected "
            f"{expected_md5} ({len(content)} bytes after decompression). "
            f"The file is damaged, truncated or not MNIST. {fix}"
        )
    return content


def _local_file(directory: Path, name: str) -> Path | None:
    """The file ``name`` in ``directory``, gzip-compressed or not; None if neither exists."""
    for candidate in (
        directory / name,
        directory / name.removesuffix(".gz"),
    ):
        if candidate.is_file():
            return candidate
    return None


def _progress_bar(total: int | None, desc: str, progress: bool | None):
    """A tqdm bar when asked (or, by default, when stderr is a terminal); else None."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm  # imported here: only downloads need it

    return tqdm(
        total=total,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        leave=False,
    )


def _fetch(
    url: str, out, desc: str, progress: bool | None, timeout: float
) -> None:
    """Stream ``url`` into the open binary file ``out``."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        bar = _progress_bar(int(length) if length else None, desc, progress)
        try:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()


def download_file(
    name: str,
    directory: str | Path,
    *,
    expected_md5: str,
    mirrors: Sequence[str] = MIRRORS,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``name`` into ``directory`` from the first mirror that serves a verified copy.

    Each attempt writes to a temporary file in ``directory``; only a copy whose decompressed
    MD5 equals ``expected_md5`` is renamed to ``directory / name``. Failed attempts leave
    nothing behind.

    Raises
    ------
    RuntimeError
        When no mirror served a verified copy; the message lists what each mirror did.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix=f".{name}.", suffix=".part"
        )
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, name, progress, timeout)
            _verified(
                Path(tmp).read_bytes(),
                name,
                expected_md5,
                where=url,
                fix="",
            )
            os.replace(
                tmp, directory / name
            )  # atomic: readers see no file or a whole one
            return directory / name
        except (
            OSError,
            ValueError,
        ) as exc:  # URLError and HTTPError are OSErrors
            failures.append(f"  {url}: {str(exc).strip()}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise RuntimeError(
        f"could not download {name}; every mirror failed:\n"
        + "\n".join(failures)
        + "\n"
        f"Check your connection, or download the file yourself and point {ENV_VAR} at its folder."
    )


def resolve_directory(
    directory: str | Path | None = None,
) -> tuple[Path, str]:
    """Where MNIST is looked for, and why: ``(path, "argument" | "environment" | "cache")``."""
    if directory is not None:
        return Path(directory).expanduser(), "argument"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser(), "environment"
    return default_cache_dir(), "cache"


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
    path, source = resolve_directory(directory)
    allowed = source == "cache" if download is None else download
    given = {
        "argument": "given as the directory argument",
        "environment": f"named by {ENV_VAR}",
        "cache": "the per-user cache",
    }[source]
    out = {}
    for role, name in FILES.items():
        local = _local_file(path, name)
        if local is None:
            if not allowed:
                raise FileNotFoundError(
                    f"MNIST file {name} (or {name.removesuffix('.gz')}) is missing from {path} "
                    f"({given}). Fix the path, copy the file there, or call "
                    f"load_mnist(..., download=True) to download it into that directory."
                )
            local = download_file(
                name,
                path,
                expected_md5=checksums[name],
                mirrors=mirrors,
                progress=progress,
            )
        fix = (
            f"Delete {local} and run again to download a fresh copy."
            if source == "cache"
            else f"Replace {local} with a good copy (or delete it and load with download=True)."
        )
        out[role] = _verified(
            local.read_bytes(),
            name,
            checksums[name],
            where=str(local),
            fix=fix,
        )
    return out


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
        else the per-user cache (:func:`default_cache_dir`), downloading what is missing.
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
    dtype = np.dtype(dtype)
    if normalize and not np.issubdtype(dtype, np.floating):
        raise TypeError(
            f"load_mnist: normalize=True scales to [0, 1] and needs a float dtype, got {dtype}"
        )
    val_size = check_int(val_size, "val_size", "load_mnist", minimum=0)
    if val_size > 0 and not isinstance(rng, np.random.Generator):
        raise TypeError(
            "load_mnist: val_size > 0 needs rng=np.random.default_rng(seed) to choose the "
            f"validation examples reproducibly, got rng={rng!r}"
        )
    raw = mnist_files(
        directory,
        download=download,
        mirrors=mirrors,
        checksums=checksums,
        progress=progress,
    )
    arrays = {}
    for split in ("train", "test"):
        images = parse_idx(
            raw[f"{split}_images"], name=FILES[f"{split}_images"], ndim=3
        )
        labels = parse_idx(
            raw[f"{split}_labels"], name=FILES[f"{split}_labels"], ndim=1
        )
        if images.shape[0] != labels.shape[0]:
            raise IDXError(
                f"MNIST {split}: {images.shape[0]} images but {labels.shape[0]} labels"
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
            f"load_mnist: val_size={val_size} leaves no training data (of {len(y_train)})"
        )
    if val_size == 0:
        return MNIST(
            x_train, y_train, x_train[:0], y_train[:0], x_test, y_test
        )
    perm = rng.permutation(len(y_train))
    val_idx, train_idx = np.sort(perm[:val_size]), np.sort(perm[val_size:])
    return MNIST(
        x_train[train_idx],
        y_train[train_idx],
        x_train[val_idx],
        y_train[val_idx],
        x_test,
        y_test,
    )
