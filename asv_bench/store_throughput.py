"""State store figures, side by side: write throughput, cost of storing, peak memory of a long run.

    python asv_bench/store_throughput.py [--units 20000] [--steps 5000] [--long-steps 50000] [--dir /tmp]

Prints a markdown table. Each stored run is timed against the same run kept in
memory, in the same process and order, so the slowdown is a ratio measured side by
side. The long run is done in a child process so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

import reservoir as rs

LONG_RUN = """
import sys, numpy as np, reservoir as rs
def status(key):  # kB from /proc/self/status
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key))
units, steps, density, path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
esn = rs.ESN(units, density=density, seed=0)
u = np.random.default_rng(0).uniform(-1, 1, (steps, 1)).astype(np.float32)
esn.run(u[:10]); esn.reset()
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
baseline = status("VmRSS:")
with rs.StateStore(path, "w") as store:
    run = esn.run(u, store=store, name="long", checkpoint_every=1000)
    assert run.complete
print((status("VmHWM:") - baseline) / 1024, baseline / 1024)
"""


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--density", type=float, default=0.001)
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--long-steps", type=int, default=50_000)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the HDF5 files go (removed after)")
    args = parser.parse_args()

    esn = rs.ESN(args.units, density=args.density, seed=0)
    u = np.random.default_rng(0).uniform(-1, 1, (args.steps, 1)).astype(np.float32)
    esn.run(u[:10])
    megabytes = args.steps * args.units * 4 / 1e6
    rows = []

    def in_memory():  # best of two: the first touch of fresh memory is slow on a VM
        return min(timed(lambda: esn.reset().run(u))[0] for _ in range(2))

    rows.append(("in memory (no store)", in_memory(), None, None))
    for label, options in (
        ("store, float32", {}),
        ("store, float32, lzf", {"compression": "lzf"}),
        ("store, float32, gzip", {"compression": "gzip"}),
        ("store, float16", {"storage_dtype": "float16"}),
    ):
        path = Path(args.dir) / f"store-figures-{os.getpid()}.h5"
        with rs.StateStore(path, "w") as store:
            seconds, _ = timed(lambda: esn.reset().run(u, store=store, name="run", checkpoint_every=1000, **options))
        size = path.stat().st_size / 1e6
        path.unlink()
        rows.append((label, seconds, seconds / in_memory(), size))  # the same run in memory, beside it

    print(
        f"# State store, {date.today()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"ESN n = {args.units:,}, density {args.density}, float32, T = {args.steps:,} "
        f"({megabytes:,.0f} MB of states), checkpoint every 1000 steps\n"
    )
    print("| run | seconds | states MB/s | slowdown vs in memory | file MB |")
    print("|---|---|---|---|---|")
    for label, seconds, slowdown, size in rows:
        print(
            f"| {label} | {seconds:.2f} | {megabytes / seconds:,.0f} | "
            f"{'-' if slowdown is None else f'{slowdown:.2f}x'} | {'-' if size is None else f'{size:,.0f}'} |"
        )

    path = Path(args.dir) / f"store-long-{os.getpid()}.h5"
    result = subprocess.run(
        [sys.executable, "-c", LONG_RUN, str(args.units), str(args.long_steps), str(args.density), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    above, baseline = (float(v) for v in result.stdout.split())
    size = path.stat().st_size / 1e9
    path.unlink()
    print(
        f"\nLong run streamed to disk: n = {args.units:,}, T = {args.long_steps:,} ({size:.1f} GB file): "
        f"peak RSS {above:,.0f} MB above the process baseline ({baseline:,.0f} MB after imports and set-up)."
    )


if __name__ == "__main__":
    main()
