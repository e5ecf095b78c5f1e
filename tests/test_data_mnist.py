"""The MNIST loader on tiny generated IDX files, and the download path against a local server.

No test touches the outside network: mirrors are ``http.server`` instances on 127.0.0.1.
The real files are checked only when ``NNSCRATCH_DATA`` (or ``NNSCRATCH_MNIST_DIR``) names a copy.
"""

import gzip
import hashlib
import os

import numpy as np
import pytest
from conftest import closed_port_url

from nnscratch.data import MNIST, load_mnist
from nnscratch.data import mnist as mnist_mod
from nnscratch.data import store
from nnscratch.data.idx import IDXError, idx_bytes
from nnscratch.data.mnist import FILES, MD5, ChecksumError, default_cache_dir, download_file

N_TRAIN, N_TEST = 30, 12


def make_tiny_mnist(rng):
    """File name -> IDX bytes (decompressed) of a tiny MNIST look-alike, and its MD5 table.

    Training image ``i`` carries its index in its first pixel, so that a row of a split
    says which image it is."""
    arrays = {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(N_TRAIN) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(N_TEST)[::-1] % 10).astype(np.uint8),
    }
    arrays["train_images"][:, 0, 0] = np.arange(N_TRAIN)
    raw = {FILES[role]: idx_bytes(a) for role, a in arrays.items()}
    md5 = {name: hashlib.md5(b).hexdigest() for name, b in raw.items()}
    return arrays, raw, md5


def write_dir(directory, raw, compress=True):
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in raw.items():
        if compress:
            (directory / name).write_bytes(gzip.compress(data))
        else:
            (directory / name.removesuffix(".gz")).write_bytes(data)
    return directory


@pytest.fixture
def tiny(tmp_path, rng):
    arrays, raw, md5 = make_tiny_mnist(rng)
    return arrays, raw, md5, write_dir(tmp_path / "mnist", raw)


# -- loading ---------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_loads_arrays_with_the_right_shapes_and_values(tmp_path, rng, compress):
    arrays, raw, md5 = make_tiny_mnist(rng)
    directory = write_dir(tmp_path / "d", raw, compress=compress)
    data = load_mnist(directory, checksums=md5)
    assert isinstance(data, MNIST)
    assert data.x_train.shape == (N_TRAIN, 784) and data.x_train.dtype == np.float32
    assert data.x_test.shape == (N_TEST, 784)
    assert data.y_train.dtype == np.int64 and data.y_test.dtype == np.int64
    assert data.x_val.shape == (0, 784) and data.y_val.shape == (0,)
    assert data.x_train.flags.c_contiguous
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])
    np.testing.assert_allclose(data.x_train * 255, arrays["train_images"].reshape(N_TRAIN, 784),
                               atol=1e-4)
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0


def test_unflattened_images_have_a_channel_axis(tiny):
    arrays, _, md5, directory = tiny
    data = load_mnist(directory, checksums=md5, flatten=False, dtype=np.float64)
    assert data.x_train.shape == (N_TRAIN, 1, 28, 28) and data.x_train.dtype == np.float64
    np.testing.assert_allclose(data.x_test[:, 0] * 255, arrays["test_images"])


def test_raw_pixels_without_normalization(tiny):
    arrays, _, md5, directory = tiny
    data = load_mnist(directory, checksums=md5, normalize=False, dtype=np.uint8, flatten=False)
    np.testing.assert_array_equal(data.x_train[:, 0], arrays["train_images"])
    with pytest.raises(TypeError, match="needs a float dtype"):
        load_mnist(directory, checksums=md5, normalize=True, dtype=np.uint8)
    for dtype in (np.int8, np.bool_):  # 255 would wrap to -1, or become True
        with pytest.raises(TypeError, match=f"dtype must hold the pixel values 0 to 255, got {np.dtype(dtype)}"):
            load_mnist(directory, checksums=md5, normalize=False, dtype=dtype)
    assert load_mnist(directory, checksums=md5, normalize=False, dtype=np.int16).x_train.max() == 255


def test_validation_split_is_seeded_disjoint_and_keeps_the_training_order(tiny):
    arrays, _, md5, directory = tiny
    kw = dict(checksums=md5, normalize=False, dtype=np.uint8, val_size=7)
    a = load_mnist(directory, rng=np.random.default_rng(1), **kw)
    b = load_mnist(directory, rng=np.random.default_rng(1), **kw)
    c = load_mnist(directory, rng=np.random.default_rng(2), **kw)
    assert a.x_train.shape == (N_TRAIN - 7, 784) and a.x_val.shape == (7, 784)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)
    train, val = a.x_train[:, 0].astype(int), a.x_val[:, 0].astype(int)  # which images
    # together the two parts are exactly the original training set, each image once...
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(N_TRAIN))
    # ...whole, with its own label...
    for x, y, idx in ((a.x_train, a.y_train, train), (a.x_val, a.y_val, val)):
        np.testing.assert_array_equal(x, arrays["train_images"][idx].reshape(-1, 784))
        np.testing.assert_array_equal(y, arrays["train_labels"][idx])
    # ...the validation images drawn at random, and the training set in its original order
    assert np.any(np.diff(np.sort(val)) > 1), val  # not a block cut off one end
    assert np.all(np.diff(train) > 0), train


