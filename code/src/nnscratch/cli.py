"""Command line: train a model of :mod:`nnscratch.models` on MNIST, and evaluate saved weights.

::

    python -m nnscratch.cli train mlp --epochs 15 --out mlp.npz --seed 0
    python -m nnscratch.cli evaluate mlp mlp.npz

(``nnscratch train ...`` once the package is installed.) Training shows a progress bar in a
terminal and one line per epoch otherwise; both commands end with the line
``test accuracy: 0.9812``. MNIST is found as :func:`nnscratch.data.load_mnist` finds it:
``--data-dir``, then ``$NNSCRATCH_MNIST_DIR`` (the MNIST folder itself), then
``$NNSCRATCH_DATA/mnist``, then the per-user cache, where missing files are downloaded.

Every argument is checked before any data is loaded, and the weights file before training:
its name must end in ``.npz`` (the name given is the file written) and its directory must be
writable. A mistake in the arguments prints one line to stderr and exits with status 2; a
failure (a missing or unreadable file, training that diverges) prints one line and exits
with status 1. A download that fails exits with status 1 too, but its message takes several
lines: one for each mirror tried, saying what went wrong there, and a last one saying what
to do. Neither kind of error shows a traceback.

See Also
--------
Book, Step 6 "MNIST": the same recipe, step by step.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .data.mnist import MD5, MNIST, N_TRAIN, load_mnist
from .losses import softmax_cross_entropy
from .models import INPUT_SHAPES, MODELS
from .network import check_weights_path, load_params, save_params
from .optim import Adam
from .schedules import CosineLR
from .train import TrainingDiverged, evaluate, fit


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(
            2, f"{self.prog}: error: {message} (see {self.prog} --help)\n"
        )


class _Failure(Exception):
    """A command that could not do its work: one line on stderr, exit status 1."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nnscratch",
        description="Train and evaluate nnscratch models on MNIST.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "model",
        choices=sorted(MODELS),
        help="architecture (nnscratch.models)",
    )
    common.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with the MNIST files (default: $NNSCRATCH_MNIST_DIR, else "
        "$NNSCRATCH_DATA/mnist, else the per-user cache, downloading what is "
        "missing)",
    )

    train = sub.add_parser(
        "train", parents=[common], help="train a model and save its weights"
    )
    train.add_argument(
        "--epochs",
        type=int,
        default=15,
        help="passes over the training set (15)",
    )
    train.add_argument(
        "--batch-size",
        type=int,
        default=128,
        help="examples per step (128)",
    )
    train.add_argument(
        "--lr",
        type=float,
        default=1e-3,
        help="Adam's initial learning rate, cosine-annealed to 0 (1e-3)",
    )
    train.add_argument(
        "--val-size",
        type=int,
        default=5000,
        help="training examples held out for validation (5000; 0 for none)",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds weights, split and shuffling (0)",
    )
    train.add_argument(
        "--out",
        type=Path,
        required=True,
        help="where to save the weights (.npz)",
    )

    ev = sub.add_parser(
        "evaluate", parents=[common], help="test accuracy of saved weights"
    )
    ev.add_argument(
        "weights", type=Path, help="a .npz file written by 'train'"
    )
    return parser


def _inputs(name: str, data: MNIST) -> MNIST:
    """Reshape the images to the input shape that model ``name`` declares."""

    def reshape(x):
        return x.reshape(
            (len(x),) + INPUT_SHAPES[name]
        )  # (N, 784) or (N, 1, 28, 28)

    return MNIST(
        reshape(data.x_train),
        data.y_train,
        reshape(data.x_val),
        data.y_val,
        reshape(data.x_test),
        data.y_test,
    )


def _check_train_args(parser: argparse.ArgumentParser, args) -> None:
    """Usage errors of ``train``, found before anything is loaded (exit status 2)."""
    for flag, value, minimum in (
        ("--epochs", args.epochs, 1),
        ("--batch-size", args.batch_size, 1),
        ("--val-size", args.val_size, 0),
        ("--seed", args.seed, 0),
    ):
        if value < minimum:
            parser.error(
                f"argument {flag}: must be at least {minimum}, got {value}"
            )
    if args.val_size >= N_TRAIN:
        parser.error(
            f"argument --val-size: must be less than {N_TRAIN} (MNIST's training "
            f"images), got {args.val_size}"
        )
    if not (math.isfinite(args.lr) and args.lr > 0):
        parser.error(
            f"argument --lr: must be a positive finite number, got {args.lr}"
        )
    try:
        check_weights_path(args.out, "argument --out")
    except ValueError as e:
        parser.error(str(e))
    if args.out.is_dir():
        parser.error(
            f"argument --out: {str(args.out)!r} is a directory; give a file name ending in .npz"
        )


