"""The one-sequence ESN step against its limits on one core: cycles per nonzero and bytes.

    python asv_bench/kernel_limits.py [--repeats 7] [--out FILE.md]

For each configuration (ReservoirPy's defaults: 10 % connectivity up to n = 3,000,
1 % at n = 10,000; float64 and float32) the step runs serially (``settings`` keep the
parallel kernels off) and is timed by the thread's CPU time, which other processes on
a shared machine do not inflate. Printed per step:

* ns and cycles per nonzero (cycles at the clock ``/proc/cpuinfo`` reports; a VM's
  nominal clock, so the figure is an estimate);
* the bytes the step must stream: the matrix as the kernel stores it (weights, column
  indices, padding, slice pointers), the state it reads and writes, the input weights;
* the bandwidth that implies, beside the read bandwidth this core reaches on an array
  of the same size (a vector sum over it, timed the same way): the ratio says how far
  the step is from being limited by memory traffic rather than by instructions.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import scipy.sparse as sp
from numba import njit

import reservoir as rs
from reservoir.config import settings

CASES = ((300, 0.1), (1000, 0.1), (3000, 0.1), (10_000, 0.01))


@njit(fastmath=True, cache=True)
def _read_all(values):
    total = values.dtype.type(0)
    for k in range(values.shape[0]):
        total += values[k]
    return total


def _clock_hz() -> float | None:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) * 1e6
    except OSError:
        pass
    return None


def _thread_seconds(call, repeats: int) -> list[float]:
    call()
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        call()
        times.append(time.thread_time() - start)
    return times


def _read_bandwidth(n_bytes: int, dtype, repeats: int) -> float:
    """Bytes per second of a vector sum over an array of `n_bytes` (best of the repeats)."""
    values = np.random.default_rng(0).random(max(n_bytes // np.dtype(dtype).itemsize, 1)).astype(dtype)
    passes = max(1, int(2e8 // max(values.nbytes, 1)))

    def read():
        for _ in range(passes):
            _read_all(values)

    return values.nbytes * passes / min(_thread_seconds(read, repeats))


def measure(n: int, density: float, dtype, repeats: int) -> dict:
    rng = np.random.default_rng(1)
    W = sp.random_array((n, n), density=density, rng=rng, format="csr", dtype=np.float64)
    W.data = rng.normal(size=W.nnz) / np.sqrt(n * density)
    W_in = rng.uniform(-1, 1, (n, 1))
    esn = rs.ESN.from_weights(W.astype(dtype), W_in.astype(dtype), np.zeros(n, dtype), dtype=dtype, backend="numba")
    steps = int(np.clip(3e7 // W.nnz, 50, 2000))
    u = rng.uniform(-1, 1, (steps, 1)).astype(dtype)
    out = np.empty((steps, n), dtype=dtype)

    def run():
        esn.reset()
        esn.run(u, out=out)

    per_step = np.asarray(_thread_seconds(run, repeats)) / steps
    prepared = esn._kernels()[1]  # the layouts the kernel read (built on the first run)
    matrix_bytes = _matrix_bytes(prepared, W.astype(dtype))
    itemsize = np.dtype(dtype).itemsize
    state_bytes = 3 * n * itemsize  # x read, the new state written, its copy into out
    input_bytes = W_in.size * itemsize
    step_bytes = matrix_bytes + state_bytes + input_bytes
    return {
        "n": n,
        "density": density,
        "dtype": np.dtype(dtype).name,
        "nnz": W.nnz,
        "kernel": _kernel_name(W.nnz),
        "step_s": float(np.median(per_step)),
        "step_range": (float(per_step.min()), float(per_step.max())),
        "step_bytes": step_bytes,
        "read_bw": _read_bandwidth(matrix_bytes, dtype, repeats),
    }


def _kernel_name(nnz: int) -> str:
    return "small CSR" if nnz <= settings.small_max_work else "SELL-8, column blocks"


def _matrix_bytes(prepared, W) -> int:
    """Bytes of the matrix as the kernel reads it: the SELL arrays, or plain CSR for small ones."""
    sell = getattr(prepared, "_sell", None)
    if sell is not None:
        return int(sum(np.asarray(part).nbytes for part in sell))
    return int(W.data.nbytes + W.indices.nbytes + W.indptr.nbytes)


def report(rows, clock) -> str:
    lines = [
        "| n | density | dtype | nnz | kernel | µs/step [range] | ns/nnz | cycles/nnz | bytes/step "
        "| streamed GB/s | this core's read GB/s (same size) | fraction of read bandwidth |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        low, high = r["step_range"]
        ns = r["step_s"] / r["nnz"] * 1e9
        cycles = f"{ns * clock / 1e9:.2f}" if clock else "n/a"
        streamed = r["step_bytes"] / r["step_s"]
        lines.append(
            f"| {r['n']:,} | {r['density']:g} | {r['dtype']} | {r['nnz']:,} | {r['kernel']} "
            f"| {r['step_s'] * 1e6:.1f} [{low * 1e6:.1f}-{high * 1e6:.1f}] | {ns:.3f} | {cycles} "
            f"| {r['step_bytes'] / 1e6:.2f} MB | {streamed / 1e9:.1f} | {r['read_bw'] / 1e9:.1f} "
            f"| {streamed / r['read_bw']:.0%} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="two small cases, three repeats")
    parser.add_argument("--out", metavar="FILE.md")
    args = parser.parse_args(argv)
    settings.parallel_min_work = settings.parallel_min_work_float64 = 1 << 62  # one core
    cases = ((300, 0.1), (1000, 0.02)) if args.quick else CASES
    repeats = 3 if args.quick else args.repeats
    clock = _clock_hz()
    start_load = os.getloadavg()
    rows = []
    for n, density in cases:
        for dtype in (np.float64, np.float32):
            rows.append(measure(n, density, dtype, repeats))
            print(f"  {rows[-1]['n']} {rows[-1]['dtype']}: {rows[-1]['step_s'] * 1e6:.1f} µs/step", flush=True)
    text = (
        f"# One-sequence ESN step against its limits, one core, {datetime.date.today()}\n\n"
        f"Machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, clock "
        f"{clock / 1e9 if clock else float('nan'):.2f} GHz (as /proc/cpuinfo reports); load average "
        f"{start_load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. Thread CPU time, median "
        f"[range] of {repeats} runs.\n\nCommand: `python asv_bench/kernel_limits.py`\n\n" + report(rows, clock) + "\n"
    )
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
