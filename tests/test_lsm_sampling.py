"""LSM states sampled every few steps: the rows of the every-step record at the sampled
steps, bit for bit, from the Numba kernel (which writes only those rows), from a backend
that writes every step, through chunks, batches, carry-over and a caller's buffer."""

from __future__ import annotations

import numpy as np
import pytest

import reservoir as rs
import reservoir.lsm as lsm_module
from reservoir.config import settings
from reservoir.kernels import lif, reference
from reservoir.lsm import LSM

DT = 1e-4
NUMBA = pytest.mark.skipif("numba" not in rs.backends.available(), reason="numba backend not available")


def _active(**overrides):
    """A small network that fires on its own (rest above threshold, like CUBA)."""
    params = dict(
        density=0.1,
        v_rest=-35e-3,
        tau_m=10e-3,
        refractory=2e-3,
        w_exc=2e-3,
        w_inh=-6e-3,
        input_encoding="poisson",
        input_density=0.5,
        input_rate=400.0,
        delay=(DT, 4 * DT),
        seed=7,
    )
    params.update(overrides)
    return LSM(60, 17, **params)


def test_sampled_steps_end_every_block_and_the_run():
    np.testing.assert_array_equal(lif.sampled_steps(10, 4), [3, 7, 9])
    np.testing.assert_array_equal(lif.sampled_steps(12, 4), [3, 7, 11])
    np.testing.assert_array_equal(lif.sampled_steps(5, 1), np.arange(5))
    np.testing.assert_array_equal(lif.sampled_steps(3, 50), [2])


