"""Liquid-state machine: the Numba kernels against the NumPy reference spike for spike,
and the model against closed forms (membrane solution, delays, refractoriness)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import reservoir as rs
from reservoir.config import settings
from reservoir.lsm import LSM, cuba

DT = 1e-4


def _active(n_exc=60, n_inh=17, **overrides):
    """A small network that fires on its own (rest above threshold, like CUBA)."""
    params = dict(density=0.1, v_rest=-35e-3, tau_m=10e-3, refractory=2e-3, w_exc=2e-3, w_inh=-6e-3, seed=7)
    params.update(overrides)
    return LSM(n_exc, n_inh, **params)


def _same_result(a, b):
    for field in ("spike_times", "spike_neurons", "spike_trials", "states"):
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None) == (y is None), field
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=field)


def _same_state(a, b):
    for name in a.ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.step == b.step


# ----------------------------------------------------------------------------- numba == reference
NETWORKS = {
    "autonomous": dict(),
    "delay": dict(delay=3 * DT),
    "delay-range": dict(delay=(DT, 12 * DT)),
    "current": dict(input_encoding="current", input_density=0.5),
    "poisson+delays": dict(input_encoding="poisson", input_density=0.5, input_rate=400.0, delay=(DT, 5 * DT)),
    "fan_in": dict(fan_in=9, delay=2 * DT),
}


@pytest.mark.skipif("numba" not in rs.backends.available(), reason="numba backend not available")
@pytest.mark.parametrize("dtype,steps", [("float64", 400), ("float32", 150)])
@pytest.mark.parametrize(
    "network,batch",
    [(name, None) for name in sorted(NETWORKS)]
    + [(name, 3) for name in sorted(NETWORKS) if "input_encoding" in NETWORKS[name]],
)
def test_numba_matches_reference_spike_for_spike(network, dtype, steps, batch, rng):
    """Two calls in a row (carry-over included); float64 and short float32 runs are identical.

    The first call keeps the default sampled traces (written by the Numba kernel at the
    sampled steps only, taken from the reference's every-step record), the second every step."""
    overrides = NETWORKS[network]
    needs_input = "input_encoding" in overrides
    u = None
    if needs_input:  # a batch of trials is given by the inputs
        u = rng.random((steps, 2)) if batch is None else rng.random((batch, steps, 2))
    results = {}
    for backend in ("numpy", "numba"):
        net = _active(dtype=dtype, backend=backend, **overrides)
        first = net.run(u[..., : steps // 2, :] if u is not None else None, n_steps=None if needs_input else steps // 2)
        second = net.run(
            u[..., steps // 2 :, :] if u is not None else None,
            n_steps=None if needs_input else steps - steps // 2,
            sample_every=1,
        )
        results[backend] = (first, second, net.state)
    (ref_first, ref_second, ref_state), (first, second, state) = results["numpy"], results["numba"]
    assert len(ref_first.spike_times) + len(ref_second.spike_times) > 20, "the test network should fire"
    _same_result(ref_first, first)
    _same_result(ref_second, second)
    _same_state(ref_state, state)


@pytest.mark.parametrize("backend", rs.backends.available())
def test_windowed_counts_and_traces_agree_with_the_spikes(backend):
    net = _active(backend=backend, dtype="float64")
    steps, window = 230, 40
    traces = net.run(n_steps=steps, trace_tau=3e-3, sample_every=1)
    net.reset()
    sampled = net.run(n_steps=steps, trace_tau=3e-3)  # default: ten samples per trace_tau, every 3 steps
    net.reset()
    counts = net.run(n_steps=steps, window=window)
    np.testing.assert_array_equal(counts.spike_times, traces.spike_times)
    # counts: a histogram of the spikes, windows of `window` steps (the last one shorter)
    expected = np.zeros((math.ceil(steps / window), net.n_neurons))
    np.add.at(expected, (traces.spike_times // window, traces.spike_neurons), 1)
    np.testing.assert_array_equal(counts.states, expected)
    # traces: each spike contributes exp(-(t - s) dt / tau) from its own step s on
    decay = math.exp(-DT / 3e-3)
    expected = np.zeros((steps, net.n_neurons))
    for s, neuron in zip(traces.spike_times, traces.spike_neurons):
        expected[s:, neuron] += decay ** np.arange(steps - s)
    np.testing.assert_allclose(traces.states, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sampled.state_steps, [*range(2, steps, 3), steps - 1])
    np.testing.assert_allclose(sampled.states, expected[sampled.state_steps], rtol=1e-10, atol=1e-12)


def test_time_chunks_do_not_change_the_run(monkeypatch, rng):
    u = rng.random((301, 2))
    net = _active(input_encoding="poisson", input_density=0.5, input_rate=400.0, delay=(DT, 4 * DT))
    whole = net.run(u)
    monkeypatch.setattr(settings, "time_chunk", 37)
    net.reset()
    _same_result(whole, net.run(u))


@pytest.mark.parametrize("backend", rs.backends.available())
def test_batch_equals_trials_run_one_by_one(backend, rng):
    u = rng.random((3, 120, 2))
    net = _active(input_encoding="current", input_density=0.5, delay=2 * DT, backend=backend, dtype="float64")
    batched = net.run(u)
    for b in range(3):
        net.reset()
        single = net.run(u[b])
        mine = batched.spike_trials == b
        np.testing.assert_array_equal(batched.spike_times[mine], single.spike_times)
        np.testing.assert_array_equal(batched.spike_neurons[mine], single.spike_neurons)
        np.testing.assert_array_equal(batched.states[b], single.states)


# ----------------------------------------------------------------------------- closed forms
def _pair(backend, **overrides):
    """Neuron 0 starts above threshold and spikes at step 0; neuron 1 only listens."""
    params = dict(
        density=1.0,
        v_rest=-60e-3,
        v_reset=-60e-3,
        v_thresh=-50e-3,
        w_exc=2e-3,
        v_init=[-40e-3, -60e-3],
        dtype="float64",
        backend=backend,
    )
    params.update(overrides)
    return LSM(2, 0, **params)


@pytest.mark.parametrize("backend", rs.backends.available())
@pytest.mark.parametrize("delay_steps", [None, 1, 4])
def test_a_spike_arrives_exactly_delay_steps_later(backend, delay_steps):
    net = _pair(backend, delay=None if delay_steps is None else delay_steps * DT)
    currents = []
    for step in range(8):
        result = net.run(n_steps=1)
        if step == 0:
            np.testing.assert_array_equal(result.spike_neurons, [0])
        currents.append(net.state.i_exc[0, 1])
    arrival = 0 if delay_steps is None else delay_steps
    assert all(c == 0 for c in currents[:arrival])
    assert currents[arrival] == pytest.approx(2e-3, rel=1e-12)  # the jump, in the step it arrives


@pytest.mark.parametrize("backend", rs.backends.available())
def test_membrane_follows_the_closed_form_after_a_synaptic_jump(backend):
    tau_m, tau_exc, w = 20e-3, 5e-3, 2e-3
    net = _pair(backend, tau_m=tau_m, tau_exc=tau_exc, w_exc=w)
    net.run(n_steps=1)  # neuron 0 spikes; neuron 1's current jumps by w at the end of step 0
    v = []
    for _ in range(300):
        net.run(n_steps=1)
        v.append(net.state.v[0, 1])
    t = np.arange(1, 301) * DT
    # tau_m v' = v_rest - v + i, tau_e i' = -i, v(0) = v_rest, i(0) = w
    expected = -60e-3 + w * tau_exc / (tau_exc - tau_m) * (np.exp(-t / tau_exc) - np.exp(-t / tau_m))
    np.testing.assert_allclose(v, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("backend", rs.backends.available())
def test_membrane_under_constant_current_and_equal_time_constants(backend):
    # tau_exc == tau_m takes the degenerate branch of the exact solution: t/tau e^{-t/tau}
    net = LSM(
        1,
        0,
        density=1.0,
        w_exc=1e-6,
        tau_m=10e-3,
        tau_exc=10e-3,
        v_thresh=0.0,
        v_init=-70e-3,
        input_density=1.0,
        dtype="float64",
        backend=backend,
        seed=3,
    )
    u = np.full((400, 1), 0.5)
    result = net.run(u, record_states=False)
    assert len(result.spike_times) == 0
    current = net.W_in.toarray()[0, 0] * 0.5
    t = 400 * DT
    v_inf = -60e-3 + current
    expected = v_inf + (-70e-3 - v_inf) * math.exp(-t / 10e-3)
    assert net.state.v[0, 0] == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("backend", rs.backends.available())
def test_no_spike_within_the_refractory_period(backend):
    refractory_steps = 30
    net = LSM(
        1,
        0,
        density=1.0,
        w_exc=1e-6,
        refractory=refractory_steps * DT,
        input_density=1.0,
        input_scaling=1.0,
        dtype="float64",
        backend=backend,
        seed=1,
    )
    net.run(np.zeros((1, 1)))  # draws W_in
    sign = np.sign(net.W_in.toarray()[0, 0])
    net.reset()
    result = net.run(np.full((1000, 1), 50.0 * sign))  # a huge drive: fires whenever it may
    intervals = np.diff(result.spike_times)
    assert len(intervals) > 10
    assert intervals.min() >= refractory_steps
    np.testing.assert_array_equal(intervals, refractory_steps)  # and as soon as it may


@pytest.mark.parametrize("backend", rs.backends.available())
def test_reset_restores_the_initial_state_and_the_poisson_stream(backend, rng):
    u = rng.random((200, 2))
    net = _active(input_encoding="poisson", input_density=0.5, input_rate=300.0, delay=(DT, 3 * DT), backend=backend)
    initial = net.state
    first = net.run(u)
    assert net.state.step == 200
    net.reset()
    _same_state(initial, net.state)
    _same_result(first, net.run(u))


@pytest.mark.parametrize("backend", rs.backends.available())
def test_state_carries_over_between_calls(backend, rng):
    u = rng.random((260, 2))
    net = _active(input_encoding="current", input_density=0.5, delay=(DT, 6 * DT), backend=backend)
    whole = net.run(u, sample_every=1)
    end = net.state
    net.reset()
    first, second = net.run(u[:111], sample_every=1), net.run(u[111:], sample_every=1)
    _same_state(end, net.state)
    joined_times = np.concatenate([first.spike_times, second.spike_times + 111])
    np.testing.assert_array_equal(joined_times, whole.spike_times)
    np.testing.assert_array_equal(np.concatenate([first.spike_neurons, second.spike_neurons]), whole.spike_neurons)
    np.testing.assert_array_equal(np.concatenate([first.states, second.states]), whole.states)


def test_batch_state_mismatch_names_the_fix(rng):
    net = _active(input_encoding="current")
    net.run(rng.random((3, 10, 1)))
    with pytest.raises(ValueError, match="reset"):
        net.run(rng.random((2, 10, 1)))


# ----------------------------------------------------------------------------- connectivity
def test_dale_law_and_push_layout():
    net = LSM(40, 10, density=0.2, seed=2, w_exc=1e-3, w_inh=-4e-3)
    W = net.W.toarray()
    assert np.all(W[:, :40][W[:, :40] != 0] == np.float32(1e-3))  # sources < n_exc excite
    assert np.all(W[:, 40:][W[:, 40:] != 0] == np.float32(-4e-3))
    np.testing.assert_array_equal(net.W_push.toarray(), W.T)  # rows of the push layout are sources
    assert net.delays.shape == (net.W_push.nnz,)


def test_delays_are_drawn_per_synapse_within_the_range():
    net = LSM(100, 25, density=0.1, delay=(2 * DT, 9 * DT), seed=4)
    assert net.delays.min() == 2 and net.delays.max() == 9
    assert len(np.unique(net.delays)) == 8
    assert net.ring_slots == 10


# ----------------------------------------------------------------------------- CUBA
@pytest.mark.skipif("numba" not in rs.backends.available(), reason="numba backend not available")
@pytest.mark.parametrize("seed", [1, 2])
def test_cuba_fires_like_brian2(seed):
    """Brette et al. 2007 CUBA: Brian2's example fires at 5.65 Hz with an ISI CV of 0.53 (1 s)."""
    net = cuba(seed=seed, backend="numba")
    assert (net.n_exc, net.n_inh) == (3200, 800)
    assert net.W.nnz == pytest.approx(0.02 * 4000**2, rel=0.01)
    result = net.run(n_steps=10_000, record_states=False)
    assert result.firing_rate() == pytest.approx(5.65, rel=0.15)
    assert result.isi_cv() == pytest.approx(0.53, rel=0.15)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(dt=0.0), "dt"),
        (dict(dt=-1e-4), "dt"),
        (dict(dt=6e-3), "smallest time constant"),
        (dict(tau_m=-20e-3), "tau_m"),
        (dict(tau_exc=0.0), "tau_exc"),
        (dict(v_thresh=-70e-3), "v_thresh"),
        (dict(delay=0.5e-4), "shorter than one step"),
        (dict(delay=(3e-4, 1e-4)), "low > high"),
        (dict(w_exc=-1e-3), "w_exc"),
        (dict(w_inh=1e-3), "w_inh"),
        (dict(density=1.5), "density"),
        (dict(input_encoding="rate"), "input_encoding"),
        (dict(refractory=-1e-3), "refractory"),
    ],
)
def test_bad_parameters_raise_before_anything_runs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSM(10, 2, **kwargs)


def test_bad_inputs_raise_clear_errors(rng):
    net = _active(input_encoding="current")
    net.run(rng.random((5, 2)))
    with pytest.raises(ValueError, match="expected 2"):
        net.run(rng.random((5, 3)))
    bad = rng.random((5, 2))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN at time step 3"):
        net.run(bad)
    with pytest.raises(ValueError, match=r"give u \(inputs\) or n_steps"):
        net.run()
    poisson = _active(input_encoding="poisson")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        poisson.run(rng.random((5, 1)) * 2)


# ----------------------------------------------------------------------------- spike statistics
def test_isi_cv_and_rate_closed_forms():
    regular = np.arange(0, 100, 10)
    times = np.concatenate([regular, regular + 3])
    neurons = np.repeat([0, 1], len(regular))
    assert rs.metrics.isi_cv(times, neurons) == 0.0  # clocks
    intervals = np.array([1.0, 3.0])  # one neuron, intervals 1 and 3: std 1, mean 2
    assert rs.metrics.isi_cv(np.cumsum([0, *intervals]), np.zeros(3)) == pytest.approx(0.5)
    assert rs.metrics.firing_rate(times, 2, 0.5) == pytest.approx(20.0)
    rng = np.random.default_rng(0)  # a Poisson process has CV 1
    poisson = np.cumsum(rng.exponential(1.0, 20000))
    assert rs.metrics.isi_cv(poisson, np.zeros_like(poisson)) == pytest.approx(1.0, abs=0.03)


# ----------------------------------------------------------------------------- memory capacity
def test_memory_capacity_of_a_delay_line_is_its_length():
    """A shift register of N linear units holds u[t], ..., u[t - N + 1]: r2 = 1 for k < N, 0 after."""
    units = 12
    W = np.eye(units, k=-1)  # unit i copies unit i - 1
    W_in = np.zeros((units, 1))
    W_in[0] = 1.0
    esn = rs.ESN.from_weights(W, W_in, activation="identity", dtype="float64")
    u = np.random.default_rng(0).uniform(-1, 1, 3000)
    capacity, curve = rs.metrics.memory_capacity(esn.run(u), u, max_delay=20, return_curve=True)
    np.testing.assert_allclose(curve[: units - 1], 1.0, atol=1e-6)
    np.testing.assert_allclose(curve[units - 1 :], 0.0, atol=0.01)  # chance correlation on held-out samples
    assert capacity == pytest.approx(units - 1, abs=0.1)


def test_memory_capacity_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="len\\(inputs\\)"):
        rs.metrics.memory_capacity(np.zeros((100, 3)), np.zeros(99))


@pytest.mark.parametrize("n", [20, 100, 300])
def test_default_density_gives_small_networks_about_ten_synapses_per_neuron(n):
    net = rs.LSM(int(0.8 * n), n - int(0.8 * n), seed=3)
    assert 8 <= net.W.nnz / n <= 12
    assert net.density == pytest.approx(min(1.0, max(0.02, 10 / n)))


def test_default_density_of_a_large_network_is_two_percent_and_an_explicit_one_is_kept():
    assert rs.LSM(3200, 800, seed=0).density == 0.02
    assert rs.LSM(80, 20, density=0.02, seed=0).density == 0.02
