"""The distributed benchmark scripts run end to end in their ``--quick`` mode (seconds each, but
they start several local clusters: marked slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *arguments: str) -> str:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(ROOT / script), "--quick", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_distributed_scaling_quick():
    out = _run("asv_bench/distributed_scaling.py")
    assert "load average at start" in out and "load average at end" in out
    row = next(line for line in out.splitlines() if line.startswith("| 100 | 8 x 400 |"))
    assert row.count("%") == 4  # both routes' overheads, 1 and 2 workers
    assert "trivial tasks/s" in out and "ms per tiny shard" in out


@pytest.mark.slow
def test_dask_vs_reservoirpy_quick():
    pytest.importorskip("reservoirpy")
    out = _run("asv_bench/peers/dask_vs_reservoirpy.py")
    difference = float(out.split("same matrices): ")[1].split()[0])
    assert difference < 1e-9  # the same matrices give the same states on both sides
    assert "| ours: tune(client=...)" in out and "joblib.Parallel" in out
    assert "parallel_research(n_jobs=2)" in out  # ReservoirPy's own search, timed beside ours
