"""StateStore: streamed runs equal in-memory runs, resume is bit-identical, crashes lose nothing committed."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

import reservoir as rs
from reservoir.storage import FORMAT_VERSION, StoreError

BACKENDS = rs.backends.available()


def _esn(backend="numba", dtype="float64"):
    return rs.ESN(
        150, density=0.05, spectral_radius=0.9, leak_rate=0.5, bias_scaling=0.1, seed=7, dtype=dtype, backend=backend
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [None, 3])
def test_streamed_run_equals_in_memory_run(tmp_path, rng, backend, batch):
    u = rng.uniform(-1, 1, (250, 2) if batch is None else (batch, 250, 2))
    expected = _esn(backend).run(u)
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        run = _esn(backend).run(u, store=store, name="train", checkpoint_every=64, targets=u[..., :1])
        assert run.steps_done == 250 and run.complete
        np.testing.assert_array_equal(run.states[...], expected)
        np.testing.assert_array_equal(run.inputs[...], u)
        assert run.config["units"] == 150 and run.config["seed"] == 7
        assert run.config["backend"] == backend and run.config["dtype"] == "float64"
        assert run.library_version == rs.__version__
    with rs.StateStore(tmp_path / "s.h5", "r") as store:
        np.testing.assert_array_equal(store["train"].states[...], expected)


def test_stored_weights_rebuild_the_reservoir(tmp_path, rng):
    u = rng.uniform(-1, 1, (80, 2))
    esn = _esn()
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        run = esn.run(u, store=store, name="train", store_weights=True)
        stored = run.weights()
        W, W_in, bias = stored["W"], stored["W_in"], stored["bias"]
        assert (W != esn.W).nnz == 0
        rebuilt = rs.ESN.from_weights(W, W_in, bias, leak_rate=run.config["leak_rate"], dtype=run.config["dtype"])
        np.testing.assert_array_equal(rebuilt.run(u), run.states[...])
        assert _esn().run(u, store=store, name="plain").weights() is None


def test_float16_storage_and_compression(tmp_path, rng):
    u = rng.uniform(-1, 1, (200, 1)).astype(np.float32)
    expected = _esn(dtype="float32").run(u)
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        half = _esn(dtype="float32").run(u, store=store, name="half", storage_dtype="float16")
        packed = _esn(dtype="float32").run(u, store=store, name="lzf", compression="lzf")
        assert half.states.dtype == np.float16
        np.testing.assert_allclose(half.states[...], expected, atol=1e-3)
        np.testing.assert_array_equal(packed.states[...], expected)
        assert packed.states.compression == "lzf"


def test_resume_is_bit_identical(tmp_path, rng):
    u = rng.uniform(-1, 1, (300, 2))
    expected = _esn().run(u)
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        esn = _esn()
        run = esn.run(u[:120], store=store, name="part", checkpoint_every=50)  # a run of 120 steps
        assert run.steps_done == 120
    # An interrupted 300-step run: build it, then stop after two checkpoints by hand.
    with rs.StateStore(tmp_path / "s.h5", "a") as store:
        esn = _esn()
        esn.run(u, store=store, name="long", checkpoint_every=50)
        run = store["long"]
        run._group["progress"][...] = (100, int(run._group["progress"][1]))  # as if killed after step 100
        run._group["checkpoint"][int(run._group["progress"][1])] = _esn().run(u[:100])[-1]
        run.states[100:] = 0.0
    with rs.StateStore(tmp_path / "s.h5", "a") as store:
        run = _esn().run(u, store=store, name="long", resume=True, checkpoint_every=50)
        assert run.steps_done == 300
        np.testing.assert_array_equal(run.states[...], expected)


def test_runs_are_never_overwritten_and_shapes_must_match(tmp_path, rng):
    u = rng.uniform(-1, 1, (60, 2))
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        _esn().run(u, store=store, name="train")
        with pytest.raises(StoreError, match="already has a run named 'train'"):
            _esn().run(u, store=store, name="train")
        with pytest.raises(ValueError, match="resuming it with these inputs"):
            _esn().run(u[:50], store=store, name="train", resume=True)
        with pytest.raises(ValueError, match="needs name="):
            _esn().run(u, store=store)
        with pytest.raises(ValueError, match="without '/'"):  # h5py would make a group 'a' that is no run
            _esn().run(u, store=store, name="a/b")
        with pytest.raises(ValueError, match="targets has shape"):
            _esn().run(u, store=store, name="refused", targets=np.zeros((59, 1)))
        _esn().run(u, store=store, name="refused", targets=np.zeros((60, 1)))  # the refusal kept no run
    with rs.StateStore(tmp_path / "s.h5", "r") as store:
        assert sorted(store) == ["refused", "train"]
        with pytest.raises(StoreError, match="read-only"):
            _esn().run(u, store=store, name="other")
        with pytest.raises(KeyError, match="no run named"):
            store["missing"]


def test_foreign_newer_and_truncated_files(tmp_path, rng):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as handle:
        handle["data"] = np.arange(3)
    with pytest.raises(StoreError, match="not a reservoir-engine state file"):
        rs.StateStore(foreign, "a")
    newer = tmp_path / "newer.h5"
    with rs.StateStore(newer, "w"):
        pass
    with h5py.File(newer, "a") as handle:
        handle.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(StoreError, match="newer than this library"):
        rs.StateStore(newer, "r")
    good = tmp_path / "good.h5"
    with rs.StateStore(good, "w") as store:
        _esn().run(rng.uniform(-1, 1, (50, 1)), store=store, name="train")
    truncated = tmp_path / "truncated.h5"
    for size in (1000, len(good.read_bytes()) // 2):  # HDF5's message for the second mentions "sblock"
        truncated.write_bytes(good.read_bytes()[:size])
        with pytest.raises(OSError, match=r"truncated.h5 is not a readable HDF5 file \(truncated or corrupt"):
            rs.StateStore(truncated, "r")
    with pytest.raises(FileNotFoundError, match="no such state file"):
        rs.StateStore(tmp_path / "missing.h5", "r")
    for mode in ("r", "w", "a"):
        with pytest.raises(IsADirectoryError, match="is a directory; a StateStore needs a file path"):
            rs.StateStore(tmp_path, mode)


def test_two_writers(tmp_path):
    path = tmp_path / "s.h5"
    with rs.StateStore(path, "w"):
        code = f"import reservoir as rs; rs.StateStore({str(path)!r}, 'a')"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "s.h5" in result.stderr and "another process" in result.stderr


def test_ridge_from_store_equals_in_memory_fit(tmp_path, rng):
    # Out of core: the readout reads the stored states chunk by chunk, through time
    # ranges (no copy), from one run or a list of runs.
    u = rng.uniform(-1, 1, (2, 400, 2))
    y = np.sin(np.cumsum(u[..., :1], axis=1))
    states = _esn().run(u)
    single_states = _esn().run(u[0])  # the one-sequence kernel, as the stored single run (the batched
    # kernel sums in another order: its states differ by rounding, which the ridge solve amplifies)
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        batch = _esn().run(u, store=store, name="batch", checkpoint_every=97)
        single = _esn().run(u[0], store=store, name="single")
        stored = rs.Ridge(alpha=1e-4).fit(batch.time_range(50, 300), y[:, 50:300])
        listed = rs.Ridge(alpha=1e-4).fit([single.time_range(50), batch.time_range(50, 300)], [y[0, 50:], y[:, 50:300]])
    memory = rs.Ridge(alpha=1e-4).fit(states[:, 50:300], y[:, 50:300])
    memory_listed = rs.Ridge(alpha=1e-4).fit([single_states[50:], states[:, 50:300]], [y[0, 50:], y[:, 50:300]])
    for fitted, reference in ((stored, memory), (listed, memory_listed)):
        np.testing.assert_allclose(fitted.coef_, reference.coef_, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(fitted.intercept_, reference.intercept_, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(fitted.predict(states), reference.predict(states), rtol=1e-8, atol=1e-12)


_WRITER = textwrap.dedent("""
    import sys, numpy as np, reservoir as rs
    path, steps, compression = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    u = np.random.default_rng(3).uniform(-1, 1, (steps, 1))
    esn = rs.ESN(400, density=0.05, leak_rate=0.5, seed=11, dtype="float64")
    with rs.StateStore(path, "a") as store:
        print("started", flush=True)
        esn.run(u, store=store, name="train", checkpoint_every=40, resume=True,
                compression=None if compression == "none" else compression)