def test_validation_split_arguments_are_checked(tiny):
    _, _, md5, directory = tiny
    with pytest.raises(TypeError, match="rng=np.random.default_rng"):
        load_mnist(directory, checksums=md5, val_size=5)
    with pytest.raises(ValueError, match="non-negative integer"):
        load_mnist(directory, checksums=md5, val_size=-1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="leaves no training data"):
        load_mnist(directory, checksums=md5, val_size=N_TRAIN, rng=np.random.default_rng(0))


def test_environment_variable_is_used(tiny, monkeypatch):
    _, _, md5, directory = tiny
    monkeypatch.setenv(mnist_mod.ENV_VAR, str(directory))
    assert load_mnist(checksums=md5).x_train.shape == (N_TRAIN, 784)


def test_root_variable_names_a_folder_with_a_subfolder_per_data_set(tiny, monkeypatch):
    _, _, md5, directory = tiny                      # directory is <tmp>/mnist
    monkeypatch.delenv(mnist_mod.ENV_VAR, raising=False)
    monkeypatch.setenv(store.ROOT_ENV, str(directory.parent))
    assert mnist_mod.resolve_directory() == (directory, "root")
    assert load_mnist(checksums=md5).x_train.shape == (N_TRAIN, 784)


def test_the_data_sets_own_variable_wins_over_the_root(tiny, monkeypatch, tmp_path):
    _, _, md5, directory = tiny
    monkeypatch.setenv(store.ROOT_ENV, str(tmp_path / "elsewhere"))
    monkeypatch.setenv(mnist_mod.ENV_VAR, str(directory))
    assert mnist_mod.resolve_directory() == (directory, "environment")


def test_argument_wins_over_environment(tiny, monkeypatch, tmp_path):
    _, _, md5, directory = tiny
    monkeypatch.setenv(mnist_mod.ENV_VAR, str(tmp_path / "does-not-exist"))
    assert load_mnist(directory, checksums=md5).y_test.shape == (N_TEST,)


# -- broken files ----------------------------------------------------------------------------

def test_missing_file_in_a_chosen_directory_is_an_error_not_a_download(tiny, monkeypatch):
    _, _, md5, directory = tiny
    (directory / FILES["test_labels"]).unlink()
    mirror = closed_port_url()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte.gz.*missing.*download=True"):
        load_mnist(directory, checksums=md5, mirrors=[mirror])
    monkeypatch.setenv(mnist_mod.ENV_VAR, str(directory))
    with pytest.raises(FileNotFoundError, match="NNSCRATCH_MNIST_DIR"):
        load_mnist(checksums=md5, mirrors=[mirror])
    monkeypatch.delenv(mnist_mod.ENV_VAR)
    monkeypatch.setenv(store.ROOT_ENV, str(directory.parent))
    with pytest.raises(FileNotFoundError, match=r"folder mnist/ under NNSCRATCH_DATA"):
        load_mnist(checksums=md5, mirrors=[mirror])


def test_corrupted_file_is_rejected_naming_file_and_checksums(tiny):
    _, raw, md5, directory = tiny
    name = FILES["train_images"]
    data = bytearray(raw[name])
    data[500] ^= 0xFF  # one flipped byte in the pixels: still a valid IDX file
    (directory / name).write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(ChecksumError) as err:
        load_mnist(directory, checksums=md5)
    msg = str(err.value)
    assert str(directory / name) in msg and md5[name] in msg and hashlib.md5(data).hexdigest() in msg
    assert "Replace" in msg


def test_a_damaged_file_in_the_cache_is_refused(rng, no_env):
    # The cache was verified when it was filled; it is verified again at every load all the
    # same, and the message says how to get a fresh copy.
    _, raw, md5 = make_tiny_mnist(rng)
    cache = write_dir(default_cache_dir(), raw)
    name = FILES["train_images"]
    data = bytearray(raw[name])
    data[500] ^= 0xFF
    (cache / name).write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(ChecksumError, match=r"Delete .* and run again") as err:
        load_mnist(checksums=md5, mirrors=[])
    assert str(cache / name) in str(err.value)


def test_truncated_gzip_is_rejected(tiny):
    _, _, md5, directory = tiny
    path = directory / FILES["train_labels"]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ChecksumError, match=r"train-labels-idx1-ubyte.gz: gzip data is damaged or truncated"):
        load_mnist(directory, checksums=md5)


def test_wrong_magic_is_caught_even_when_the_checksum_matches(tiny):
    _, raw, md5, directory = tiny
    name = FILES["test_images"]
    bad = b"\x01\x00" + raw[name][2:]
    (directory / name).write_bytes(bad)
    md5 = {**md5, name: hashlib.md5(bad).hexdigest()}
    with pytest.raises(IDXError, match="t10k-images-idx3-ubyte.gz: not an IDX file"):
        load_mnist(directory, checksums=md5)


