"""Time one training epoch of a CNN with nnscratch and with PyTorch (CPU).

Two networks, float32, chosen with ``--network``:

- ``reference`` (the default): the reference network of issue 6, batch 64, SGD with
  momentum 0.9::

      Conv2D(1→8, 5×5) → ReLU → MaxPool 2 → Conv2D(8→16, 5×5) → ReLU → MaxPool 2
      → Flatten → Dense(256→10)

- ``step7``: the network Step 7's practice page trains to over 99%,
  :func:`nnscratch.models.mnist_cnn`, as that page trains it: batch 128, Adam with rate
  1e-3, dropout on (its cosine schedule changes the rate once an epoch and costs nothing)::

      Conv2D(1→16, 5×5) → ReLU → MaxPool 2 → Conv2D(16→32, 5×5) → ReLU → MaxPool 2
      → Flatten → Dense(512→128) → ReLU → Dropout 0.25 → Dense(128→10)

Both libraries train on the same minibatches in the same run and take turns, a block of
batches each, so that both see the same load on a shared machine: their ratio is meaningful
even when absolute times are not. After each block the script pauses (untimed), so that
threads still spinning from one library (OpenBLAS's wait for up to ~0.1 s before they sleep)
do not slow down the next one. Each library is timed with one thread and with its default
thread count (NumPy's BLAS: one per core; PyTorch: its intra-op threads), and the ratio is
taken between their faster settings. PyTorch is optional: without it only nnscratch is timed.
Usage, from the repository root::

    NNSCRATCH_DATA=/work/shared/data .venv/bin/python benchmarks/bench_cnn_epoch.py
    .venv/bin/python benchmarks/bench_cnn_epoch.py --batches 200 --profile
    .venv/bin/python benchmarks/bench_cnn_epoch.py --threads 1
    .venv/bin/python benchmarks/bench_cnn_epoch.py --network step7

``--threads N`` times both libraries with N threads only. ``--profile`` adds the time spent in
each layer's forward and backward pass (nnscratch, one thread). The goal is an nnscratch epoch
at most 1.5× PyTorch's, for either network.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import numpy as np
from _compare import add_bar_options, fastest, settings_for, time_settings, verdict
from _threads import blas_description
from threadpoolctl import threadpool_limits

from nnscratch import losses
from nnscratch.activations import ReLU
from nnscratch.layers import Conv2D, Dense, Flatten, MaxPool2D
from nnscratch.models import (
    MNIST_CNN_CHANNELS,
    MNIST_CNN_DROPOUT,
    MNIST_CNN_HIDDEN,
    mnist_cnn,
)
from nnscratch.network import Sequential
from nnscratch.optim import SGD, Adam

BATCH = 64
LR = 0.01
MOMENTUM = 0.9
STEP7_BATCH, STEP7_LR = 128, 1e-3  # as Step 7's practice page trains mnist_cnn
# each network's batch size and optimizer, as the run's first line names them
TRAINING = {
    "reference": (BATCH, f"SGD momentum {MOMENTUM}"),
    "step7": (STEP7_BATCH, f"Adam lr {STEP7_LR:g}"),
}


def reference_cnn(rng: np.random.Generator, dtype=np.float32) -> Sequential:
    """The benchmark's network, in nnscratch."""
    return Sequential([
        Conv2D(1, 8, 5, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2),
        Conv2D(8, 16, 5, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2),
        Flatten(), Dense(256, 10, rng=rng, dtype=dtype),
    ])


def load_images(n_max: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """MNIST training images (N, 1, 28, 28) float32 if available, else random ones."""
    try:
        from nnscratch.data import load_mnist

        data = load_mnist(flatten=False, dtype=np.float32)
        return data.x_train[:n_max], data.y_train[:n_max], "MNIST"
    except (OSError, ValueError, RuntimeError) as err:  # no data: timing needs no digits
        print(f"(MNIST not available: {err}; timing on random images)", file=sys.stderr)
        x = rng.standard_normal((n_max, 1, 28, 28)).astype(np.float32)
        return x, rng.integers(0, 10, n_max), "random images"


def nnscratch_trainer(seed: int, profile: dict | None = None, network: str = "reference"):
    """A function ``step(xb, yb) -> loss`` doing one training step of the nnscratch CNN."""
    rng = np.random.default_rng(seed)
    if network == "step7":
        model, opt = mnist_cnn(rng), Adam(lr=STEP7_LR)
    else:
        model, opt = reference_cnn(rng), SGD(LR, momentum=MOMENTUM)

    def step(xb, yb) -> float:
        if profile is None:
            z = model.forward(xb, training=True)
            loss, dz = losses.softmax_cross_entropy(z, yb)
            model.backward(dz, need_dx=False)   # like PyTorch: the images need no gradient
            opt.step(model.params, model.grads)
            return loss
        a = xb
        for layer in model.layers:
            t = time.perf_counter()
            a = layer.forward(a, training=True)
            profile[f"fwd {layer!r}"] += time.perf_counter() - t
        loss, d = losses.softmax_cross_entropy(a, yb)
        for i, layer in reversed(list(enumerate(model.layers))):
            t = time.perf_counter()
            d = layer.backward(d) if i else layer.backward(d, need_dx=False)
            profile[f"bwd {layer!r}"] += time.perf_counter() - t
        t = time.perf_counter()
        opt.step(model.params, model.grads)
        profile["optimizer step"] += time.perf_counter() - t
        return loss

    return step


def torch_network(network: str = "reference"):
    """The same network in PyTorch (its own initial weights: only the time is compared)."""
    import torch

    nn = torch.nn
    if network == "step7":
        c1, c2 = MNIST_CNN_CHANNELS
        return nn.Sequential(
            nn.Conv2d(1, c1, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * 4 * 4, MNIST_CNN_HIDDEN), nn.ReLU(),
            nn.Dropout(MNIST_CNN_DROPOUT), nn.Linear(MNIST_CNN_HIDDEN, 10),
        )
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 10),
    )


