#!/usr/bin/env python
"""Online RLS training: reservoir-engine against ReservoirPy 0.4.2 and against its own arithmetic.

Side by side in one process, on the same stream of states and targets:

a. RLS readout, n = 500 and 2000 features, one target: time per sample of
   ``reservoir.readouts.RLS.partial_fit`` (compiled loop), of ReservoirPy's
   ``RLS.partial_fit``, and of "what the arithmetic costs": the two matrix-vector
   products and the rank-1 update of P of one RLS step (``P @ x``, ``dger`` in place,
   ``P @ x``) called alone through NumPy/SciPy's BLAS, nothing else. The readout's
   time over that floor says how much is overhead; ReservoirPy's over ours is the
   speed-up.
b. FORCE-style online training of a whole ESN with output feedback (n = 500): our
   fused loop (``reservoir.models.OnlineESN``) against ReservoirPy's
   ``ESN(feedback=True).partial_fit`` on the same matrices, per step.

Timings are medians of ``--repeats`` rounds in which the implementations take turns
(rotated order), after an untimed warm-up (Numba's compilation, first-touch of the
arrays); the spread is the min-max over the rounds. Multi-threaded BLAS (OpenBLAS)
slows down many times over when another process holds a core, and so do ReservoirPy
and the BLAS floor with it; ``--threads 1`` runs BLAS and Numba on one thread each,
the steady comparison on a shared machine. The weights of both libraries are
also compared (the parity tests do it properly: tests/test_online_parity.py).

Usage::

    python asv_bench/peers/online_vs_reservoirpy.py --quick      # a smoke test
    python asv_bench/peers/online_vs_reservoirpy.py --repeats 5  # the figures
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

if "--threads" in sys.argv:  # before NumPy and Numba start their thread pools
    _threads = sys.argv[sys.argv.index("--threads") + 1]
    for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_variable] = _threads

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.linalg import blas  # noqa: E402


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _rounds(candidates: dict, repeats: int) -> dict:
    """name -> list of seconds, the candidates taking turns in rotated order."""
    names = list(candidates)
    for name in names:  # warm-up, untimed
        candidates[name]()
    times = {name: [] for name in names}
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            times[name].append(_timed(candidates[name]))
    return times


def _summary(seconds: list, steps: int) -> str:
    per_step = [s / steps * 1e6 for s in seconds]
    return f"{statistics.median(per_step):10.1f} µs  ({min(per_step):.1f}-{max(per_step):.1f})"


def blas_floor(X, Y, alpha: float):
    """The arithmetic of RLS alone: P x (gemv), the rank-1 update (dger, in place), P x (gemv)."""
    n = X.shape[1]
    P = np.asfortranarray(np.eye(n) / alpha)
    for x in X:
        Px = P @ x
        P = blas.dger(-1.0 / (1.0 + x @ Px), Px, Px, a=P, overwrite_a=1)
        P @ x
    return P


def part_a(sizes, steps_for, repeats: int, alpha: float = 1e-2) -> list[str]:
    from reservoirpy.nodes import RLS as RpyRLS

    from reservoir.readouts import RLS

    lines = [
        "| features | steps | ours (per sample) | BLAS floor | ReservoirPy | ours / floor | ReservoirPy / ours |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rng = np.random.default_rng(0)
    for n in sizes:
        steps = steps_for(n)
        X = np.tanh(rng.standard_normal((steps, n)))
        Y = np.sin(np.arange(steps) / 10.0)[:, None] + 0.1 * X[:, :1]
        holders = {}

        def ours():
            holders["ours"] = RLS(alpha=alpha, backend="numba").fit(X, Y)

        def floor():
            blas_floor(X, Y, alpha)

        def reservoirpy():
            node = RpyRLS(alpha=alpha)
            node.partial_fit(X, Y)
            holders["rpy"] = node

        times = _rounds({"ours": ours, "floor": floor, "reservoirpy": reservoirpy}, repeats)
        medians = {name: statistics.median(value) for name, value in times.items()}
        gap = np.abs(holders["ours"].coef_.T - holders["rpy"].Wout).max() / np.abs(holders["rpy"].Wout).max()
        lines.append(
            f"| {n} | {steps} | {_summary(times['ours'], steps)} | {_summary(times['floor'], steps)} | "
            f"{_summary(times['reservoirpy'], steps)} | {medians['ours'] / medians['floor']:.2f} | "
            f"{medians['reservoirpy'] / medians['ours']:.1f} |"
        )
        lines.append(f"|  |  | (weights: largest relative difference to ReservoirPy {gap:.1e}) | | | | |")
    return lines


def part_b(n: int, steps: int, repeats: int) -> list[str]:
    from reservoirpy import ESN as RpyESN
    from reservoirpy.nodes import RLS as RpyRLS
    from reservoirpy.nodes import Reservoir

    from reservoir.models import OnlineESN

    rng = np.random.default_rng(1)
    W = sp.random(n, n, density=0.02, random_state=2, data_rvs=rng.standard_normal).tocsr()
    W = W * (0.9 / abs(sp.linalg.eigs(W, k=1, return_eigenvectors=False)[0]))
    W_in, W_fb = rng.uniform(-1, 1, (n, 1)), rng.uniform(-1, 1, (n, 1))
    bias = rng.uniform(-0.5, 0.5, n)
    u, y = rng.uniform(-1, 1, (steps, 1)), np.sin(np.arange(steps) / 10.0)[:, None]

    def ours():
        model = OnlineESN.from_weights(W, W_in, bias, W_fb, leak_rate=0.5, alpha=1.0, backend="numba")
        model.train(u, y, restart=True)

    def reservoirpy():
        reservoir = Reservoir(W=W, Win=np.hstack([W_in, W_fb]), bias=bias, lr=0.5)
        RpyESN(reservoir=reservoir, readout=RpyRLS(alpha=1.0), feedback=True).partial_fit(u, y)

    times = _rounds({"ours": ours, "reservoirpy": reservoirpy}, repeats)
    ratio = statistics.median(times["reservoirpy"]) / statistics.median(times["ours"])
    return [
        "| units | steps | ours (per step) | ReservoirPy | ReservoirPy / ours |",
        "|---:|---:|---:|---:|---:|",
        f"| {n} | {steps} | {_summary(times['ours'], steps)} | {_summary(times['reservoirpy'], steps)} | {ratio:.1f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats")
    parser.add_argument("--out", help="also write the tables to this Markdown file")
    parser.add_argument(
        "--threads", type=int, help="threads for BLAS and Numba alike (set before they start); 1 is steadiest"
    )
    args = parser.parse_args()
    import numba
    import reservoirpy

    sizes = (100, 300) if args.quick else (500, 2000)
    repeats = 2 if args.quick else args.repeats
    header = [
        f"# Online RLS: reservoir-engine vs ReservoirPy {reservoirpy.__version__} "
        f"({datetime.date.today().isoformat()})",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
        f"numba {numba.__version__}, {numba.get_num_threads()} Numba threads; medians of {repeats} rounds "
        "(min-max), float64, alpha = 1e-2, one target.",
        "",
        "## a. RLS readout, time per sample",
        "",
    ]
    lines = header
    try:
        lines += part_a(sizes, lambda n: 400 if n <= 500 else 60, repeats)
    except Exception as error:  # one part failing keeps the other
        lines.append(f"part a failed: {type(error).__name__}: {error}")
    lines += ["", "## b. ESN with output feedback trained by RLS (FORCE), time per step", ""]
    try:
        lines += part_b(200 if args.quick else 500, 200 if args.quick else 400, repeats)
    except Exception as error:
        lines.append(f"part b failed: {type(error).__name__}: {error}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
