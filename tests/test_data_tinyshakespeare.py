"""Tiny Shakespeare's loader, and the data store every loader shares, on small generated texts.

No test touches the outside network: mirrors are ``http.server`` instances on 127.0.0.1.
The real file is checked only when ``NNSCRATCH_DATA`` names a folder holding it.
"""

import hashlib
import os

import numpy as np
import pytest
from conftest import closed_port_url

from nnscratch.data import store
from nnscratch.data import tinyshakespeare as ts
from nnscratch.data.store import ChecksumError
from nnscratch.data.tinyshakespeare import CharVocab, load_tinyshakespeare

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20


def write(directory, text=TEXT):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "input.txt").write_text(text, encoding="utf-8")
    return directory, {"input.txt": hashlib.md5(text.encode()).hexdigest()}


# -- vocabulary and split ----------------------------------------------------------------------

def test_vocabulary_is_the_sorted_characters_and_round_trips():
    vocab = CharVocab.from_text(TEXT)
    assert vocab.chars == "".join(sorted(set(TEXT))) and len(vocab) == len(set(TEXT))
    ids = vocab.encode(TEXT)
    assert ids.dtype == np.int64 and ids.shape == (len(TEXT),)
    assert vocab.decode(ids) == TEXT
    assert [vocab.chars[i] for i in ids[:5]] == list(TEXT[:5])


def test_a_vocabulary_in_any_order_numbers_each_character_by_its_place_in_chars():
    vocab = CharVocab("cab")                          # not sorted: c is 0, a is 1, b is 2
    np.testing.assert_array_equal(vocab.encode("abc"), [1, 2, 0])
    np.testing.assert_array_equal(vocab.encode("cab"), [0, 1, 2])
    assert vocab.decode([1, 2, 0]) == "abc"
    chars = "zé!\n a"                                 # codes 122, 233, 33, 10, 32, 97
    vocab = CharVocab(chars)
    text = "a zé!\nzz éa !"
    ids = vocab.encode(text)
    np.testing.assert_array_equal(ids, [chars.index(c) for c in text])
    assert vocab.decode(ids) == text
    with pytest.raises(ValueError, match=r"characters \['b'\] are not in the vocabulary of 6"):
        vocab.encode("ab")


def test_unknown_characters_and_ids_are_errors_that_name_them():
    vocab = CharVocab("abc")
    with pytest.raises(ValueError, match=r"characters \['z'\] are not in the vocabulary of 3"):
        vocab.encode("abz")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\), got values from 0 to 3"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="distinct"):
        CharVocab("aa")


def test_split_is_nanogpts_first_90_percent_then_10(tmp_path, no_env):
    directory, md5 = write(tmp_path / "tinyshakespeare")
    data = load_tinyshakespeare(directory, checksums=md5)
    n = int(0.9 * len(TEXT))
    assert len(data.train_ids) == n and len(data.val_ids) == len(TEXT) - n
    assert data.vocab.decode(data.train_ids) + data.vocab.decode(data.val_ids) == TEXT
    assert data.text == TEXT
    with pytest.raises(ValueError, match=r"val_fraction must be a finite number in \(0, 1\)"):
        load_tinyshakespeare(directory, checksums=md5, val_fraction=1.0)


# -- where the file is found -------------------------------------------------------------------

def test_root_variable_holds_one_folder_per_data_set(tmp_path, monkeypatch, no_env):
    directory, md5 = write(tmp_path / "root" / "tinyshakespeare")
    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path / "root"))
    assert ts.resolve_directory() == (directory, "root")
    assert load_tinyshakespeare(checksums=md5).text == TEXT
    assert ts.resolve_directory(tmp_path) == (tmp_path, "argument")


def test_default_is_the_per_user_cache(no_env):
    path, how = ts.resolve_directory()
    assert how == "cache" and path.parts[-2:] == ("nnscratch", "tinyshakespeare")


def test_missing_file_in_a_chosen_folder_names_it_and_the_variable(tmp_path, monkeypatch, no_env):
    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        load_tinyshakespeare(mirrors=[closed_port_url()])
    msg = str(err.value)
    assert "Tiny Shakespeare file input.txt is missing from" in msg
    assert str(tmp_path / "tinyshakespeare") in msg and "NNSCRATCH_DATA" in msg
    assert "download=True" in msg
    assert not (tmp_path / "tinyshakespeare").exists()      # nothing written without asking


# -- verification ------------------------------------------------------------------------------

def test_checksum_mismatch_is_refused_naming_expected_and_found(tmp_path, no_env):
    directory, md5 = write(tmp_path / "d")
    damaged = TEXT[:-1] + "?"
    (directory / "input.txt").write_text(damaged, encoding="utf-8")
    with pytest.raises(ChecksumError) as err:
        load_tinyshakespeare(directory, checksums=md5)
    msg = str(err.value)
    assert str(directory / "input.txt") in msg
    assert f"expected {md5['input.txt']}" in msg
    assert f"has MD5 {hashlib.md5(damaged.encode()).hexdigest()}" in msg
    assert "Replace" in msg


