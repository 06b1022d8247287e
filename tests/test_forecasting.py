"""ESNForecaster: the batched closed-loop kernel, many series, horizon strategies, pandas, bad input."""

import numpy as np
import pytest

from reservoir import ESN
from reservoir.forecasting import ESNForecaster
from reservoir.kernels import cpu, reference
from reservoir.kernels.cpu import forecast as cpu_forecast
from reservoir.readouts import Ridge

pd = pytest.importorskip("pandas")


def _series(n=300, phase=0.0, seed=0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(scale=0.01, size=n)
    return np.sin(2 * np.pi * t / 25 + phase) + 0.3 * np.cos(2 * np.pi * t / 9) + noise + 2.0


# --------------------------------------------------------------------------- kernel
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-5)])
@pytest.mark.parametrize("include_input", [True, False])
def test_cpu_forecast_kernel_matches_reference(dtype, tol, include_input):
    rng = np.random.default_rng(1)
    units, batch, steps, n_out, n_exog = 37, 5, 23, 2, 3
    esn = ESN(units, dtype=dtype, seed=3, leak_rate=0.6)
    esn.run(np.zeros((2, n_out + n_exog)))
    n_features = units + (n_out + n_exog if include_input else 0)
    coef = (rng.normal(size=(batch, n_out, n_features)) * 0.1).astype(dtype)
    intercept = rng.normal(size=(batch, n_out)).astype(dtype)
    state = rng.uniform(-0.5, 0.5, (batch, units)).astype(dtype)
    first = rng.normal(size=(batch, n_out)).astype(dtype)
    exog = rng.normal(size=(batch, steps, n_exog)).astype(dtype)
    ref_state, cpu_state = state.copy(), state.copy()
    expected = reference.esn_forecast(
        reference.prepare_esn(esn.W, esn.W_in, esn.bias), coef, intercept, include_input, ref_state, first, exog,
        0.6, "tanh",
    )  # fmt: skip
    got = cpu_forecast.esn_forecast(
        cpu.prepare_esn(esn.W, esn.W_in, esn.bias), coef, intercept, include_input, cpu_state, first, exog, 0.6, "tanh"
    )
    assert got.dtype == np.dtype(dtype) and got.shape == (batch, steps, n_out)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(cpu_state, ref_state, rtol=tol, atol=tol)


