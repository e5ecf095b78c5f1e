"""The benchmark scripts run end to end on a few batches and print what they promise.

Their timings are not tested (the machines are shared and noisy); what is tested is that
they time the network the issue specifies and report every figure, ratio included when
PyTorch is installed.
"""

import argparse
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # each runs a benchmark script for seconds

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(
        name, BENCH / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def test_cnn_benchmark_times_the_reference_network(capsys):
    bench = load("bench_cnn_epoch")
    model = bench.reference_cnn(np.random.default_rng(0))
    # Conv(1->8, 5x5): 8*25 + 8; Conv(8->16, 5x5): 16*8*25 + 16; Dense(256->10): 2560 + 10.
    assert sum(p.size for p in model.params.values()) == 208 + 3216 + 2570
    assert all(p.dtype == np.float32 for p in model.params.values())

    assert (
        bench.main(
            ["--batches", "6", "--block", "2", "--pause", "0", "--profile"]
        )
        == 0
    )
    out = capsys.readouterr().out
    times = dict(
        re.findall(
            r"(nnscratch, \d+ BLAS thread\(s\)) epoch:\s+([\d.]+) s", out
        )
    )
    assert "nnscratch, 1 BLAS thread(s)" in times and all(
        float(t) > 0 for t in times.values()
    )
    losses = [
        float(v) for v in re.findall(r"mean batch loss ([\d.]+|nan)", out)
    ]
    assert losses and all(np.isfinite(losses))
    assert re.search(r"profile of one nnscratch epoch", out)
    assert re.search(r"NumPy's BLAS: \w+", out)  # the kernels the ratios were timed with
    assert re.search(
        r"bwd Conv2D\(8, 16, kernel_size=5", out
    )  # every layer is profiled
    if has_torch():
        assert re.search(
            r"ratio nnscratch / PyTorch, each at its faster setting: [\d.]+",
            out,
        )
    else:
        assert "PyTorch is not installed" in out


def test_cnn_benchmark_times_step_7s_network_as_its_page_trains_it(capsys):
    # --network step7: models.mnist_cnn (80,202 parameters, its docstring's count), batch
    # 128 and Adam, in both libraries; the PyTorch twin has the same parameter count.
    bench = load("bench_cnn_epoch")
    ours = bench.mnist_cnn(np.random.default_rng(0))
    assert ours.n_params == 80_202
    if has_torch():
        twin = bench.torch_network("step7")
        assert sum(p.numel() for p in twin.parameters()) == ours.n_params
    argv = ["--network", "step7", "--batches", "3", "--block", "1", "--pause", "0",
            "--threads", "1", "--profile"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"network step7: one epoch of 384 .*batch 128, float32, Adam lr 0.001",
                     out)
    assert re.search(r"bwd Dropout\(p=0.25\)", out)  # the page's network, dropout and all
    assert re.search(r"bwd Conv2D\(16, 32, kernel_size=5", out)
    if has_torch():
        assert re.search(r"ratio nnscratch / PyTorch, each at its faster setting: [\d.]+", out)


def test_cnn_benchmark_with_fixed_threads(capsys):
    bench = load("bench_cnn_epoch")
    assert (
        bench.main(
            [
                "--batches",
                "2",
                "--block",
                "1",
                "--pause",
                "0",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert re.findall(r"(\S+, \d+ (?:BLAS )?thread\(s\)) epoch", out) == (
        ["nnscratch, 1 BLAS thread(s)", "PyTorch, 1 thread(s)"]
        if has_torch()
        else ["nnscratch, 1 BLAS thread(s)"]
    )


@pytest.mark.skipif(
    not has_torch(), reason="the PyTorch twin needs torch (optional)"
)
def test_mlp_benchmark_twin_starts_from_the_same_weights():
    import torch

    bench = load("bench_mlp_epoch")
    model = bench.reference_mlp(np.random.default_rng(0))
    net = bench.torch_copy(torch, model)
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(
            net(torch.from_numpy(x)).numpy(),
            model.predict(x),
            rtol=1e-5,
            atol=1e-5,
        )


def test_mlp_benchmark_runs_one_epoch(capsys):
    bench = load("bench_mlp_epoch")
    args = argparse.Namespace(repeats=1, threads=None, profile=True, seed=0)
    bench.main(args)
    out = capsys.readouterr().out
    assert re.search(r"nnscratch epoch \(fit\):\s+[\d.]+ s", out)
    assert re.search(r"nnscratch epoch \(bare loop\):\s+[\d.]+ s", out)
    assert "profile of one nnscratch epoch" in out
    if has_torch():
        assert re.search(r"ratio nnscratch / PyTorch, the same work: [\d.]+ with the bare loop"
                         r"  \(goal: <= 1.0\)", out)
        assert re.search(r"ratio nnscratch / PyTorch: [\d.]+ with fit, .* \(no goal\)", out)


@pytest.mark.parametrize(
    "name, sizes, expected",
    [
        (
            "bench_lstm",
            ("BATCH", "LENGTH", "N_IN", "HIDDEN"),
            (32, 64, 64, 256),
        ),
        (
            "bench_transformer",
            ("BATCH", "LENGTH", "WIDTH", "HEADS"),
            (32, 64, 128, 4),
        ),
        ("bench_predict", ("N_IMAGES", "BATCH"), (2048, 256)),
        ("bench_dcgan", ("BATCH", "NOISE"), (128, 64)),
    ],
)
def test_layer_benchmarks_time_the_reference_layer(
    name, sizes, expected, capsys
):
    bench = load(name)
    assert tuple(getattr(bench, k) for k in sizes) == expected
    assert (
        bench.main(["--iterations", "2", "--block", "1", "--threads", "1"])
        == 0
    )
    out = capsys.readouterr().out
    times = re.findall(
        r"(\S+, 1 (?:BLAS )?thread\(s\)):\s+([\d.]+) ms per iteration", out
    )
    assert [name for name, _ in times] == (
        ["nnscratch, 1 BLAS thread(s)", "PyTorch, 1 thread(s)"]
        if has_torch()
        else ["nnscratch, 1 BLAS thread(s)"]
    )
    assert all(float(t) > 0 for _, t in times)
    if has_torch():
        diff = float(
            re.search(
                r"largest difference between the libraries .*: ([\d.e+-]+)",
                out,
            )[1]
        )
        assert diff < 1e-3  # float32: the same computation
        assert re.search(
            r"ratio nnscratch / PyTorch, one thread each: [\d.]+", out
        )
        assert re.search(
            r"ratio nnscratch / PyTorch, each at its faster setting: [\d.]+",
            out,
        )
    else:
        assert "PyTorch is not installed" in out


@pytest.mark.skipif(not has_torch(), reason="the ratio needs torch (optional)")
@pytest.mark.parametrize(
    "name, argv",
    [
        ("bench_cnn_epoch", ["--batches", "4", "--block", "2", "--threads", "1"]),
        ("bench_lstm", ["--iterations", "3", "--block", "1", "--threads", "1"]),
        ("bench_transformer", ["--iterations", "3", "--block", "1", "--threads", "1"]),
        ("bench_predict", ["--iterations", "3", "--block", "1", "--threads", "1"]),
        ("bench_dcgan", ["--iterations", "3", "--block", "1", "--threads", "1"]),
    ],
)
def test_a_ratio_over_the_bar_fails_the_benchmark(name, argv, capsys):
    # The speed goals are enforced, not only printed: the script's exit status follows its
    # measured ratio. The bars are far on either side of any ratio a machine could measure
    # (timings themselves are not tested), so the outcome does not depend on the machine.
    bench = load(name)
    assert bench.main([*argv, "--max-ratio", "1000"]) == 0
    assert "is within the bar: at most 1000" in capsys.readouterr().out
    assert bench.main([*argv, "--max-ratio", "0.001"]) == 1
    assert "is over the bar: at most 0.001" in capsys.readouterr().out


def test_the_verdict_compares_the_ratio_with_the_bar(capsys):
    compare = load("_compare")
    assert compare.verdict(1.49, 1.5) == 0
    assert compare.verdict(1.5, 1.5) == 0  # "at most"
    assert "ratio 1.50 is within the bar: at most 1.5" in capsys.readouterr().out
    assert compare.verdict(1.51, 1.5) == 1
    assert "ratio 1.51 is over the bar: at most 1.5" in capsys.readouterr().out
    assert compare.verdict(None, 1.5) == 0  # no PyTorch, no ratio
    assert compare.verdict(9.0, None) == 0  # no bar asked for
    assert capsys.readouterr().out == ""


def test_settings_take_turns_over_every_iteration_once():
    compare = load("_compare")
    calls = []

    class Threads:  # a stand-in for the context manager that sets a library's threads
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            calls.append(("threads", self.name))

        def __exit__(self, *exc):
            return False

    def setting(name):
        return (name, lambda i: calls.append((name, i)), lambda: Threads(name))

    rounds = []
    times = compare.time_settings(
        {"a": setting("a"), "b": setting("b")}, 5, 2, pause=0, warmup=2,
        after_round=lambda r, done, t: rounds.append((r, done, sorted(t))),
    )
    runs = [c for c in calls if c[0] != "threads"]
    # warm-up: run(0), run(1) untimed, then every iteration once, two at a time in turns,
    # with the other setting first in every second round
    assert runs == [("a", 0), ("a", 1), ("b", 0), ("b", 1),
                    ("a", 0), ("a", 1), ("b", 0), ("b", 1),
                    ("b", 2), ("b", 3), ("a", 2), ("a", 3),
                    ("a", 4), ("b", 4)]
    assert calls.count(("threads", "a")) == 1 + 3  # set for the warm-up and every block
    assert rounds == [(0, 2, ["a", "b"]), (1, 4, ["a", "b"]), (2, 5, ["a", "b"])]
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())
    assert compare.fastest({"a": setting("x"), "b": setting("x"), "c": setting("y")},
                           {"a": 2.0, "b": 1.0, "c": 3.0}) == {"x": "b", "y": "c"}


def test_predict_benchmark_uses_predicts_default_batch_or_the_one_asked_for(capsys):
    from nnscratch.network import Sequential

    bench = load("bench_predict")
    default = Sequential.predict.__defaults__[0]
    assert bench.BATCH == default  # read from predict, not typed twice
    argv = ["--iterations", "1", "--block", "1", "--threads", "1"]
    assert bench.main([*argv, "--batch", "100"]) == 0
    assert "in batches of 100, float32" in capsys.readouterr().out
    assert bench.main(argv + ["--batch", str(default)]) == 0
    assert f"in batches of {default} (the default)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        bench.main([*argv, "--batch", "0"])
    assert exit_.value.code == 2
    assert "--batch: expected a positive integer, got '0'" in capsys.readouterr().err

