#!/usr/bin/env python
"""Ridge against GRU and LSTM readouts on NARMA-10 and NARMA-30, side by side in one process.

    python asv_bench/peers/gated_narma.py [--quick] [--seeds K] [--out FILE]

Prints markdown tables:

a. Test NRMSE and training time of three readouts on the same ESN states, for
   NARMA-10 and NARMA-30 on ESNs of 200 and 2,000 units: ridge (alpha chosen on a
   validation span, then refitted), ``GRUReadout`` and ``LSTMReadout``. Every readout
   also sees the raw input (``[state, u]`` for ridge, ``input_to_readout=True``).
   Gated readouts run for ``--seeds`` initialisation seeds on the same states: mean ±
   std of the NRMSE, mean training time.
b. Training throughput of the gated readouts (windows of 64 steps per second, in
   minibatches of 32), on the CPU and on a GPU when CuPy sees one.

Protocol. One series of 8,200 steps per task: 200 steps of washout, training on
steps 200-7,199 (the gated readouts hold out the last 10 % of that for early
stopping, ridge the last 1,000 steps to choose alpha), testing on 7,200-8,199. The
test predictions of the gated readouts come from one run over steps 200-8,199, so
that their state at the start of the test span is warmed up (ridge has no state).
NARMA-10 is ``reservoir.datasets.narma`` (Atiya & Parlos 2000). NARMA-30 uses the
coefficients of Jaeger (2003) (``rs.datasets.narma(order=30)``):
``y(t+1) = 0.2 y(t) + 0.004 y(t) Σ_{i<30} y(t-i) + 1.5 u(t-29) u(t) + 0.001``
(the NARMA-10 coefficients diverge at order 30).

Timings on a shared machine are noise at the 10-50 % level; the readouts are timed
one after the other on the same states, in the same process.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np

import reservoir as rs
from reservoir.readouts import gated
from reservoir.readouts.gated import GRUReadout, LSTMReadout

STEPS, WASHOUT, SPLIT = 8_200, 200, 7_200
ALPHAS = [1e-8, 1e-6, 1e-4, 1e-2]
# One setting for every task and size (chosen on NARMA-10 at 200 units, seed 0).
GATED = dict(hidden=32, epochs=300, learning_rate=1e-3, window=32, batch_size=8, patience=15, input_to_readout=True)


def task(order: int, steps: int, seed: int = 0):
    return rs.datasets.narma(steps, order=order, seed=seed)  # order 30: Jaeger's (2003) coefficients


def esn_states(units: int, u):
    esn = rs.ESN(units, density=min(1.0, 20 / units), spectral_radius=0.95, input_scaling=0.2, seed=0, dtype="float32")
    return esn.run(u.astype(np.float32))


def fit_ridge(features, y, washout, split, threads=None):
    """Alpha chosen on the last 1,000 training steps, then refitted on all of them (timed together).

    threads=1 runs BLAS/LAPACK on one thread (the gated readouts do that on their own for
    products of this size; see ``gated.SINGLE_THREAD_BELOW``).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        start = time.perf_counter()
        held = split - 1000
        chosen = rs.Ridge(alpha=ALPHAS).fit(
            features[washout:held], y[washout:held], validation=(features[held:split], y[held:split])
        )
        readout = rs.Ridge(alpha=chosen.alpha_).fit(features[washout:split], y[washout:split])
        return readout, time.perf_counter() - start


def warm_up():
    """One small fit of every readout first: compiled loops loaded, lazy imports done, before any timing."""
    rng = np.random.default_rng(0)
    X, y, u = (rng.standard_normal((1_400, k)).astype(np.float32) for k in (20, 1, 1))
    fit_ridge(np.concatenate([X, u], axis=1), y, 0, 1_300)
    for readout in (GRUReadout, LSTMReadout):
        readout(**dict(GATED, epochs=1)).fit(X, y, inputs=u).predict(X, inputs=u)


def compare(order: int, units: int, seeds: int, steps: int, split: int):
    u, y = task(order, steps)
    states = esn_states(units, u)
    u32 = u.astype(np.float32)
    features = np.concatenate([states, u32], axis=1)
    # Ridge timed with the default BLAS threads and with one; the faster is reported.
    (ridge, default_seconds), (_, one_thread_seconds) = (
        fit_ridge(features, y, WASHOUT, split, threads) for threads in (None, 1)
    )
    threads = "1 BLAS thread" if one_thread_seconds < default_seconds else "default BLAS threads"
    rows = [
        (
            f"ridge (alpha {ridge.alpha_:.0e}, {threads})",
            [rs.metrics.nrmse(y[split:], ridge.predict(features[split:]))],
            [min(default_seconds, one_thread_seconds)],
            [""],
        )
    ]
    for readout in (GRUReadout, LSTMReadout):
        scores, seconds, epochs = [], [], []
        for seed in range(seeds):
            model = readout(seed=seed, **GATED)
            started = time.perf_counter()
            model.fit(states[WASHOUT:split], y[WASHOUT:split], inputs=u32[WASHOUT:split])
            seconds.append(time.perf_counter() - started)
            prediction = model.predict(states[WASHOUT:], inputs=u32[WASHOUT:])[split - WASHOUT :]
            scores.append(rs.metrics.nrmse(y[split:], prediction))
            epochs.append(f"{model.n_iter_} (best {model.best_epoch_ + 1})")
        rows.append((readout.__name__, scores, seconds, epochs))
    return rows


