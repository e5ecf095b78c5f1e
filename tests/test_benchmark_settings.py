"""benchmarks/_threads.py: what the benchmarks say about NumPy's BLAS, without timing anything."""

import _threads  # benchmarks/ is on sys.path (tests/conftest.py)

OPENBLAS = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.31", "num_threads": 1}


def test_unused_avx512_is_named_with_the_setting_that_uses_it():
    text = _threads.blas_description([dict(OPENBLAS, architecture="Haswell")], avx512=True)
    assert text.startswith("NumPy's BLAS: openblas 0.3.31, Haswell kernels\n")
    assert "this CPU has AVX-512, which Haswell kernels leave unused" in text
    assert "OPENBLAS_CORETYPE=SkylakeX" in text


def test_no_hint_when_the_kernels_match_the_cpu():
    assert _threads.blas_description([dict(OPENBLAS, architecture="SkylakeX")], avx512=True) == (
        "NumPy's BLAS: openblas 0.3.31, SkylakeX kernels"
    )
    assert _threads.blas_description([dict(OPENBLAS, architecture="Haswell")], avx512=False) == (
        "NumPy's BLAS: openblas 0.3.31, Haswell kernels"
    )
    mkl = {"user_api": "blas", "internal_api": "mkl", "version": "2024.2", "num_threads": 1}
    assert _threads.blas_description([mkl], avx512=True) == "NumPy's BLAS: mkl 2024.2"
    assert _threads.blas_description([], avx512=True) == "NumPy's BLAS: not found by threadpoolctl"


def test_cpu_flags_are_read_from_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("model name\t: avx512f in a name does not count\nflags\t\t: fpu sse avx2\n")
    assert not _threads.cpu_has_avx512(str(info))
    info.write_text("flags\t\t: fpu sse avx2 avx512f avx512bw\n")
    assert _threads.cpu_has_avx512(str(info))
    assert not _threads.cpu_has_avx512(str(tmp_path / "missing"))
