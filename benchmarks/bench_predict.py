"""Time prediction with Step 7's CNN in nnscratch and in PyTorch (CPU).

Prediction is the forward pass in evaluation mode, over more images than one training batch:
scoring a test set, or a validation set after every epoch. One *iteration* predicts 2,048
MNIST images (random images without the data) in batches of ``--batch`` images::

    logits = mnist_cnn(rng).predict(x, batch_size)      # x: (2048, 1, 28, 28) float32

``Sequential.predict``'s default batch is 256. PyTorch's twin of the same network, from the
same weights, runs the same batches under ``torch.inference_mode()``. The two libraries'
logits are compared once, so the two time the same computation.

The libraries take turns, a block of iterations each, with one thread and with each
library's default thread count, as in the other benchmarks (``benchmarks/_compare.py``).
PyTorch is optional: without it only nnscratch is timed. Usage, from the repository root::

    .venv/bin/python benchmarks/bench_predict.py --threads 1
    .venv/bin/python benchmarks/bench_predict.py --threads 1 --batch 1024

The second shows why the default batch is not larger: a convolution unfolds its input into
a matrix, which for the second convolution and 1024 images is 100 MB. The bar: nnscratch at
most 1.5x PyTorch's time; the goal: at most 1.0x.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from types import SimpleNamespace

import numpy as np
import _compare
from bench_cnn_epoch import load_images

from nnscratch.models import mnist_cnn
from nnscratch.network import Sequential

N_IMAGES = 2048
# the batch of every prediction; main() sets it from --batch
BATCH = inspect.signature(Sequential.predict).parameters["batch_size"].default
DEFAULT_BATCH = BATCH
COMPARED = "logits"  # what check_agreement compares


def nnscratch_iteration(model: Sequential, x: np.ndarray, dout=None) -> np.ndarray:
    """Logits of every image in ``x``, ``BATCH`` images at a time."""
    return model.predict(x, batch_size=BATCH)


def torch_twin(torch, model: Sequential):
    """Step 7's CNN in ``torch.nn``, holding ``model``'s weights (Dense weights transposed)."""
    nn = torch.nn
    twin = nn.Sequential(
        nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(512, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10),
    ).eval()
    p = model.params
    with torch.no_grad():
        for i in (0, 3):  # convolutions: the same layout, (out, in, k, k)
            twin[i].weight.copy_(torch.from_numpy(p[f"{i}.W"]))
            twin[i].bias.copy_(torch.from_numpy(p[f"{i}.b"]))
        for i in (7, 10):  # Dense holds W as (in, out), torch's Linear as (out, in)
            twin[i].weight.copy_(torch.from_numpy(p[f"{i}.W"].T.copy()))
            twin[i].bias.copy_(torch.from_numpy(p[f"{i}.b"]))
    return twin, None


def torch_iteration(torch, twin, x_t, dout_t=None):
    """The same batches through the twin, without autograd's bookkeeping."""
    with torch.inference_mode():
        return torch.cat([twin(xb) for xb in torch.split(x_t, BATCH)])


def check_agreement(torch, model, twin, info, x, dout) -> float:
    """Largest difference between the two libraries' logits (float32)."""
    ours = nnscratch_iteration(model, x)
    theirs = torch_iteration(torch, twin, torch.from_numpy(x)).numpy()
    return float(np.max(np.abs(ours - theirs)))


def setup(rng: np.random.Generator):
    """Step 7's CNN, the images to predict, no upstream gradient; the report's title."""
    model = mnist_cnn(rng)
    x, _, source = load_images(N_IMAGES, rng)
    title = (f"Step 7's CNN predicting {len(x):,} images ({source}) in batches of {BATCH}"
             f"{' (the default)' if BATCH == DEFAULT_BATCH else ''}, float32")
    return model, x, np.zeros(0, np.float32), title


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch", type=positive_int, default=DEFAULT_BATCH,
        help=f"images per batch, for both libraries ({DEFAULT_BATCH}, predict's default)",
    )


def use_options(args: argparse.Namespace) -> None:
    global BATCH
    BATCH = args.batch


def main(argv: list[str] | None = None) -> int:
    return _compare.main(SimpleNamespace(**globals()), argv)


if __name__ == "__main__":
    sys.exit(main())
