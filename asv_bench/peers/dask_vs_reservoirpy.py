"""Many sequences and a hyper-parameter search on two cores: ours on Dask against ReservoirPy 0.4.2's own parallelism.

    python asv_bench/peers/dask_vs_reservoirpy.py            # 64 x 2000 steps, 1000 units, 16 trials, 3 repeats
    python asv_bench/peers/dask_vs_reservoirpy.py --quick    # seconds
    python asv_bench/peers/dask_vs_reservoirpy.py --units 2000 --steps 5000 --trials 32 --repeats 5

Side by side in one run, ``--repeats`` times, on the same machine:

1. **Running a batch of sequences** (``--sequences`` x ``--steps``, one input, float64
   on both sides, the same recurrent, input and bias matrices, leak 0.5):
   ReservoirPy's ``Reservoir.run(list_of_sequences, workers=2)`` (joblib) and
   ``workers=1``; ours: ``ESN.run`` on the whole batch in one process (Numba at 2
   threads) and on 2 Dask worker processes of one thread each (the model scattered once,
   ``ESN.run`` over each half of the batch, the states gathered into the driver as
   ReservoirPy returns them).
2. **A hyper-parameter search** of ``--trials`` random trials (spectral radius, leak,
   input scaling, ridge) of a one-step forecaster on a chaotic series: ours,
   ``reservoir.forecasting.tune(objective, space, client=...)`` on 2 Dask workers
   (Optuna's random sampler); ReservoirPy's ``reservoirpy.hyper.parallel_research``
   (its random search over joblib's process pool, ``n_jobs=2``, its JSON configuration
   and report files), each trial a ``Reservoir >> Ridge`` fit and forecast; and the
   same trials in a plain ``joblib.Parallel(n_jobs=2)`` loop, without its files.

Prints markdown tables: seconds and the ratio (ReservoirPy / ours) as median (min..max)
over the repeats, and the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime

import numpy as np

# reservoir (and with it Numba) is imported inside the functions: Dask's worker processes
# import this file again when they start, before their one-thread environment applies.

WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TRIAL_UNITS, TRIAL_STEPS, WASHOUT = 300, 3000, 100


def spread(values) -> str:
    return f"{statistics.median(values):.3g} ({min(values):.3g}..{max(values):.3g})"


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def local_client(workers: int):
    from distributed import Client, LocalCluster

    return Client(
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=dict(WORKER_ENV)
        )
    )


# ---------------------------------------------------------------------- 1. a batch of sequences
def _run_half(model, inputs):
    return model.reset().run(inputs)


def batch_runs(units, u, repeats: int, client) -> dict:
    from reservoirpy.nodes import Reservoir

    import reservoir as rs

    model = rs.ESN(units, seed=0, dtype="float64", spectral_radius=0.9, leak_rate=0.5)
    model.run(u[:1, :2])  # draws the input weights; compiles
    W, W_in, bias = model.W.tocsr(), model.W_in, model.bias
    sequences = [np.asarray(sequence) for sequence in u]
    shared = client.scatter(model, broadcast=True)  # the weights travel once per worker
    halves = [u[: len(u) // 2], u[len(u) // 2 :]]
    client.gather(client.map(_run_half, [shared] * 2, [half[:, :10] for half in halves], pure=False))  # compile
    times = {"ours, one process": [], "ours, 2 Dask workers": [], "ReservoirPy workers=1": [], "workers=2": []}
    check = None
    for _ in range(repeats):
        times["ours, one process"].append(timed(lambda: model.reset().run(u)))
        times["ours, 2 Dask workers"].append(
            timed(lambda: client.gather(client.map(_run_half, [shared] * 2, halves, pure=False)))
        )
        for workers, label in ((1, "ReservoirPy workers=1"), (2, "workers=2")):
            node = Reservoir(W=W, Win=W_in, bias=bias, lr=0.5)
            node.run(sequences[0][:5])  # initialise
            node.reset()
            started = time.perf_counter()
            states = node.run(sequences, workers=workers)
            times[label].append(time.perf_counter() - started)
            check = states
    ours = model.reset().run(u)
    times["largest difference"] = float(np.max(np.abs(np.stack(check) - ours)))
    return times


# ---------------------------------------------------------------------- 2. a hyper-parameter search
def chaotic_series(steps: int) -> np.ndarray:
    """Logistic-map driven sine: a cheap, deterministic series with some memory."""
    x = np.empty(steps)
    value = 0.3
    for t in range(steps):
        value = 3.9 * value * (1 - value)
        x[t] = value
    return np.convolve(x, np.ones(5) / 5, mode="same")


SPACE = {
    "spectral_radius": ("float", 0.5, 1.3),
    "leak_rate": ("float", 0.1, 1.0),
    "input_scaling": ("float", 0.1, 2.0, "log"),
    "alpha": ("float", 1e-8, 1e-2, "log"),
}


def draw_trials(count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(count):
        trials.append(
            {
                "spectral_radius": rng.uniform(0.5, 1.3),
                "leak_rate": rng.uniform(0.1, 1.0),
                "input_scaling": float(np.exp(rng.uniform(np.log(0.1), np.log(2.0)))),
                "alpha": float(np.exp(rng.uniform(np.log(1e-8), np.log(1e-2)))),
            }
        )
    return trials


def nrmse(prediction, truth) -> float:
    return float(np.sqrt(np.mean((prediction - truth) ** 2)) / np.std(truth))


class OurObjective:
    """One trial of ours: ESN states, ridge on the first 80 %, one-step error on the rest."""

    def __init__(self, series):
        self.series = series

    def __call__(self, params, seed):
        import reservoir as rs
        from reservoir.readouts import Ridge

        u, y = self.series[:-1, None], self.series[1:, None]
        split = int(0.8 * len(u))
        esn = rs.ESN(
            TRIAL_UNITS,
            seed=seed,
            dtype="float64",
            spectral_radius=params["spectral_radius"],
            leak_rate=params["leak_rate"],
            input_scaling=params["input_scaling"],
        )
        states = esn.run(u)
        readout = Ridge(alpha=params["alpha"]).fit(states[WASHOUT:split], y[WASHOUT:split])
        return nrmse(readout.predict(states[split:]), y[split:])


def reservoirpy_trial(series, params, seed) -> float:
    from reservoirpy.nodes import Reservoir
    from reservoirpy.nodes import Ridge as PeerRidge

    u, y = series[:-1, None], series[1:, None]
    split = int(0.8 * len(u))
    reservoir = Reservoir(
        TRIAL_UNITS,
        sr=params["spectral_radius"],
        lr=params["leak_rate"],
        input_scaling=params["input_scaling"],
        rc_connectivity=max(0.01, 10 / TRIAL_UNITS),
        seed=seed,
    )
    model = reservoir >> PeerRidge(ridge=params["alpha"])
    model.fit(u[:split], y[:split], warmup=WASHOUT)
    return nrmse(model.run(u[split:]), y[split:])


def reservoirpy_objective(dataset, config, *, spectral_radius, leak_rate, input_scaling, alpha):
    """The trial in the form reservoirpy.hyper.parallel_research calls (keyword-only parameters)."""
    params = dict(spectral_radius=spectral_radius, leak_rate=leak_rate, input_scaling=input_scaling, alpha=alpha)
    return {"loss": reservoirpy_trial(dataset, params, 0)}


def parallel_research_run(series, trials: int, seed: int, directory: str) -> float:
    """ReservoirPy's own parallel random search; returns its best loss."""
    import json

    from reservoirpy.hyper import parallel_research

    config = {
        "exp": f"search-{seed}",
        "hp_max_evals": trials,
        "hp_method": "random",
        "seed": seed,
        "hp_space": {
            "spectral_radius": ["uniform", 0.5, 1.3],
            "leak_rate": ["uniform", 0.1, 1.0],
            "input_scaling": ["loguniform", 0.1, 2.0],
            "alpha": ["loguniform", 1e-8, 1e-2],
        },
    }
    path = os.path.join(directory, f"search-{seed}.config.json")
    with open(path, "w") as handle:
        json.dump(config, handle)
    _, best_loss = parallel_research(reservoirpy_objective, series, path, report_path=directory, n_jobs=2)
    return float(best_loss)


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def search_runs(trials: int, repeats: int, client) -> dict:
    import optuna
    from joblib import Parallel, delayed

    from reservoir.forecasting import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    series = chaotic_series(TRIAL_STEPS + 1)
    objective = OurObjective(series)
    client.run(_quiet_optuna)
    tune(objective, SPACE, n_trials=2, client=client, sampler=optuna.samplers.RandomSampler(seed=0))  # warm
    Parallel(n_jobs=2)(delayed(reservoirpy_trial)(series, p, 0) for p in draw_trials(2, 0))  # warm the pool
    times = {"ours": [], "parallel_research": [], "joblib": []}
    best = {"ours": [], "parallel_research": [], "joblib": []}
    with tempfile.TemporaryDirectory(prefix="rpy_search_") as directory:
        for repeat in range(repeats):
            started = time.perf_counter()
            study = tune(
                objective, SPACE, n_trials=trials, client=client, sampler=optuna.samplers.RandomSampler(seed=repeat)
            )
            times["ours"].append(time.perf_counter() - started)
            best["ours"].append(study.best_value)
            started = time.perf_counter()
            best["parallel_research"].append(parallel_research_run(series, trials, repeat, directory))
            times["parallel_research"].append(time.perf_counter() - started)
            drawn = draw_trials(trials, repeat)
            started = time.perf_counter()
            scores = Parallel(n_jobs=2)(delayed(reservoirpy_trial)(series, p, 0) for p in drawn)
            times["joblib"].append(time.perf_counter() - started)
            best["joblib"].append(min(scores))
    return {"times": times, "best": best, "trials_done": len(study.trials)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--sequences", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run of seconds")
    args = parser.parse_args(argv)
    global TRIAL_UNITS, TRIAL_STEPS
    if args.quick:
        args.units, args.sequences, args.steps, args.trials, args.repeats = 100, 8, 200, 4, 1
        TRIAL_UNITS, TRIAL_STEPS = 50, 400
    import reservoir as rs

    warnings.filterwarnings("ignore", category=rs.ReservoirWarning)
    print(
        f"# dask_vs_reservoirpy: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    arguments = sys.argv[1:] if argv is None else argv
    print(f"command: {' '.join(['python asv_bench/peers/dask_vs_reservoirpy.py', *arguments])}")
    print(f"load average at start (1, 5, 15 min): {load()}\n")
    rng = np.random.default_rng(1)
    u = rng.uniform(-1, 1, (args.sequences, args.steps, 1))
    client = local_client(2)
    try:
        runs = batch_runs(args.units, u, args.repeats, client)
        search = search_runs(args.trials, args.repeats, client)
    finally:
        client.close()
    print(f"## {args.sequences} sequences x {args.steps} steps, {args.units} units, float64, {args.repeats} repeats\n")
    print("| | seconds | ReservoirPy workers=2 / this |")
    print("|---|---|---|")
    peer = runs["workers=2"]
    for label in ("ours, one process", "ours, 2 Dask workers", "ReservoirPy workers=1", "workers=2"):
        name = "ReservoirPy workers=2" if label == "workers=2" else label
        ratio = [p / t for p, t in zip(peer, runs[label])]
        print(f"| {name} | {spread(runs[label])} | {spread(ratio)} |")
    print(f"\nlargest state difference, ReservoirPy vs ours (same matrices): {runs['largest difference']:.2e}\n")
    print(
        f"## hyper-parameter search: {args.trials} random trials, {TRIAL_UNITS} units, {TRIAL_STEPS} steps, 2 workers\n"
    )
    print("| | seconds | best NRMSE | ReservoirPy / ours (time) |")
    print("|---|---|---|---|")
    times, best = search["times"], search["best"]
    print(f"| ours: tune(client=...), Optuna random | {spread(times['ours'])} | {spread(best['ours'])} | 1 |")
    for key, label in (
        ("parallel_research", "ReservoirPy: reservoirpy.hyper.parallel_research(n_jobs=2), random"),
        ("joblib", "ReservoirPy: the same trials in joblib.Parallel(n_jobs=2)"),
    ):
        ratio = [p / o for p, o in zip(times[key], times["ours"])]
        print(f"| {label} | {spread(times[key])} | {spread(best[key])} | {spread(ratio)} |")
    print(f"\nload average at end (1, 5, 15 min): {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
