"""StateStore with spiking runs: traces and spikes streamed, resumed bit for bit, kept through SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_store import _kill_at_random

import reservoir as rs
from reservoir.lsm import LSM

DT = 1e-4


def _net(**overrides):
    params = dict(
        density=0.1,
        v_rest=-35e-3,
        tau_m=10e-3,
        refractory=2e-3,
        w_exc=2e-3,
        w_inh=-6e-3,
        input_encoding="poisson",
        input_density=0.5,
        input_rate=300.0,
        delay=(DT, 4 * DT),
        seed=9,
    )
    params.update(overrides)
    return LSM(60, 15, **params)


@pytest.mark.parametrize("backend", rs.backends.available())
@pytest.mark.parametrize("batch", [None, 2])
def test_stored_lsm_run_equals_in_memory_run(tmp_path, rng, backend, batch):
    u = rng.random((230, 2) if batch is None else (batch, 230, 2))
    expected = _net(backend=backend).run(u, sample_every=1)  # a stored run keeps every step's traces
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        run = _net(backend=backend).run(u, store=store, name="spiking", checkpoint_every=64, store_weights=True)
        assert run.complete and run.spike_count == len(expected.spike_times) > 50
        np.testing.assert_array_equal(run.states[...], expected.states)
        spikes = run.spikes()
        np.testing.assert_array_equal(spikes["steps"], expected.spike_times)
        np.testing.assert_array_equal(spikes["neurons"], expected.spike_neurons)
        if batch:
            np.testing.assert_array_equal(spikes["trials"], expected.spike_trials)
        assert run.config["model"] == "LSM"
        stored = run.weights()
        assert (stored["W"] != _net().W).nnz == 0
        np.testing.assert_array_equal(stored["delays"], _net().delays)


def test_spikes_only_run_and_resume_are_bit_identical(tmp_path, rng):
    u = rng.random((400, 2))
    expected = _net().run(u)
    path = tmp_path / "s.h5"
    with rs.StateStore(path, "w") as store:
        net = _net()
        run = net.run(u, store=store, name="long", checkpoint_every=50, record_states=False)
        with pytest.raises(KeyError, match="no states"):
            _ = run.states
        # as if killed after step 150: roll the commit back to the checkpoint taken then
        partial = _net().run(u[:150], store=store, name="first150", checkpoint_every=150, record_states=False)
        saved = partial.saved_state()
        slot = int(run._group["progress"][1])
        for key, value in saved.items():
            run._group["checkpoint"][key][slot] = value
        run._group["progress"][...] = (150, slot)
        run._group["spikes/neurons"][int(saved["spike_count"]) :] = -1  # uncommitted garbage
    with rs.StateStore(path, "a") as store:
        run = _net().run(u, store=store, name="long", resume=True, checkpoint_every=50, record_states=False)
        assert run.steps_done == 400
        spikes = run.spikes()
        np.testing.assert_array_equal(spikes["steps"], expected.spike_times)
        np.testing.assert_array_equal(spikes["neurons"], expected.spike_neurons)


def test_stored_traces_resume_bit_identical(tmp_path, rng):
    """Killed after step 150 (rolled back to that checkpoint, garbage after it): resume rewrites the rest."""
    u = rng.random((2, 300, 2))
    expected = _net().run(u, sample_every=1)
    path = tmp_path / "s.h5"
    with rs.StateStore(path, "w") as store:
        run = _net().run(u, store=store, name="traces", checkpoint_every=50)
        partial = _net().run(u[:, :150], store=store, name="first150", checkpoint_every=150)
        saved = partial.saved_state()
        slot = int(run._group["progress"][1])
        for key, value in saved.items():
            run._group["checkpoint"][key][slot] = value
        run._group["progress"][...] = (150, slot)
        run.states[:, 150:] = np.nan  # uncommitted garbage
        run._group["spikes/neurons"][int(saved["spike_count"]) :] = -1
    with rs.StateStore(path, "a") as store:
        run = _net().run(u, store=store, name="traces", resume=True, checkpoint_every=50)
        assert run.steps_done == 300
        np.testing.assert_array_equal(run.states[...], expected.states)
        np.testing.assert_array_equal(run.spikes()["steps"], expected.spike_times)
        np.testing.assert_array_equal(run.spikes()["trials"], expected.spike_trials)


def test_stored_lsm_rejects_windows_and_mismatched_resume(tmp_path, rng):
    u = rng.random((100, 2))
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        with pytest.raises(ValueError, match="window"):
            _net().run(u, store=store, name="w", window=10)
        with pytest.raises(ValueError, match="every step"):
            _net().run(u, store=store, name="s", sample_every=10)
        with pytest.raises(ValueError, match="out= is for in-memory runs"):
            _net().run(u, store=store, name="o", out=np.empty((100, 75), np.float32))
        assert "w" not in store and "s" not in store and "o" not in store
        one = _net().run(u, store=store, name="one", sample_every=1)  # every step: what a stored run keeps
        np.testing.assert_array_equal(one.states[...], _net().run(u, sample_every=1).states)
        _net().run(u, store=store, name="run")
        with pytest.raises(ValueError, match="100 steps"):
            _net().run(u[:50], store=store, name="run", resume=True)


_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from reservoir.lsm import LSM
    path, steps, compression = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    import reservoir as rs
    u = np.random.default_rng(3).random((steps, 1))
    net = LSM(1600, 400, density=0.02, v_rest=-49e-3, input_encoding="poisson", input_rate=200.0,
              delay=(1e-4, 1e-3), seed=5, dtype="float64")
    with rs.StateStore(path, "a") as store:
        print("started", flush=True)
        net.run(u, store=store, name="lsm", checkpoint_every=500, resume=True, record_states=False,
                compression=None if compression == "none" else compression)
""")


