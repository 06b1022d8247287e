"""Output feedback (reservoir.models.FeedbackESN): teacher-forced training and the closed
loop against the step equations, the compiled loop against the reference, batches,
stacks, reset, bad input, and parity with ReservoirPy 0.4.2's ``readout >> reservoir``
feedback edge on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

import reservoir as rs
from reservoir.models import FeedbackESN, Stack


def _series(steps, batch=None, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(steps + 1)
    shape = (steps + 1,) if batch is None else (batch, steps + 1)
    phase = rng.uniform(0, 6, size=() if batch is None else (batch, 1))
    y = np.sin(0.21 * t + phase) * np.cos(0.05 * t)
    u = np.cos(0.13 * t + phase)
    return u.reshape(*shape, 1)[..., :-1, :], y.reshape(*shape, 1)[..., 1:, :]


def _model(backend="numba", dtype="float64", **options):
    esn = rs.ESN(60, seed=3, leak_rate=0.5, spectral_radius=0.8, dtype=dtype, backend=backend)
    options.setdefault("fb_density", 0.5)
    return FeedbackESN(esn, rs.Ridge(1e-4), seed=4, **options)


def _step_by_step(model, u, y_first, x_first):
    """The closed loop written out from the equations, with the model's fitted weights."""
    esn = model.reservoir
    coef, intercept = np.atleast_2d(model.readout.coef_), np.atleast_1d(model.readout.intercept_)
    x, y, outputs = x_first.copy(), y_first.copy(), []
    for u_t in u:
        pre = esn.W @ x + esn.W_in @ u_t + model.W_fb @ y + esn.bias
        x = (1 - esn.leak_rate) * x + esn.leak_rate * np.tanh(pre)
        features = np.concatenate([x, u_t]) if model.include_input else x
        y = coef @ features + intercept
        outputs.append(y)
    return np.array(outputs), x


@pytest.mark.parametrize("include_input", [False, True])
def test_teacher_forcing_and_closed_loop_follow_the_equations(include_input):
    u, y = _series(220)
    model = _model(include_input=include_input).fit(u[:150], y[:150], warmup=10)
    # teacher forcing: the target of the step before is fed back (zeros at step 0)
    esn, x = model.reservoir, np.zeros(60)
    fed = np.vstack([np.zeros((1, 1)), y[:149]])
    for t in range(150):
        x = (1 - 0.5) * x + 0.5 * np.tanh(esn.W @ x + esn.W_in @ u[t] + model.W_fb @ fed[t] + esn.bias)
    np.testing.assert_allclose(model.state, x, atol=1e-12)
    np.testing.assert_allclose(model.last_output, y[149], atol=0)
    expected, x_end = _step_by_step(model, u[150:], y[149], x)
    outputs, states = model.predict(u[150:], return_states=True)
    np.testing.assert_allclose(outputs, expected, atol=1e-10)
    np.testing.assert_allclose(states[-1], x_end, atol=1e-10)
    np.testing.assert_allclose(model.last_output, expected[-1], atol=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_loop_equals_the_reference_on_a_batch(dtype):
    u, y = _series(120, batch=3)
    reference, compiled = (
        _model(b, dtype, teacher_noise=0.01).fit(u[:, :80], y[:, :80], warmup=5) for b in ("numpy", "numba")
    )
    tolerance = 1e-10 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(compiled.state, reference.state, rtol=tolerance, atol=tolerance)
    # the readout solve amplifies rounding by its condition number: compare the loops on one readout
    np.testing.assert_allclose(
        compiled.readout.coef_, reference.readout.coef_, rtol=1e-3 if dtype == "float32" else 1e-6
    )
    compiled.readout = reference.readout
    results = [model.predict(u[:, 80:], return_states=True) + (model.last_output,) for model in (reference, compiled)]
    for expected, got in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=10 * tolerance, atol=10 * tolerance)
    assert results[1][0].shape == (3, 40, 1) and results[1][0].dtype == np.dtype(dtype)