""")


def _kill_at_random(path, steps, delay, script, compression):
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(path), str(steps), compression],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.readline()  # the store is open and the run starts
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_loses_nothing_committed_and_resume_completes(tmp_path, seed, compression="none"):
    steps = 20000  # about 1 s of writing: the kills land mid-run
    u = np.random.default_rng(3).uniform(-1, 1, (steps, 1))
    expected = rs.ESN(400, density=0.05, leak_rate=0.5, seed=11, dtype="float64").run(u)
    path = tmp_path / "killed.h5"
    delays = np.random.default_rng(seed).uniform(0.05, 0.8, 3)
    for delay in delays:
        _kill_at_random(path, steps, delay, _WRITER, compression)
        with rs.StateStore(path, "r") as store:  # openable after every kill
            if "train" not in store:
                continue
            run = store["train"]
            done = run.steps_done
            np.testing.assert_array_equal(run.states[:done], expected[:done])
            if done:
                np.testing.assert_array_equal(run.saved_state()[0], expected[done - 1])
    subprocess.run([sys.executable, "-c", _WRITER, str(path), str(steps), compression], check=True, capture_output=True)
    with rs.StateStore(path, "r") as store:
        assert store["train"].complete
        np.testing.assert_array_equal(store["train"].states[...], expected)


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["none", "lzf"])
@pytest.mark.parametrize("seed", range(2, 12))
def test_sigkill_many(tmp_path, seed, compression):
    # Uncompressed runs are safe by construction; compressed ones are checked here too.
    test_sigkill_loses_nothing_committed_and_resume_completes(tmp_path, seed, compression)


@pytest.mark.parametrize("mode", ["r", "w", "a"])
def test_a_missing_directory_is_named(tmp_path, mode):
    """Not "truncated or corrupt?": the directory the file would go in does not exist."""
    path = tmp_path / "no_such_dir" / "states.h5"
    with pytest.raises(FileNotFoundError, match=r"the directory .*no_such_dir does not exist"):
        rs.StateStore(path, mode)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        rs.StateStore(tmp_path / "a_file" / "states.h5", mode)
