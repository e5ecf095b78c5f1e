"""A small reader (and writer) for the IDX format, the file format of MNIST.

An IDX file is a header followed by the raw array, big-endian::

    bytes 0-1   0x00 0x00         (magic: always zero)
    byte  2     dtype code        (0x08 = unsigned byte, see IDX_DTYPES)
    byte  3     number of dimensions d
    4*d bytes   each dimension    (unsigned 32-bit, big-endian)
    the rest    the values, in C (row-major) order

The MNIST images are ``0x00000803`` (unsigned bytes, 3 dimensions: N x 28 x 28) and the
labels ``0x00000801`` (unsigned bytes, 1 dimension: N). Files may be gzip-compressed; the
reader recognizes gzip by its own magic bytes, not by the file name.

See Also
--------
Book, Step 6 "MNIST": the IDX format in a few lines.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from .._files import write_atomically

#: dtype code (byte 2 of the header) -> NumPy dtype, big-endian as the format prescribes.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file that is not a valid IDX file (bad magic number, dtype code, dimensions or length)."""


def decompress(raw: bytes, *, name: str = "<bytes>") -> bytes:
    """Return ``raw`` decompressed if it is gzip data, unchanged otherwise.

    Raises :class:`IDXError` naming ``name`` when the gzip stream is damaged or cut short.
    """
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(
            f"{name}: gzip data is damaged or truncated ({exc}); "
            f"delete the file and fetch a fresh copy"
        ) from exc


def parse_idx(
    data: bytes, *, name: str = "<bytes>", ndim: int | None = None
) -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into an array.

    Parameters
    ----------
    data : bytes
        The whole file content.
    name : str
        How the data is called in error messages (usually the file path).
    ndim : int, optional
        Required number of dimensions (3 for MNIST images, 1 for labels).

    Returns
    -------
    ndarray
        Shape as given by the header, dtype from ``IDX_DTYPES`` converted to native byte order.
        A fresh, writable array.

    Raises
    ------
    IDXError
        When the magic number, dtype code or number of dimensions is wrong, or the data is
        shorter or longer than the header announces.
    """
    if len(data) < 4:
        raise IDXError(
            f"{name}: {len(data)} bytes is too short for an IDX header (at "
            "least 4 bytes)"
        )
    if data[0] != 0 or data[1] != 0:
        raise IDXError(
            f"{name}: not an IDX file: the magic number must start with "
            "bytes 00 00, "
            f"got {data[:4].hex(' ')} (is it an HTML error page or another "
            "format?)"
        )
    code, d = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXError(
            f"{name}: unknown IDX dtype code 0x{code:02X}; expected one of "
            f"{known}"
        )
    if ndim is not None and d != ndim:
        raise IDXError(
            f"{name}: expected an IDX file with {ndim} dimensions, the "
            f"header says {d}"
        )
    header_len = 4 + 4 * d
    if len(data) < header_len:
        raise IDXError(
            f"{name}: truncated header: {d} dimensions need {header_len} "
            f"bytes, got {len(data)}"
        )
    shape = tuple(
        int(s) for s in np.frombuffer(data, dtype=">u4", count=d, offset=4)
    )
    dtype = IDX_DTYPES[code]
    # in Python ints: 255 dimensions of up to 2**32 - 1 overflow int64
    expected = header_len + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise IDXError(
            f"{name}: {what}: a header announcing shape {shape} of "
            f"{dtype.name} needs "
            f"{expected} bytes, the file has {len(data)}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(
        shape
    )
    return values.astype(
        dtype.newbyteorder("=")
    )  # native order, and a copy we own


def read_idx(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw; see :func:`parse_idx`."""
    path = Path(path)
    return parse_idx(
        decompress(path.read_bytes(), name=str(path)),
        name=str(path),
        ndim=ndim,
    )


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as IDX bytes (the inverse of :func:`parse_idx`)."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    # by value, whatever the byte order: '>i4' (IDX's own) and '<i4' are both int32
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise TypeError(
            f"idx_bytes: dtype {array.dtype} has no IDX code; use one of "
            f"{sorted(str(dt) for dt in codes)}"
        )
    code = codes[native]
    header = (
        bytes([0, 0, code, array.ndim])
        + np.asarray(array.shape, dtype=">u4").tobytes()
    )
    return (
        header
        + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    )


def write_idx(
    array: np.ndarray, path: str | Path, *, compress: bool | None = None
) -> Path:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: name ends in ``.gz``)."""
    path = Path(path)
    data = idx_bytes(array)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(
            data, mtime=0
        )  # mtime=0: same array, same bytes
    # all or nothing: a failure part-way leaves any previous file whole
    return write_atomically(
        path, lambda f: f.write(data), where="write_idx"
    )
