"""The asv suite runs: every benchmark once under the tiny ``smoke`` profile, in this process.

The equivalent of ``asv run --python=same --quick --dry-run`` (asv_bench/smoke.py says
why it is not asv itself); where asv is installed, ``asv check`` runs as well. A
benchmark that raises (other than a skip: NotImplementedError from setup) fails here,
so a broken benchmark never lands.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ASV_BENCH = Path(__file__).resolve().parents[1] / "asv_bench"

_spec = importlib.util.spec_from_file_location("reservoir_asv_smoke", ASV_BENCH / "smoke.py")
smoke = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # dataclasses look their module up
_spec.loader.exec_module(smoke)

BENCHMARKS = smoke.discover(smoke.load("smoke"))

# The capabilities the suite measures, each with at least one benchmark (a rename or a lost
# module fails here rather than leaving a hole in the report).
REQUIRED = [
    "esn.Construction.time_random_sparse",
    "esn.Run.time_run_single",
    "esn.Run.time_run_batched",
    "esn.Narma10.track_narma10_nrmse",
    "lsm.Cuba.time_cuba",
    "lsm.Cuba.track_cuba_rate_hz",
    "lsm.LargeNetwork.time_run",
    "elm.Fit.time_fit",
    "elm.Fit.peakmem_fit",
    "elm.Predict.time_predict",
    "elm.Digits.track_digits_accuracy",
    "ridge.Fit.time_fit",
    "store.RidgeFromStore.time_fit_from_store",
    "gated.TrainStep.time_train_step",
    "gated.FitEpoch.time_fit_epoch",
    "store.StoredRun.time_stored",
    "store.StoredRead.time_read_all",
    "store.StoredRead.time_read_chunks",
]


def test_every_capability_has_a_benchmark():
    names = {benchmark.name for benchmark in BENCHMARKS}
    assert not [name for name in REQUIRED if name not in names]


def test_every_registered_backend_is_benchmarked():
    """The backend parameter is a fixed list (asv maps results by position): a new backend goes in it."""
    import reservoir as rs

    common = next(module for module in smoke.load("smoke") if module.__name__.endswith(".common"))
    assert set(rs.backends.names()) <= set(common.ALL_BACKENDS)


def test_profiles_share_their_fields():
    common = next(module for module in smoke.load("smoke") if module.__name__.endswith(".common"))
    assert common.PROFILE.name == "smoke"
    assert set(common.PROFILES) == {"quick", "full", "smoke"}
    with pytest.raises(ValueError, match="RESERVOIR_BENCH_PROFILE"):
        smoke.load("no-such-profile")


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=[benchmark.name for benchmark in BENCHMARKS])
def test_benchmark_runs_once(benchmark):
    outcomes = [smoke.run_one(benchmark, args) for args in benchmark.combinations()]
    failed = [f"{outcome.params}: {outcome.message}" for outcome in outcomes if outcome.status == "failed"]
    assert not failed, "\n".join(failed)


def test_runner_reports_a_broken_benchmark():
    class Broken:
        params = [1, 2]

        def setup(self, value):
            if value == 2:
                raise NotImplementedError("skipped like a missing backend")

        def time_it(self, value):
            raise RuntimeError("broken")

        def track_none(self, value):
            return None

    for method, message in (("time_it", "RuntimeError: broken"), ("track_none", "not a number")):
        benchmark = smoke.Benchmark(f"fake.Broken.{method}", Broken, method, smoke._params(Broken), sys)
        first, second = (smoke.run_one(benchmark, args) for args in benchmark.combinations())
        assert first.status == "failed" and message in first.message
        assert second.status == "skipped"


@pytest.mark.skipif(importlib.util.find_spec("asv") is None, reason="asv is not installed (pip install -e '.[bench]')")
def test_asv_check():
    """asv's own discovery and signature checks against this environment."""
    env = {**os.environ, "RESERVOIR_BENCH_PROFILE": "smoke"}
    result = subprocess.run(
        [sys.executable, "-m", "asv", "check", "--python=same"],
        cwd=ASV_BENCH,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0 and "No problems found" in result.stdout, result.stdout + result.stderr


def test_plot_history_from_stored_results(tmp_path):
    """plot_history.py reads asv's result files (format version 2) and writes both figures."""
    machine = tmp_path / "results" / "testbox"
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text(json.dumps({"machine": "testbox", "version": 1}))
    spec = importlib.util.spec_from_file_location("reservoir_asv_plot_history", ASV_BENCH / "plot_history.py")
    plot_history = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot_history)
    full = plot_history.profile("full")
    columns = [
        "result",
        "params",
        "version",
        "started_at",
        "duration",
        "stats_ci_99_a",
        "stats_ci_99_b",
        "stats_q_25",
        "stats_q_75",
        "stats_number",
        "stats_repeat",
        "samples",
        "profile",
    ]
    backends = ["'numba'", "'numpy'"]
    esn_params = [backends, [str(u) for u in full.units], [str(d) for d in full.densities]]
    n_esn = len(backends) * len(full.units) * len(full.densities)
    for i, commit in enumerate(["a" * 40, "b" * 40]):
        esn = [0.5 + i] * n_esn
        results = {
            "esn.Run.time_run_single": [esn, esn_params, "v", 0, 1.0, None, None, esn, esn],
            "lsm.Cuba.time_cuba": [
                [0.04, float("nan")],
                [backends],
                "v",
                0,
                1.0,
                None,
                None,
                [0.039, None],
                [0.041, None],
            ],
        }
        (machine / f"{commit[:8]}-env.json").write_text(
            json.dumps(
                {"commit_hash": commit, "date": 1000 + i, "result_columns": columns, "results": results, "version": 2}
            )
        )
    out = tmp_path / "docs"
    result = subprocess.run(
        [
            sys.executable,
            str(ASV_BENCH / "plot_history.py"),
            "--results",
            str(tmp_path / "results"),
            "--out",
            str(out),
            "--table",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "asv_esn_step.png").stat().st_size > 0 and (out / "asv_cuba.png").stat().st_size > 0
    per_step = f"{0.5e3 / full.steps:.4g}"  # ms per step from 0.5 s per timed call
    per_second = f"{0.04e3 * 10_000 / full.cuba_steps:.4g}"  # ms per biological second
    assert f"| {per_step} ({per_step}-{per_step}) |" in result.stdout
    assert f"| {per_second} (" in result.stdout


def test_gpu_bench_runs_every_part_with_a_cpu_stand_in(tmp_path, monkeypatch):
    """asv_bench/gpu_bench.py end to end before a GPU ever runs it: NumPy stands in for CuPy and the
    "numba" backend for the GPU ones, so every part's code runs and writes its rows (a typo must not
    cost a run on a GPU)."""
    from cupy_stand_in import stand_in_modules

    for name, module in stand_in_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("reservoir_gpu_bench", ASV_BENCH / "gpu_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "COPY_BYTES", 1 << 20)

    out = tmp_path / "gpu-results.md"
    parts = ",".join(part for part in bench.PARTS if part != "l2")  # a CUDA C kernel: compiled below instead
    assert (
        bench.main(
            [
                "--quick",
                "--backends",
                "numba",
                "--repeats",
                "1",
                "--commit",
                "test",
                "--parts",
                parts,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = {(row["figure"], row["backend"]): row for row in bench.ROWS}
    failed = [row for row in bench.ROWS if "failed" in row["note"]]
    assert not failed, failed
    for figure in (
        "ESN one sequence",
        "ESN batched",
        "ESN small",
        "ESN one sequence, 1 warp/slice",
        "ESN small, cluster of 16",
        "ESN small, cluster of 8",
        "ESN small, grid barrier",
        "ELM hidden layer",
        "CUBA LSM push, one block",
        "CUBA LSM push, split",
        "CUBA LSM pull, one block",
        "CUBA LSM pull, split",
    ):
        measured = rows[(figure, "numba")]["measured"]
        assert measured != "not measured" and any(ch.isdigit() for ch in measured), (figure, measured)
    assert "| ESN one sequence | numba |" in out.read_text()


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed here")
def test_gpu_bench_l2_kernel_compiles_for_sm90(tmp_path):
    result = subprocess.run(
        [
            "nvcc",
            "--ptx",
            "-arch=sm_90",
            "--Werror=all-warnings",
            "-o",
            str(tmp_path / "l2.ptx"),
            str(ASV_BENCH / "l2_read.cu"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "ld.global.cg.v4.f32" in (tmp_path / "l2.ptx").read_text()  # 16-byte loads that skip L1


def test_cuba_realisations_spread_wider_than_a_fixed_one_percent():
    """The GPU's CUBA rate check is set from the spread of CPU realisations of the same network
    (asv_bench/cuba_spread.py): they really are other trajectories, and over 0.2 s their rates
    spread by more than the 1 % a single-run tolerance once allowed."""
    spec = importlib.util.spec_from_file_location("reservoir_cuba_spread", ASV_BENCH / "cuba_spread.py")
    spread = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(spread)
    rate, rates = spread.realisation_rates(3, "float64", 2_000, realisations=4)
    assert len(set(np.round(rates, 6))) == 4 and rate > 0
    assert spread.rate_tolerance(3, "float64", 2_000, realisations=4) > 0.01