def test_batch_closed_loop_is_each_sequence_step_by_step():
    u, y = _series(90, batch=2)
    model = _model().fit(u[:, :60], y[:, :60])
    starts, lasts = model.state, model.last_output
    assert starts.shape == (2, 60) and lasts.shape == (2, 1)
    together = model.predict(u[:, 60:])
    for b in range(2):
        expected, _ = _step_by_step(model, u[b, 60:], lasts[b], starts[b])
        np.testing.assert_allclose(together[b], expected, atol=1e-10)


def test_teacher_noise_is_seeded_and_small():
    u, y = _series(150)
    clean = _model().fit(u, y)
    noisy = _model(teacher_noise=1e-3).fit(u, y)
    again = _model(teacher_noise=1e-3).fit(u, y)
    np.testing.assert_array_equal(noisy.readout.coef_, again.readout.coef_)
    difference = np.abs(noisy.state - clean.state).max()
    assert 0 < difference < 0.05


def test_reset_clears_the_state_and_the_fed_back_output():
    u, y = _series(120)
    model = _model().fit(u[:100], y[:100])
    assert np.abs(model.last_output).max() > 0
    model.reset()
    assert np.all(model.state == 0) and np.all(model.last_output == 0)
    expected, _ = _step_by_step(model, u[100:], np.zeros(1), np.zeros(60))
    np.testing.assert_allclose(model.predict(u[100:]), expected, atol=1e-10)


def test_generation_continues_a_learned_signal():
    """Closed loop after teacher forcing tracks the signal it was trained on."""
    u, y = _series(700)
    model = _model(fb_scaling=0.5).fit(u[:600], y[:600], warmup=50)
    predicted = model.predict(u[600:])
    assert np.sqrt(np.mean((predicted - y[600:]) ** 2)) < 0.1 * y.std()


@pytest.mark.parametrize("parallel", [False, True])
def test_feedback_into_a_stack(parallel):
    u, y = _series(100)
    results = []
    for backend in ("numpy", "numba"):
        layers = [rs.ESN(20, seed=s, dtype="float64", backend=backend) for s in (1, 2)]
        model = FeedbackESN(Stack(layers, parallel=parallel, backend=backend), rs.Ridge(1e-4), seed=0, fb_density=1.0)
        model.fit(u[:70], y[:70])
        results.append(model.predict(u[70:]))
        assert model.W_fb.shape == ((40 if parallel else 20), 1)
    np.testing.assert_allclose(results[1], results[0], atol=1e-10)


def test_one_dimensional_targets_give_one_dimensional_outputs():
    u, y = _series(150)
    model = _model().fit(u[:130, 0], y[:130, 0])
    assert model.predict(u[130:, 0]).shape == (20,)


def test_config_is_plain_values():
    import json

    model = _model(n_feedback=2)
    config = json.loads(json.dumps(model.config()))
    assert config["model"] == "FeedbackESN" and config["n_feedback"] == 2 and config["reservoir"]["units"] == 60
    assert model.W_fb.shape == (60, 2)