def test_images_and_labels_must_agree_in_number(tmp_path, rng):
    _, raw, _ = make_tiny_mnist(rng)
    raw[FILES["test_labels"]] = idx_bytes(np.zeros(N_TEST + 1, dtype=np.uint8))
    md5 = {name: hashlib.md5(b).hexdigest() for name, b in raw.items()}
    directory = write_dir(tmp_path / "d", raw)
    with pytest.raises(IDXError, match="12 images but 13 labels"):
        load_mnist(directory, checksums=md5)


# -- downloading -----------------------------------------------------------------------------

def test_download_skips_failing_mirrors(tmp_path, rng, serve, no_env):
    arrays, raw, md5 = make_tiny_mnist(rng)
    good = serve(write_dir(tmp_path / "good", raw))
    (tmp_path / "empty").mkdir()
    empty = serve(tmp_path / "empty")  # answers 404 for every file
    corrupt_raw = {k: v[:-5] for k, v in raw.items()}  # truncated IDX, valid gzip
    corrupt = serve(write_dir(tmp_path / "corrupt", corrupt_raw))
    mirrors = [closed_port_url(), empty, corrupt, good]
    data = load_mnist(checksums=md5, mirrors=mirrors, progress=False)
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    cache = default_cache_dir()
    assert cache.is_relative_to(tmp_path)
    assert sorted(p.name for p in cache.iterdir()) == sorted(FILES.values())
    # a second load uses the cache: no mirror is needed any more
    assert load_mnist(checksums=md5, mirrors=[]).x_train.shape == (N_TRAIN, 784)


def test_failed_download_leaves_no_file_and_reports_every_mirror(tmp_path, rng, serve):
    _, raw, md5 = make_tiny_mnist(rng)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    for name in raw:
        (garbage / name).write_bytes(b"<html>Access denied</html>")
    closed, bad = closed_port_url(), serve(garbage)
    target = tmp_path / "target"
    with pytest.raises(RuntimeError) as err:
        download_file(FILES["train_images"], target, expected_md5=md5[FILES["train_images"]],
                      mirrors=[closed, bad], progress=False)
    msg = str(err.value)
    assert closed + FILES["train_images"] in msg and bad + FILES["train_images"] in msg
    assert "MD5" in msg
    assert list(target.iterdir()) == []  # no partial or unverified file left


def test_download_into_a_chosen_directory_only_when_asked(tmp_path, rng, serve, capsys):
    arrays, raw, md5 = make_tiny_mnist(rng)
    url = serve(write_dir(tmp_path / "srv", raw, compress=True))
    target = tmp_path / "mine"
    data = load_mnist(target, download=True, checksums=md5, mirrors=[url], progress=True)
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err  # the progress bar showed


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    if os.name != "posix" or store.sys.platform == "darwin":
        pytest.skip("XDG applies to Linux and other Unix")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "nnscratch" / "mnist"


def test_default_cache_dir_on_windows_is_under_localappdata(monkeypatch, tmp_path):
    monkeypatch.setattr(store.sys, "platform", "win32")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))   # not a Windows convention
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert default_cache_dir() == tmp_path / "Local" / "nnscratch" / "mnist"
    monkeypatch.delenv("LOCALAPPDATA")
    monkeypatch.setattr(store.Path, "home", classmethod(lambda cls: tmp_path / "me"))
    assert default_cache_dir() == tmp_path / "me" / "AppData" / "Local" / "nnscratch" / "mnist"


def test_default_cache_dir_on_macos_is_under_library_caches(monkeypatch, tmp_path):
    monkeypatch.setattr(store.sys, "platform", "darwin")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))   # not a macOS convention
    monkeypatch.setattr(store.Path, "home", classmethod(lambda cls: tmp_path / "me"))
    assert default_cache_dir() == tmp_path / "me" / "Library" / "Caches" / "nnscratch" / "mnist"


# -- the real files --------------------------------------------------------------------------

real = pytest.mark.skipif(
    not (os.environ.get(mnist_mod.ENV_VAR)
         or os.environ.get(store.ROOT_ENV) and (store.resolve_directory(mnist_mod.SOURCE)[0]).is_dir()),
    reason="set NNSCRATCH_DATA to a folder holding a copy of MNIST in mnist/ to check it")


@real
def test_real_files_match_the_published_checksums():
    raw = mnist_mod.mnist_files()  # verifies against MD5; recompute independently as well
    for role, name in FILES.items():
        assert hashlib.md5(raw[role]).hexdigest() == MD5[name]
    assert len(raw["train_images"]) == 47040016 and len(raw["test_labels"]) == 10008


@real
def test_real_data_sanity_facts():
    data = load_mnist()
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert mnist_mod.N_TRAIN == len(data.y_train)
    np.testing.assert_array_equal(data.y_train[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(data.y_test[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    np.testing.assert_array_equal(np.bincount(data.y_train),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
