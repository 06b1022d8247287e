"""Time per ESN step of one large reservoir, one sequence and a batch, in this process.

    python asv_bench/step_time.py [--units 10000] [--density 0.01] [--batch 32] [--repeats 5]

Prints the median and range over `repeats` runs (each after a warm-up run that
compiles or loads the kernels) of the time per step, in ms. Run two checkouts one
after the other, alternating, to compare them on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import reservoir as rs


def per_step(esn, u, repeats):
    esn.reset()
    esn.run(u)  # compiles or loads the kernels, builds the layouts
    times = []
    for _ in range(repeats):
        esn.reset()
        start = time.perf_counter()
        esn.run(u)
        times.append((time.perf_counter() - start) / u.shape[-2] * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--density", type=float, default=0.01)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    esn = rs.ESN(args.units, density=args.density, seed=0, dtype=args.dtype, backend="numba")
    rng = np.random.default_rng(0)
    cases = [("one sequence", (args.steps, 1)), (f"batch of {args.batch}", (args.batch, args.steps // 4, 1))]
    for name, shape in cases:
        times = per_step(esn, rng.uniform(-1, 1, shape), args.repeats)
        print(f"{name:16} {statistics.median(times):8.3f} ms/step [{min(times):.3f}-{max(times):.3f}]", flush=True)


if __name__ == "__main__":
    main()
