"""Where every data set of the book is found, and how it is downloaded and verified.

One mechanism for all data sets. Each is a :class:`DataSource`: a name (its folder), its
files with the MD5 of their content, and mirrors to download them from. A data module
(:mod:`nnscratch.data.mnist`, :mod:`nnscratch.data.tinyshakespeare`,
:mod:`nnscratch.data.rt_polarity`) declares its source and
calls :func:`resolve_directory` and :func:`read_files`.

Where the files are looked for, in order:

1. the ``directory`` argument of the loader;
2. the data set's own older variable, if it has one (``NNSCRATCH_MNIST_DIR`` for MNIST),
   naming the data set's folder;
3. ``$NNSCRATCH_DATA/<name>``: the environment variable ``NNSCRATCH_DATA`` names a root
   folder holding one sub-folder per data set (``mnist/``, ``tinyshakespeare/``, ...);
4. a per-user cache directory (:func:`default_cache_dir`).

Only the cache directory is filled automatically: files missing there are downloaded from
the source's mirrors, one after the other until one works (for a source that mirrors
serve as one ``.tar.gz``, such as the movie reviews, the archive is downloaded and the
files taken from it). A directory you chose yourself
(argument or environment variable) is never written to unless you pass ``download=True``;
a missing file there is an error, because it usually means a typo in the path.

Every file is checked against the MD5 of its *content* (for MNIST, the decompressed bytes,
so a copy from any mirror passes, compressed or not), and anything else fails with a message
naming the file, the expected and the found checksum. A download goes to a temporary file in
the target directory and is renamed into place only once verified: an interrupted or corrupt
download never leaves a file behind that a later run would trust.

See Also
--------
Book, Step 6 "MNIST": the loader and why it verifies what it reads.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Sequence

from .._files import write_atomically

ROOT_ENV = "NNSCRATCH_DATA"


class ChecksumError(ValueError):
    """A data file whose content is not the expected one."""


def _raw(data: bytes, where: str) -> bytes:
    return data


def _same_name(name: str) -> tuple[str, ...]:
    return (name,)


@dataclass(frozen=True)
class DataSource:
    """DataSource(name, title, files, mirrors, content=_raw, local_names=_same_name, env_var=None)

    A data set's files, checksums and mirrors.

    Attributes
    ----------
    name : str
        Its folder under ``$NNSCRATCH_DATA`` and in the cache (``"mnist"``).
    title : str
        How messages call it (``"MNIST"``).
    files : mapping
        File name (as the mirrors serve it) -> MD5 of its content.
    mirrors : tuple of str
        Base URLs, tried in order.
    content : callable, default identity
        ``content(data, where) -> bytes``: the bytes whose MD5 is checked (MNIST
        decompresses); raises ``ValueError`` naming ``where`` for unreadable data.
    local_names : callable, default (name,)
        ``local_names(name)``: the names under which a local copy is accepted, in order.
    env_var : str, optional
        An older environment variable naming this data set's folder.
    archive : str, optional
        When the mirrors serve the files inside one ``.tar.gz`` rather than one by one: the
        archive's path on the mirrors, e.g. ``"rt-polaritydata.tar.gz"``. Files are looked
        up in it by their base name, whatever folder of the archive holds them
        (:func:`download_from_archive`).
    """

    name: str
    title: str
    files: dict[str, str]
    mirrors: tuple[str, ...]
    # Bare Callable: the API reference cannot typeset Callable[[...], ...]; the
    # docstring gives their signatures.
    content: Callable = _raw
    local_names: Callable = _same_name
    env_var: str | None = None
    archive: str | None = None


def default_cache_dir(name: str) -> Path:
    """Per-user cache directory for the data set ``name``, following each platform's convention.

    Linux and other Unix: ``$XDG_CACHE_HOME/nnscratch/<name>`` (default ``~/.cache/...``);
    macOS: ``~/Library/Caches/nnscratch/<name>``; Windows: ``%LOCALAPPDATA%\\nnscratch\\<name>``.
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
    return base / "nnscratch" / name


