"""Atomic writes on file systems that refuse an operation: the file still lands whole.

Each test makes one ``os`` call fail as some file system or platform does, writes through
:func:`nnscratch._files.write_atomically`, and checks the file's content, its permissions and
that no temporary file is left beside it.
"""

import os
import stat

import pytest

import nnscratch._files as files

CONTENT = b"all of it, " * 1000


def _write(f):
    f.write(CONTENT)


def _names(directory):
    return sorted(p.name for p in directory.iterdir())


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_027():
    """A umask that differs from the usual 022, so the test sees it was read, not guessed."""
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


@pytest.fixture
def open_fds():
    """The number of file descriptors this process has open (Linux)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc to count open files")
    return lambda: len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="no POSIX permissions")
def test_a_new_file_gets_the_permissions_the_umask_gives(tmp_path, umask_027):
    path = files.write_atomically(tmp_path / "new.bin", _write, where="test")
    assert path.read_bytes() == CONTENT
    assert _mode(path) == 0o640
    assert _names(tmp_path) == ["new.bin"]


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="no POSIX permissions")
def test_the_umask_is_read_by_setting_it_back_where_proc_cannot_be_read(
        tmp_path, umask_027, monkeypatch):
    def no_proc(name, *args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", name)

    monkeypatch.setattr(files, "open", no_proc, raising=False)   # macOS, BSD: no /proc
    assert files._umask() == 0o027
    assert os.umask(0o027) == 0o027                               # and it was set back
    path = files.write_atomically(tmp_path / "new.bin", _write, where="test")
    assert path.read_bytes() == CONTENT
    assert _mode(path) == 0o640
    assert _names(tmp_path) == ["new.bin"]


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="no POSIX permissions")
def test_a_replaced_file_keeps_its_permissions(tmp_path, umask_027):
    path = tmp_path / "shared.bin"
    path.write_bytes(b"old")
    path.chmod(0o664)
    files.write_atomically(path, _write, where="test")
    assert path.read_bytes() == CONTENT
    assert _mode(path) == 0o664
    assert _names(tmp_path) == ["shared.bin"]


def test_without_posix_permissions_the_file_keeps_those_it_was_created_with(
        tmp_path, monkeypatch):
    monkeypatch.delattr(os, "fchmod", raising=False)              # Windows before 3.13
    monkeypatch.setattr(files, "_umask", lambda: pytest.fail("no umask without fchmod"))
    path = tmp_path / "w.bin"
    path.write_bytes(b"old")
    assert files.write_atomically(path, _write, where="test") == path
    assert path.read_bytes() == CONTENT
    if os.name == "posix":
        assert _mode(path) == 0o600                               # what mkstemp gave it
    assert _names(tmp_path) == ["w.bin"]


def test_a_directory_that_cannot_be_opened_does_not_stop_the_write(
        tmp_path, monkeypatch, open_fds):
    real_open = os.open
    refused = []

    def refuse_directories(path, flags, *args, **kwargs):
        if os.path.isdir(path):                                   # Windows: no O_RDONLY dirs
            refused.append(path)
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_directories)
    before = open_fds()
    path = files.write_atomically(tmp_path / "w.bin", _write, where="test")
    assert refused == [tmp_path]                                  # the rename's fsync was tried
    assert path.read_bytes() == CONTENT
    assert _names(tmp_path) == ["w.bin"]
    assert open_fds() == before


def test_a_directory_that_cannot_be_synced_does_not_stop_the_write_or_leak_its_descriptor(
        tmp_path, monkeypatch, open_fds):
    real_fsync = os.fsync
    synced = []

    def refuse_directories(fd):
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        synced.append("directory" if is_dir else "file")
        if is_dir:                                                # some network file systems
            raise OSError(22, "Invalid argument")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", refuse_directories)
    before = open_fds()
    path = files.write_atomically(tmp_path / "w.bin", _write, where="test")
    assert synced == ["file", "directory"]                        # the data first, then the rename
    assert path.read_bytes() == CONTENT
    assert _names(tmp_path) == ["w.bin"]
    assert open_fds() == before                                   # the directory's fd was closed
