"""The Fashion-MNIST loader: the shared MNIST-format parsing on tiny generated files, its own
folder, checksums and mirrors, and (with ``NNSCRATCH_DATA``) the real files.

No test touches the outside network: mirrors are ``http.server`` instances on 127.0.0.1.
"""

import gzip
import hashlib
import os

import numpy as np
import pytest
from conftest import closed_port_url

from nnscratch.data import FashionMNIST, load_fashion_mnist
from nnscratch.data import fashion_mnist as fm
from nnscratch.data import store
from nnscratch.data.fashion_mnist import CLASSES, FILES, MD5
from nnscratch.data.store import ChecksumError
from nnscratch.data.idx import idx_bytes

N_TRAIN, N_TEST = 20, 10


def make_tiny(rng):
    """File name -> IDX bytes of a tiny look-alike, the arrays, and its MD5 table.

    Training image ``i`` carries its index in its first pixel."""
    arrays = {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(N_TRAIN) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(N_TEST) % 10).astype(np.uint8),
    }
    arrays["train_images"][:, 0, 0] = np.arange(N_TRAIN)
    raw = {FILES[role]: idx_bytes(a) for role, a in arrays.items()}
    return arrays, raw, {n: hashlib.md5(b).hexdigest() for n, b in raw.items()}


def write_dir(directory, raw):
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in raw.items():
        (directory / name).write_bytes(gzip.compress(data))
    return directory


def test_loads_the_arrays_through_its_own_folder_under_the_root(tmp_path, rng, monkeypatch):
    arrays, raw, md5 = make_tiny(rng)
    directory = write_dir(tmp_path / "fashion-mnist", raw)
    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path))
    assert fm.resolve_directory() == (directory, "root")
    data = load_fashion_mnist(checksums=md5)
    assert isinstance(data, FashionMNIST)
    assert repr(data).startswith("FashionMNIST(\n    x_train=(20, 784) float32,")
    assert data.x_train.shape == (N_TRAIN, 784) and data.x_test.shape == (N_TEST, 784)
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    np.testing.assert_allclose(data.x_test * 255, arrays["test_images"].reshape(N_TEST, 784),
                               atol=1e-4)


def test_options_are_those_of_load_mnist(tmp_path, rng):
    arrays, raw, md5 = make_tiny(rng)
    directory = write_dir(tmp_path / "d", raw)
    data = load_fashion_mnist(directory, checksums=md5, flatten=False, normalize=False,
                              dtype=np.uint8, val_size=5, rng=np.random.default_rng(0))
    assert data.x_train.shape == (N_TRAIN - 5, 1, 28, 28) and data.x_val.shape == (5, 1, 28, 28)
    train, val = data.x_train[:, 0, 0, 0].astype(int), data.x_val[:, 0, 0, 0].astype(int)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(N_TRAIN))
    np.testing.assert_array_equal(data.x_train[:, 0], arrays["train_images"][train])
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"][train])
    np.testing.assert_array_equal(data.y_val, arrays["train_labels"][val])
    assert np.all(np.diff(train) > 0), train  # the training set keeps its original order
    with pytest.raises(TypeError, match="load_fashion_mnist: normalize=True .* float dtype"):
        load_fashion_mnist(directory, checksums=md5, dtype=np.uint8)
    with pytest.raises(TypeError, match="load_fashion_mnist: val_size > 0 needs rng"):
        load_fashion_mnist(directory, checksums=md5, val_size=3)
    with pytest.raises(ValueError, match="load_fashion_mnist: val_size=20 leaves no training"):
        load_fashion_mnist(directory, checksums=md5, val_size=N_TRAIN,
                           rng=np.random.default_rng(0))


def test_a_damaged_file_is_rejected_naming_the_data_set(tmp_path, rng):
    _, raw, md5 = make_tiny(rng)
    directory = write_dir(tmp_path / "d", raw)
    bad = bytearray(raw[FILES["test_labels"]])
    bad[-1] ^= 1
    (directory / FILES["test_labels"]).write_bytes(gzip.compress(bytes(bad)))
    with pytest.raises(ChecksumError, match=r"t10k-labels.*not Fashion-MNIST"):
        load_fashion_mnist(directory, checksums=md5)


def test_a_missing_file_names_its_folder(tmp_path, rng, monkeypatch):
    _, raw, md5 = make_tiny(rng)
    directory = write_dir(tmp_path / "fashion-mnist", raw)
    (directory / FILES["train_images"]).unlink()
    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError,
                       match=r"Fashion-MNIST file .*missing.*folder fashion-mnist/ under NNSCRATCH_DATA"):
        load_fashion_mnist(checksums=md5, mirrors=[closed_port_url()])


def test_downloads_into_the_cache_from_the_first_working_mirror(tmp_path, rng, serve, no_env):
    arrays, raw, md5 = make_tiny(rng)
    good = serve(write_dir(tmp_path / "srv", raw))
    data = load_fashion_mnist(checksums=md5, mirrors=[closed_port_url(), good], progress=False)
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])
    cache = fm.default_cache_dir()
    assert cache.is_relative_to(tmp_path) and cache.name == "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(FILES.values())


def test_checksums_and_classes_are_its_own():
    assert set(MD5) == set(FILES.values())
    from nnscratch.data import mnist
    assert not set(MD5.values()) & set(mnist.MD5.values())
    assert len(CLASSES) == 10 and CLASSES[9] == "Ankle boot"
    assert fm.MIRRORS and all(m.endswith("/") for m in fm.MIRRORS)


# -- the real files --------------------------------------------------------------------------

real = pytest.mark.skipif(
    not (os.environ.get(store.ROOT_ENV) and fm.resolve_directory()[0].is_dir()),
    reason="set NNSCRATCH_DATA to a folder holding Fashion-MNIST in fashion-mnist/ to check it")


@real
def test_real_files_match_the_published_checksums():
    raw = fm.fashion_mnist_files()  # verified on load; recomputed independently here
    for role, name in FILES.items():
        assert hashlib.md5(raw[role]).hexdigest() == MD5[name]
    assert len(raw["train_images"]) == 47040016 and len(raw["test_labels"]) == 10008


@real
def test_real_data_sanity_facts():
    data = load_fashion_mnist()
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    np.testing.assert_array_equal(data.y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    np.testing.assert_array_equal(data.y_test[:10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    np.testing.assert_array_equal(np.bincount(data.y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(data.y_test), [1000] * 10)
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
