"""Time of a first script: import, build a 100-unit ESN, run it once, in a fresh process.

    python asv_bench/first_call.py [--repeats 3] [--units 100] [--steps 500]

Each case runs in its own Python process with its own empty Numba cache
(``NUMBA_CACHE_DIR`` set to a new temporary folder), so the figure includes
compiling every kernel the call needs: what a user sees right after installing.
The same process is then started again on the filled cache ("warm"): what every
later script pays. The time is measured inside the child, from before
``import reservoir`` to the end of ``run``; the interpreter's own start is left out.
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
start = time.perf_counter()
import numpy as np
import reservoir as rs
esn = rs.ESN({units}, density=0.1, seed=0, dtype="{dtype}", backend="numba")
u = np.random.default_rng(0).random({shape})
esn.run(u)
print(time.perf_counter() - start)
"""

CASES = [("float32", "one sequence"), ("float64", "one sequence"), ("float32", "batch of 8"),
         ("float64", "batch of 8")]


def timed_child(code: str, cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    print(f"{'case':28} {'empty cache (s)':>28} {'warm cache (s)':>28}")
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
        print(f"{dtype + ', ' + kind:28} {show(cold):>28} {show(warm):>28}", flush=True)


if __name__ == "__main__":
    main()
