"""ESNRegressor against the same pipeline built by hand: ESN states, washout, closed-form ridge."""

from __future__ import annotations

import numpy as np
import pytest

import reservoir as rs

BACKENDS = rs.backends.available()

ESN_KWARGS = dict(density=0.05, spectral_radius=0.9, leak_rate=0.7, input_scaling=0.8, bias_scaling=0.2)


def ridge_closed_form(X, Y, alpha):
    """coef (features, targets), intercept (targets,): centred normal equations, unpenalised intercept."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - x_mean, Y - y_mean
    coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc)
    return coef, y_mean - x_mean @ coef


@pytest.fixture(scope="module")
def series():
    return rs.datasets.mackey_glass(1400)


def _task(series):
    """One-step-ahead forecasting of Mackey-Glass: train, then the continuation."""
    u_train, y_train = series[:999], series[1:1000]
    u_test, y_test = series[999:1399], series[1000:1400]
    return u_train, y_train, u_test, y_test


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("one_dimensional_y", [False, True])
def test_fit_and_predict_equal_the_pipeline_by_hand(series, backend, one_dimensional_y):
    u_train, y_train, u_test, y_test = _task(series)
    if one_dimensional_y:
        y_train = y_train[:, 0]
    units, alpha, washout, seed = 120, 1e-5, 50, 11
    model = rs.ESNRegressor(
        units=units, alpha=alpha, washout=washout, seed=seed, dtype="float64", backend=backend, **ESN_KWARGS
    ).fit(u_train, y_train)

    esn = rs.ESN(units, seed=seed, dtype="float64", backend="numpy", **ESN_KWARGS)
    states = esn.run(u_train)
    features = np.hstack([states, u_train])[washout:]
    coef, intercept = ridge_closed_form(features, y_train[washout:], alpha)

    np.testing.assert_allclose(np.atleast_2d(model.readout_.coef_), coef.T, rtol=1e-5, atol=1e-6)
    train_prediction = np.hstack([states, u_train]) @ coef + intercept

    # predict() continues from the state reached at the end of fit.
    expected = np.hstack([esn.run(u_test), u_test]) @ coef + intercept
    prediction = model.predict(u_test)
    assert prediction.shape == ((400,) if one_dimensional_y else (400, 1))
    np.testing.assert_allclose(prediction.reshape(-1, 1), expected, rtol=0, atol=1e-8)
    # reset=True starts from zeros: the in-sample prediction of the training inputs.
    np.testing.assert_allclose(model.predict(u_train, reset=True).reshape(-1, 1), train_prediction, rtol=0, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_fit_equals_the_pipeline_by_hand(rng, backend):
    u = rng.uniform(0, 0.5, (3, 200, 2))
    y = np.stack([np.sin(u[..., 0].cumsum(axis=1)), u[..., 1] ** 2], axis=-1)
    model = rs.ESNRegressor(
        units=60, alpha=1e-3, washout=20, seed=4, dtype="float64", backend=backend, **ESN_KWARGS
    ).fit(u, y)
    esn = rs.ESN(60, seed=4, dtype="float64", backend="numpy", **ESN_KWARGS)
    states = esn.run(u)
    features = np.concatenate([states, u], axis=-1)[:, 20:].reshape(-1, 62)
    coef, intercept = ridge_closed_form(features, y[:, 20:].reshape(-1, 2), 1e-3)
    np.testing.assert_allclose(model.readout_.coef_, coef.T, rtol=1e-6, atol=1e-8)
    u_next = rng.uniform(0, 0.5, (3, 30, 2))
    expected = np.concatenate([esn.run(u_next), u_next], axis=-1) @ coef + intercept
    np.testing.assert_allclose(model.predict(u_next), expected, rtol=0, atol=1e-8)


def test_without_input_features_and_intercept(series):
    u_train, y_train, u_test, _ = _task(series)
    model = rs.ESNRegressor(
        units=80,
        alpha=1e-4,
        washout=30,
        seed=2,
        dtype="float64",
        include_input=False,
        fit_intercept=False,
        **ESN_KWARGS,
    ).fit(u_train, y_train)
    esn = rs.ESN(80, seed=2, dtype="float64", backend="numpy", **ESN_KWARGS)
    states = esn.run(u_train)[30:]
    coef = np.linalg.solve(states.T @ states + 1e-4 * np.eye(80), states.T @ y_train[30:])
    np.testing.assert_allclose(model.readout_.coef_, coef.T, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.predict(u_test), esn.run(u_test) @ coef, rtol=0, atol=1e-8)


def test_one_step_mackey_glass_forecast(series):
    u_train, y_train, u_test, y_test = _task(series)
    model = rs.ESNRegressor(units=300, washout=100, seed=0).fit(u_train, y_train)
    prediction = model.predict(u_test)
    error = rs.metrics.nrmse(y_test, prediction)
    persistence = rs.metrics.nrmse(y_test, u_test)
    assert error < 0.05
    assert error < 0.1 * persistence
    r2 = model.score(u_test, y_test)
    assert r2 == pytest.approx(1 - np.sum((y_test - prediction) ** 2) / np.sum((y_test - y_test.mean()) ** 2), rel=1e-9)
    assert r2 > 0.99


def test_predict_twice_gives_identical_results(series):
    u_train, y_train, u_test, _ = _task(series)
    model = rs.ESNRegressor(units=100, washout=50, seed=1).fit(u_train, y_train)
    first = model.predict(u_test)
    second = model.predict(u_test)
    np.testing.assert_array_equal(first, second)
    # And a forecast in between does not change it either.
    model.forecast(5)
    np.testing.assert_array_equal(model.predict(u_test), first)


def _closed_loop(model, x, first_input, n_steps):
    """x <- (1-a) x + a tanh(W x + W_in u + b); y = coef @ [x, u] + c; u <- y. Returns the n_steps outputs."""
    esn = model.reservoir_
    W = esn.W.toarray().astype(np.float64)
    W_in, bias = esn.W_in.astype(np.float64), esn.bias.astype(np.float64)
    coef = np.atleast_2d(model.readout_.coef_).astype(np.float64)
    intercept = np.atleast_1d(model.readout_.intercept_).astype(np.float64)
    a = esn.leak_rate
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    u = np.asarray(first_input, dtype=np.float64).reshape(-1)
    outputs = []
    for _ in range(n_steps):
        x = (1 - a) * x + a * np.tanh(W @ x + W_in @ u + bias)
        y = coef @ np.concatenate([x, u]) + intercept
        outputs.append(y)
        u = y
    return np.array(outputs)


def _forecast_by_hand(model, x_end_of_fit, last_target, n_steps):
    """Closed loop from the end of fit: the first input is the last training target (known data)."""
    return _closed_loop(model, x_end_of_fit, last_target, n_steps)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forecast_matches_a_closed_loop_by_hand(series, backend):
    u_train, y_train, _, _ = _task(series)
    model = rs.ESNRegressor(
        units=150, alpha=1e-6, washout=100, seed=5, dtype="float64", backend=backend, **ESN_KWARGS
    ).fit(u_train, y_train)
    # The state at the end of fit, by hand, on the reference backend.
    esn = rs.ESN(150, seed=5, dtype="float64", backend="numpy", **ESN_KWARGS)
    x_end = esn.run(u_train)[-1]
    np.testing.assert_allclose(model.fitted_state_, x_end, rtol=1e-10, atol=1e-12)
    forecast = model.forecast(20)
    assert forecast.shape == (20, 1)
    expected = _forecast_by_hand(model, x_end, y_train[-1], 20)
    np.testing.assert_allclose(forecast, expected, rtol=1e-8, atol=1e-9)
    # It continues the series: the first forecast is for the step after the last target.
    assert np.abs(forecast[:10, 0] - series[1000:1010, 0]).max() < 0.02
    # Forecasting again starts from the same fitted state.
    np.testing.assert_array_equal(model.forecast(20), forecast)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forecast_after_a_warmup(series, backend):
    u_train, y_train, u_test, _ = _task(series)
    model = rs.ESNRegressor(
        units=100, alpha=1e-6, washout=100, seed=8, dtype="float64", backend=backend, **ESN_KWARGS
    ).fit(u_train, y_train)
    warmup = u_test[:50]  # continues the training inputs
    esn = rs.ESN(100, seed=8, dtype="float64", backend="numpy", **ESN_KWARGS)
    esn.run(u_train)
    x_warm = esn.run(warmup)[-1]
    coef = np.atleast_2d(model.readout_.coef_)
    first = coef @ np.concatenate([x_warm, warmup[-1]]) + np.atleast_1d(model.readout_.intercept_)
    expected = np.vstack([first, _closed_loop(model, x_warm, first, 14)])
    forecast = model.forecast(15, warmup=warmup)
    np.testing.assert_allclose(forecast, expected, rtol=1e-8, atol=1e-9)
    assert np.abs(forecast[:5, 0] - series[1049:1054, 0]).max() < 0.02  # the value after warmup[-1] first


def test_forecast_with_one_dimensional_series(series):
    s = series[:800, 0]
    model = rs.ESNRegressor(units=100, washout=50, seed=3, dtype="float64", **ESN_KWARGS).fit(s[:-1], s[1:])
    forecast = model.forecast(10)
    assert forecast.shape == (10,)
    esn = rs.ESN(100, seed=3, dtype="float64", backend="numpy", **ESN_KWARGS)
    x_end = esn.run(s[:-1])[-1]
    np.testing.assert_allclose(forecast, _forecast_by_hand(model, x_end, s[-1:], 10)[:, 0], rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("n_steps", [0, -2])
def test_forecast_bad_length(series, n_steps):
    model = rs.ESNRegressor(units=30, washout=10, seed=0, density=0.2).fit(series[:199], series[1:200])
    with pytest.raises(ValueError, match="n_steps"):
        model.forecast(n_steps)


def test_forecast_after_a_batch_fit(rng):
    u = rng.uniform(0, 1, (2, 100, 1))
    model = rs.ESNRegressor(units=30, washout=10, seed=0, density=0.2).fit(u, u)
    with pytest.raises(ValueError, match="batch"):
        model.forecast(5)


def test_forecast_needs_as_many_outputs_as_inputs(rng):
    u = rng.uniform(0, 1, (200, 2))
    model = rs.ESNRegressor(units=30, washout=10, seed=0, density=0.2).fit(u, u[:, :1])
    with pytest.raises(ValueError, match="n_outputs"):
        model.forecast(5)


# --------------------------------------------------------------------------- parameters
def test_get_params_set_params_round_trip():
    model = rs.ESNRegressor(units=42, alpha=[1e-3, 1e-1], washout=7, seed=9, backend="numpy", leak_rate=0.4)
    params = model.get_params()
    assert params["units"] == 42 and params["washout"] == 7 and params["seed"] == 9
    assert params["alpha"] == [1e-3, 1e-1] and params["leak_rate"] == 0.4
    clone = rs.ESNRegressor(**params)
    assert clone.get_params() == params
    assert model.set_params(units=10, alpha=0.5) is model
    assert model.get_params() == {**params, "units": 10, "alpha": 0.5}
    with pytest.raises(ValueError, match="(?i)invalid parameter 'colour'"):
        model.set_params(colour="red")
    # No work in __init__: nothing fitted, no validation yet.
    assert not hasattr(rs.ESNRegressor(units=-1), "reservoir_")
    assert "units=42" in repr(clone)


def test_set_params_changes_the_next_fit(series):
    u_train, y_train, _, _ = _task(series)
    model = rs.ESNRegressor(units=40, washout=10, seed=0, density=0.2)
    model.fit(u_train, y_train)
    assert model.reservoir_.units == 40
    model.set_params(units=55).fit(u_train, y_train)
    assert model.reservoir_.units == 55
    assert model.readout_.coef_.shape == (1, 56)


# --------------------------------------------------------------------------- alpha selection
def test_alpha_list_selects_on_the_last_validation_fraction(series):
    u_train, y_train, _, _ = _task(series)
    alphas = [1e-10, 1e-6, 1e-2, 10.0]
    washout, fraction = 50, 0.25
    model = rs.ESNRegressor(
        units=80, alpha=alphas, washout=washout, validation_fraction=fraction, seed=6, dtype="float64", **ESN_KWARGS
    ).fit(u_train, y_train)
    assert model.alpha_ in alphas
    # By hand: fit on the first 75 % of the kept steps, score on the rest, take the best.
    esn = rs.ESN(80, seed=6, dtype="float64", backend="numpy", **ESN_KWARGS)
    features = np.hstack([esn.run(u_train), u_train])[washout:]
    targets = y_train[washout:]
    split = int(round(len(features) * (1 - fraction)))
    errors = {}
    for alpha in alphas:
        coef, intercept = ridge_closed_form(features[:split], targets[:split], alpha)
        errors[alpha] = np.mean((features[split:] @ coef + intercept - targets[split:]) ** 2)
    assert model.alpha_ == min(errors, key=errors.get)
    # The final readout is refitted on all kept steps with the chosen alpha.
    coef, intercept = ridge_closed_form(features, targets, model.alpha_)
    np.testing.assert_allclose(model.readout_.predict(features), features @ coef + intercept, rtol=0, atol=1e-7)


# --------------------------------------------------------------------------- bad input
def test_predict_and_forecast_before_fit():
    model = rs.ESNRegressor(units=10)
    with pytest.raises(rs.NotFittedError, match="not fitted"):
        model.predict(np.zeros((5, 1)))
    with pytest.raises(rs.NotFittedError, match="not fitted"):
        model.forecast(3)


@pytest.mark.parametrize("washout", [100, 150])
def test_washout_must_leave_training_steps(rng, washout):
    u = rng.uniform(0, 1, (100, 1))
    with pytest.raises(ValueError, match="washout"):
        rs.ESNRegressor(units=10, density=0.3, washout=washout).fit(u, u)


def test_negative_washout(rng):
    u = rng.uniform(0, 1, (100, 1))
    with pytest.raises(ValueError, match="washout"):
        rs.ESNRegressor(units=10, density=0.3, washout=-1).fit(u, u)


def test_target_length_mismatch(rng):
    u = rng.uniform(0, 1, (100, 1))
    with pytest.raises(ValueError, match="disagree"):
        rs.ESNRegressor(units=10, density=0.3, washout=5).fit(u, u[:-1])
    with pytest.raises(ValueError, match="disagree"):
        rs.ESNRegressor(units=10, density=0.3, washout=5).fit(u[None].repeat(2, 0), u[None])


def test_predict_with_wrong_input_width(rng):
    u = rng.uniform(0, 1, (100, 2))
    model = rs.ESNRegressor(units=10, density=0.3, washout=5, seed=0).fit(u, u[:, :1])
    with pytest.raises(ValueError, match="features"):
        model.predict(rng.uniform(0, 1, (10, 3)))


def test_non_finite_training_data(rng):
    u = rng.uniform(0, 1, (100, 1))
    bad = u.copy()
    bad[42] = np.nan
    with pytest.raises(ValueError, match="time step 42"):
        rs.ESNRegressor(units=10, density=0.3, washout=5).fit(bad, u)
    with pytest.raises(ValueError, match="time step 42"):
        rs.ESNRegressor(units=10, density=0.3, washout=5).fit(u, bad)
