"""The movie reviews' loader, its archive download and its folds, on small generated files.

No test touches the outside network: mirrors are ``http.server`` instances on 127.0.0.1
serving a ``.tar.gz`` made here. The real files are checked only when ``NNSCRATCH_DATA``
names a folder holding them.
"""

import hashlib
import io
import os
import tarfile

import numpy as np
import pytest
from conftest import closed_port_url

from nnscratch.data import rt_polarity as rt
from nnscratch.data import store
from nnscratch.data.rt_polarity import cv_folds, load_rt_polarity
from nnscratch.data.store import ChecksumError

POS = "a gripping , funny film .\nsimply the best caf\xe9 scene of the year .\n"
NEG = "does n't work .\nit 's a mess .\nboring .\n"


def md5s(pos=POS, neg=NEG):
    return {rt.POS: hashlib.md5(pos.encode("latin-1")).hexdigest(),
            rt.NEG: hashlib.md5(neg.encode("latin-1")).hexdigest()}


def write(directory, pos=POS, neg=NEG):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / rt.POS).write_bytes(pos.encode("latin-1"))
    (directory / rt.NEG).write_bytes(neg.encode("latin-1"))
    return directory


def write_archive(directory, pos=POS, neg=NEG, members=(rt.POS, rt.NEG)):
    """The Cornell archive's layout: the two files under rt-polaritydata/."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(directory / rt.ARCHIVE, "w:gz") as tar:
        for name, text in ((rt.POS, pos), (rt.NEG, neg)):
            if name in members:
                data = text.encode("latin-1")
                info = tarfile.TarInfo(f"rt-polaritydata/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return directory


# -- reading ---------------------------------------------------------------------------------

def test_sentences_are_latin1_lines_positive_first(tmp_path, no_env):
    data = load_rt_polarity(write(tmp_path / "d"), checksums=md5s())
    assert data.sentences[:2] == ["a gripping , funny film .",
                                  "simply the best caf\xe9 scene of the year ."]
    assert data.sentences[2:] == ["does n't work .", "it 's a mess .", "boring ."]
    assert data.y.dtype == np.int64 and data.y.tolist() == [1, 1, 0, 0, 0]
    assert len(data) == 5 and "2 positive, 3 negative" in repr(data)


def test_root_variable_and_default_cache(tmp_path, monkeypatch, no_env):
    assert rt.resolve_directory()[1] == "cache"
    assert rt.resolve_directory()[0].parts[-2:] == ("nnscratch", "rt-polarity")
    directory = write(tmp_path / "root" / "rt-polarity")
    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path / "root"))
    assert rt.resolve_directory() == (directory, "root")
    assert len(load_rt_polarity(checksums=md5s())) == 5


def test_checksum_mismatch_is_refused_naming_expected_and_found(tmp_path, no_env):
    directory = write(tmp_path / "d", neg=NEG.replace("boring", "boring!"))
    with pytest.raises(ChecksumError) as err:
        load_rt_polarity(directory, checksums=md5s())
    msg = str(err.value)
    assert str(directory / rt.NEG) in msg and f"expected {md5s()[rt.NEG]}" in msg


def test_missing_file_in_a_chosen_folder_is_an_error_and_nothing_is_written(
        tmp_path, monkeypatch, no_env):
    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="rt-polarity.pos is missing from"):
        load_rt_polarity(mirrors=[closed_port_url()])
    assert not (tmp_path / "rt-polarity").exists()


def test_the_real_checksums_are_the_published_ones():
    assert rt.MD5 == {"rt-polarity.pos": "afcc7ff580b3b4df4bdb6528e6558ab5",
                      "rt-polarity.neg": "1e35b7f7c5df24a135ca62b8eecded53"}
    assert rt.SOURCE.archive == "rt-polaritydata.tar.gz"


# -- downloading the archive ----------------------------------------------------------------

def test_download_takes_both_files_from_the_archive_of_the_first_good_mirror(
        tmp_path, serve, cut_off_server, no_env):
    good = write_archive(tmp_path / "good")
    damaged = write_archive(tmp_path / "damaged", neg=NEG + "extra .\n")
    partial = write_archive(tmp_path / "partial", members=(rt.POS,))
    (tmp_path / "notgz").mkdir()
    (tmp_path / "notgz" / rt.ARCHIVE).write_bytes(b"<html>moved</html>")
    (tmp_path / "cut").mkdir()                        # a download cut off half-way
    whole = (good / rt.ARCHIVE).read_bytes()
    (tmp_path / "cut" / rt.ARCHIVE).write_bytes(whole[: len(whole) // 2])
    mirrors = [closed_port_url(), cut_off_server, serve(tmp_path / "notgz"), serve(tmp_path / "cut"),
               serve(partial), serve(damaged), serve(good)]
    data = load_rt_polarity(checksums=md5s(), mirrors=mirrors, progress=False)
    assert len(data) == 5
    cache = store.default_cache_dir("rt-polarity")
    assert cache.is_relative_to(tmp_path)
    assert sorted(p.name for p in cache.iterdir()) == [rt.NEG, rt.POS]  # no archive, no .part
    assert len(load_rt_polarity(checksums=md5s(), mirrors=[])) == 5     # no mirror needed now


def test_a_failed_archive_leaves_nothing_and_the_error_lists_every_mirror(
        tmp_path, serve, no_env):
    damaged = serve(write_archive(tmp_path / "damaged", pos=POS + "x\n"))
    partial = serve(write_archive(tmp_path / "partial", members=(rt.NEG,)))
    target = tmp_path / "target"
    with pytest.raises(RuntimeError) as err:
        load_rt_polarity(target, download=True, checksums=md5s(),
                         mirrors=[damaged, partial], progress=False)
    msg = str(err.value)
    assert damaged + rt.ARCHIVE in msg and f"expected {md5s()[rt.POS]}" in msg
    assert partial + rt.ARCHIVE in msg and "holds no file ['rt-polarity.pos']" in msg
    assert "NNSCRATCH_DATA" in msg
    assert list(target.iterdir()) == []     # not one of the two files, not the archive


def test_only_the_missing_file_is_taken_from_the_archive(tmp_path, serve, no_env):
    target = write(tmp_path / "target")
    (target / rt.NEG).unlink()
    mirror = serve(write_archive(tmp_path / "good"))
    data = load_rt_polarity(target, download=True, checksums=md5s(),
                            mirrors=[mirror], progress=False)
    assert len(data) == 5 and sorted(p.name for p in target.iterdir()) == [rt.NEG, rt.POS]


# -- folds ----------------------------------------------------------------------------------

def test_folds_are_balanced_per_class_and_seeded():
    y = np.array([1] * 53 + [0] * 47)
    fold = cv_folds(y, 10, np.random.default_rng(0))
    assert fold.dtype == np.int64 and set(fold) == set(range(10))
    sizes = np.bincount(fold, minlength=10)
    assert sizes.min() == 10 and sizes.max() == 10
    pos = np.bincount(fold[y == 1], minlength=10)
    assert pos.max() - pos.min() <= 1
    np.testing.assert_array_equal(fold, cv_folds(y, 10, np.random.default_rng(0)))
    assert not np.array_equal(fold, cv_folds(y, 10, np.random.default_rng(1)))


def test_fold_errors_name_what_arrived():
    with pytest.raises(ValueError, match="k must be an integer of at least 2, got 1"):
        cv_folds(np.zeros(5), 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"N >= k = 10, got \(5,\)"):
        cv_folds(np.zeros(5), 10, np.random.default_rng(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        cv_folds(np.zeros(5), 2, 0)


def test_every_data_module_resolves_like_the_store(no_env, monkeypatch, tmp_path):
    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path))
    assert rt.resolve_directory() == (tmp_path / "rt-polarity", "root")


# -- the real files -------------------------------------------------------------------------

@pytest.mark.skipif(not (os.environ.get(store.ROOT_ENV)
                         and (rt.resolve_directory()[0] / rt.POS).is_file()),
                    reason="set NNSCRATCH_DATA to a folder holding rt-polarity/")
def test_real_data_sanity_facts():
    data = load_rt_polarity()
    assert len(data) == 10_662 and int(data.y.sum()) == 5_331
    # the pinned checksums are those of the real files, hashed here independently
    folder = rt.resolve_directory()[0]
    for name in (rt.POS, rt.NEG):
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == rt.MD5[name]
    assert all(s and s == s.strip() for s in data.sentences)


def test_lines_end_only_at_newline_not_at_unicode_breaks(tmp_path, no_env):
    pos = "ends\x85 here .\nform\x0c feed .\n"
    directory = write(tmp_path / "d", pos=pos)
    data = load_rt_polarity(directory, checksums=md5s(pos=pos))
    assert data.sentences[:2] == ["ends\x85 here .", "form\x0c feed ."]


def test_folds_refuse_labels_that_are_not_integers():
    # NaN labels matched no class, and their folds were left as np.empty's garbage
    y = np.array([0.0, 1, np.nan, 0, 1, np.nan, 1, 0])
    with pytest.raises(TypeError, match="cv_folds: y must hold integer class labels, "
                                        "got dtype float64"):
        cv_folds(y, 2, np.random.default_rng(0))
    with pytest.raises(TypeError, match="cv_folds: y must hold integer class labels, "
                                        "got dtype float64"):
        cv_folds(np.array([0.0, 1, 0, 1]), 2, np.random.default_rng(0))
    # integer labels of any width give the same folds, every one of them set
    y = np.random.default_rng(1).integers(0, 3, 50)
    fold = cv_folds(y, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(fold, cv_folds(y.astype(np.int32), 4, np.random.default_rng(0)))
    assert fold.min() >= 0 and fold.max() < 4
    assert np.bincount(fold).max() - np.bincount(fold).min() <= 1
