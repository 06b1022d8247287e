"""Distributed figures: strong scaling of both routes, overhead against one process, scheduler cost.

    python asv_bench/distributed_scaling.py            # full: 64 x 5000 steps at 2000 and 10000 units
    python asv_bench/distributed_scaling.py --quick    # seconds: small sizes, one repeat
    python asv_bench/distributed_scaling.py --units 2000 --steps 5000 --repeats 3 --overhead-workers 8

The reservoir is ``ESN(units, dtype="float32")`` at the default density
(``max(0.01, 10 / units)``), leak 0.5, spectral radius 0.9, one input, one target.
Every Dask worker is one process with one thread (``threads_per_worker=1`` and
``NUMBA_NUM_THREADS=1``, one BLAS thread), so 1 worker against 2 is the same code on one
core against two. For each size, side by side in one run and ``--repeats`` times:

* one process, the best batched run of the same work: ``ESN.run`` over all sequences at
  once in memory, with Numba at 1 and at 2 threads (the faster counts), and the same
  process streaming the states into the ridge statistics (the memory route's work,
  ``iter_states`` + ``GramAccumulator``), at 1 and 2 threads;
* the states-to-shards route (``harvest``, one shard per worker, index written) and the
  memory-only route (``fit_ridge(model, inputs, targets)``, one task per worker, Gram
  statistics reduced), each on 1 and on 2 worker processes.

Then, on ``--overhead-workers`` worker processes: the scheduler's cost per trivial task
(tasks per second), per tiny shard written (a 10-unit ESN, one sequence per shard) and
per tiny memory-route task. The load average is printed at the start and the end: on a
shared machine the figures are only as good as the machine was quiet.
"""

from __future__ import annotations

import os

# Before Numba loads: the driver may use 2 threads (set per measurement); the workers get 1.
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import argparse  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import reservoir as rs  # noqa: E402
from reservoir.distributed import fit_ridge, harvest  # noqa: E402
from reservoir.distributed.memory import sequence_statistics  # noqa: E402

ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
WASHOUT = 100


def spread(values) -> str:
    return f"{statistics.median(values):.3g} ({min(values):.3g}..{max(values):.3g})"


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def make_model(units: int):
    return rs.ESN(units, seed=0, dtype="float32", spectral_radius=0.9, leak_rate=0.5)