def print_accuracy(results, seeds: int):
    print(f"\n### a. NARMA test NRMSE and training time (gated: mean ± std over {seeds} seeds)\n")
    print(f"Gated readouts: {GATED}\n")
    print("| task | ESN units | readout | test NRMSE | NRMSE / ridge's | training s | time / ridge's | epochs run |")
    print("|---|---|---|---|---|---|---|---|")
    for (order, units), rows in results.items():
        ridge_score, ridge_time = rows[0][1][0], rows[0][2][0]
        for name, scores, seconds, epochs in rows:
            spread = f" ± {np.std(scores):.3f}" if len(scores) > 1 else ""
            print(
                f"| NARMA-{order} | {units:,} | {name} | {np.mean(scores):.3f}{spread} | "
                f"{np.mean(scores) / ridge_score:.2f} | {np.mean(seconds):.2f} | "
                f"{np.mean(seconds) / ridge_time:.2g}x | {', '.join(epochs)} |"
            )


def step_throughput(readout, units: int, xp, repeats: int) -> float:
    """Windows per second of training steps (forward + backward through time + Adam) on a
    minibatch of 32 windows of 64 steps."""
    cell = readout()._cell
    rng = np.random.default_rng(0)
    params = [xp.asarray(p, dtype=np.float32) for p in gated.initial_parameters(cell, units, 32, 1, 1, rng)]
    X = xp.asarray(rng.uniform(-1, 1, (32, 64, units)), dtype=np.float32)
    Y = xp.asarray(rng.standard_normal((32, 64, 1)), dtype=np.float32)
    lengths = np.full(32, 64)
    state = gated.zero_state(cell, xp, 1, 32, 32, np.float32)
    optimizer = gated.Adam(xp, params, 1e-3)

    def step():
        _, grads, _ = gated.loss_and_gradients(cell, xp, params, X, lengths, state, Y, gated.MANY_TO_MANY)
        gated.clip_by_global_norm(xp, grads, 1.0)
        optimizer.step(params, grads)

    with gated._blas_threads(xp, 32 * 64 * (units + 32) * cell.n_gates * 32):  # as fit() sets it
        step()  # compile / warm up
        if xp is not np:
            xp.cuda.Device().synchronize()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            if xp is not np:
                xp.cuda.Device().synchronize()
            times.append(time.perf_counter() - started)
    return 32 / float(np.median(times))


def gpu_module():
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
        return cupy, cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception:  # noqa: BLE001 - no CuPy or no device: not measured
        return None, None


def print_throughput(sizes, repeats: int):
    cupy, device = gpu_module()
    print("\n### b. Training throughput: windows of 64 steps per second (minibatch 32, hidden 32, float32)\n")
    gpu_label = f"GPU ({device})" if cupy is not None else "GPU"
    print(f"| readout | state units | CPU windows/s (BLAS threads) | {gpu_label} windows/s |")
    print("|---|---|---|---|")
    for readout in (GRUReadout, LSTMReadout):
        for units in sizes:
            cpu = step_throughput(readout, units, np, repeats)
            work = 32 * 64 * (units + 32) * readout()._cell.n_gates * 32
            threads = "1" if work < gated.SINGLE_THREAD_BELOW else "default"
            gpu = (
                f"{step_throughput(readout, units, cupy, repeats):,.0f}"
                if cupy is not None
                else "not measured (no GPU)"
            )
            print(f"| {readout.__name__} | {units:,} | {cpu:,.0f} ({threads}) | {gpu} |")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short series, one seed, few epochs (a smoke test)")
    parser.add_argument("--seeds", type=int, default=3, help="initialisation seeds of the gated readouts")
    parser.add_argument("--out", help="also write the output to this file")
    args = parser.parse_args()
    if args.out:
        sys.stdout = _Tee(args.out)
    steps, split, seeds = STEPS, SPLIT, args.seeds
    if args.quick:
        steps, split, seeds = 2_400, 2_000, 1
        GATED.update(epochs=3)
    load = os.getloadavg()
    print(f"# Gated readouts vs ridge on NARMA, {datetime.date.today()}\n")
    print("|  |  |\n|---|---|")
    print(f"| CPU | {cpu_name()}, {os.cpu_count()} cores |")
    print(f"| load average at start (1/5/15 min) | {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} |")
    print(
        f"| Python, NumPy, Numba | {platform.python_version()}, {np.__version__}, "
        f"{sys.modules['numba'].__version__ if 'numba' in sys.modules else 'not loaded'} |"
    )
    print(f"| reservoir-engine | {rs.__version__} |")
    print(f"| series | {steps:,} steps: washout {WASHOUT}, train {WASHOUT}-{split - 1}, test {split}-{steps - 1} |")
    warm_up()
    results = {}
    for order in (10, 30):
        for units in (200, 2_000):
            results[(order, units)] = compare(order, units, seeds, steps, split)
    print_accuracy(results, seeds)
    print_throughput((200, 2_000), repeats=3 if args.quick else 15)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


class _Tee:
    def __init__(self, path):
        self.file, self.stdout = open(path, "w"), sys.__stdout__

    def write(self, text):
        self.file.write(text)
        self.stdout.write(text)

    def flush(self):
        self.file.flush()
        self.stdout.flush()


if __name__ == "__main__":
    main()