def resolve_directory(
    source: DataSource, directory: str | Path | None = None
) -> tuple[Path, str]:
    """Where ``source`` is looked for, and why.

    Returns
    -------
    (path, how)
        ``how`` is ``"argument"``, ``"environment"`` (the data set's own variable),
        ``"root"`` (``$NNSCRATCH_DATA/<name>``) or ``"cache"``.
    """
    if directory is not None:
        return Path(directory).expanduser(), "argument"
    if source.env_var and os.environ.get(source.env_var):
        return Path(os.environ[source.env_var]).expanduser(), "environment"
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).expanduser() / source.name, "root"
    return default_cache_dir(source.name), "cache"


def describe(source: DataSource, how: str) -> str:
    """Words for where a folder came from, for error messages."""
    return {
        "argument": "given as the directory argument",
        "environment": f"named by {source.env_var}",
        "root": f"the folder {source.name}/ under {ROOT_ENV}",
        "cache": "the per-user cache",
    }[how]


def md5(data: bytes) -> str:
    """Hex MD5 of ``data`` (an integrity check, not a security one)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def verified(
    source: DataSource,
    data: bytes,
    name: str,
    expected_md5: str,
    where: str,
    fix: str,
) -> bytes:
    """The content of ``data`` if its MD5 is ``expected_md5``; else :class:`ChecksumError`."""
    try:
        content = source.content(data, where)
    except ValueError as exc:
        raise ChecksumError(f"{exc}. {fix}".rstrip()) from exc
    got = md5(content)
    if got != expected_md5:
        raise ChecksumError(
            f"{where}: the content of {name} has MD5 {got}, expected {expected_md5} "
            f"({len(content)} bytes). The file is damaged, truncated or not "
            f"{source.title}. {fix}".rstrip()
        )
    return content


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


# What one mirror can fail with, so that the next one is tried: URLError, HTTPError and
# timeouts are OSErrors, a wrong checksum or an unreadable archive a ValueError, and a
# response cut off mid-way (http.client.IncompleteRead) or garbled an HTTPException.
_MIRROR_ERRORS = (OSError, ValueError, http.client.HTTPException)


def download_file(
    source: DataSource,
    name: str,
    directory: str | Path,
    *,
    expected_md5: str,
    mirrors: Sequence[str] | None = None,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``name`` into ``directory`` from the first mirror that serves a verified copy.

    Each attempt downloads into memory; only a copy whose content has the MD5
    ``expected_md5`` is written to ``directory / name``, atomically (to a temporary file
    beside it, flushed to disk, then renamed over the target, so no reader ever sees part of
    a file). Failed attempts leave nothing behind.

    Raises
    ------
    RuntimeError
        When no mirror served a verified copy; the message lists what each mirror did.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in source.mirrors if mirrors is None else mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            buffer = (
                io.BytesIO()
            )  # the largest file, Fashion-MNIST's, is 26 MB
            _fetch(url, buffer, name, progress, timeout)
            data = buffer.getvalue()  # as served (compressed, for a .gz)
            verified(source, data, name, expected_md5, where=url, fix="")
            # only verified bytes reach the disk, all or nothing (no file half-written)
            return write_atomically(
                directory / name, lambda f: f.write(data), where=url
            )
        except _MIRROR_ERRORS as exc:
            failures.append(f"  {url}: {str(exc).strip()}")
    raise RuntimeError(
        f"could not download {name}; every mirror failed:\n"
        + "\n".join(failures)
        + "\n"
        f"Check your connection, or download the file yourself into a folder {source.name}/ "
        f"and point {ROOT_ENV} at the folder that holds it."
    )


def _members(archive: tarfile.TarFile, names) -> dict[str, bytes]:
    """Bytes of the regular files of ``archive`` whose base name is in ``names``."""
    found = {}
    for info in archive.getmembers():
        base = info.name.rsplit("/", 1)[-1]
        if info.isfile() and base in names and base not in found:
            found[base] = archive.extractfile(info).read()
    return found


def download_from_archive(
    source: DataSource,
    names: Sequence[str],
    directory: str | Path,
    *,
    checksums: dict[str, str],
    mirrors: Sequence[str] | None = None,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> list[Path]:
    """Download ``source.archive``, and keep from it the files ``names``, each verified.

    The archive goes to a temporary file in ``directory`` and is deleted afterwards,
    whatever happens. From the first mirror whose archive holds every file of ``names``
    with the MD5 of ``checksums``, each file is written to a temporary file and renamed
    into place; a mirror that fails on any file leaves no file behind. Nothing is
    extracted by path: members are read by base name into memory, so an archive cannot
    write outside ``directory``.

    Raises
    ------
    RuntimeError
        When no mirror served an archive with verified copies of every file; the message
        lists what each mirror did.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = source.archive
    failures = []
    for mirror in source.mirrors if mirrors is None else mirrors:
        url = mirror.rstrip("/") + "/" + name
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix=".archive.", suffix=".part"
        )
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, name, progress, timeout)
            try:
                with tarfile.open(tmp, "r:*") as archive:
                    found = _members(archive, set(names))
            except (tarfile.TarError, EOFError, zlib.error) as exc:
                # a cut-off .tar.gz ends in EOFError, corrupt gzip data in zlib.error
                raise ValueError(f"not a readable tar archive ({exc})")
            missing = [n for n in names if n not in found]
            if missing:
                raise ValueError(f"the archive holds no file {missing}")
            for n in names:
                verified(
                    source, found[n], n, checksums[n], where=url, fix=""
                )
        except _MIRROR_ERRORS as exc:
            failures.append(f"  {url}: {str(exc).strip()}")
            continue
        finally:
            os.remove(tmp)
        paths = []
        for n in names:  # every file verified: now each goes in atomically
            data = found[n]  # the bytes whose MD5 was checked
            paths.append(
                write_atomically(
                    directory / n, lambda f: f.write(data), where=url
                )
            )
        return paths
    raise RuntimeError(
        f"could not download {name}; every mirror failed:\n"
        + "\n".join(failures)
        + "\n"
        f"Check your connection, or download the archive yourself, extract "
        f"{', '.join(names)} into a folder {source.name}/ and point {ROOT_ENV} at "
        f"the folder that holds it."
    )


