"""Writing a file so that a failure part-way loses nothing.

Used by :func:`nnscratch.network.save_params`, :func:`nnscratch.data.idx.write_idx` and
the data sets' downloads: a reader of ``path`` sees the previous file or the whole new one,
never half of it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(
    path: Path, write: Callable[[BinaryIO], object], *, where: str
) -> Path:
    """Write ``path`` through ``write(f)``, all or nothing, and return it.

    ``write`` fills a temporary file in ``path``'s directory, which is flushed to disk and
    then renamed over ``path`` in one step (``os.replace``). A failure part-way (a full disk,
    an interrupted run, an error in ``write``) leaves any previous file at ``path`` intact
    and no temporary file behind; an ``OSError`` raised names ``where`` and ``path``.
    """
    path = Path(path)
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as e:
        raise OSError(
            e.errno,
            f"{where}: cannot write in {str(directory) or '.'!r} "
            f"to save {str(path)!r}: {e.strerror}",
        ) from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OSError(
                e.errno,
                f"{where}: could not write {str(path)!r} ({e.strerror or e}); "
                f"any previous file there is unchanged",
            ) from e
        raise
    _fsync_directory(directory)
    return path


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