@pytest.mark.parametrize("seed", [0])
def test_sigkill_keeps_committed_spikes_and_resume_completes(tmp_path, seed, compression="none"):
    steps = 60000  # several seconds of simulation: the kills land mid-run
    u = np.random.default_rng(3).random((steps, 1))
    net = LSM(
        1600,
        400,
        density=0.02,
        v_rest=-49e-3,
        input_encoding="poisson",
        input_rate=200.0,
        delay=(1e-4, 1e-3),
        seed=5,
        dtype="float64",
    )
    expected = net.run(u, record_states=False)
    path = tmp_path / "killed.h5"
    for delay in np.random.default_rng(seed).uniform(0.3, 1.5, 3):
        _kill_at_random(path, steps, delay, _WRITER, compression)
        with rs.StateStore(path, "r") as store:  # openable after every kill
            if "lsm" not in store:
                continue
            run = store["lsm"]
            done, count = run.steps_done, run.spike_count
            assert count == np.searchsorted(expected.spike_times, done)  # exactly the spikes of the done steps
            spikes = run.spikes()
            np.testing.assert_array_equal(spikes["steps"], expected.spike_times[:count])
            np.testing.assert_array_equal(spikes["neurons"], expected.spike_neurons[:count])
    subprocess.run([sys.executable, "-c", _WRITER, str(path), str(steps), compression], check=True, capture_output=True)
    with rs.StateStore(path, "r") as store:
        run = store["lsm"]
        assert run.complete
        np.testing.assert_array_equal(run.spikes()["steps"], expected.spike_times)
        np.testing.assert_array_equal(run.spikes()["neurons"], expected.spike_neurons)


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["none", "lzf"])  # with lzf, compressed spike lists lost data
@pytest.mark.parametrize("seed", range(1, 6))
def test_sigkill_many_spiking(tmp_path, seed, compression):
    test_sigkill_keeps_committed_spikes_and_resume_completes(tmp_path, seed, compression)


def test_spike_lists_are_stored_uncompressed(tmp_path, rng):
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        run = _net().run(rng.random((50, 2)), store=store, name="packed", compression="lzf")
        assert run.states.compression == "lzf"
        assert all(run._group["spikes"][key].compression is None for key in run._group["spikes"])