@NUMBA
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch,sample_every", [(1, 7), (2, 5), (1, 1)])
def test_cpu_kernel_writes_the_reference_traces_at_the_sampled_steps(rng, dtype, batch, sample_every):
    """Kernel level, two calls from one state: CPU rows == the reference's every-step rows, states equal."""
    from reservoir.kernels import cpu

    net = _active(dtype=dtype)
    steps = (61, 40)
    u = rng.random((batch, sum(steps), 2)).astype(dtype)
    net.run(u[:, :1])  # draws W_in
    net.reset()
    encoded = net._encode(u, 0)
    params = net.params().as_tuple(net.dtype)
    results = {}
    for name, module in (("reference", reference), ("cpu", cpu)):
        weights = module.prepare_lsm(net.W_push, net.delays, net.n_exc, net.W_in)
        state = lif.LifState.initial(net._v0, batch, net.ring_slots)
        rows, spikes, first = [], [], 0
        for length in steps:
            block = np.ascontiguousarray(encoded[:, first : first + length])
            if name == "reference":
                every = np.zeros((batch, length, net.n_neurons), dtype)
                spikes.append(module.lsm_run(weights, params, block, True, state, every, 0, True))
                rows.append(every[:, lif.sampled_steps(length, sample_every)])
            else:
                out = np.full((batch, -(-length // sample_every), net.n_neurons), np.nan, dtype)
                spikes.append(
                    module.lsm_run(weights, params, block, True, state, out, 0, True, sample_every=sample_every)
                )
                rows.append(out)
            first += length
        results[name] = rows, spikes, state
    (ref_rows, ref_spikes, ref_state), (rows, spikes, state) = results["reference"], results["cpu"]
    assert sum(len(trial) for call in ref_spikes for trial in call) > 30, "the test network should fire"
    for expected, got in zip(ref_rows, rows):
        np.testing.assert_array_equal(got, expected)
    for expected_call, call in zip(ref_spikes, spikes):
        for expected, got in zip(expected_call, call):
            np.testing.assert_array_equal(got, expected)
    for name in lif.LifState.ARRAYS:
        np.testing.assert_array_equal(getattr(state, name), getattr(ref_state, name), err_msg=name)


@pytest.mark.parametrize("backend", rs.backends.available())
@pytest.mark.parametrize("batch", [None, 2])
@pytest.mark.parametrize("sample_every", [None, 7, 500])
def test_sampled_run_is_the_full_record_at_its_steps(rng, backend, batch, sample_every):
    u = rng.random((123, 2) if batch is None else (batch, 123, 2))
    net = _active(backend=backend, dtype="float64")
    full = net.run(u, sample_every=1)
    net.reset()
    sampled = net.run(u, sample_every=sample_every)
    period = 10 if sample_every is None else sample_every  # default: trace_tau (tau_m, 10 ms) / 10 steps of 0.1 ms
    assert sampled.sample_every == period
    assert sampled.states.shape[-2] == -(-123 // period)
    np.testing.assert_array_equal(sampled.state_steps, lif.sampled_steps(123, period))
    np.testing.assert_array_equal(sampled.states, full.states[..., sampled.state_steps, :])
    np.testing.assert_array_equal(sampled.spike_times, full.spike_times)
    assert sampled.states[..., -1, :].any(), "the last row is the state at the run's end"


def test_default_sampling_follows_trace_tau():
    net = _active(dt=1e-4, tau_m=20e-3)
    assert net.run(n_steps=50).sample_every == 20
    assert net.run(n_steps=50, trace_tau=5e-3).sample_every == 5
    assert net.run(n_steps=50, trace_tau=1e-4).sample_every == 1  # a trace shorter than ten steps: every step
    assert net.run(n_steps=50, window=8).sample_every == 8


@NUMBA
def test_backend_writing_every_step_gives_the_same_rows(monkeypatch, rng):
    """A kernel without sample_every: every step into a bounded scratch, then the sampled rows."""
    u = rng.random((3, 301, 2))
    net = _active(backend="numba", dtype="float32")
    native = net.run(u, sample_every=6)
    net.reset()
    monkeypatch.setattr(lsm_module, "_samples_traces", lambda lsm_run: False)
    monkeypatch.setattr(lsm_module, "SCRATCH_BYTES", 3 * 77 * 4 * 20)  # 20 steps: chunks of 24
    monkeypatch.setattr(settings, "time_chunk", 1000)
    fallback = net.run(u, sample_every=6)
    np.testing.assert_array_equal(fallback.states, native.states)
    np.testing.assert_array_equal(fallback.spike_times, native.spike_times)


@pytest.mark.parametrize("backend", rs.backends.available())
def test_chunks_and_carry_over_keep_the_sampled_rows(monkeypatch, rng, backend):
    u = rng.random((240, 2))
    net = _active(backend=backend)
    whole = net.run(u, sample_every=8)
    net.reset()
    monkeypatch.setattr(settings, "time_chunk", 13)  # rounded up to whole blocks of 8 steps
    first, second = net.run(u[:96], sample_every=8), net.run(u[96:], sample_every=8)  # split on a block boundary
    np.testing.assert_array_equal(np.concatenate([first.states, second.states]), whole.states)


@pytest.mark.parametrize("batch", [None, 2])
def test_out_receives_the_states_and_can_be_reused(rng, batch):
    u = rng.random((90, 2) if batch is None else (batch, 90, 2))
    net = _active()
    expected_traces = net.run(u, sample_every=1).states
    net.reset()
    expected_counts = net.run(u, window=20).states
    buffer = np.full(expected_traces.shape, np.nan, dtype=np.float32)
    for _ in range(2):  # the same buffer, call after call
        net.reset()
        result = net.run(u, sample_every=1, out=buffer)
        assert result.states is buffer
        np.testing.assert_array_equal(buffer, expected_traces)
    counts = np.full(expected_counts.shape, 5.0, dtype=np.float32)  # counts start from zero, not from out
    net.reset()
    assert net.run(u, window=20, out=counts).states is counts
    np.testing.assert_array_equal(counts, expected_counts)


def test_bad_sampling_and_out_raise_clear_errors(rng):
    net = _active()
    u = rng.random((40, 2))
    with pytest.raises(ValueError, match="exclude each other"):
        net.run(u, window=5, sample_every=5)
    with pytest.raises(ValueError, match="sample_every"):
        net.run(u, sample_every=0)
    with pytest.raises(TypeError, match="sample_every"):
        net.run(u, sample_every=2.5)
    with pytest.raises(ValueError, match=r"shape \(4, 77\) and dtype float32"):
        net.run(u, sample_every=10, out=np.empty((40, 77), np.float32))
    with pytest.raises(ValueError, match="dtype float32"):
        net.run(u, sample_every=10, out=np.empty((4, 77), np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        net.run(u, sample_every=10, out=np.empty((77, 4), np.float32).T)
    with pytest.raises(TypeError, match="NumPy array"):
        net.run(u, sample_every=10, out=[[0.0] * 77] * 4)
    with pytest.raises(ValueError, match="record_states=False"):
        net.run(u, record_states=False, out=np.empty((4, 77), np.float32))
