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


#: OpenBLAS's kernel sets that use AVX-512.
AVX512_KERNELS = frozenset({"SkylakeX", "Cooperlake", "SapphireRapids"})


def cpu_has_avx512(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU reports AVX-512 (``avx512f``); False where ``cpuinfo`` cannot be read."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return "avx512f" in flags.split()


def blas_description(info=None, avx512: bool | None = None) -> str:
    """NumPy's BLAS as the ratios should be read: library, version and the kernels it chose.

    OpenBLAS picks its kernels from the CPU at start-up, and can pick slower ones than the
    CPU supports: numpy 2.4's OpenBLAS 0.3.31 takes AMD Zen 5 (CPU family 0x1A) for a
    Haswell, without AVX-512 (OpenBLAS issue 6029, fixed upstream in pull request 6033).
    ``OPENBLAS_CORETYPE`` overrides the choice; when the CPU has AVX-512 and OpenBLAS runs
    kernels without it, the description says so and how to choose them.

    ``info`` (threadpoolctl's ``threadpool_info()``) and ``avx512`` (:func:`cpu_has_avx512`)
    default to this machine's.
    """
    blas = [
        d for d in (threadpool_info() if info is None else info)
        if d["user_api"] == "blas"
    ]
    if not blas:
        return "NumPy's BLAS: not found by threadpoolctl"
    d = blas[0]
    arch = d.get("architecture")
    kernels = f", {arch} kernels" if arch else ""
    text = f"NumPy's BLAS: {d['internal_api']} {d.get('version') or ''}{kernels}".rstrip()
    avx512 = cpu_has_avx512() if avx512 is None else avx512
    if d["internal_api"] == "openblas" and arch and arch not in AVX512_KERNELS and avx512:
        text += (
            f"\n  this CPU has AVX-512, which {arch} kernels leave unused;"
            "\n  OPENBLAS_CORETYPE=SkylakeX set before Python starts uses it"
        )
    return text