def _check_writable(path: Path) -> list[Path]:
    """Fail now, before training, if the weights could not be saved at ``path``.

    Returns the folders it had to create for that, outermost first, so that a run that
    fails later can remove them again (:func:`_train`).
    """
    created = [d for d in reversed(path.parents) if not d.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass  # save_params writes a temporary file there too
    except OSError as e:
        _remove_empty(created)
        raise _Failure(
            f"cannot write the weights to {str(path)!r}: {e.strerror or e} "
            f"(checked before training, so nothing was lost)"
        ) from None
    return created


def _remove_empty(folders: list[Path]) -> None:
    """Remove those of the folders (outermost first) that exist and are empty."""
    for d in reversed(folders):
        try:
            d.rmdir()
        except OSError:  # not there, or something was put in it: leave it
            pass


def _train(args, checksums: Mapping[str, str]) -> float:
    created = _check_writable(args.out)
    try:
        return _train_and_save(args, checksums)
    except BaseException:
        # a failed run leaves no new, empty folders behind
        _remove_empty(created)
        raise


def _train_and_save(args, checksums: Mapping[str, str]) -> float:
    rng = np.random.default_rng(args.seed)
    data = load_mnist(
        args.data_dir, val_size=args.val_size, rng=rng, checksums=checksums
    )
    model = MODELS[args.model](rng, dtype=np.float32)
    data = _inputs(args.model, data)
    print(
        f"{args.model}: {model.n_params:,} parameters; {len(data.y_train):,} training, "
        f"{len(data.y_val):,} validation, {len(data.y_test):,} test images",
        flush=True,
    )
    optimizer = Adam(lr=args.lr)
    val = (data.x_val, data.y_val) if len(data.y_val) else None
    start = time.perf_counter()
    fit(
        model,
        softmax_cross_entropy,
        optimizer,
        data.x_train,
        data.y_train,
        rng=rng,
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_data=val,
        schedule=CosineLR(optimizer, t_max=args.epochs),
    )
    save_params(model, args.out)
    print(
        f"trained in {time.perf_counter() - start:.1f} s; weights saved to {args.out}",
        flush=True,
    )
    return evaluate(model, softmax_cross_entropy, data.x_test, data.y_test)[
        1
    ]


def _check_evaluate_args(parser: argparse.ArgumentParser, args) -> None:
    """Usage errors of ``evaluate``, found before anything is loaded (exit status 2)."""
    try:
        check_weights_path(args.weights, "argument weights")
    except ValueError as e:
        parser.error(str(e))


def _evaluate(args, checksums: Mapping[str, str]) -> float:
    if not args.weights.is_file():
        raise _Failure(
            f"no weights file at {str(args.weights)!r}; "
            f"train one with: nnscratch train {args.model} --out {args.weights}"
        )
    # The weights overwrite whatever the seed drew; load_params checks the architecture,
    # before any data is loaded.
    model = MODELS[args.model](np.random.default_rng(0), dtype=np.float32)
    load_params(model, args.weights)
    data = _inputs(
        args.model, load_mnist(args.data_dir, checksums=checksums)
    )
    return evaluate(model, softmax_cross_entropy, data.x_test, data.y_test)[
        1
    ]


def main(
    argv: Sequence[str] | None = None, *, checksums: Mapping[str, str] = MD5
) -> int:
    """Run the command line; returns the exit status (0, 1 for a failure, 130 if interrupted).

    A usage error raises ``SystemExit(2)`` after printing one line, as ``argparse`` does.
    ``checksums`` (file name -> MD5 of the decompressed file) is the real MNIST table; tests
    pass the table of their tiny generated files.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    command = f"{parser.prog} {args.command}"
    if args.command == "train":
        _check_train_args(parser, args)
        run = _train
    else:
        _check_evaluate_args(parser, args)
        run = _evaluate
    try:
        acc = run(args, checksums)
    # What a user's file, disk, network or data can do wrong; anything else is a bug and
    # keeps its traceback.
    except (
        _Failure,
        OSError,
        ValueError,
        RuntimeError,
        TrainingDiverged,
    ) as e:
        print(f"{command}: error: {e}", file=sys.stderr, flush=True)
        return 1
    except (
        KeyboardInterrupt
    ):  # saves are atomic: an earlier weights file is intact
        print(
            f"{command}: interrupted; any earlier weights file is unchanged",
            file=sys.stderr,
            flush=True,
        )
        return 130
    print(f"test accuracy: {acc:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
