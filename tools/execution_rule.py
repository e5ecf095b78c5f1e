"""How the book's chapters share the machine: the one rule, used by every tool that runs them.

Each chapter runs with **one BLAS thread**, and **as many chapters run at once as the machine
has cores**. One thread per chapter keeps parallel chapters from oversubscribing the cores
(two chapters with two BLAS threads each on two cores run slower than one after the other,
because OpenBLAS threads spin while they wait for a core). It also makes a chapter's numbers
independent of how many chapters ran beside it, since the thread count can change the order
of floating-point sums; and it is the setting the per-page time budget is stated for.

Used by the build (``tools/book_execution.py``), the chapters-as-scripts runner
(``tools/run_chapter.py``) and the tests. The environment variables must be set before the
process that runs a chapter imports NumPy: they are read when the BLAS library loads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: BLAS threads each chapter runs with.
THREADS_PER_CHAPTER = 1

#: Environment variables that the common BLAS and OpenMP libraries read for their thread count.
THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def chapter_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a chapter runs in: ``base`` (default ``os.environ``) with the thread limit."""
    env = dict(os.environ if base is None else base)
    env.update({name: str(THREADS_PER_CHAPTER) for name in THREAD_VARIABLES})
    return env


#: Set to a whole number to run that many chapters at once instead of one per core (for
#: example ``NNBOOK_JOBS=1`` to time the book executed serially, or on a machine short of memory).
JOBS_VARIABLE = "NNBOOK_JOBS"


def parallel_jobs(n_chapters: int, cores: int | None = None) -> int:
    """How many chapters run at once: one per core (or ``$NNBOOK_JOBS``), never more than there are chapters."""
    wanted = os.environ.get(JOBS_VARIABLE, "").strip()
    if wanted:
        if not wanted.isdigit() or int(wanted) < 1:
            raise ValueError(f"{JOBS_VARIABLE} must be a whole number of chapters at once (1 or more), got {wanted!r}")
        cores = int(wanted)
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, n_chapters))