def _local_file(
    source: DataSource, directory: Path, name: str
) -> Path | None:
    for candidate in source.local_names(name):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


def read_files(
    source: DataSource,
    directory: str | Path | None = None,
    *,
    download: bool | None = None,
    mirrors: Sequence[str] | None = None,
    checksums: dict[str, str] | None = None,
    progress: bool | None = None,
) -> dict[str, bytes]:
    """Locate (downloading if allowed), verify and return the content of each file.

    Parameters
    ----------
    source : DataSource
    directory : str or Path, optional
        See the module docstring for the lookup order.
    download : bool, optional
        Whether missing files may be downloaded. Default: only into the cache directory.
    mirrors : sequence of str, optional
        Base URLs tried in order (default: the source's).
    checksums : mapping, optional
        File name -> MD5 of the content (default: the source's; tests pass their own).
    progress : bool, optional
        Download progress bar; default: only when stderr is a terminal.

    Returns
    -------
    dict
        File name -> verified content.
    """
    path, how = resolve_directory(source, directory)
    checksums = source.files if checksums is None else checksums
    allowed = how == "cache" if download is None else download
    out = {}
    missing = [
        n for n in source.files if _local_file(source, path, n) is None
    ]
    if missing and allowed and source.archive is not None:
        download_from_archive(
            source,
            missing,
            path,
            checksums=checksums,
            mirrors=mirrors,
            progress=progress,
        )
    for name in source.files:
        local = _local_file(source, path, name)
        if local is None:
            if not allowed:
                names = " or ".join(source.local_names(name))
                raise FileNotFoundError(
                    f"{source.title} file {names} is missing from {path} "
                    f"({describe(source, how)}). Fix the path, copy the file there, or load "
                    f"with download=True to download it into that directory."
                )
            local = download_file(
                source,
                name,
                path,
                expected_md5=checksums[name],
                mirrors=mirrors,
                progress=progress,
            )
        fix = (
            f"Delete {local} and run again to download a fresh copy."
            if how == "cache"
            else f"Replace {local} with a good copy (or delete it and load with download=True)."
        )
        out[name] = verified(
            source,
            local.read_bytes(),
            name,
            checksums[name],
            where=str(local),
            fix=fix,
        )
    return out