def test_the_real_checksum_is_the_published_one():
    assert ts.MD5 == {"input.txt": "6fb458f1232090904fb40fe944165e91"}


# -- downloading -------------------------------------------------------------------------------

def test_download_into_the_cache_skips_bad_mirrors_and_keeps_only_a_verified_file(
        tmp_path, serve, no_env):
    good_dir, md5 = write(tmp_path / "good")
    truncated, _ = write(tmp_path / "truncated", TEXT[:-7])
    (tmp_path / "empty").mkdir()
    mirrors = [closed_port_url(), serve(tmp_path / "empty"), serve(truncated), serve(good_dir)]
    data = load_tinyshakespeare(checksums=md5, mirrors=mirrors, progress=False)
    assert data.text == TEXT
    cache = store.default_cache_dir("tinyshakespeare")
    assert cache.is_relative_to(tmp_path) and [p.name for p in cache.iterdir()] == ["input.txt"]
    assert load_tinyshakespeare(checksums=md5, mirrors=[]).text == TEXT     # no mirror needed now


def test_a_mirror_that_cuts_off_a_chunked_response_is_skipped(
        tmp_path, serve, cut_off_server, no_env):
    # http.client.IncompleteRead is no OSError: it must not stop the next mirror being tried
    good_dir, md5 = write(tmp_path / "good")
    target = tmp_path / "target"
    data = load_tinyshakespeare(target, download=True, checksums=md5,
                                mirrors=[cut_off_server, serve(good_dir)], progress=False)
    assert data.text == TEXT
    assert [p.name for p in target.iterdir()] == ["input.txt"]
    with pytest.raises(RuntimeError, match="every mirror failed") as err:
        load_tinyshakespeare(tmp_path / "other", download=True, checksums=md5,
                             mirrors=[cut_off_server], progress=False)
    assert cut_off_server + "input.txt" in str(err.value)
    assert list((tmp_path / "other").iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="no POSIX permissions here")
def test_a_downloaded_file_is_readable_by_others_as_the_umask_allows(tmp_path, serve, no_env):
    good_dir, md5 = write(tmp_path / "good")
    old = os.umask(0o022)
    try:
        load_tinyshakespeare(tmp_path / "shared", download=True, checksums=md5,
                             mirrors=[serve(good_dir)], progress=False)
    finally:
        os.umask(old)
    assert (tmp_path / "shared" / "input.txt").stat().st_mode & 0o777 == 0o644


def test_no_partial_or_unverified_file_is_left_behind(tmp_path, serve, no_env):
    truncated, _ = write(tmp_path / "truncated", TEXT[: len(TEXT) // 2])   # an interrupted copy
    _, md5 = write(tmp_path / "good")
    target = tmp_path / "target"
    bad = serve(truncated)
    with pytest.raises(RuntimeError) as err:
        load_tinyshakespeare(target, download=True, checksums=md5, mirrors=[bad], progress=False)
    msg = str(err.value)
    assert bad + "input.txt" in msg and f"expected {md5['input.txt']}" in msg
    assert "NNSCRATCH_DATA" in msg
    assert list(target.iterdir()) == []                     # nothing half-written, nothing trusted


def test_every_data_module_resolves_like_the_store(no_env, monkeypatch, tmp_path):
    """tools/book_execution.py fingerprints a page's data through resolve_directory()."""
    from nnscratch.data import mnist

    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path))
    for module in (mnist, ts):
        assert module.resolve_directory() == (tmp_path / module.SOURCE.name, "root")


# -- the real file -----------------------------------------------------------------------------

@pytest.mark.skipif(not (os.environ.get(store.ROOT_ENV)
                         and (ts.resolve_directory()[0] / "input.txt").is_file()),
                    reason="set NNSCRATCH_DATA to a folder holding tinyshakespeare/input.txt")
def test_real_corpus_sanity_facts():
    data = load_tinyshakespeare()
    assert len(data.text) == 1_115_394 and len(data.vocab) == 65
    # the pinned checksum is that of the real file, hashed here independently
    raw = (ts.resolve_directory()[0] / "input.txt").read_bytes()
    assert hashlib.md5(raw).hexdigest() == ts.MD5["input.txt"]
    assert data.text.startswith("First Citizen:")
    assert len(data.train_ids) == 1_003_854 and len(data.val_ids) == 111_540


def test_char_vocab_decode_refuses_float_and_bool_ids():
    vocab = CharVocab("abc")
    for ids in (np.array([0.0, 1.7]), np.array([True, False])):
        with pytest.raises(TypeError, match=f"CharVocab.decode: ids must be integers, got dtype {ids.dtype}"):
            vocab.decode(ids)
    assert vocab.decode(np.array([2, 0], np.int32)) == "ca"
