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


def blas_description() -> str:
    """NumPy's BLAS as the ratios should be read: library, version and the kernels it chose.

    OpenBLAS picks its kernels from the CPU at start-up, and can pick slower ones than the
    CPU supports: numpy 2.4's OpenBLAS 0.3.31 takes AMD Zen 5 (CPU family 0x1A) for a
    Haswell, without AVX-512 (OpenBLAS issue 6029, fixed upstream in pull request 6033).
    ``OPENBLAS_CORETYPE`` overrides the choice.
    """
    blas = [d for d in threadpool_info() if d["user_api"] == "blas"]
    if not blas:
        return "NumPy's BLAS: not found by threadpoolctl"
    d = blas[0]
    kernels = f", {d['architecture']} kernels" if d.get("architecture") else ""
    return f"NumPy's BLAS: {d['internal_api']} {d.get('version') or ''}{kernels}".rstrip()
