"""Time one training epoch of the reference MLP with nnscratch and with PyTorch (CPU).

The reference network (issue 5, Step 6), float32, batch 64, SGD with momentum 0.9::

    Dense(784 -> 128) -> ReLU -> Dense(128 -> 10) -> softmax cross-entropy

Both libraries start from the same weights and see the same minibatches in the same order,
in the same run, interleaved (nnscratch, PyTorch, nnscratch, ...), so their ratio is
meaningful even on a busy machine; absolute times are not. Each library's time is the best of
``--repeats`` epochs. nnscratch is timed through :func:`nnscratch.train.fit`, the loop the book
and the command line use (shuffle, minibatches, forward, loss, backward, step, accuracy).
PyTorch is optional: without it only nnscratch is timed. Usage, from the repository root::

    NNSCRATCH_DATA=/work/shared/data .venv/bin/python benchmarks/bench_mlp_epoch.py
    .venv/bin/python benchmarks/bench_mlp_epoch.py --threads 1 --repeats 5
    .venv/bin/python benchmarks/bench_mlp_epoch.py --profile

``--threads N`` fixes the BLAS threads of NumPy and PyTorch's intra-op threads to N (it must
be set before NumPy is imported, which this script does). ``--profile`` adds a breakdown of
one nnscratch epoch by stage. The goal: nnscratch's bare loop, the same work as PyTorch's
(shuffle, forward, loss, backward, step), no slower than PyTorch's epoch (ratio <= 1). The
ratio through ``fit`` is printed beside it for what a reader's training costs; ``fit`` does
more (it keeps a copy of the parameters to undo a diverging step, checks every loss and
gradient for NaN and counts correct predictions), so it is not held to the goal.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="epochs per library; the best counts (3)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS / intra-op threads for both libraries (default: each library's own)")
    p.add_argument("--profile", action="store_true", help="break an nnscratch epoch down by stage")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads is not None:
    # OpenBLAS reads these once, when NumPy loads it: they must be set before the import.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402
from _threads import blas_description  # noqa: E402

from nnscratch.activations import ReLU  # noqa: E402
from nnscratch.layers import Dense  # noqa: E402
from nnscratch.losses import softmax_cross_entropy  # noqa: E402
from nnscratch.network import Sequential  # noqa: E402
from nnscratch.optim import SGD  # noqa: E402
from nnscratch.train import fit  # noqa: E402

BATCH = 64
LR = 0.01
MOMENTUM = 0.9


def reference_mlp(rng: np.random.Generator) -> Sequential:
    """The benchmark's network in nnscratch, float32."""
    return Sequential([Dense(784, 128, rng=rng, dtype=np.float32), ReLU(),
                       Dense(128, 10, rng=rng, dtype=np.float32)])


def load_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """MNIST training images (60000, 784) float32 if available, else random ones."""
    try:
        from nnscratch.data import load_mnist

        data = load_mnist()
        return data.x_train, data.y_train, "MNIST training set"
    except (OSError, ValueError, RuntimeError) as err:  # timing does not need real digits
        print(f"(MNIST not available: {err}; timing on random images)", file=sys.stderr)
        return rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000), "random images"


def epoch_nnscratch(model, x, y, seed: int) -> float:
    """One epoch through ``fit``; returns seconds."""
    opt = SGD(LR, momentum=MOMENTUM)
    start = time.perf_counter()
    fit(model, softmax_cross_entropy, opt, x, y, rng=np.random.default_rng(seed), epochs=1,
        batch_size=BATCH, progress=False)
    return time.perf_counter() - start


def epoch_loop(model, x, y, seed: int) -> float:
    """One epoch of the bare loop ``fit`` runs, first layer's input gradient skipped; seconds."""
    opt = SGD(LR, momentum=MOMENTUM)
    start = time.perf_counter()
    perm = np.random.default_rng(seed).permutation(len(x))
    xs, ys = x[perm], y[perm]  # (N, 784): one shuffled copy per epoch, as fit does
    for s in range(0, len(xs), BATCH):
        z = model.forward(xs[s:s + BATCH], training=True)
        _, dz = softmax_cross_entropy(z, ys[s:s + BATCH])
        model.backward(dz, need_dx=False)  # the data needs no gradient (PyTorch skips it too)
        opt.step(model.params, model.grads)
    return time.perf_counter() - start


def epoch_torch(torch, model, x, y, seed: int) -> float:
    """One epoch in idiomatic PyTorch, same batch order as ``fit`` with the same seed."""
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.functional.cross_entropy
    start = time.perf_counter()
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))  # fit's order
    xs, ys = x[perm], y[perm]  # one shuffled copy per epoch, as fit does
    for s in range(0, len(xs), BATCH):
        xb, yb = xs[s:s + BATCH], ys[s:s + BATCH]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def torch_copy(torch, model: Sequential):
    """A PyTorch twin of ``model`` with the same initial weights (W transposed: torch is out x in)."""
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    with torch.no_grad():
        for i in (0, 2):
            net[i].weight.copy_(torch.from_numpy(model.layers[i].params["W"].T.copy()))
            net[i].bias.copy_(torch.from_numpy(model.layers[i].params["b"]))
    return net