def test_bad_input():
    u, y = _series(100)
    with pytest.raises(ValueError, match="feedback width is not known yet"):
        _model().predict(u)
    with pytest.raises(ValueError, match="feedback width is not known yet"):
        _ = _model().last_output
    with pytest.raises(rs.NotFittedError):
        _model(n_feedback=1).predict(u)
    model = _model().fit(u, y)
    with pytest.raises(ValueError, match="feeds back 1"):
        model.fit(u, np.hstack([y, y]))
    with pytest.raises(ValueError, match="y has shape"):
        model.fit(u, y[:-3])
    bad = y.copy()
    bad[4] = np.inf
    with pytest.raises(ValueError, match="y contains inf at time step 4"):
        model.fit(u, bad)
    np.testing.assert_array_equal(model.readout.coef_, _model().fit(u, y).readout.coef_)  # nothing trained lost
    with pytest.raises(TypeError, match="reservoir must be"):
        FeedbackESN("esn")
    with pytest.raises(TypeError, match="readout must be"):
        FeedbackESN(rs.ESN(10), readout="ridge")
    with pytest.raises(ValueError, match="fb_density"):
        _model(fb_density=0.0)
    with pytest.raises(ValueError, match="teacher_noise"):
        _model(teacher_noise=-1.0)
    with pytest.raises(ValueError, match="fb_distribution"):
        _model(fb_distribution="cauchy")
    with pytest.raises(ValueError, match="has a readout"):
        FeedbackESN(Stack([rs.ESN(10)], readout=rs.Ridge()))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_parity_with_reservoirpy_feedback(backend):
    """ReservoirPy 0.4.2: Win = [W_in, W_fb], edges reservoir -> readout and readout -(1)-> reservoir."""
    nodes = pytest.importorskip("reservoirpy.nodes")
    from reservoirpy.model import Model

    u, y = _series(260)
    ours = _model(backend).fit(u[:200], y[:200], warmup=20)
    esn = ours.reservoir
    res = nodes.Reservoir(W=esn.W, Win=np.hstack([esn.W_in, ours.W_fb]), bias=esn.bias, lr=esn.leak_rate)
    readout = nodes.Ridge(ridge=1e-4)
    model = Model([res, readout], [(res, 0, readout), (readout, 1, res)])
    model.fit(u[:200], y[:200], warmup=20)
    # teacher-forced training: the same states and the same readout
    assert np.abs(res.state["out"] - ours.state).max() <= 1e-9
    assert np.abs(readout.Wout.T - ours.readout.coef_).max() <= 1e-9
    assert np.abs(readout.bias - ours.readout.intercept_).max() <= 1e-9
    (buffer,) = model.feedback_buffers.values()
    np.testing.assert_allclose(buffer[-1], ours.last_output, atol=0)
    # generation: the model's own outputs fed back
    assert np.abs(model.run(u[200:]) - ours.predict(u[200:])).max() <= 1e-9


def test_saturating_feedback_warns():
    u, y = _series(200)
    model = _model(fb_scaling=200.0, fb_density=1.0)
    with pytest.warns(rs.ReservoirWarning, match="fb_scaling"):
        model.fit(u, 5 + 0.1 * y)


def test_state_and_last_output_set_by_hand_continue_a_run():
    u, y = _series(160)
    model = _model().fit(u[:100], y[:100])
    state, last = model.state, model.last_output
    whole = model.predict(u[100:])
    model.reset()
    model.state, model.last_output = state, last
    np.testing.assert_array_equal(model.predict(u[100:130]), whole[:30])
    np.testing.assert_array_equal(model.predict(u[130:]), whole[30:])
    with pytest.raises(ValueError, match="last_output must have shape"):
        model.last_output = np.zeros(3)
    with pytest.raises(ValueError, match="state must have shape"):
        model.state = np.zeros(7)
    model.last_output = np.zeros((2, 1))
    with pytest.raises(ValueError, match="fed-back output of 2 sequence"):
        model.predict(u[100:])


def test_rebuilt_from_its_config_and_arrays_predicts_the_same():
    """The model-file convention: JSON-able parameters plus array attributes rebuild the model."""
    u, y = _series(160)
    model = _model(include_input=True).fit(u[:120], y[:120])
    config, esn = model.config(), model.reservoir
    reservoir = rs.ESN.from_weights(esn.W, esn.W_in, esn.bias, leak_rate=config["reservoir"]["leak_rate"])
    readout = rs.Ridge(**config["readout"])
    readout.coef_, readout.intercept_ = model.readout.coef_, model.readout.intercept_
    options = ("include_input", "fb_scaling", "fb_density", "fb_distribution", "teacher_noise", "n_feedback", "seed")
    rebuilt = FeedbackESN(reservoir, readout, **{name: config[name] for name in options})
    rebuilt.W_fb = model.W_fb
    rebuilt.state, rebuilt.last_output = model.state, model.last_output
    np.testing.assert_array_equal(rebuilt.predict(u[120:]), model.predict(u[120:]))