def test_forecast_kernel_of_one_sequence_is_esn_generate():
    """Without exogenous inputs, one sequence of the batched loop is the existing one-sequence closed loop."""
    rng = np.random.default_rng(2)
    esn = ESN(40, dtype="float64", seed=5)
    esn.run(np.zeros((3, 2)))
    coef = rng.normal(size=(2, 42)) * 0.1
    intercept = rng.normal(size=2)
    state = rng.uniform(-0.5, 0.5, 40)
    first = rng.normal(size=2)
    expected = reference.esn_generate(
        reference.prepare_esn(esn.W, esn.W_in, esn.bias), coef, intercept, True, state.copy(), first, 15, 1.0, "tanh"
    )
    got = cpu_forecast.esn_forecast(
        cpu.prepare_esn(esn.W, esn.W_in, esn.bias), coef[None], intercept[None], True, state[None].copy(),
        first[None], np.zeros((1, 15, 0)), 1.0, "tanh",
    )  # fmt: skip
    np.testing.assert_allclose(got[0], expected, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- recursive, direct
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_recursive_forecast_is_the_closed_loop_of_the_fitted_readout(backend):
    y = _series()
    model = ESNForecaster(units=50, seed=0, backend=backend).fit(y)
    forecast = model.predict(20)
    assert forecast.shape == (20,)
    esn = model.reservoir_
    esn.state = model.state_[0]
    standardised = esn.generate(20, model.coef_[0], model.intercept_[0], model.last_value_[0])
    np.testing.assert_allclose(forecast, standardised[:, 0] * model.y_scale_[0, 0] + model.y_mean_[0, 0], rtol=1e-10)
    truth = _series(320)[300:]
    assert np.sqrt(np.mean((forecast - truth) ** 2)) < 0.25 * np.std(truth)


def test_recursive_readout_is_ridge_on_one_step_targets():
    y = _series(200)
    model = ESNForecaster(units=30, seed=1, alpha=1e-3, warmup=10, normalize=False).fit(y)
    esn = ESN(30, seed=1, input_scaling=0.5, dtype="float64")
    states = esn.run(y[:-1])
    features = np.concatenate([states, y[:-1, None]], axis=1)[10:]
    expected = Ridge(alpha=1e-3).fit(features, y[11:])
    np.testing.assert_allclose(model.coef_[0, 0], expected.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.state_[0], states[-1], rtol=1e-12)


def test_direct_readouts_are_ridge_on_shifted_targets():
    from sklearn.linear_model import Ridge as SkRidge

    y = _series(200)
    horizon, warmup = 4, 10
    model = ESNForecaster(units=30, seed=1, alpha=1e-2, warmup=warmup, normalize=False, strategy="direct",
                          horizon=horizon).fit(y)  # fmt: skip
    esn = ESN(30, seed=1, input_scaling=0.5, dtype="float64")
    states = esn.run(y[:-1])
    features = np.concatenate([states, y[:-1, None]], axis=1)
    rows = np.arange(warmup, len(y) - horizon)
    for h in range(1, horizon + 1):
        expected = SkRidge(alpha=1e-2).fit(features[rows], y[rows + h])
        np.testing.assert_allclose(model.coef_[0, h - 1], expected.coef_, rtol=1e-6, atol=1e-8)
    # the forecast: one more step on the last input, then every step's readout
    esn.state = states[-1]
    x = esn.run(y[-1:])[0]
    expected = model.coef_[0] @ np.concatenate([x, y[-1:]]) + model.intercept_[0]
    np.testing.assert_allclose(model.predict(), expected, rtol=1e-10)
    np.testing.assert_allclose(model.predict(2), expected[:2], rtol=1e-10)
    with pytest.raises(ValueError, match="horizon=4"):
        model.predict(5)


def test_direct_needs_a_horizon():
    with pytest.raises(ValueError, match="horizon"):
        ESNForecaster(strategy="direct").fit(_series(100))


# --------------------------------------------------------------------------- many series
def test_ragged_batch_equals_each_series_alone():
    """Series of different lengths share one batched run; each gets the readout (per series) and
    the forecast it gets alone."""
    series = [_series(150, 0.0, 1), _series(220, 1.0, 2), _series(90, 2.0, 3)]
    exog = [np.cos(np.arange(len(s)))[:, None] for s in series]
    future = [np.cos(np.arange(len(s), len(s) + 7))[:, None] for s in series]
    params = dict(units=40, seed=2, alpha=1e-4, readout="per_series")
    batch = ESNForecaster(**params).fit(series, exog)
    together = batch.predict(7, future)
    assert together.shape == (3, 7)  # a list of 1-D series: (B, H)
    for i, (s, e, f) in enumerate(zip(series, exog, future)):
        alone = ESNForecaster(**params).fit(s, e)
        np.testing.assert_allclose(batch.coef_[i], alone.coef_[0], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(together[i], alone.predict(7, f), rtol=1e-9)


def test_global_readout_pools_the_rows_of_all_series():
    series = np.stack([_series(120, p, int(10 * p)) for p in (0.0, 0.5, 1.5)])[..., None]  # (3, 120, 1)
    model = ESNForecaster(units=30, seed=4, alpha=1e-3, warmup=12, normalize=False).fit(series)
    assert model.coef_.shape == (1, 1, 31)
    esn = ESN(30, seed=4, input_scaling=0.5, dtype="float64")
    states = esn.run(series[:, :-1])
    features = np.concatenate([states, series[:, :-1]], axis=2)[:, 12:]
    expected = Ridge(alpha=1e-3).fit(features, series[:, 13:])
    np.testing.assert_allclose(model.coef_[0], np.atleast_2d(expected.coef_), rtol=1e-8, atol=1e-10)
    assert model.predict(5).shape == (3, 5, 1)


def test_update_runs_the_reservoir_on():
    y = _series(260)
    params = dict(units=30, seed=5, normalize=False, alpha=1e-3)
    updated = ESNForecaster(**params).fit(y[:200]).update(y[200:230]).update(y[230:])
    whole = ESNForecaster(**params).fit(y)
    np.testing.assert_allclose(updated.state_, whole.state_, rtol=1e-10, atol=1e-12)
    refitted = ESNForecaster(**params).fit(y[:200]).update(y[200:], refit=True)
    np.testing.assert_allclose(refitted.coef_, whole.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(refitted.predict(5), whole.predict(5), rtol=1e-9)


def test_float32_forecasts():
    y = _series(200)
    f64 = ESNForecaster(units=40, seed=0, alpha=1e-3).fit(y).predict(5)
    f32 = ESNForecaster(units=40, seed=0, alpha=1e-3, dtype="float32").fit(y).predict(5)
    np.testing.assert_allclose(f32, f64, rtol=1e-3)


# --------------------------------------------------------------------------- pandas
@pytest.mark.parametrize(
    "index, expected",
    [
        (pd.date_range("2021-01-01", periods=120, freq="h"), pd.date_range("2021-01-06", periods=4, freq="h")),
        (pd.period_range("2000-01", periods=120, freq="M"), pd.period_range("2010-01", periods=4, freq="M")),
        (pd.RangeIndex(10, 250, 2), pd.RangeIndex(250, 258, 2)),
    ],
)
def test_pandas_in_pandas_out(index, expected):
    y = pd.DataFrame({"load": _series(120), "temp": _series(120, 1.0)}, index=index)
    forecast = ESNForecaster(units=30, seed=0).fit(y).predict(4)
    assert isinstance(forecast, pd.DataFrame)
    assert list(forecast.columns) == ["load", "temp"]
    assert forecast.index.equals(expected)
    series = ESNForecaster(units=30, seed=0).fit(y["load"]).predict(4)
    assert isinstance(series, pd.Series) and series.name == "load" and series.index.equals(expected)


def test_pandas_exogenous_and_multiindex_panel():
    index = pd.date_range("2022-01-01", periods=100, freq="D")
    frames = {key: pd.DataFrame({"y": _series(100, p)}, index=index) for key, p in (("north", 0.0), ("south", 1.0))}
    y = pd.concat(frames, names=["region", "date"])
    X = pd.concat(
        {key: pd.DataFrame({"holiday": (index.dayofweek >= 5).astype(float)}, index=index) for key in frames},
        names=["region", "date"],
    )
    future_index = pd.date_range("2022-04-11", periods=5, freq="D")
    X_future = pd.concat(
        {key: pd.DataFrame({"holiday": (future_index.dayofweek >= 5).astype(float)}, index=future_index)
         for key in frames},
        names=["region", "date"],
    )  # fmt: skip
    model = ESNForecaster(units=30, seed=0).fit(y, X)
    forecast = model.predict(5, X_future)
    assert list(forecast.index.get_level_values(0).unique()) == ["north", "south"]
    assert forecast.xs("south", level=0).index.equals(future_index)
    assert list(forecast.columns) == ["y"]
    # the same numbers as NumPy arrays
    arrays = ESNForecaster(units=30, seed=0).fit(
        np.stack([frames[k].to_numpy() for k in frames]), np.stack([X.xs(k).to_numpy() for k in frames])
    )
    np.testing.assert_allclose(
        forecast.to_numpy().reshape(2, 5, 1),
        arrays.predict(5, np.stack([X_future.xs(k).to_numpy() for k in frames])),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="future values for 3 step"):
        model.predict(5, X_future.groupby(level=0).head(3))
    with pytest.raises(ValueError, match="does not continue"):
        model.predict(5, X_future.rename(lambda d: d + pd.Timedelta(days=1), level=1))


# --------------------------------------------------------------------------- bad input
def test_bad_time_indexes_are_named():
    values = _series(50)
    irregular = pd.DatetimeIndex(pd.date_range("2020-01-01", periods=50, freq="D").delete(20).append(
        pd.DatetimeIndex(["2020-03-15"])))  # fmt: skip
    with pytest.raises(ValueError, match="irregular"):
        ESNForecaster().fit(pd.Series(values, index=irregular))
    duplicated = pd.date_range("2020-01-01", periods=50, freq="D").delete(5).insert(5, pd.Timestamp("2020-01-05"))
    with pytest.raises(ValueError, match="duplicated timestamps.*2020-01-05"):
        ESNForecaster().fit(pd.Series(values, index=duplicated))
    with pytest.raises(ValueError, match="PeriodIndex is irregular"):
        ESNForecaster().fit(pd.Series(values, index=pd.period_range("2000", periods=51, freq="M").delete(7)))


def test_bad_input_is_named():
    y = _series(100)
    with pytest.raises(ValueError, match="y contains NaN at time step 7"):
        ESNForecaster().fit(np.where(np.arange(100) == 7, np.nan, y))
    with pytest.raises(ValueError, match="X has 90 time steps but y has 100"):
        ESNForecaster().fit(y, np.zeros((90, 1)))
    with pytest.raises(ValueError, match="shape"):
        ESNForecaster().fit(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="too few for warmup=100"):
        ESNForecaster(warmup=100).fit(y)
    model = ESNForecaster(units=20, seed=0).fit(y, np.ones((100, 2)))
    with pytest.raises(ValueError, match="pass their future values"):
        model.predict(3)
    with pytest.raises(ValueError, match="1 exogenous column.*the fit had 2"):
        model.predict(3, np.ones((3, 1)))
    with pytest.raises(ValueError, match="unknown strategy"):
        ESNForecaster(strategy="multi").fit(y)
    with pytest.raises(ValueError, match="fitted without exogenous"):
        ESNForecaster(units=20, seed=0).fit(y).predict(3, np.ones((3, 1)))


def test_parameters_round_trip():
    model = ESNForecaster()
    params = model.get_params()
    for name in ("units", "spectral_radius", "leak_rate", "input_scaling", "density", "alpha", "include_input",
                 "seed", "warmup"):  # fmt: skip
        assert name in params
    model.set_params(units=20, spectral_radius=0.5, leak_rate=0.3, alpha=1e-2)
    model.fit(_series(100))
    assert model.reservoir_.units == 20 and model.alpha_[0] == 1e-2


def test_difference_models_the_steps_and_sums_them_back():
    y = _series(200) + 0.05 * np.arange(200)
    params = dict(units=30, seed=6, alpha=1e-3)
    model = ESNForecaster(difference=True, **params).fit(y)
    steps = ESNForecaster(**params).fit(np.diff(y)).predict(8)
    np.testing.assert_allclose(model.predict(8), y[-1] + np.cumsum(steps), rtol=1e-12)
    updated = ESNForecaster(difference=True, normalize=False, **params).fit(y[:150]).update(y[150:])
    whole = ESNForecaster(difference=True, normalize=False, **params).fit(y)
    np.testing.assert_allclose(updated.state_, whole.state_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(updated.last_value_, whole.last_value_, rtol=1e-12)
    np.testing.assert_array_equal(updated.last_level_, [[y[-1]]])
    with pytest.raises(ValueError, match="difference=True needs at least 3"):
        ESNForecaster(difference=True).fit(np.ones(2))


def test_a_diverging_forecast_warns():
    from reservoir import ReservoirWarning

    model = ESNForecaster(units=20, seed=0).fit(_series(100))
    model.coef_ = model.coef_ * 50.0  # a readout whose closed loop blows up
    with pytest.warns(ReservoirWarning, match="diverges"):
        model.predict(30)


def test_forecasting_without_pandas():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import numpy as np\n"
        "from reservoir.forecasting import ESNForecaster, backtest\n"
        "y = np.sin(0.3 * np.arange(120))\n"
        "out = ESNForecaster(units=20, seed=0).fit(y).predict(4)\n"
        "assert type(out) is np.ndarray and out.shape == (4,)\n"
        "try:\n"
        "    backtest(ESNForecaster(units=20), y, horizon=4)\n"
        "except ImportError as error:\n"
        "    assert 'backtest (its tables are pandas DataFrames) needs pandas' in str(error), error\n"
        "else:\n"
        "    raise SystemExit('backtest ran without pandas')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_direct_per_series_ragged_batch_equals_each_series_alone():
    series = [_series(130, 0.0, 1), _series(170, 1.0, 2)]
    params = dict(units=25, seed=8, alpha=1e-3, readout="per_series", strategy="direct", horizon=5)
    together = ESNForecaster(**params).fit(series).predict()
    for i, s in enumerate(series):
        np.testing.assert_allclose(together[i], ESNForecaster(**params).fit(s).predict(), rtol=1e-9)


def test_pandas_update_continues_the_index():
    index = pd.date_range("2023-01-01", periods=120, freq="W-MON")
    y = pd.Series(_series(120), index=index, name="sales")
    model = ESNForecaster(units=20, seed=0).fit(y.iloc[:100])
    model.update(y.iloc[100:])
    assert model.predict(2).index.equals(pd.date_range(index[-1], periods=3, freq="W-MON")[1:])
    with pytest.raises(ValueError, match="start at .* but the series continues at"):
        model.update(y.iloc[110:])


def test_a_backend_without_the_closed_loop_kernel_is_named():
    import dataclasses

    model = ESNForecaster(units=20, seed=0).fit(_series(100))
    model.reservoir_._backend = dataclasses.replace(model.reservoir_._backend, name="cupy", kernel_module="cupy_raw")
    with pytest.raises(NotImplementedError, match="ESNForecaster: backend 'cupy' has no batched closed-loop"):
        model.predict(3)


def test_a_failed_fit_keeps_the_fitted_model():
    model = ESNForecaster(units=20, seed=0, alpha=1e-3).fit(_series(100))
    before = model.predict(5)
    with pytest.raises(ValueError, match="too few for warmup"):
        model.set_params(warmup=50).fit(_series(40) * 100.0)
    np.testing.assert_array_equal(model.set_params(warmup=None).predict(5), before)


def test_every_reservoir_parameter_is_a_forecaster_parameter():
    from reservoir._parameters import ESN_PARAMETERS

    params = ESNForecaster().get_params()
    assert set(ESN_PARAMETERS) <= set(params)
    for name, default in ESN_PARAMETERS.items():
        if name not in ("input_scaling",):  # standardised series: a smaller drive by default
            assert params[name] == default, name