def local_client(workers: int):
    """A LocalCluster of `workers` processes, one thread each (Numba and BLAS included)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=dict(ONE_THREAD)
    )
    return Client(cluster)


def single_process(units, u, y, repeats: int) -> dict:
    """Seconds of the whole batch in one process, per Numba/BLAS thread count."""
    model = make_model(units)
    model.run(u[:, :10])  # compile, draw the input weights
    result = {}
    for threads in (1, 2):
        numba.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            result[f"run {threads}"] = [timed(lambda: model.reset().run(u)) for _ in range(repeats)]
            result[f"statistics {threads}"] = [
                timed(lambda: sequence_statistics(model, u, y, WASHOUT, None, None, False)) for _ in range(repeats)
            ]
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return result


def distributed_runs(units, u, y, folder: Path, repeats: int, workers: int) -> dict:
    """Seconds of both routes on `workers` worker processes, one task per worker."""
    client = local_client(workers)
    try:
        per_task = -(-u.shape[0] // workers)
        model = make_model(units)  # built outside the timings, as in single_process
        warm = folder / f"warm-{workers}"  # compile in the workers (and load the kernel cache)
        harvest(model, u[:, :10], directory=warm, client=client, sequences_per_task=per_task, progress=False)
        fit_ridge(model, u[:, : 2 * WASHOUT], y[:, : 2 * WASHOUT], client=client, washout=WASHOUT)
        shutil.rmtree(warm)
        shards, memory = [], []
        for repeat in range(repeats):
            directory = folder / f"w{workers}-{repeat}"
            shards.append(
                timed(
                    lambda: harvest(
                        model, u, directory=directory, client=client, sequences_per_task=per_task, progress=False
                    )
                )
            )
            shutil.rmtree(directory)
            memory.append(
                timed(
                    lambda: fit_ridge(
                        model,
                        u,
                        y,
                        client=client,
                        washout=WASHOUT,
                        alpha=[1e-6, 1e-3],
                        validation=0.2,
                        sequences_per_task=per_task,
                    )
                )
            )
        return {"shards": shards, "memory": memory}
    finally:
        client.close()


def _noop(value):
    return value


def scheduler_cost(folder: Path, workers: int, tasks: int, shards: int) -> dict:
    client = local_client(workers)
    try:
        client.gather(client.map(_noop, range(workers * 4), pure=False))  # warm
        task_seconds = timed(lambda: client.gather(client.map(_noop, range(tasks), pure=False)))
        rng = np.random.default_rng(0)
        u = rng.uniform(-1, 1, (shards, 10, 1))
        tiny = rs.ESN(10, seed=0, dtype="float32")
        harvest(tiny, u[:workers], directory=folder / "tiny-warm", client=client, sequences_per_task=1, progress=False)
        shard_seconds = timed(
            lambda: harvest(tiny, u, directory=folder / "tiny", client=client, sequences_per_task=1, progress=False)
        )
        fit_ridge(tiny, u[:workers], u[:workers], client=client, sequences_per_task=1)
        memory_seconds = timed(lambda: fit_ridge(tiny, u, u, client=client, sequences_per_task=1))
    finally:
        client.close()
    return {
        "tasks_per_second": tasks / task_seconds,
        "seconds_per_task": task_seconds / tasks,
        "seconds_per_shard": shard_seconds / shards,
        "seconds_per_statistics_task": memory_seconds / shards,
    }


def overhead(distributed: list, single: list) -> list:
    return [100 * (d / s - 1) for d, s in zip(distributed, single)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--sequences", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the shards go (default: a temporary folder)")
    parser.add_argument("--overhead-workers", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=2000, help="trivial tasks timed for the scheduler's cost")
    parser.add_argument("--shards", type=int, default=64, help="tiny shards (and tiny statistics tasks) timed")
    parser.add_argument("--no-scheduler-cost", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run of seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.units, args.sequences, args.steps, args.repeats = [100], 8, 400, 1
        args.overhead_workers, args.tasks, args.shards = 2, 100, 8
    folder = Path(tempfile.mkdtemp(prefix="distributed-scaling-", dir=args.dir))
    print(
        f"# distributed_scaling: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, float32 reservoir, default density"
    )
    print(
        f"command: {' '.join(['python asv_bench/distributed_scaling.py', *(sys.argv[1:] if argv is None else argv)])}"
    )
    print(f"load average at start (1, 5, 15 min): {load()}\n")
    print("Seconds, median (min..max) of the repeats; overhead = distributed time / best one-process time - 1.\n")
    print(
        "| units | sequences x steps | one process: run, 1 / 2 threads (s) "
        "| one process: statistics, 1 / 2 threads (s) | shards: 1 worker / 2 workers (s) "
        "| memory: 1 worker / 2 workers (s) | speed-up 2 vs 1 worker: shards / memory "
        "| overhead 1 worker vs one process at 1 thread: shards / memory "
        "| overhead 2 workers vs best one process: shards / memory |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(1)
    for units in args.units:
        u = rng.uniform(-1, 1, (args.sequences, args.steps, 1)).astype(np.float32)
        y = np.roll(u, -1, axis=1).astype(np.float64)
        single = single_process(units, u, y, args.repeats)
        one = distributed_runs(units, u, y, folder, args.repeats, 1)
        two = distributed_runs(units, u, y, folder, args.repeats, 2)
        best_run = min((single["run 1"], single["run 2"]), key=statistics.median)
        best_statistics = min((single["statistics 1"], single["statistics 2"]), key=statistics.median)
        speedup = {route: [a / b for a, b in zip(one[route], two[route])] for route in ("shards", "memory")}
        print(
            f"| {units} | {args.sequences} x {args.steps} | {spread(single['run 1'])} / {spread(single['run 2'])} "
            f"| {spread(single['statistics 1'])} / {spread(single['statistics 2'])} "
            f"| {spread(one['shards'])} / {spread(two['shards'])} | {spread(one['memory'])} / {spread(two['memory'])} "
            f"| {spread(speedup['shards'])} / {spread(speedup['memory'])} "
            f"| {spread(overhead(one['shards'], single['run 1']))} % "
            f"/ {spread(overhead(one['memory'], single['statistics 1']))} % "
            f"| {spread(overhead(two['shards'], best_run))} % / {spread(overhead(two['memory'], best_statistics))} % |",
            flush=True,
        )
    if not args.no_scheduler_cost:
        cost = scheduler_cost(folder, args.overhead_workers, args.tasks, args.shards)
        print(
            f"\nscheduler, {args.overhead_workers} worker processes on {os.cpu_count()} cores: "
            f"{cost['tasks_per_second']:.0f} trivial tasks/s ({1e3 * cost['seconds_per_task']:.2f} ms per task, "
            f"{args.tasks} tasks); {1e3 * cost['seconds_per_shard']:.1f} ms per tiny shard written ({args.shards} "
            f"shards of one 10-step sequence, 10-unit ESN, index included); "
            f"{1e3 * cost['seconds_per_statistics_task']:.1f} ms per tiny memory-route task ({args.shards} tasks, "
            "reduction and solve included)"
        )
    shutil.rmtree(folder, ignore_errors=True)
    print(f"\nload average at end (1, 5, 15 min): {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
