"""The sktime interface: sktime's own estimator checks, the same forecasts as ESNForecaster, sktime optional."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

sktime = pytest.importorskip("sktime")
pd = pytest.importorskip("pandas")

from reservoir.forecasting import ESNForecaster  # noqa: E402
from reservoir.forecasting.sktime import ESNSktimeForecaster  # noqa: E402


def _check(estimator):
    from sktime.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sktime's FutureWarnings, tiny readouts' ReservoirWarnings
        results = check_estimator(estimator, raise_exceptions=False, verbose=False)
    failures = {name: result for name, result in results.items() if result != "PASSED"}
    assert len(results) > 100 and not failures, failures


def test_sktime_check_estimator_on_an_instance():
    _check(ESNSktimeForecaster(units=20, seed=0))


@pytest.mark.slow
def test_sktime_check_estimator_on_every_test_parameter_set():
    _check(ESNSktimeForecaster)


def test_sktime_forecasts_are_esnforecaster_forecasts():
    from sktime.forecasting.base import ForecastingHorizon

    index = pd.period_range("2001-01", periods=96, freq="M")
    t = np.arange(96)
    y = pd.Series(np.sin(2 * np.pi * t / 12) + 0.02 * t + 5, index=index, name="sales")
    X = pd.DataFrame({"promo": (t % 5 == 0).astype(float)}, index=index)
    X_future = pd.DataFrame(
        {"promo": (np.arange(96, 102) % 5 == 0).astype(float)}, index=pd.period_range("2009-01", periods=6, freq="M")
    )
    fh = ForecastingHorizon([1, 3, 6])
    ours = ESNSktimeForecaster(units=30, seed=3).fit(y, X, fh=fh).predict(X=X_future)
    expected = ESNForecaster(units=30, seed=3).fit(y, X).predict(6, X_future)
    assert isinstance(ours, pd.Series) and ours.name == "sales"
    assert list(ours.index) == [expected.index[0], expected.index[2], expected.index[5]]
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy()[[0, 2, 5]], rtol=1e-12)


def test_direct_strategy_in_sktime():
    y = pd.Series(np.sin(np.arange(80) / 3.0) + 2, index=pd.RangeIndex(80))
    forecaster = ESNSktimeForecaster(units=20, seed=0, strategy="direct").fit(y, fh=[1, 2, 3, 4])
    expected = ESNForecaster(units=20, seed=0, strategy="direct", horizon=4).fit(y).predict()
    np.testing.assert_allclose(forecaster.predict().to_numpy(), expected.to_numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="needs fh in fit"):
        ESNSktimeForecaster(strategy="direct").fit(y)


def test_reservoir_imports_without_sktime():
    code = (
        "import sys; sys.modules['sktime'] = None\n"
        "import reservoir, reservoir.forecasting\n"
        "from reservoir.forecasting import ESNForecaster, backtest\n"
        "assert 'sktime' not in {m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}\n"
        "try:\n"
        "    import reservoir.forecasting.sktime\n"
        "except ImportError as error:\n"
        "    assert 'needs sktime' in str(error)\n"
        "else:\n"
        "    raise SystemExit('imported without sktime')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sktime_panel_is_one_global_model_and_series_may_end_early():
    t = np.arange(60)
    long = pd.DataFrame({"v": np.sin(t / 4.0) + 2}, index=pd.RangeIndex(60))
    short = pd.DataFrame({"v": np.cos(t[:57] / 5.0) + 2}, index=pd.RangeIndex(57))
    panel = pd.concat({"a": long, "b": short}, names=["id", "time"])
    forecast = ESNSktimeForecaster(units=20, seed=0).fit(panel, fh=[1, 2]).predict()
    assert list(forecast.index) == [("a", 60), ("a", 61), ("b", 60), ("b", 61)]
    inner = ESNForecaster(units=20, seed=0).fit({"a": long, "b": short}).predict(5)
    np.testing.assert_allclose(forecast.loc["a", "v"], inner["a"]["v"].to_numpy()[:2], rtol=1e-12)
    np.testing.assert_allclose(forecast.loc["b", "v"], inner["b"]["v"].to_numpy()[3:5], rtol=1e-12)
