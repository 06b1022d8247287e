"""Density from which the dense ESN kernels beat the sparse ones, in this process.

    python asv_bench/dense_crossover.py [--units 500 1000 2000] [--batches 1 16]
        [--repeats 5] [--output asv_bench/dense_crossover.md]

For each dtype, batch and reservoir size it times the dense kernel (one BLAS gemv /
gemm per step, kernels/cpu/dense.py; its cost does not depend on the density) and
the sparse kernels (kernels/cpu/esn.py) at rising densities until the sparse one is
the slower; the crossover is interpolated linearly between the two densities around
it. Both sides are timed alternately in the same loop, after a warm-up that compiles
or loads the kernels; the comparison uses the fastest of `repeats` runs (on a shared
machine the slower runs measure the other jobs: a preempted parallel step waits a
scheduler quantum), the table shows it with the median and the slowest. The
table (markdown) is printed and, with --output, written with the machine's load.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import numpy as np
import scipy.sparse as sp

from reservoir.kernels.cpu import esn as cpu

DENSITIES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def _matrix(n, density, dtype, rng):
    W = sp.random_array((n, n), density=density, rng=rng, data_sampler=rng.standard_normal, format="csr")
    return sp.csr_array(W * (0.9 / np.sqrt(n * density))).astype(dtype)


def _time(prepared, inputs, n, repeats):
    """Times per step (ms) of `repeats` runs of esn_run on `prepared`, after a warm-up."""
    batch, steps = inputs.shape[:2]
    out = np.empty((batch, steps, n), dtype=inputs.dtype)
    cpu.esn_run(prepared, inputs[:, :2], np.zeros((batch, n), inputs.dtype), 1.0, "tanh", out[:, :2])
    times = []
    for _ in range(repeats):
        state = np.zeros((batch, n), inputs.dtype)
        start = time.perf_counter()
        cpu.esn_run(prepared, inputs, state, 1.0, "tanh", out)
        times.append((time.perf_counter() - start) / steps * 1e3)
    return times


def _summary(times) -> str:
    return f"{min(times):.3g} ({statistics.median(times):.3g}, {max(times):.3g})"


def crossover(n, batch, dtype, repeats, rng):
    """(crossover density or None, dense times, [(density, sparse times), ...])."""
    steps = max(10, min(400, int(2e8 / (n * n * batch))))
    inputs = rng.standard_normal((batch, steps, 1)).astype(dtype)
    W_in = rng.uniform(-1, 1, (n, 1)).astype(dtype)
    bias = np.zeros(n, dtype)
    rows = []
    dense_times = []
    previous = None
    for density in DENSITIES:
        W = _matrix(n, density, dtype, rng)
        dense = cpu.prepare_esn(W, W_in, bias, "dense")
        sparse = cpu.prepare_esn(W, W_in, bias, "sparse")
        dense_times += _time(dense, inputs, n, repeats)  # alternating with the sparse runs
        sparse_times = _time(sparse, inputs, n, repeats)
        rows.append((density, sparse_times))
        dense_median = min(dense_times)
        sparse_median = min(sparse_times)
        if sparse_median >= dense_median:
            if previous is None:
                return density, dense_times, rows
            low, low_time = previous
            share = (dense_median - low_time) / (sparse_median - low_time)
            return low + share * (density - low), dense_times, rows
        previous = (density, sparse_median)
    return None, dense_times, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    load_before = os.getloadavg()
    lines = [
        "| dtype | batch | units | dense ms/step | sparse ms/step at the densities tried | crossover density |",
        "|---|---|---|---|---|---|",
    ]
    for dtype in args.dtypes:
        for batch in args.batches:
            for n in args.units:
                found, dense_times, rows = crossover(n, batch, np.dtype(dtype), args.repeats, rng)
                tried = "; ".join(f"{d:g}: {_summary(t)}" for d, t in rows)
                result = "none up to 1" if found is None else f"{found:.3g}"
                lines.append(f"| {dtype} | {batch} | {n} | {_summary(dense_times)} | {tried} | {result} |")
                print(lines[-1], flush=True)
    load_after = os.getloadavg()
    header = [
        f"Dense vs sparse ESN kernels, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()} {os.cpu_count()} cores, load average (1/5/15 min) "
        f"{'/'.join(f'{v:.1f}' for v in load_before)} before, {'/'.join(f'{v:.1f}' for v in load_after)} after.",
        "",
        "Command: `python asv_bench/dense_crossover.py "
        + " ".join(
            [
                f"--units {' '.join(map(str, args.units))}",
                f"--batches {' '.join(map(str, args.batches))}",
                f"--repeats {args.repeats}",
            ]
        )
        + "`. Times: ms per step, fastest (median, slowest) of the runs; the crossover from the fastest.",
        "",
    ]
    text = "\n".join(header + lines) + "\n"
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
