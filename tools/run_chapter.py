"""Run a chapter of the book as a plain Python script, outside Jupyter.

Usage (from the repository root, in the project's environment)::

    python tools/run_chapter.py book/01_neuron_theory.md [--out figures]

The chapter's code cells run in order in one namespace, exactly as the notebook kernel runs
them. Figures are saved to ``<out>/<chapter>/fig-<cell>-<n>.png`` after each cell (where a
notebook would display them), values the chapter glues into its text are printed as
``glue: name = value``, and the exit status is non-zero if any cell fails, a glued number
is NaN or infinite (which the build refuses too), or a figure carries text smaller than
``nnscratch.plots.MIN_TEXT_POINTS`` as a reader sees it (the run goes on to its end then,
and the figure is saved).
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
import sys
import time
from pathlib import Path

from execution_rule import chapter_env  # tools/, beside this script


def code_cells(chapter: Path) -> list[str]:
    """The source of every code cell of a MyST Markdown notebook, in order."""
    import jupytext

    nb = jupytext.read(chapter)
    if "kernelspec" not in nb.metadata:
        raise SystemExit(f"{chapter}: no jupytext front matter with a kernelspec; is it a notebook page?")
    return [c.source for c in nb.cells if c.cell_type == "code"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", type=Path, help="a chapter file under book/")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="where figures go")
    args = parser.parse_args(argv)

    # A script has no screen: draw to files. Set before pyplot is imported by the chapter.
    os.environ.setdefault("MPLBACKEND", "Agg")
    # The book's one rule for running a chapter (one BLAS thread), as in the build: set
    # before NumPy loads its BLAS, so the script computes the numbers the book shows.
    os.environ.update(chapter_env())
    import matplotlib.pyplot as plt
    import myst_nb
    from nnscratch.plots import MIN_TEXT_POINTS, small_text

    def glue(name, variable, display=True):  # what the book shows, printed
        if isinstance(variable, numbers.Real) and not math.isfinite(variable):
            raise ValueError(f"glue: {name} = {variable!r} is not a finite number, "
                             "and the book's text would show it")
        print(f"glue: {name} = {variable!r}")

    myst_nb.glue = glue

    outdir = args.out / args.chapter.stem
    outdir.mkdir(parents=True, exist_ok=True)
    namespace = {"__name__": "__main__", "__file__": str(args.chapter)}
    start = time.perf_counter()
    n_figs = 0
    illegible = []  # (cell, figure file, [(text, points shown)])
    cells = code_cells(args.chapter)
    for i, source in enumerate(cells, 1):
        code = compile(source, f"{args.chapter}:cell{i}", "exec")
        exec(code, namespace)
        for j, num in enumerate(plt.get_fignums(), 1):
            fig = plt.figure(num)
            name = f"fig-{i:02d}-{j}.png"
            if small := small_text(fig):
                illegible.append((i, name, small))
            fig.savefig(outdir / name, dpi=100, bbox_inches="tight")
            n_figs += 1
        plt.close("all")
    print(f"{args.chapter}: {len(cells)} cells ran in {time.perf_counter() - start:.1f} s; "
          f"{n_figs} figures saved to {outdir}/", file=sys.stderr)
    for i, name, small in illegible:
        shown = ", ".join(f"{text!r} at {points:g} pt" for text, points in small[:6])
        more = f" and {len(small) - 6} more" if len(small) > 6 else ""
        print(f"{args.chapter}: {name} (cell {i}) has text smaller than "
              f"{MIN_TEXT_POINTS:g} pt as a reader sees it: {shown}{more}", file=sys.stderr)
    return 1 if illegible else 0


if __name__ == "__main__":
    sys.exit(main())
