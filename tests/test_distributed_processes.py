"""reservoir.distributed on a scheduler and workers started as separate processes (``dask
scheduler``, ``dask worker``) on 127.0.0.1, connected by address; a worker SIGKILLed in
the middle of a harvest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

import h5py  # noqa: E402

from reservoir import ESN, StateStore  # noqa: E402
from reservoir.distributed import connect, fit_ridge, harvest  # noqa: E402
from reservoir.readouts import Ridge  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _dask(*arguments, log):
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "NUMBA_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_" + arguments[0], *arguments[1:]],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler process and a worker process with two worker subprocesses (each under a nanny)."""
    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    log = open(folder / "dask.log", "wb")
    processes = [
        _dask(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
            log=log,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        processes.append(
            _dask(
                "worker",
                address,
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                log=log,
            )
        )
        client = connect(address, timeout=30)
        client.wait_for_workers(2, timeout=90)
        yield address, client
        client.close()
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def test_connected_by_address_harvest_and_fit(cluster, tmp_path):
    address, _ = cluster
    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, (4, 200, 1))
    y = np.roll(u, -1, axis=1)
    model = ESN(50, seed=4, dtype="float64")
    states = ESN(50, seed=4, dtype="float64").run(u)
    client = connect(address)  # a second client on the same scheduler, by its address
    try:
        result = harvest(model, u, targets=y, directory=tmp_path / "shards", client=client, progress=False)
        readout = fit_ridge(result, client=client, alpha=1e-3, washout=20)
    finally:
        client.close()
    with result.open() as store:
        np.testing.assert_allclose(store["states"].states[...], states, rtol=1e-12, atol=1e-14)
    single = Ridge(alpha=1e-3).fit(states[:, 20:], y[:, 20:])
    assert np.abs(readout.coef_ - single.coef_).max() / np.abs(single.coef_).max() < 1e-10


def _steps_done(path) -> int:
    try:
        with h5py.File(path, "r", locking=False) as file:
            return int(file["states/progress"][0]) if "states/progress" in file else 0
    except (OSError, KeyError):  # not created yet, or caught between two writes
        return 0


def test_a_worker_killed_mid_harvest_loses_nothing(cluster, tmp_path):
    _, client = cluster
    steps, shards = 12_000, 4
    rng = np.random.default_rng(1)
    u = rng.uniform(-1, 1, (shards, steps, 1))
    expected = [ESN(200, seed=7, dtype="float64").run(u[s : s + 1]) for s in range(shards)]  # one process
    directory = tmp_path / "shards"
    outcome = {}

    def run():
        try:
            outcome["result"] = harvest(
                ESN(200, seed=7, dtype="float64"),
                u,
                directory=directory,
                client=client,
                sequences_per_task=1,
                checkpoint_every=100,
                progress=False,
            )
        except BaseException as error:  # reported by the test below
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        for shard in range(shards):
            done = _steps_done(directory / f"shard-{shard:05d}.h5")
            if 0 < done < steps // 2:
                key_part = f"-{shard:05d}-"
                for worker, keys in client.processing().items():
                    if any(key_part in str(key) for key in keys):
                        pid = client.run(os.getpid, workers=[worker])[worker]
                        os.kill(pid, signal.SIGKILL)
                        killed = (shard, done, pid)
                        break
            if killed:
                break
        time.sleep(0.02)
    thread.join(timeout=180)
    assert killed is not None, "the harvest finished before a worker could be killed mid-shard"
    assert "error" not in outcome, outcome.get("error")
    shard, done_at_kill, pid = killed
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    result = outcome["result"]
    assert sorted(path.name for path in directory.glob("shard-*.h5")) == [f"shard-{s:05d}.h5" for s in range(shards)]
    for s in range(shards):
        with StateStore(directory / f"shard-{s:05d}.h5", "r") as store:
            run = store["states"]
            assert run.complete
            np.testing.assert_array_equal(run.states[...], expected[s])  # bit for bit
    with result.open() as store:
        np.testing.assert_array_equal(store["states"].states[...], np.concatenate(expected))


def test_a_worker_killed_during_the_memory_only_fit_gives_the_same_readout(cluster):
    _, client = cluster
    rng = np.random.default_rng(2)
    u = rng.uniform(-1, 1, (4, 20_000, 1))
    y = np.roll(u, -1, axis=1)
    states = ESN(150, seed=3, dtype="float64").run(u)
    reference = Ridge(alpha=1e-5).fit(states[:, 50:], y[:, 50:])
    outcome = {}

    def run():
        try:
            outcome["result"] = fit_ridge(
                ESN(150, seed=3, dtype="float64"), u, y, client=client, alpha=1e-5, washout=50, sequences_per_task=1
            )
        except BaseException as error:  # reported by the test below
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if any("reservoir-statistics" in str(key) for key in keys):
                time.sleep(0.2)  # into the task
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                killed = pid
                break
        time.sleep(0.01)
    thread.join(timeout=180)
    assert killed is not None, "the fit finished before a worker could be killed"
    assert "error" not in outcome, outcome.get("error")
    with pytest.raises(ProcessLookupError):
        os.kill(killed, 0)
    readout = outcome["result"]
    assert np.abs(readout.coef_ - reference.coef_).max() / np.abs(reference.coef_).max() < 1e-10
    client.wait_for_workers(2, timeout=90)  # the nanny restarts the killed worker for the next test
