"""Settings that run but give garbage warn, saying what to change; a misleading error is replaced."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs


def _no_warning(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error", rs.ReservoirWarning)
        return call()


def test_saturated_reservoir_warns_with_the_fix(rng):
    u = rng.uniform(-1, 1, (300, 1))
    esn = rs.ESN(100, spectral_radius=1e6, seed=0, dtype="float64")  # every unit driven to +-1
    with pytest.warns(rs.ReservoirWarning, match=r"saturated.*Lower spectral_radius \(now 1e\+06\)"):
        states = esn.run(u)
    assert np.mean(np.abs(states) > 0.99) > 0.9  # what the warning claims, on every state
    raw = 500.0 * u  # unscaled data through a sound reservoir: the inputs are named
    with pytest.warns(rs.ReservoirWarning, match=r"scale the inputs.*they reach 4\d\d"):
        rs.ESN(100, seed=0).run(raw)


def test_a_sound_reservoir_does_not_warn(rng):
    u = rng.uniform(-1, 1, (300, 2))
    states = _no_warning(lambda: rs.ESN(100, spectral_radius=0.9, seed=0).run(u))
    assert np.mean(np.abs(states) > 0.99) < 0.5


@pytest.mark.parametrize(
    "radius, leak_rate, warns",
    [(1.25, 1.0, False), (1.6, 1.0, True), (3.0, 0.3, True), (1.25, 0.3, False), (1e6, 1.0, True)],
)
def test_spectral_radius_beyond_the_echo_state_limit_warns(radius, leak_rate, warns):
    build = lambda: rs.ESN(50, spectral_radius=radius, leak_rate=leak_rate, seed=0)  # noqa: E731
    if warns:
        with pytest.warns(rs.ReservoirWarning, match="echo-state property"):
            build()
    else:
        _no_warning(build)


def _forgets_its_start(esn, rng, steps=1500):
    u = rng.uniform(-1, 1, (steps, 1))
    esn.state = rng.uniform(-1, 1, esn.units)
    a = esn.run(u)[-1]
    esn.state = rng.uniform(-1, 1, esn.units)
    b = esn.run(u)[-1]
    return np.max(np.abs(a - b)) < 1e-6


def test_the_echo_state_limit_separates_forgetting_from_remembering(rng):
    """The threshold's basis: below it, two runs from different states meet; well above, they do not."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rs.ReservoirWarning)
        below = [_forgets_its_start(rs.ESN(100, spectral_radius=1.2, seed=s, dtype="float64"), rng) for s in range(3)]
        above = [_forgets_its_start(rs.ESN(100, spectral_radius=2.0, seed=s, dtype="float64"), rng) for s in range(3)]
    assert all(below) and not any(above)


def test_more_readout_features_than_samples_warns(rng):
    u = rng.uniform(-1, 1, (60, 1))
    with pytest.warns(rs.ReservoirWarning, match=r"\d+ features but only 54 training samples"):
        rs.ESNRegressor(100, seed=0).fit(u, u[:, 0])
    _no_warning(lambda: rs.ESNRegressor(20, seed=0).fit(u, u[:, 0]))


@pytest.mark.parametrize("bias", [0.3, [0.3], np.array([0.3]), np.full((8, 1), 0.3), np.full(8, 0.3)])
def test_from_weights_takes_reservoirpy_bias_shapes(rng, bias):
    """ReservoirPy's Reservoir.bias is (units, 1), or (1,) for a constant bias: both broadcast like (units,)."""
    W = sp.random_array((8, 8), density=0.5, rng=0)
    W_in = rng.uniform(-1, 1, (8, 2))
    u = rng.uniform(-1, 1, (20, 2))
    expected = rs.ESN.from_weights(W, W_in, np.full(8, 0.3), dtype="float64").run(u)
    np.testing.assert_array_equal(rs.ESN.from_weights(W, W_in, bias, dtype="float64").run(u), expected)
    x = np.zeros(8)
    for t in range(20):  # the update written out
        x = np.tanh(W @ x + W_in @ u[t] + 0.3)
    np.testing.assert_allclose(expected[-1], x, rtol=1e-12)


def test_from_weights_refuses_a_bias_of_another_size(rng):
    with pytest.raises(ValueError, match=r"bias must be a scalar or have shape \(8,\) or \(8, 1\), got \(3,\)"):
        rs.ESN.from_weights(np.eye(8), np.ones((8, 1)), np.ones(3))


def test_fit_without_targets_says_how_to_forecast():
    s = np.sin(0.1 * np.arange(100))
    with pytest.raises(ValueError, match=r"requires y .*fit\(s\[:-1\], s\[1:\]\)"):
        rs.ESNRegressor(20).fit(s, None)


@pytest.mark.parametrize("bias", [0.0, 0.3])
def test_from_weights_reproduces_a_reservoirpy_reservoir(rng, bias):
    """ReservoirPy's Reservoir keeps a scalar bias: its W, Win and bias as they are give its states."""
    nodes = pytest.importorskip("reservoirpy.nodes")
    reference = nodes.Reservoir(units=30, sr=0.9, lr=0.3, input_scaling=0.5, bias=bias, seed=0)
    u = rng.uniform(-1, 1, (60, 2))
    expected = reference.run(u)
    esn = rs.ESN.from_weights(reference.W, reference.Win, reference.bias, leak_rate=0.3, dtype="float64")
    np.testing.assert_allclose(esn.run(u), expected, rtol=1e-10, atol=1e-12)


def test_a_silent_spiking_network_warns_with_what_to_change():
    """At the defaults a 135-neuron LSM driven by a constant 1.0 on one channel never reaches
    threshold (9 neurons receive the input, none with 10 mV): the all-zero states are reported."""
    import reservoir as rs

    lsm = rs.LSM(108, 27, seed=0, dtype="float64")
    with pytest.warns(rs.ReservoirWarning, match=r"no neuron spiked in 2000 steps.*raise input_scaling") as caught:
        result = lsm.run(np.ones((2000, 1)))
    assert result.firing_rate() == 0 and caught[0].filename == __file__
    loud = rs.LSM(108, 27, seed=0, dtype="float64", input_density=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", rs.ReservoirWarning)
        assert loud.run(np.ones((2000, 1))).firing_rate() > 0
