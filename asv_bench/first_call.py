"""Time of a first script: import, build a 100-unit ESN, run it once, in a fresh process.

    python asv_bench/first_call.py [--repeats 3] [--units 100] [--steps 500]

Each case runs in its own Python process with its own empty Numba cache
(``NUMBA_CACHE_DIR`` set to a new temporary folder), so the figure includes
compiling every kernel the call needs: what a user sees right after installing.
The same process is then started again on the filled cache ("warm"): what every
later script pays. The time is measured inside the child, from before
``import reservoir`` to the end of ``run``; the interpreter's own start is left out.
Compilation notes on stderr are not shown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import time
start, cpu = time.perf_counter(), time.process_time()
import numpy as np
import reservoir as rs
esn = rs.ESN({units}, density=0.1, seed=0, dtype="{dtype}", backend="numba")
u = np.random.default_rng(0).random({shape})
esn.run(u)
print(time.perf_counter() - start, time.process_time() - cpu)
"""

CASES = [("float32", "one sequence"), ("float64", "one sequence"), ("float32", "batch of 8"), ("float64", "batch of 8")]


def timed_child(code: str, cache_dir: str) -> tuple[float, float]:
    """(wall, CPU) seconds of `code` in a fresh interpreter on the Numba cache in `cache_dir`."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    print("seconds, median [min-max]; CPU is the child's process time (less sensitive to a busy machine)")
    print(f"{'case':24} {'empty cache: wall':>22} {'CPU':>20} {'warm cache: wall':>22} {'CPU':>20}")
    for dtype, kind in CASES:
        shape = (args.steps, 1) if kind == "one sequence" else (8, args.steps, 1)
        code = CHILD.format(units=args.units, dtype=dtype, shape=shape)
        cold, warm = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache_dir:
                cold.append(timed_child(code, cache_dir))
                warm.append(timed_child(code, cache_dir))

        def show(times):
            return f"{statistics.median(times):6.2f} [{min(times):.2f}-{max(times):.2f}]"

        columns = [show([t[i] for t in runs]) for runs in (cold, warm) for i in (0, 1)]
        print(f"{dtype + ', ' + kind:24} " + " ".join(f"{c:>21}" for c in columns), flush=True)


if __name__ == "__main__":
    main()
