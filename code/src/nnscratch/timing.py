"""Timing code on a shared machine: the fastest of several calls, the contenders taking turns.

A laptop is never idle: a browser, an indexer, another program's burst of work all take
time from the code being timed, and they come and go. Two habits make a comparison honest
anyway. *The fastest call counts*: noise only ever adds time, so the minimum over several
calls is the estimate closest to what the code itself costs. *Contenders take turns*: timed
one after the other, minutes apart, two pieces of code meet different loads, and their ratio
says as much about the machine as about them; taking turns, each meets the same conditions,
round after round.

The book's pages time their claims this way (float32 against float64 in Step 6, a
convolution in Step 7, a GPT step against an LSTM step in Step 9, a DCGAN step against a
dense GAN step in Step 12). The benchmarks (``benchmarks/``) do the same for whole training
runs, against PyTorch.

See Also
--------
Book, Step 6 "MNIST": the first timing, and why the fastest run counts.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

from ._checks import check_int

__all__ = ["fastest"]


def fastest(
    runs: Mapping[str, Callable[[], object]],
    rounds: int = 5,
    *,
    number: int | Mapping[str, int] = 1,
    warmup: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Seconds of each run's fastest call, the runs taking turns.

    Each of ``rounds`` rounds times every run once; round ``r`` starts with the run ``r``
    places further down ``runs`` (the first round with the first), so that no run is
    always the one that follows another. Before that, each run is called ``warmup`` times
    untimed (a first call may allocate memory or load code).

    A call that takes a millisecond is better timed in a block of calls, back to back as
    in training, than alone: ``number`` calls make one timed block, and the block's time
    divided by ``number`` is the time of one call.

    Parameters
    ----------
    runs : mapping of str to callable
        What to time, by name: functions of no argument. Their results are ignored.
    rounds : int
        How many times each run is timed.
    number : int or mapping of str to int
        How many calls, back to back, make one timed block: one count for every run, or
        one for each name of ``runs``.
    warmup : int
        How many untimed calls of each run come first (single calls, not blocks).
    clock : callable
        The clock, in seconds (a test may pass a fake one).

    Returns
    -------
    dict of str to float
        For each name of ``runs``, in its order, the shortest time one call took (the
        fastest block's time divided by its ``number``).

    Raises
    ------
    TypeError
        If ``runs`` is not a mapping of names to callables, or ``rounds``, ``warmup``,
        ``number`` or one of its counts is not an integer (nor, for ``number``, a mapping).
    ValueError
        If ``runs`` is empty, ``number`` does not name exactly the runs, ``rounds`` or a
        count of ``number`` is below 1, or ``warmup`` below 0.
    """
    if not isinstance(runs, Mapping):
        raise TypeError(
            "fastest: runs must be a mapping of names to functions, such as "
            f"{{'float32': f}}, got {type(runs).__name__}"
        )
    if not runs:
        raise ValueError(
            "fastest: runs must name at least one function, got none"
        )
    for name, run in runs.items():
        if not callable(run):
            raise TypeError(
                f"fastest: runs[{name!r}] must be a function of no argument, "
                f"got {type(run).__name__}"
            )
    rounds = check_int(rounds, "rounds", "fastest")
    warmup = check_int(warmup, "warmup", "fastest", minimum=0)
    names = list(runs)
    counts = _counts(number, names)

    for name in names:
        for _ in range(warmup):
            runs[name]()
    best = dict.fromkeys(names, float("inf"))
    for r in range(rounds):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            run = runs[name]
            start = clock()
            for _ in range(counts[name]):
                run()
            best[name] = min(best[name], (clock() - start) / counts[name])
    return best


def _counts(number: object, names: list[str]) -> dict[str, int]:
    """``fastest``'s ``number`` as a count for each name, checked."""
    if not isinstance(number, Mapping):
        return dict.fromkeys(names, check_int(number, "number", "fastest"))
    if set(number) != set(names):
        raise ValueError(
            f"fastest: number must give a count for each run, {names}, "
            f"got counts for {list(number)}"
        )
    return {
        name: check_int(number[name], f"number[{name!r}]", "fastest")
        for name in names
    }
