"""The timing loop shared by the layer benchmarks (LSTM, Transformer, DCGAN): nnscratch against
PyTorch, taking turns, with one thread and with each library's default.

:func:`main` runs a benchmark script from its functions: ``setup(rng) -> (ours, x, dout,
title)``, ``nnscratch_iteration(ours, x, dout)``, ``torch_twin(torch, ours) -> (twin, info)``,
``torch_iteration(torch, twin, x_t, dout_t)`` and ``check_agreement(torch, ours, twin, info,
x, dout)``, passed as a namespace (``SimpleNamespace(**globals())`` of the script). A script
with options of its own also has ``add_options(parser)`` and ``use_options(args)``. For a
forward and backward pass, :func:`forward_backward`, :func:`torch_forward_backward` and
:func:`gradients_difference` are the last three.

A *setting* is a library at a thread count: ``name -> (library, run, threads)``, where
``run(i)`` does iteration ``i`` and ``threads()`` is a context manager that sets the threads.
The CNN benchmark times whole epochs with the same two functions, :func:`settings_for` and
:func:`time_settings`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _threads import blas_description, blas_threads, torch_threads
from threadpoolctl import threadpool_limits


def settings_for(
    make_ours, make_torch, threads: int | None, torch
) -> dict[str, tuple]:
    """The settings to time: each library with ``threads``, or with 1 and its default.

    ``make_ours()`` and ``make_torch()`` return a setting's ``run(i)``; each setting gets its
    own (a benchmark that trains gives each its own model).
    """
    settings: dict[str, tuple] = {}
    for th in [threads] if threads else sorted({1, blas_threads()}):
        settings[f"nnscratch, {th} BLAS thread(s)"] = (
            "nnscratch",
            make_ours(),
            lambda th=th: threadpool_limits(limits=th, user_api="blas"),
        )
    if torch is not None:
        for th in (
            [threads] if threads else sorted({1, torch.get_num_threads()})
        ):
            settings[f"PyTorch, {th} thread(s)"] = (
                "PyTorch",
                make_torch(),
                lambda th=th: torch_threads(th),
            )
    return settings


def time_settings(
    settings: dict[str, tuple],
    iterations: int,
    block: int,
    pause: float = 0.15,
    *,
    warmup: int = 1,
    after_round=None,
) -> dict[str, float]:
    """Seconds each setting took for ``run(0)`` … ``run(iterations - 1)``, in turns.

    Each setting runs ``block`` iterations, then the next takes over. Taking turns, with a
    different setting first in each round, gives every setting the same share of whatever
    else the machine is doing: the ratios are meaningful on a shared machine even when the
    absolute times are not. After each block an untimed ``pause``
    lets the threads of a multi-threaded setting go idle (OpenBLAS and OpenMP workers spin
    for about 0.1 s), so that they do not slow down the setting that runs next.

    Each setting first runs ``run(0)`` … ``run(warmup - 1)`` untimed (first calls allocate
    and dispatch). ``after_round(r, done, times)``, if given, is called after round ``r``
    (0-based) with the number of iterations done and the times so far.
    """
    for _, run, threads in settings.values():
        with threads():
            for i in range(min(warmup, iterations)):
                run(i)
    times = dict.fromkeys(settings, 0.0)
    names = list(settings)
    for r, first in enumerate(range(0, iterations, block)):
        last = min(first + block, iterations)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            _, run, threads = settings[name]  # rotate who goes first
            with threads():  # setting the threads is not timed
                t = time.perf_counter()
                for i in range(first, last):
                    run(i)
                times[name] += time.perf_counter() - t
            time.sleep(pause)
        if after_round is not None:
            after_round(r, last, times)
    return times


def fastest(
    settings: dict[str, tuple], times: dict[str, float]
) -> dict[str, str]:
    """Library -> the name of its fastest setting."""
    best: dict[str, str] = {}
    for name, (lib, _, _) in settings.items():
        if lib not in best or times[name] < times[best[lib]]:
            best[lib] = name
    return best


def report(
    settings: dict[str, tuple], times: dict[str, float], iterations: int
) -> float | None:
    """Print each setting's time per iteration and the ratios nnscratch / PyTorch.

    Returns the ratio the bar is about (each library at its faster setting), or None
    without PyTorch.
    """
    width = max(map(len, times))
    for name, t in times.items():
        print(
            f"{name:>{width}}: {1000 * t / iterations:7.1f} ms per iteration"
        )
    best = fastest(settings, times)
    if "PyTorch" in best:
        one = [n for n in times if n.startswith("nnscratch, 1 ")], [
            n for n in times if n.startswith("PyTorch, 1 ")
        ]
        if one[0] and one[1]:
            print(
                f"ratio nnscratch / PyTorch, one thread each: "
                f"{times[one[0][0]] / times[one[1][0]]:.2f}"
            )
        ratio = times[best["nnscratch"]] / times[best["PyTorch"]]
        print(
            f"ratio nnscratch / PyTorch, each at its faster setting: "
            f"{ratio:.2f}  (bar: at most 1.5, goal: at most 1.0)"
        )
        return ratio
    return None


def add_bar_options(parser: argparse.ArgumentParser) -> None:
    """``--pause`` and ``--max-ratio``, the same in every benchmark."""
    parser.add_argument(
        "--pause",
        type=float,
        default=0.15,
        help="untimed seconds after each block, for idle threads to stop (0.15)",
    )
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=None,
        help="exit with status 1 if nnscratch / PyTorch (each at its faster setting) "
        "is above this (default: report only)",
    )


def verdict(ratio: float | None, max_ratio: float | None) -> int:
    """Exit status: 1 if ``ratio`` is over ``max_ratio``, else 0 (also without a ratio)."""
    if max_ratio is None or ratio is None:
        return 0
    if ratio > max_ratio:
        print(
            f"ratio {ratio:.2f} is over the bar: at most {max_ratio} (--max-ratio)"
        )
        return 1
    print(
        f"ratio {ratio:.2f} is within the bar: at most {max_ratio} (--max-ratio)"
    )
    return 0


def forward_backward(ours, x: np.ndarray, dout: np.ndarray):
    """One forward pass in training mode and one backward pass of a nnscratch layer or
    network (the ``nnscratch_iteration`` of the layer benchmarks); returns ``(out, dx)``."""
    out = ours.forward(x, training=True)
    return out, ours.backward(dout)


def torch_forward_backward(torch, twin, x_t, dout_t):
    """The same in PyTorch, to the weights and to the input; returns ``(out, dx)``."""
    xr = x_t.detach().requires_grad_(True)
    twin.zero_grad(set_to_none=True)
    out = twin(xr)
    out.backward(dout_t)
    return out, xr.grad


def gradients_difference(torch, ours, twin, pairs, x, dout) -> float:
    """Largest difference between the two libraries' outputs and gradients (float32).

    ``pairs``: (PyTorch parameter, key of ``ours.grads``) for every parameter. A 2-D
    gradient is compared transposed: Dense holds ``W`` as (n_in, n_out), ``nn.Linear`` its
    weight as (out, in).
    """
    out, dx = forward_backward(ours, x, dout)
    out_t, dx_t = torch_forward_backward(
        torch, twin, torch.from_numpy(x), torch.from_numpy(dout)
    )
    diffs = [
        np.max(np.abs(out - out_t.detach().numpy())),
        np.max(np.abs(dx - dx_t.numpy())),
    ]
    for param, key in pairs:
        grad = ours.grads[key]
        grad = grad.T if grad.ndim == 2 else grad
        diffs.append(np.max(np.abs(grad - param.grad.numpy())))
    return float(max(diffs))


def main(bench, argv: list[str] | None = None) -> int:
    """Parse the command line, compare the libraries once, time them, print the report."""
    parser = argparse.ArgumentParser(
        description=bench.__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=40,
        help="timed iterations per setting (40)",
    )
    parser.add_argument(
        "--block",
        type=int,
        default=5,
        help="iterations each setting runs before the next takes over (5)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="time both libraries with this many threads only "
        "(default: with 1 and with each library's default)",
    )
    parser.add_argument("--seed", type=int, default=0)
    add_bar_options(parser)
    if hasattr(bench, "add_options"):  # a benchmark's own options
        bench.add_options(parser)
    args = parser.parse_args(argv)
    if hasattr(bench, "use_options"):
        bench.use_options(args)

    ours, x, dout, title = bench.setup(np.random.default_rng(args.seed))
    print(f"{title}; {args.iterations} iterations per setting")
    print(blas_description())
    try:
        import torch
    except ImportError:
        torch = None
        print(
            "PyTorch is not installed: no ratio (pip install torch to compare)"
        )
    twin = x_t = dout_t = None
    if torch is not None:
        twin, info = bench.torch_twin(torch, ours)
        with torch_threads(1):
            diff = bench.check_agreement(torch, ours, twin, info, x, dout)
        print(
            f"largest difference between the libraries "
            f"({getattr(bench, 'COMPARED', 'outputs and gradients')}): {diff:.1e}"
        )
        print(f"torch {torch.__version__}")
        x_t, dout_t = torch.from_numpy(x), torch.from_numpy(dout)
    settings = settings_for(
        lambda: lambda i: bench.nnscratch_iteration(ours, x, dout),
        lambda: lambda i: bench.torch_iteration(torch, twin, x_t, dout_t),
        args.threads,
        torch,
    )
    times = time_settings(settings, args.iterations, args.block, args.pause)
    return verdict(report(settings, times, args.iterations), args.max_ratio)
