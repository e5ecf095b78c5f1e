"""The command line, end to end, on a tiny generated MNIST look-alike (no real data needed)."""

import gzip
import hashlib
import re
import subprocess
import sys

import numpy as np
import pytest

from nnscratch.cli import main
from nnscratch.data.idx import idx_bytes
from nnscratch.data.mnist import FILES


@pytest.fixture
def tiny_dir(tmp_path, rng):
    """Two easy classes drawn as bright top or bottom halves, so a few epochs learn them."""
    md5 = {}

    def images(labels):
        x = rng.integers(0, 60, (len(labels), 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            rows = slice(0, 14) if label == 0 else slice(14, 28)
            x[i, rows] += 150
        return x

    y_train, y_test = rng.integers(0, 2, 200).astype(np.uint8), rng.integers(0, 2, 50).astype(np.uint8)
    arrays = {"train_images": images(y_train), "train_labels": y_train,
              "test_images": images(y_test), "test_labels": y_test}
    for role, a in arrays.items():
        data = idx_bytes(a)
        md5[FILES[role]] = hashlib.md5(data).hexdigest()
        (tmp_path / FILES[role]).write_bytes(gzip.compress(data))
    return tmp_path, md5


def test_train_saves_weights_and_ends_with_the_test_accuracy(tiny_dir, tmp_path, capsys):
    directory, md5 = tiny_dir
    out = tmp_path / "w" / "mlp.npz"
    argv = ["train", "mlp", "--data-dir", str(directory), "--epochs", "3", "--val-size", "20",
            "--batch-size", "32", "--out", str(out), "--seed", "1"]
    assert main(argv, checksums=md5) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"test accuracy: \d\.\d{4}", lines[-1])
    assert sum(line.startswith("epoch ") for line in lines) == 3  # one clean line per epoch
    acc = float(lines[-1].split(": ")[1])
    assert acc >= 0.9  # the halves are easy: a model that learned nothing scores about 0.5
    assert out.is_file()

    # the saved weights load back and give the same accuracy
    assert main(["evaluate", "mlp", str(out), "--data-dir", str(directory)], checksums=md5) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == lines[-1]


def test_same_seed_same_weights(tiny_dir, tmp_path, capsys):
    directory, md5 = tiny_dir

    def weights(name, seed):
        path = tmp_path / f"{name}.npz"
        assert main(["train", "mlp", "--data-dir", str(directory), "--epochs", "1",
                     "--val-size", "5", "--seed", str(seed), "--out", str(path)],
                    checksums=md5) == 0
        with np.load(path) as f:
            return {k: f[k] for k in f.files}

    a, b, c = weights("a", 3), weights("b", 3), weights("c", 4)
    assert a.keys() == b.keys() == c.keys() and a
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not any(np.array_equal(a[k], c[k]) for k in a if k.endswith("W"))  # --seed is used


def test_evaluate_without_weights_explains(tiny_dir, tmp_path, capsys):
    directory, md5 = tiny_dir
    status = main(["evaluate", "mlp", str(tmp_path / "missing.npz"), "--data-dir", str(directory)],
                  checksums=md5)
    assert status == 1
    err = capsys.readouterr().err
    assert re.search("no weights file.*nnscratch train mlp", err)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_model_is_rejected(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "resnet", "--out", "x.npz"])
    assert info.value.code == 2
    assert "invalid choice: 'resnet'" in _one_line(capsys.readouterr().err)


