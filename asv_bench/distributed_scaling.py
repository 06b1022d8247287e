"""Distributed harvest figures: strong scaling, overhead against one process, scheduler cost, ReservoirPy.

    python asv_bench/distributed_scaling.py [--units 2000 10000] [--sequences 64] [--steps 5000]
        [--repeats 3] [--dir /tmp] [--overhead-workers 8] [--no-reservoirpy]

Every worker and the single-process runs use one thread (``NUMBA_NUM_THREADS=1``, set
before Numba loads), so one worker process against two is the same code on one core
against two. For each size it times, side by side in one run and ``--repeats`` times:

* the best single-process batched run of the same work: ``ESN.run`` over all
  sequences at once, streamed into a ``StateStore`` (and the run alone, in memory);
* ``harvest`` on a ``LocalCluster`` of 1 and of 2 worker processes (one shard per
  worker, so each worker runs the batched kernel over its half), index written;
* ReservoirPy 0.4.2's ``Reservoir.run(list_of_sequences, workers=2)`` (and
  ``workers=1``) on the same matrices, float64, in memory.

Kernels are compiled (and the model sent) by a warm-up harvest before the timings.
Then, on ``--overhead-workers`` worker processes: tasks per second of no-op tasks,
and the cost per shard of a harvest of a tiny model (one sequence per shard).

Prints markdown tables (median and the spread min..max over the repeats).
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"  # before Numba loads: one thread per process, workers included

import argparse  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import reservoir as rs  # noqa: E402
from reservoir.distributed import connect, harvest  # noqa: E402


def spread(values) -> str:
    return f"{statistics.median(values):.3g} ({min(values):.3g}..{max(values):.3g})"


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def make_model(units: int):
    return rs.ESN(units, seed=0, dtype="float32", spectral_radius=0.9, leak_rate=0.5)


def single_process(units, u, folder: Path, repeats: int) -> dict:
    model = make_model(units)
    model.run(u[:, :10])  # compile
    stored, memory = [], []
    for repeat in range(repeats):
        path = folder / f"single-{repeat}.h5"
        with rs.StateStore(path, "w") as store:
            stored.append(timed(lambda: model.reset().run(u, store=store, name="states")))
        path.unlink()
        memory.append(timed(lambda: model.reset().run(u)))
    return {"stored": stored, "memory": memory}


def distributed_runs(units, u, folder: Path, repeats: int, workers: int) -> list:
    client = connect(n_workers=workers, threads_per_worker=1)
    try:
        per_task = -(-u.shape[0] // workers)
        model = make_model(units)  # built outside the timings, as in single_process
        warm = folder / f"warm-{workers}"
        harvest(model, u[:, :10], directory=warm, client=client, sequences_per_task=per_task, progress=False)
        shutil.rmtree(warm)
        times = []
        for repeat in range(repeats):
            directory = folder / f"w{workers}-{repeat}"
            times.append(
                timed(
                    lambda: harvest(
                        model,
                        u,
                        directory=directory,
                        client=client,
                        sequences_per_task=per_task,
                        progress=False,
                    )
                )
            )
            shutil.rmtree(directory)
        return times
    finally:
        client.close()


def reservoirpy_runs(units, u, repeats: int) -> dict:
    from reservoirpy.nodes import Reservoir

    model = make_model(units)
    model.run(u[:1, :2])  # draws W_in and the bias
    W = model.W.astype(np.float64).tocsr()
    sequences = [np.asarray(sequence, dtype=np.float64) for sequence in u]
    result = {}
    for workers in (1, 2):
        times = []
        for _ in range(repeats):
            node = Reservoir(W=W, Win=model.W_in.astype(np.float64), bias=model.bias.astype(np.float64), lr=0.5)
            node.run(sequences[0][:5])  # initialise
            node.reset()
            times.append(timed(lambda: node.run(sequences, workers=workers)))
        result[workers] = times
    return result


def _noop(value):
    return value


def scheduler_cost(folder: Path, workers: int, tasks: int = 2000, shards: int = 64) -> dict:
    client = connect(n_workers=workers, threads_per_worker=1)
    try:
        client.gather(client.map(_noop, range(workers * 4), pure=False))  # warm
        started = time.perf_counter()
        client.gather(client.map(_noop, range(tasks), pure=False))
        task_seconds = time.perf_counter() - started
        u = np.random.default_rng(0).uniform(-1, 1, (shards, 10, 1))
        tiny = rs.ESN(10, seed=0, dtype="float32")
        harvest(tiny, u[:workers], directory=folder / "tiny-warm", client=client, sequences_per_task=1, progress=False)
        started = time.perf_counter()
        harvest(tiny, u, directory=folder / "tiny", client=client, sequences_per_task=1, progress=False)
        shard_seconds = time.perf_counter() - started
    finally:
        client.close()
    return {
        "tasks": tasks,
        "tasks_per_second": tasks / task_seconds,
        "seconds_per_task": task_seconds / tasks,
        "shards": shards,
        "seconds_per_shard": shard_seconds / shards,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--sequences", type=int, default=64)
    parser.add_argument("--steps", type=int, nargs="+", default=[5000], help="one per --units, or one for all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the shards go (default: a temporary folder)")
    parser.add_argument("--overhead-workers", type=int, default=8)
    parser.add_argument("--no-reservoirpy", action="store_true")
    parser.add_argument("--no-scheduler-cost", action="store_true")
    args = parser.parse_args(argv)
    steps_for = dict(zip(args.units, args.steps * len(args.units) if len(args.steps) == 1 else args.steps))
    folder = Path(tempfile.mkdtemp(prefix="distributed-scaling-", dir=args.dir))
    print(
        f"# distributed_scaling: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, one thread per process"
    )
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}\n")
    print(
        "| units | sequences x steps | one process, stored (s) | one process, in memory (s) | 1 worker (s) "
        "| 2 workers (s) | speed-up 2 vs 1 | overhead 1 worker vs one process | ReservoirPy workers=1 (s) "
        "| ReservoirPy workers=2 (s) | 2 workers vs ReservoirPy workers=2 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(1)
    for units in args.units:
        steps = steps_for[units]
        u = rng.uniform(-1, 1, (args.sequences, steps, 1)).astype(np.float32)
        single = single_process(units, u, folder, args.repeats)
        one = distributed_runs(units, u, folder, args.repeats, 1)
        two = distributed_runs(units, u, folder, args.repeats, 2)
        speedups = [a / b for a, b in zip(one, two)]
        overheads = [100 * (a / b - 1) for a, b in zip(one, single["stored"])]
        if args.no_reservoirpy:
            peer = {1: [float("nan")], 2: [float("nan")]}
        else:
            peer = reservoirpy_runs(units, u, args.repeats)
        versus = [p / t for p, t in zip(peer[2], two)]
        print(
            f"| {units} | {args.sequences} x {steps} | {spread(single['stored'])} | {spread(single['memory'])} "
            f"| {spread(one)} | {spread(two)} | {spread(speedups)} | {spread(overheads)} % "
            f"| {spread(peer[1])} | {spread(peer[2])} | {spread(versus)}x faster |",
            flush=True,
        )
    if args.no_scheduler_cost:
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    cost = scheduler_cost(folder, args.overhead_workers)
    print(
        f"\nscheduler, {args.overhead_workers} worker processes on {os.cpu_count()} cores: "
        f"{cost['tasks_per_second']:.0f} no-op tasks/s ({1e3 * cost['seconds_per_task']:.2f} ms per task, "
        f"{cost['tasks']} tasks); harvest of a 10-unit ESN, one sequence of 10 steps per shard: "
        f"{1e3 * cost['seconds_per_shard']:.1f} ms per shard ({cost['shards']} shards, index included)"
    )
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