def test_accuracy_np(model, x, y) -> float:
    return float(np.mean(model.predict(x).argmax(1) == y))


def profile_epoch(model, x, y, seed: int) -> None:
    """Seconds spent per stage in one epoch of the same loop ``fit`` runs."""
    opt = SGD(LR, momentum=MOMENTUM)
    t = dict.fromkeys(["shuffle", "forward", "loss", "backward", "step"], 0.0)
    clock = time.perf_counter
    start = clock()
    perm = np.random.default_rng(seed).permutation(len(x))
    xs, ys = x[perm], y[perm]
    t["shuffle"] = clock() - start
    for s in range(0, len(xs), BATCH):
        xb, yb = xs[s:s + BATCH], ys[s:s + BATCH]
        t0 = clock(); z = model.forward(xb, training=True)  # noqa: E702
        t1 = clock(); _, dz = softmax_cross_entropy(z, yb)  # noqa: E702
        t2 = clock(); model.backward(dz, need_dx=False)  # noqa: E702
        t3 = clock(); opt.step(model.params, model.grads)  # noqa: E702
        t4 = clock()
        t["forward"] += t1 - t0; t["loss"] += t2 - t1; t["backward"] += t3 - t2; t["step"] += t4 - t3  # noqa: E702
    total = clock() - start
    print(f"\nprofile of one nnscratch epoch ({total:.2f} s, without fit's bookkeeping):")
    for k, v in t.items():
        print(f"  {k:<9}{v:6.2f} s  {100 * v / total:5.1f} %")


def main(args) -> None:
    rng = np.random.default_rng(args.seed)
    x, y, source = load_data(rng)
    try:
        import torch
    except ImportError:
        torch = None
        print("(PyTorch not installed: timing nnscratch only)", file=sys.stderr)
    if torch is not None and args.threads is not None:
        torch.set_num_threads(args.threads)

    model = reference_mlp(np.random.default_rng(args.seed))
    net = torch_copy(torch, model) if torch is not None else None
    x_t, y_t = (torch.from_numpy(x), torch.from_numpy(y)) if torch is not None else (None, None)

    print(f"reference MLP 784-128-10, ReLU, softmax CE, batch {BATCH}, SGD(lr={LR}, momentum={MOMENTUM}), "
          f"float32, {len(x)} examples ({source}); best of {args.repeats} epochs each")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    line = f"threads: numpy/OpenBLAS {threads} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})"
    if torch is not None:
        line += f", torch {torch.get_num_threads()} (torch {torch.__version__})"
    print(line + f", {os.cpu_count()} CPUs")
    print(blas_description())

    # Warm up both (first-call costs: BLAS thread start-up, PyTorch's allocator and dispatch).
    epoch_nnscratch(reference_mlp(np.random.default_rng(1)), x[:2048], y[:2048], 0)
    if torch is not None:
        epoch_torch(torch, torch_copy(torch, reference_mlp(np.random.default_rng(1))), x_t[:2048], y_t[:2048], 0)

    loop_model = reference_mlp(np.random.default_rng(args.seed))
    times_np, times_loop, times_torch = [], [], []
    for r in range(args.repeats):  # interleaved, so all see the same machine load
        times_np.append(epoch_nnscratch(model, x, y, args.seed + r))
        times_loop.append(epoch_loop(loop_model, x, y, args.seed + r))
        if torch is not None:
            times_torch.append(epoch_torch(torch, net, x_t, y_t, args.seed + r))

    def show(label, times):
        print(f"{label:<28}{min(times):7.3f} s   (all: {', '.join(f'{t:.2f}' for t in times)})")

    show("nnscratch epoch (fit):", times_np)
    show("nnscratch epoch (bare loop):", times_loop)
    if torch is not None:
        show("PyTorch epoch:", times_torch)
        best_torch = min(times_torch)
        print(f"ratio nnscratch / PyTorch, the same work: {min(times_loop) / best_torch:.2f} "
              f"with the bare loop  (goal: <= 1.0)")
        print(f"ratio nnscratch / PyTorch: {min(times_np) / best_torch:.2f} with fit, which also "
              f"keeps an undo copy, checks for NaN and counts accuracy (no goal)")
        with torch.no_grad():
            acc_t = float((net(x_t).argmax(1) == y_t).float().mean())
        print(f"training-set accuracy after {args.repeats} epochs: nnscratch "
              f"{test_accuracy_np(model, x, y):.4f}, PyTorch {acc_t:.4f} (should be close)")
    if args.profile:
        profile_epoch(reference_mlp(np.random.default_rng(args.seed)), x, y, args.seed)


if __name__ == "__main__":
    main(ARGS)