def test_module_runs_as_a_script():
    out = subprocess.run([sys.executable, "-m", "nnscratch.cli", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--epochs" in out and "--out" in out


def test_run_as_a_script_the_exit_status_is_mains(tmp_path, capsys, monkeypatch):
    import runpy
    import warnings

    missing = tmp_path / "w.npz"
    monkeypatch.setattr(sys, "argv", ["nnscratch", "evaluate", "mlp", str(missing)])
    with warnings.catch_warnings():   # runpy: the module was imported already, by the tests
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(SystemExit) as info:
            runpy.run_module("nnscratch.cli", run_name="__main__")
    assert info.value.code == 1
    assert f"no weights file at {str(missing)!r}" in capsys.readouterr().err


# ------------------------------------------------------------ user errors and faults


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the command loads data or trains."""
    import nnscratch.cli as cli

    def forbidden(*args, **kwargs):
        raise AssertionError("the command went on to load data or train")

    monkeypatch.setattr(cli, "load_mnist", forbidden)
    monkeypatch.setattr(cli, "fit", forbidden)


def _one_line(err):
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("args, words", [
    (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["--batch-size", "-3"], "argument --batch-size: must be at least 1, got -3"),
    (["--val-size", "-1"], "argument --val-size: must be at least 0, got -1"),
    (["--val-size", "60000"], "argument --val-size: must be less than 60000 (MNIST's training images), got 60000"),
    (["--lr", "nan"], "argument --lr: must be a positive finite number, got nan"),
    (["--lr", "inf"], "argument --lr: must be a positive finite number, got inf"),
    (["--lr", "0"], "argument --lr: must be a positive finite number, got 0.0"),
    (["--epochs", "three"], "argument --epochs: invalid int value: 'three'"),
    (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
])
def test_bad_train_arguments_exit_2_with_one_line_before_any_data_is_loaded(
        args, words, tmp_path, capsys, no_work):
    with pytest.raises(SystemExit) as info:
        main(["train", "mlp", "--out", str(tmp_path / "w.npz"), *args])
    assert info.value.code == 2
    assert words in _one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_an_out_name_without_npz_is_refused_before_any_data_is_loaded(tmp_path, capsys, no_work):
    with pytest.raises(SystemExit) as info:
        main(["train", "mlp", "--out", str(tmp_path / "model.weights")])
    assert info.value.code == 2
    err = _one_line(capsys.readouterr().err)
    assert "must end in .npz" in err and "model.weights" in err


def test_an_out_that_is_a_directory_is_refused(tmp_path, capsys, no_work):
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(SystemExit) as info:
        main(["train", "mlp", "--out", str(tmp_path / "d.npz")])
    assert info.value.code == 2
    assert "is a directory" in _one_line(capsys.readouterr().err)


def test_an_unwritable_output_fails_before_any_training(tmp_path, capsys, no_work):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where a folder should be")
    status = main(["train", "mlp", "--out", str(blocker / "w.npz")])
    assert status == 1
    err = _one_line(capsys.readouterr().err)
    assert "cannot write the weights to" in err and "file.txt" in err and "before training" in err


def test_evaluate_refuses_a_name_without_npz(tmp_path, capsys, no_work):
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "mlp", str(tmp_path / "w.weights")])
    assert info.value.code == 2
    assert "must end in .npz" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("content", [b"not weights at all", b""])
def test_evaluate_of_a_corrupt_file_fails_in_one_line_before_loading_data(content, tmp_path, capsys, no_work):
    path = tmp_path / "w.npz"
    path.write_bytes(content)
    assert main(["evaluate", "mlp", str(path)]) == 1
    err = _one_line(capsys.readouterr().err)
    assert str(path) in err and "not a weights file" in err and "pickle" not in err


def test_evaluate_of_another_models_weights_fails_in_one_line(tmp_path, capsys, no_work):
    from nnscratch.models import mnist_mlp
    from nnscratch.network import save_params
    path = tmp_path / "mlp.npz"
    save_params(mnist_mlp(np.random.default_rng(0)), path)
    assert main(["evaluate", "cnn", str(path)]) == 1
    assert "holds arrays" in _one_line(capsys.readouterr().err)


def test_training_that_diverges_fails_in_one_line_and_keeps_the_old_weights(tiny_dir, tmp_path, capsys):
    directory, md5 = tiny_dir
    out = tmp_path / "mlp.npz"
    out.write_bytes(b"the previous weights")
    with np.errstate(all="ignore"):
        status = main(["train", "mlp", "--data-dir", str(directory), "--epochs", "2", "--val-size", "0",
                       "--lr", "1e30", "--out", str(out)], checksums=md5)
    assert status == 1
    err = _one_line(capsys.readouterr().err)
    assert "stopped at epoch 1, batch" in err
    assert out.read_bytes() == b"the previous weights"
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_the_saved_message_names_the_file_written(tiny_dir, tmp_path, capsys):
    directory, md5 = tiny_dir
    out = tmp_path / "new" / "weights.v2.npz"
    assert main(["train", "cnn", "--data-dir", str(directory), "--epochs", "1", "--val-size", "0",
                 "--out", str(out)], checksums=md5) == 0
    assert f"weights saved to {out}" in capsys.readouterr().out
    assert sorted(p.name for p in out.parent.iterdir()) == ["weights.v2.npz"]


def test_an_interrupt_during_the_save_keeps_the_old_weights(tiny_dir, tmp_path, capsys, monkeypatch):
    import nnscratch.network as network
    directory, md5 = tiny_dir
    out = tmp_path / "mlp.npz"
    out.write_bytes(b"the previous weights")

    def interrupted(file, state):
        file.write(b"PK\x03\x04 a few bytes")
        raise KeyboardInterrupt

    monkeypatch.setattr(network, "_write_npz", interrupted)
    status = main(["train", "mlp", "--data-dir", str(directory), "--epochs", "1", "--val-size", "0",
                   "--out", str(out)], checksums=md5)
    assert status == 130
    assert "interrupted" in _one_line(capsys.readouterr().err)
    assert out.read_bytes() == b"the previous weights"
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_a_failed_run_leaves_no_new_folders_behind(tmp_path, capsys):
    empty = tmp_path / "no-data"
    empty.mkdir()
    out = tmp_path / "new" / "sub" / "w.npz"
    status = main(["train", "mlp", "--out", str(out), "--data-dir", str(empty), "--epochs", "1"])
    assert status == 1 and "error" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()  # a folder that was there before stays
    status = main(["train", "mlp", "--out", str(tmp_path / "kept" / "w.npz"), "--data-dir", str(empty)])
    assert status == 1 and (tmp_path / "kept").is_dir()


def test_a_failed_download_exits_1_naming_each_mirror_and_what_to_do(no_env, tmp_path, capsys,
                                                                      monkeypatch):
    """The one failure whose message is more than a line: a line per mirror tried."""
    import functools

    import nnscratch.cli as cli
    from conftest import closed_port_url

    mirrors = (closed_port_url(), closed_port_url())
    monkeypatch.setattr(cli, "load_mnist", functools.partial(cli.load_mnist, mirrors=mirrors,
                                                             progress=False))
    assert main(["train", "mlp", "--out", str(tmp_path / "w.npz"), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    name = FILES["train_images"]
    assert lines[0] == f"nnscratch train: error: could not download {name}; every mirror failed:"
    assert len(lines) == 4
    for line, mirror in zip(lines[1:3], mirrors):
        assert line.startswith(f"  {mirror}{name}: ")
    assert lines[3].startswith("Check your connection")


def test_data_dir_then_the_mnist_variable_then_the_data_root(tiny_dir, tmp_path, capsys,
                                                             monkeypatch):
    directory, md5 = tiny_dir
    empty = tmp_path / "root" / "mnist"
    empty.mkdir(parents=True)
    monkeypatch.setenv("NNSCRATCH_DATA", str(empty.parent))     # holds no MNIST
    monkeypatch.setenv("NNSCRATCH_MNIST_DIR", str(directory))   # holds it, and wins
    out = tmp_path / "w.npz"
    assert main(["train", "mlp", "--epochs", "1", "--val-size", "0", "--out", str(out)],
                checksums=md5) == 0
    monkeypatch.setenv("NNSCRATCH_MNIST_DIR", str(empty))
    assert main(["evaluate", "mlp", str(out)], checksums=md5) == 1
    assert "named by NNSCRATCH_MNIST_DIR" in _one_line(capsys.readouterr().err)
    # --data-dir wins over both
    assert main(["evaluate", "mlp", str(out), "--data-dir", str(directory)], checksums=md5) == 0


def test_a_failed_run_keeps_a_new_folder_that_something_was_put_in(tmp_path, capsys, monkeypatch):
    import nnscratch.cli as cli
    out = tmp_path / "new" / "sub" / "w.npz"

    def a_file_appears_then_loading_fails(*args, **kwargs):
        (out.parent / "notes.txt").write_text("written while the run was loading")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(cli, "load_mnist", a_file_appears_then_loading_fails)
    assert main(["train", "mlp", "--out", str(out), "--epochs", "1"]) == 1
    assert "Input/output error" in _one_line(capsys.readouterr().err)
    assert (out.parent / "notes.txt").read_text() == "written while the run was loading"
    assert sorted(p.name for p in out.parent.iterdir()) == ["notes.txt"]