def torch_trainer(seed: int, network: str = "reference"):
    """The same network and step in PyTorch."""
    import torch

    torch.manual_seed(seed)
    nn = torch.nn
    net = torch_network(network)
    if network == "step7":
        opt = torch.optim.Adam(net.parameters(), lr=STEP7_LR)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)

    def step(xb, yb) -> float:
        loss = nn.functional.cross_entropy(net(torch.from_numpy(xb)), torch.from_numpy(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=None,
                        help="time only this many batches (default: a whole epoch)")
    parser.add_argument("--block", type=int, default=25,
                        help="batches each library runs before the next takes over (25)")
    parser.add_argument("--threads", type=int, default=None,
                        help="time both libraries with this many threads only "
                             "(default: with 1 and with each library's default)")
    parser.add_argument("--profile", action="store_true", help="time each layer (nnscratch)")
    parser.add_argument("--network", choices=list(TRAINING), default="reference",
                        help="the reference CNN of issue 6 (default) or Step 7's mnist_cnn, "
                             "trained as its page trains it")
    parser.add_argument("--seed", type=int, default=0)
    add_bar_options(parser)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    batch, how = TRAINING[args.network]
    n_max = 60_000 if args.batches is None else args.batches * batch
    x, y, source = load_images(n_max, rng)
    print(f"network {args.network}: one epoch of {len(x)} {source}, batch {batch}, "
          f"float32, {how}")

    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: no ratio (pip install torch to compare)")

    order = rng.permutation(len(x))
    batch_idx = [order[i:i + batch] for i in range(0, len(x), batch)]

    def trainer(step):
        """A setting's ``run(i)``: train on batch ``i``, keeping its loss in ``run.losses``."""
        losses = np.full(len(batch_idx), np.nan)  # the warm-up's are overwritten when timed

        def run(i):
            idx = batch_idx[i]
            losses[i] = step(x[idx], y[idx])

        run.losses = losses
        return run

    # every setting trains its own model, from the same seed, on the same batches
    trainers = settings_for(
        lambda: trainer(nnscratch_trainer(args.seed, network=args.network)),
        lambda: trainer(torch_trainer(args.seed, network=args.network)), args.threads, torch)
    version = f" (torch {torch.__version__})" if torch is not None else ""
    print(f"{len(trainers)} settings: " + "; ".join(trainers) + version)
    print(blas_description())

    def report_progress(r, done, times):
        if r % 10 == 9:
            print(f"  {done}/{len(batch_idx)} batches: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()), flush=True)

    times = time_settings(trainers, len(batch_idx), args.block, args.pause, warmup=5,
                          after_round=report_progress)
    width = max(map(len, times))
    for name, t in times.items():
        print(f"{name:>{width}} epoch: {t:7.2f} s   "
              f"(mean batch loss {np.mean(trainers[name][1].losses):.3f})")
    best = fastest(trainers, times)
    if "PyTorch" in best:
        for name in times:
            if name.startswith("PyTorch"):
                print(f"ratio {best['nnscratch']} / {name}: "
                      f"{times[best['nnscratch']] / times[name]:.2f}")
        ratio = times[best['nnscratch']] / times[best['PyTorch']]
        print(f"ratio nnscratch / PyTorch, each at its faster setting: "
              f"{ratio:.2f}  (goal: at most 1.5)")
    else:
        ratio = None

    if args.profile:
        prof: dict = defaultdict(float)
        step = nnscratch_trainer(args.seed, profile=prof, network=args.network)
        with threadpool_limits(limits=1, user_api="blas"):
            t = time.perf_counter()
            for idx in batch_idx:
                step(x[idx], y[idx])
            t = time.perf_counter() - t
        print(f"\nprofile of one nnscratch epoch ({t:.2f} s with timers):")
        for name, sec in sorted(prof.items(), key=lambda kv: -kv[1]):
            print(f"  {sec:6.2f} s  {100 * sec / t:5.1f}%  {name}")
    return verdict(ratio, args.max_ratio)


if __name__ == "__main__":
    sys.exit(main())
