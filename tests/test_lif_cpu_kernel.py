"""The Numba LIF kernel against the NumPy reference where its bookkeeping is its own: spike
records that outgrow their first buffer, traces replayed from the records (with and without
returning them), windowed counts, and trials run in parallel."""

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir.kernels import reference
from reservoir.kernels.cpu import lif as cpu_lif
from reservoir.kernels.lif import LifState


def _busy_network(dtype, delay=None):
    """Every neuron driven above threshold: a spike every few steps, thousands per call."""
    return rs.LSM(
        24,
        6,
        density=0.3,
        v_rest=-20e-3,
        tau_m=2e-3,
        refractory=2e-4,
        w_exc=2e-3,
        w_inh=-4e-3,
        delay=delay,
        seed=11,
        dtype=dtype,
        backend="numpy",
    )


def _both(net, steps, batch, out_rows, window, record_spikes, sample_every=1):
    W_in = sp.csr_array((net.n_neurons, 0), dtype=net.dtype)
    params = net.params(trace_tau=1e-3).as_tuple(net.dtype)
    inputs = np.zeros((batch, steps, 0), dtype=net.dtype)
    results = []
    for module in (reference, cpu_lif):
        state = LifState.initial(net._v0, batch, net.ring_slots)
        out = np.zeros((batch, steps, net.n_neurons), dtype=net.dtype) if out_rows else None
        prepared = module.prepare_lsm(net.W_push, net.delays, net.n_exc, W_in)
        spikes = module.lsm_run(prepared, params, inputs, False, state, out, window, record_spikes)
        results.append((spikes, out, state))
    return results


def _same_state(expected, state):
    for name in LifState.ARRAYS:
        np.testing.assert_array_equal(getattr(state, name), getattr(expected, name), err_msg=name)
    assert state.step == expected.step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("delay", [None, (1e-4, 3e-4)])
@pytest.mark.parametrize("batch", [1, 2])
def test_records_outgrow_their_buffer_spike_for_spike(dtype, delay, batch):
    net = _busy_network(dtype, delay)
    steps = 500
    (ref_spikes, ref_out, ref_state), (spikes, out, state) = _both(net, steps, batch, True, 0, True)
    first_capacity = net.n_neurons + max(1024, steps * net.n_neurons // 50)
    assert min(len(trial) for trial in ref_spikes) > 2 * first_capacity, "the records should grow twice"
    for trial_ref, trial in zip(ref_spikes, spikes, strict=True):
        np.testing.assert_array_equal(trial, trial_ref)
    np.testing.assert_array_equal(out, ref_out)
    _same_state(ref_state, state)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_traces_and_state_without_returned_spikes(dtype):
    """The traces come from the kernel's own spike records even when none are returned."""
    net = _busy_network(dtype, (1e-4, 2e-4))
    (ref_spikes, ref_out, ref_state), (spikes, out, state) = _both(net, 300, 2, True, 0, False)
    assert ref_spikes is None and spikes is None
    assert ref_out.max() > 1, "the traces should hold spikes"
    np.testing.assert_array_equal(out, ref_out)
    _same_state(ref_state, state)


def test_windowed_counts_and_the_trace_state():
    net = _busy_network("float64")
    window = 7
    W_in = sp.csr_array((net.n_neurons, 0))
    params = net.params(trace_tau=1e-3).as_tuple(net.dtype)
    inputs = np.zeros((2, 300, 0))
    results = []
    for module in (reference, cpu_lif):
        state = LifState.initial(net._v0, 2, net.ring_slots)
        out = np.zeros((2, -(-300 // window), net.n_neurons))
        module.lsm_run(
            module.prepare_lsm(net.W_push, net.delays, net.n_exc, W_in),
            params,
            inputs,
            False,
            state,
            out,
            window,
            False,
        )
        results.append((out, state))
    (ref_out, ref_state), (out, state) = results
    assert ref_out.sum() > 1000
    np.testing.assert_array_equal(out, ref_out)
    _same_state(ref_state, state)


def test_sampled_traces_are_the_rows_of_every_step():
    net = _busy_network("float32", (1e-4, 3e-4))
    (_, every, _), _ = _both(net, 203, 2, True, 0, False)
    W_in = sp.csr_array((net.n_neurons, 0), dtype=net.dtype)
    params = net.params(trace_tau=1e-3).as_tuple(net.dtype)
    state = LifState.initial(net._v0, 2, net.ring_slots)
    sampled = np.zeros((2, -(-203 // 10), net.n_neurons), dtype=net.dtype)
    prepared = cpu_lif.prepare_lsm(net.W_push, net.delays, net.n_exc, W_in)
    cpu_lif.lsm_run(
        prepared, params, np.zeros((2, 203, 0), net.dtype), False, state, sampled, 0, False, sample_every=10
    )
    from reservoir.kernels.lif import sampled_steps

    np.testing.assert_array_equal(sampled, every[:, sampled_steps(203, 10)])
