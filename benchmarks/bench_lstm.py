"""Time an LSTM's forward and backward pass with nnscratch and with PyTorch (CPU).

The reference layer (issue 15, Step 9): batch 32, sequence length 64, input width 64,
hidden width 256, float32; one *iteration* is a forward pass over the whole sequence and
backpropagation through time to the weights and to the input, as training a layer that is
not the first one needs::

    out = LSTM(64, 256).forward(x)          # x: (32, 64, 64), out: (32, 64, 256)
    dx = LSTM.backward(dout)                # fills dWx, dWh, db; dx: (32, 64, 64)

PyTorch's ``torch.nn.LSTM(64, 256, batch_first=True)`` starts from the same weights (gates
reordered, bias split) and does the same: ``out.backward(dout)`` with ``x.requires_grad``.
Both outputs and gradients are compared once, so the two time the same computation.

The libraries take turns, a block of iterations each, so that both see the same load on a
shared machine; the ratio of their times is meaningful even when absolute times are not.
Each library is timed with one thread and with its default thread count (NumPy's BLAS: one
per core; PyTorch: its intra-op threads) unless ``--threads`` fixes one. PyTorch is
optional: without it only nnscratch is timed. Usage, from the repository root::

    .venv/bin/python benchmarks/bench_lstm.py
    .venv/bin/python benchmarks/bench_lstm.py --threads 1 --iterations 60

The bar: nnscratch at most 1.5x PyTorch's time; the goal: at most 1.0x.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _threads import blas_threads, torch_threads
from threadpoolctl import threadpool_limits

from nnscratch.layers import LSTM

BATCH, LENGTH, N_IN, HIDDEN = 32, 64, 64, 256
TORCH_ORDER = [0, 1, 3, 2]      # torch's gate blocks i, f, g, o from ours i, f, o, g


def nnscratch_iteration(layer: LSTM, x: np.ndarray, dout: np.ndarray):
    """One forward and backward pass; returns ``(out, dx)``."""
    out = layer.forward(x, training=True)
    return out, layer.backward(dout)


def torch_twin(torch, layer: LSTM):
    """``torch.nn.LSTM`` with ``layer``'s weights (transposed, gates reordered, bias split)."""
    h = layer.n_hidden
    cols = np.concatenate([np.arange(k * h, (k + 1) * h) for k in TORCH_ORDER])
    twin = torch.nn.LSTM(layer.n_in, h, batch_first=True)
    p = layer.params
    with torch.no_grad():
        twin.weight_ih_l0.copy_(torch.from_numpy(p["Wx"][:, cols].T.copy()))
        twin.weight_hh_l0.copy_(torch.from_numpy(p["Wh"][:, cols].T.copy()))
        twin.bias_ih_l0.copy_(torch.from_numpy(p["b"][cols].copy()))
        twin.bias_hh_l0.zero_()
    return twin, cols


def torch_iteration(torch, twin, x_t, dout_t):
    """The same in PyTorch; returns ``(out, dx)`` as tensors."""
    xr = x_t.detach().requires_grad_(True)
    twin.zero_grad(set_to_none=True)
    out, _ = twin(xr)
    out.backward(dout_t)
    return out, xr.grad


def check_agreement(torch, layer, twin, cols, x, dout) -> float:
    """Largest difference between the two libraries' outputs and gradients (float32)."""
    out, dx = nnscratch_iteration(layer, x, dout)
    out_t, dx_t = torch_iteration(torch, twin, torch.from_numpy(x), torch.from_numpy(dout))
    pairs = [(out, out_t), (dx, dx_t), (layer.grads["Wx"][:, cols].T, twin.weight_ih_l0.grad),
             (layer.grads["Wh"][:, cols].T, twin.weight_hh_l0.grad),
             (layer.grads["b"][cols], twin.bias_ih_l0.grad)]
    return max(float(np.max(np.abs(a - b.detach().numpy()))) for a, b in pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=40,
                        help="timed iterations per setting (40)")
    parser.add_argument("--block", type=int, default=5,
                        help="iterations each setting runs before the next takes over (5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="time both libraries with this many threads only "
                             "(default: with 1 and with each library's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    layer = LSTM(N_IN, HIDDEN, rng=rng, dtype=np.float32)
    x = rng.standard_normal((BATCH, LENGTH, N_IN)).astype(np.float32)
    dout = rng.standard_normal((BATCH, LENGTH, HIDDEN)).astype(np.float32)
    print(f"LSTM forward + backward: batch {BATCH}, length {LENGTH}, input {N_IN}, "
          f"hidden {HIDDEN}, float32; {args.iterations} iterations per setting")
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: no ratio (pip install torch to compare)")

    settings: dict[str, tuple] = {}
    counts = [args.threads] if args.threads else sorted({1, blas_threads()})
    for th in counts:
        settings[f"nnscratch, {th} BLAS thread(s)"] = (
            "nnscratch", lambda: nnscratch_iteration(layer, x, dout),
            lambda th=th: threadpool_limits(limits=th, user_api="blas"))
    if torch is not None:
        twin, cols = torch_twin(torch, layer)
        x_t, dout_t = torch.from_numpy(x), torch.from_numpy(dout)
        with torch_threads(1):
            diff = check_agreement(torch, layer, twin, cols, x, dout)
        print(f"largest difference between the libraries (outputs and gradients): {diff:.1e}")
        counts = [args.threads] if args.threads else sorted({1, torch.get_num_threads()})
        for th in counts:
            settings[f"PyTorch, {th} thread(s)"] = (
                "PyTorch", lambda: torch_iteration(torch, twin, x_t, dout_t),
                lambda th=th: torch_threads(th))
        print(f"torch {torch.__version__}")

    for _, run, threads in settings.values():      # warm-up: first calls allocate
        with threads():
            run()
    times = dict.fromkeys(settings, 0.0)
    names = list(settings)
    for b, first in enumerate(range(0, args.iterations, args.block)):
        n = min(args.block, args.iterations - first)
        for name in names[b % len(names):] + names[:b % len(names)]:   # rotate who goes first
            _, run, threads = settings[name]
            with threads():
                t = time.perf_counter()
                for _ in range(n):
                    run()
                times[name] += time.perf_counter() - t

    width = max(map(len, times))
    for name, t in times.items():
        print(f"{name:>{width}}: {1000 * t / args.iterations:7.1f} ms per iteration")
    best = {}
    for name, (lib, _, _) in settings.items():
        if lib not in best or times[name] < times[best[lib]]:
            best[lib] = name
    if "PyTorch" in best:
        one = [n for n in times if n.startswith("nnscratch, 1 ")], [
            n for n in times if n.startswith("PyTorch, 1 ")]
        if one[0] and one[1]:
            print(f"ratio nnscratch / PyTorch, one thread each: "
                  f"{times[one[0][0]] / times[one[1][0]]:.2f}")
        print(f"ratio nnscratch / PyTorch, each at its faster setting: "
              f"{times[best['nnscratch']] / times[best['PyTorch']]:.2f}  "
              f"(bar: at most 1.5, goal: at most 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
