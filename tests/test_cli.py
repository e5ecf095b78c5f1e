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
    paths = []
    for name in ("a", "b"):
        paths.append(tmp_path / f"{name}.npz")
        main(["train", "mlp", "--data-dir", str(directory), "--epochs", "1", "--val-size", "0",
              "--out", str(paths[-1])], checksums=md5)
    with np.load(paths[0]) as a, np.load(paths[1]) as b:
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])


def test_evaluate_without_weights_explains(tiny_dir, tmp_path, capsys):
    directory, md5 = tiny_dir
    status = main(["evaluate", "mlp", str(tmp_path / "missing.npz"), "--data-dir", str(directory)],
                  checksums=md5)
    assert status == 1
    err = capsys.readouterr().err
    assert re.search("no weights file.*nnscratch train mlp", err)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_model_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["train", "resnet", "--out", "x.npz"])
    assert "invalid choice: 'resnet'" in capsys.readouterr().err


def test_module_runs_as_a_script():
    out = subprocess.run([sys.executable, "-m", "nnscratch.cli", "train", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--epochs" in out and "--out" in out
