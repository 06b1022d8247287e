"""The Numba LIF kernel holds refractory neurons by putting their potential back after an
unconditional update; these cases check it spike for spike against the NumPy reference."""

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir.kernels import reference
from reservoir.kernels.cpu import lif as cpu_lif
from reservoir.kernels.lif import LifState


def _network(dtype, delay):
    return rs.LSM(
        40,
        10,
        density=0.3,
        v_rest=-30e-3,
        tau_m=5e-3,
        refractory=6e-4,
        w_exc=3e-3,
        w_inh=-5e-3,
        delay=delay,
        seed=7,
        dtype=dtype,
        backend="numpy",
    )


def _run_both(net, chunks, held_start=None, v_start=None):
    """Both kernels over the same calls (time chunks of one run); spikes, traces, end states."""
    W_in = sp.csr_array((net.n_neurons, 0), dtype=net.dtype)
    params = net.params(trace_tau=2e-3).as_tuple(net.dtype)
    results = []
    for module in (reference, cpu_lif):
        state = LifState.initial(net._v0, 2, net.ring_slots)
        if held_start is not None:
            state.refractory[...] = held_start
        if v_start is not None:
            state.v[...] = v_start
        prepared = module.prepare_lsm(net.W_push, net.delays, net.n_exc, W_in)
        spikes, traces = [], []
        for steps in chunks:
            out = np.zeros((2, steps, net.n_neurons), dtype=net.dtype)
            inputs = np.zeros((2, steps, 0), dtype=net.dtype)
            spikes.append(module.lsm_run(prepared, params, inputs, False, state, out, 0, True))
            traces.append(out)
        results.append((spikes, traces, state))
    return results


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("delay", [None, (1e-4, 3e-4)])
def test_refractory_holds_across_calls_match_the_reference(dtype, delay):
    net = _network(dtype, delay)
    rng = np.random.default_rng(3)
    held = rng.integers(0, 7, (2, net.n_neurons)).astype(np.int32)  # a state that starts mid-refractory
    v = rng.uniform(-0.07, -0.03, (2, net.n_neurons)).astype(dtype)  # some above threshold while held
    (spikes_ref, traces_ref, end_ref), (spikes, traces, end) = _run_both(net, [3, 1, 17, 5], held, v)
    assert sum(len(t) for call in spikes_ref for t in call) >= 10, "the test network should fire"
    for call_ref, call in zip(spikes_ref, spikes, strict=True):
        for trial_ref, trial in zip(call_ref, call, strict=True):
            np.testing.assert_array_equal(trial, trial_ref)
    for out_ref, out in zip(traces_ref, traces, strict=True):
        np.testing.assert_array_equal(out, out_ref)
    for name in LifState.ARRAYS:
        np.testing.assert_array_equal(getattr(end, name), getattr(end_ref, name), err_msg=name)
