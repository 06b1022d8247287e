#!/usr/bin/env python
"""Composed models against ReservoirPy 0.4.2, side by side in one process, same weights.

Two models, each timed per step with both libraries taking turns in every round:

a. A deep ESN of 3 x 1,000 units (``r1 >> r2 >> r3``; recurrent density 0.01, the
   input weights between layers at ``--deep-input-density``, ReservoirPy's default
   input connectivity 0.1 by default), one sequence: ``Stack.run`` against
   ``Model.run``.
b. A 1,000-unit ESN with output feedback in generation (closed loop after
   teacher-forced training): ``FeedbackESN.predict`` against ``Model.run`` of
   ``reservoir >> readout`` with the feedback edge ``readout -(1)-> reservoir``.

Both libraries get the same matrices (ReservoirPy's as SciPy CSR where they are
sparse, as its own initialisers make them), so the outputs are compared too. Ours
also runs on the same weights in float32 (ReservoirPy computes in float64 whatever
its weights' dtype).

Usage::

    python asv_bench/peers/compose_vs_reservoirpy.py --repeats 5
    python asv_bench/peers/compose_vs_reservoirpy.py --repeats 3 --steps 200   # quicker

Timings are the median of ``--repeats`` rounds (the spread is the min and max), after
one untimed round that compiles (Numba) and initialises (ReservoirPy). Our kernels
run on one thread; ``--threads 1`` also holds NumPy's BLAS to one.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import sys
import time
from importlib.metadata import version

if __name__ == "__main__" and "--threads" in sys.argv:
    _threads = sys.argv[sys.argv.index("--threads") + 1]
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_variable] = _threads

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

UNITS = 1000


def interleaved(runners: dict, repeats: int) -> dict:
    """Seconds per round of each runner: one untimed round, then rounds in rotated order."""
    labels = list(runners)
    for label in labels:
        runners[label]()
    times = {label: [] for label in labels}
    for round_index in range(repeats):
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            gc.collect()
            start = time.perf_counter()
            runners[label]()
            times[label].append(time.perf_counter() - start)
    return times


def _rpy_reservoir(nodes, esn, extra_input=None):
    W_in = esn.W_in if extra_input is None else np.hstack([esn.W_in, extra_input])
    W_in = sp.csr_array(W_in) if np.count_nonzero(W_in) < 0.5 * W_in.size else W_in
    return nodes.Reservoir(W=sp.csr_array(esn.W), Win=W_in, bias=esn.bias, lr=esn.leak_rate)


def deep(args, rs, nodes):
    from reservoir.models import Stack

    layers = [
        rs.ESN(
            UNITS,
            seed=10 + i,
            leak_rate=0.5,
            dtype="float64",
            backend="numba",
            input_density=1.0 if i == 0 else args.deep_input_density,
        )
        for i in range(3)
    ]
    u = np.random.default_rng(0).uniform(-1, 1, (args.steps, 1))
    stack = Stack(layers, backend="numba")
    stack.run(u[:5])  # draws the input weights
    # the same weights in float32 (ReservoirPy computes in float64 whatever its weights' dtype)
    stack32 = Stack(
        [
            rs.ESN.from_weights(e.W, e.W_in, e.bias, leak_rate=e.leak_rate, dtype="float32", backend="numba")
            for e in layers
        ],
        backend="numba",
    )
    r1, r2, r3 = (_rpy_reservoir(nodes, layer) for layer in layers)
    model = r1 >> r2 >> r3
    model.run(u[:5])  # initialises the nodes

    def ours():
        stack.reset()
        return stack.run(u)

    def ours32():
        stack32.reset()
        return stack32.run(u)

    def theirs():
        for node in (r1, r2, r3):
            node.reset()
        return model.run(u)

    agreement = float(np.abs(ours()[:, -UNITS:] - theirs()).max())
    runners = {
        "reservoir-engine Stack, float64": ours,
        "ReservoirPy r1 >> r2 >> r3": theirs,
        "reservoir-engine Stack, float32": ours32,
    }
    return interleaved(runners, args.repeats), agreement


def feedback(args, rs, nodes):
    from reservoirpy.model import Model

    from reservoir.models import FeedbackESN

    t = np.arange(args.train + args.steps + 1)
    u, y = np.cos(0.13 * t)[:-1, None], (np.sin(0.21 * t) * np.cos(0.05 * t))[1:, None]
    esn = rs.ESN(UNITS, seed=20, leak_rate=0.5, spectral_radius=0.8, dtype="float64", backend="numba")
    ours_model = FeedbackESN(esn, rs.Ridge(1e-4), fb_scaling=0.5, seed=21)
    ours_model.fit(u[: args.train], y[: args.train], warmup=50)
    res = _rpy_reservoir(nodes, esn, ours_model.W_fb)
    readout = nodes.Ridge(ridge=1e-4)
    model = Model([res, readout], [(res, 0, readout), (readout, 1, res)])
    model.fit(u[: args.train], y[: args.train], warmup=50)
    test = u[args.train :]
    start_state, start_output = ours_model.state, ours_model.last_output
    buffers = {edge: buffer.copy() for edge, buffer in model.feedback_buffers.items()}
    # the same weights and readout in float32
    esn32 = rs.ESN.from_weights(esn.W, esn.W_in, esn.bias, leak_rate=esn.leak_rate, dtype="float32", backend="numba")
    model32 = FeedbackESN(esn32, ours_model.readout, n_feedback=1)
    model32.W_fb = ours_model.W_fb.astype(np.float32)

    def ours():
        ours_model.state, ours_model.last_output = start_state, start_output
        return ours_model.predict(test)

    def ours32():
        model32.state, model32.last_output = start_state, start_output
        return model32.predict(test)

    def theirs():
        res.state = {"out": start_state.copy()}
        model.feedback_buffers = {edge: buffer.copy() for edge, buffer in buffers.items()}
        return model.run(test)

    agreement = float(np.abs(ours() - theirs()).max())
    runners = {
        "reservoir-engine FeedbackESN.predict, float64": ours,
        "ReservoirPy Model.run (feedback)": theirs,
        "reservoir-engine FeedbackESN.predict, float32": ours32,
    }
    return interleaved(runners, args.repeats), agreement


def report(title, times, steps, agreement):
    ours_label, theirs_label, ours32_label = list(times)
    print(f"\n### {title}\n")
    print("| implementation | median µs / step | min | max |")
    print("|---|---|---|---|")
    for label, values in times.items():
        per_step = np.array(values) / steps * 1e6
        print(f"| {label} | {np.median(per_step):.1f} | {per_step.min():.1f} | {per_step.max():.1f} |")
    for label in (ours_label, ours32_label):
        ratios = np.array(times[theirs_label]) / np.array(times[label])
        print(
            f"\nSpeed-up of {label.split(', ')[-1]} (ReservoirPy / ours, per round): median {np.median(ratios):.1f}x, "
            f"range {ratios.min():.1f}x - {ratios.max():.1f}x (target >= 5x: "
            f"{'met' if np.median(ratios) >= 5 else 'NOT met'})."
        )
    print(f"\nLargest difference of the float64 outputs from ReservoirPy's: {agreement:.2e}.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500, help="time steps per timed run")
    parser.add_argument("--train", type=int, default=1500, help="teacher-forced steps before the feedback run")
    parser.add_argument("--deep-input-density", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=None, help="threads of BLAS and Numba (set before import)")
    args = parser.parse_args(argv)

    import reservoirpy.nodes as nodes

    import reservoir as rs

    print(f"# Composed models vs ReservoirPy {version('reservoirpy')}")
    print(
        f"\n{datetime.date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}, float64, "
        f"{args.repeats} rounds of {args.steps} steps. Command: python {' '.join(sys.argv)}"
    )
    times, agreement = deep(args, rs, nodes)
    report(
        f"a. Deep ESN, 3 x {UNITS} units (input density {args.deep_input_density} between layers)",
        times,
        args.steps,
        agreement,
    )
    times, agreement = feedback(args, rs, nodes)
    report(f"b. Output feedback, {UNITS} units, closed-loop generation", times, args.steps, agreement)


if __name__ == "__main__":
    main()
