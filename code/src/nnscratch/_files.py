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
        # the file object owns fd from here, and closes it whatever happens below
        with os.fdopen(fd, "wb") as f:
            _give_mode(f.fileno(), path)
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


def _give_mode(fd: int, path: Path) -> None:
    """Give the temporary file the permissions ``path`` has, or a new file would get.

    ``mkstemp`` creates files readable by their owner alone; without this, saving over a
    shared file, or into a shared data folder, would hide it from everyone else.
    """
    if not hasattr(
        os, "fchmod"
    ):  # Windows before Python 3.13: no POSIX permissions
        return
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    os.fchmod(fd, mode)


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:  # Linux: read it, so that no other thread ever sees a changed umask
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(
        0o022
    )  # elsewhere: the only portable way is to set it and set it back
    os.umask(old)
    return old


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
