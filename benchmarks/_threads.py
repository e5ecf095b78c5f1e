"""Thread settings shared by the benchmark scripts: NumPy's BLAS and PyTorch's intra-op threads.

The scripts import this module from their own folder (Python puts a script's folder on
``sys.path``; ``tests/conftest.py`` does the same for the tests that load them).
"""

from __future__ import annotations

import contextlib

from threadpoolctl import threadpool_info


def blas_threads() -> int:
    """How many threads NumPy's BLAS uses by default (one per core, unless told otherwise)."""
    return max((d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"), default=1)


@contextlib.contextmanager
def torch_threads(n: int):
    """Run PyTorch with ``n`` intra-op threads inside the block, then restore its setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
