"""Command line: train a model of :mod:`nnscratch.models` on MNIST, and evaluate saved weights.

::

    python -m nnscratch.cli train mlp --epochs 15 --out mlp.npz --seed 0
    python -m nnscratch.cli evaluate mlp mlp.npz

(``nnscratch train ...`` once the package is installed.) Training shows a progress bar in a
terminal and one line per epoch otherwise; both commands end with the line
``test accuracy: 0.9812``. MNIST is found as :func:`nnscratch.data.load_mnist` finds it
(``--data-dir``, then ``$NNSCRATCH_MNIST_DIR``, then the per-user cache, downloading).

See Also
--------
Book, Step 6 "MNIST": the same recipe, step by step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .data.mnist import MD5, MNIST, load_mnist
from .layers.dense import Dense
from .losses import softmax_cross_entropy
from .models import MODELS
from .network import Sequential, load_params, save_params
from .optim import Adam, CosineLR
from .train import evaluate, fit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnscratch", description="Train and evaluate nnscratch models on MNIST.")
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("model", choices=sorted(MODELS), help="architecture (nnscratch.models)")
    common.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the MNIST files (default: $NNSCRATCH_MNIST_DIR, "
                             "else the per-user cache, downloading what is missing)")

    train = sub.add_parser("train", parents=[common], help="train a model and save its weights")
    train.add_argument("--epochs", type=int, default=15, help="passes over the training set (15)")
    train.add_argument("--batch-size", type=int, default=128, help="examples per step (128)")
    train.add_argument("--lr", type=float, default=1e-3,
                       help="Adam's initial learning rate, cosine-annealed to 0 (1e-3)")
    train.add_argument("--val-size", type=int, default=5000,
                       help="training examples held out for validation (5000; 0 for none)")
    train.add_argument("--seed", type=int, default=0, help="seeds weights, split and shuffling (0)")
    train.add_argument("--out", type=Path, required=True, help="where to save the weights (.npz)")

    ev = sub.add_parser("evaluate", parents=[common], help="test accuracy of saved weights")
    ev.add_argument("weights", type=Path, help="a .npz file written by 'train'")
    return parser


def _inputs(model: Sequential, data: MNIST) -> MNIST:
    """Reshape the images for the model: rows of 784 for a dense first layer, else images."""
    if isinstance(model.layers[0], Dense):
        return data
    def as_images(x):
        return x.reshape(len(x), 1, 28, 28)  # (N, 1, 28, 28)
    return MNIST(as_images(data.x_train), data.y_train, as_images(data.x_val), data.y_val,
                 as_images(data.x_test), data.y_test)


def _train(args, checksums: Mapping[str, str]) -> float:
    if args.epochs < 1 or args.batch_size < 1 or args.val_size < 0:
        raise SystemExit("nnscratch train: --epochs and --batch-size must be >= 1, --val-size >= 0")
    rng = np.random.default_rng(args.seed)
    data = load_mnist(args.data_dir, val_size=args.val_size, rng=rng, checksums=checksums)
    model = MODELS[args.model](rng, dtype=np.float32)
    data = _inputs(model, data)
    print(f"{args.model}: {model.n_params:,} parameters; {len(data.y_train):,} training, "
          f"{len(data.y_val):,} validation, {len(data.y_test):,} test images", flush=True)
    optimizer = Adam(lr=args.lr)
    val = (data.x_val, data.y_val) if len(data.y_val) else None
    start = time.perf_counter()
    fit(model, softmax_cross_entropy, optimizer, data.x_train, data.y_train, rng=rng,
        epochs=args.epochs, batch_size=args.batch_size, val_data=val,
        schedule=CosineLR(optimizer, t_max=args.epochs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_params(model, args.out)
    print(f"trained in {time.perf_counter() - start:.1f} s; weights saved to {args.out}", flush=True)
    return evaluate(model, softmax_cross_entropy, data.x_test, data.y_test)[1]


def _evaluate(args, checksums: Mapping[str, str]) -> float:
    if not args.weights.is_file():
        raise SystemExit(f"nnscratch evaluate: no weights file at {args.weights}; "
                         f"train one with: nnscratch train {args.model} --out {args.weights}")
    data = load_mnist(args.data_dir, checksums=checksums)
    # The weights overwrite whatever the seed drew; load_params checks the architecture.
    model = MODELS[args.model](np.random.default_rng(0), dtype=np.float32)
    load_params(model, args.weights)
    data = _inputs(model, data)
    return evaluate(model, softmax_cross_entropy, data.x_test, data.y_test)[1]


def main(argv: Sequence[str] | None = None, *, checksums: Mapping[str, str] = MD5) -> int:
    """Run the command line; returns the exit status.

    ``checksums`` (file name -> MD5 of the decompressed file) is the real MNIST table; tests
    pass the table of their tiny generated files.
    """
    args = _parser().parse_args(argv)
    run = _train if args.command == "train" else _evaluate
    acc = run(args, checksums)
    print(f"test accuracy: {acc:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
