#!/usr/bin/env python
"""Intrinsic plasticity and ES2N: reservoir-engine against ReservoirPy 0.4.2, side by side.

Both libraries run on the same matrices (ours, passed to ReservoirPy's nodes through
``W``/``Win``/``bias``/``O``) and the same inputs, in one process, taking turns in
rotated order for ``--repeats`` rounds; each cell is the median time per step and
the ratio is ReservoirPy's time over ours, with the range of the per-round ratios.
The largest difference between the two libraries' results is printed beside (the
same arithmetic, so about 1e-15 in float64).

Three parts per reservoir size:

* ``IP fit``: ``IPReservoir.fit`` over one sequence, one epoch (ReservoirPy steps
  its node in Python, one call per step; ours is one compiled call).
* ``IP run``: running the adapted reservoir.
* ``ES2N run``: one sequence (the dense orthogonal ``O`` dominates from about 100 units).

Usage::

    python asv_bench/peers/plasticity_vs_reservoirpy.py                  # 100 and 500 units
    python asv_bench/peers/plasticity_vs_reservoirpy.py --units 100 --steps 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from importlib.metadata import version

import numpy as np


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _cases(units: int, steps: int, seed: int):
    """(name, ours, theirs, compare) for each part, on one set of matrices."""
    from reservoirpy.nodes import ES2N as RpyES2N
    from reservoirpy.nodes import IPReservoir as RpyIP

    from reservoir.models import ES2N, IPReservoir

    rng = np.random.default_rng(seed)
    u = rng.uniform(-1, 1, (steps, 1))
    settings = dict(mu=0.0, sigma=0.2, learning_rate=5e-3, epochs=1, leak_rate=1.0)

    ours_ip = IPReservoir(units, seed=seed, dtype="float64", backend="numba", **settings)
    ours_ip.fit(u[:2]).run(u[:2])  # draws W_in and bias; compiles the kernels

    def new_rpy_ip():
        node = RpyIP(
            W=ours_ip.W,
            Win=ours_ip.W_in,
            bias=ours_ip.bias,
            lr=1.0,
            mu=0.0,
            sigma=0.2,
            learning_rate=5e-3,
            epochs=1,
        )
        node.initialize(u[:1])
        return node

    def new_ours_ip():
        return IPReservoir.from_weights(ours_ip.W, ours_ip.W_in, ours_ip.bias, backend="numba", **settings)

    fitted = {}

    def ours_fit():
        fitted["ours"] = new_ours_ip().fit(u)

    def rpy_fit():
        fitted["rpy"] = new_rpy_ip().fit(u)

    def compare_fit():
        return float(np.abs(fitted["ours"].gain - fitted["rpy"].a).max())

    ran = {}

    def ours_run():
        ran["ours"] = fitted["ours"].reset().run(u)

    def rpy_run():
        node = fitted["rpy"]
        node.reset()
        ran["rpy"] = node.run(u)

    def compare_run():
        return float(np.abs(ran["ours"] - ran["rpy"]).max())

    es2n = ES2N(units, proximity=0.1, seed=seed, dtype="float64", backend="numba")
    es2n.run(u[:2])
    rpy_es2n = RpyES2N(W=es2n.W, Win=es2n.W_in, bias=es2n.bias, O=es2n.O, proximity=0.1)
    rpy_es2n.run(u[:2])

    def ours_es2n():
        ran["ours_es2n"] = es2n.reset().run(u)

    def rpy_es2n_run():
        rpy_es2n.reset()
        ran["rpy_es2n"] = rpy_es2n.run(u)

    def compare_es2n():
        return float(np.abs(ran["ours_es2n"] - ran["rpy_es2n"]).max())

    return [
        ("IP fit", ours_fit, rpy_fit, compare_fit),
        ("IP run", ours_run, rpy_run, compare_run),
        ("ES2N run", ours_es2n, rpy_es2n_run, compare_es2n),
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(
        f"# IP and ES2N vs ReservoirPy {version('reservoirpy')} — {datetime.date.today()}, "
        f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"float64, 1 input, {args.steps} steps, median of {args.repeats} rotated rounds\n")
    print("| units | part | ours (µs/step) | ReservoirPy (µs/step) | ratio (median) | ratio range | max diff |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for units in args.units:
        for name, ours, theirs, compare in _cases(units, args.steps, args.seed):
            ours()
            theirs()  # warm-up round, untimed
            times = {"ours": [], "theirs": []}
            for round_ in range(args.repeats):
                order = [("ours", ours), ("theirs", theirs)]
                for label, function in order if round_ % 2 == 0 else order[::-1]:
                    times[label].append(_timed(function))
            ratios = [t / o for o, t in zip(times["ours"], times["theirs"])]
            per_step = {k: 1e6 * statistics.median(v) / args.steps for k, v in times.items()}
            print(
                f"| {units} | {name} | {per_step['ours']:.2f} | {per_step['theirs']:.1f} | "
                f"{statistics.median(ratios):.1f}x | {min(ratios):.1f}-{max(ratios):.1f}x | {compare():.1e} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
