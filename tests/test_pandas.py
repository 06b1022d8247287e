"""pandas in, pandas out: index and column names survive every estimator; pandas stays optional."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import reservoir as rs


def _series(n=300, freq="D", seed=0):
    t = np.arange(n)
    values = np.sin(0.2 * t) + 0.05 * np.random.default_rng(seed).standard_normal(n)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq=freq), name="load")


def test_importing_reservoir_does_not_import_pandas():
    """Nor scikit-learn, which imports pandas whenever it is installed: both load with the estimators."""
    code = (
        "import sys, numpy as np, reservoir as rs\n"
        "rs.ESN(20, seed=0).run(np.sin(np.arange(50.0)))\n"
        "print('pandas' in sys.modules, 'sklearn' in sys.modules)\n"
        "rs.ESNRegressor\n"
        "print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True"]


def test_reservoir_works_without_pandas():
    """pandas is optional: with it unimportable, reservoir imports, fits and forecasts (NumPy out)."""
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import numpy as np, reservoir as rs\n"
        "s = np.sin(0.2 * np.arange(200))\n"
        "m = rs.ESNRegressor(30, seed=0).fit(s[:-1], s[1:])\n"
        "out = m.forecast(5), m.predict(s[:-1]), rs.ESN(10, seed=0).run(s)\n"
        "print(all(type(o) is np.ndarray for o in out))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_the_package_imports_pandas_only_where_a_pandas_result_is_built():
    """pandas is optional: no module imports it at module level, so importing reservoir never
    needs it; functions that build pandas results (a backtest table, a loaded pandas index)
    import it when called."""
    import pathlib
    import re

    root = pathlib.Path(rs.__file__).parent
    sources = [path for path in root.rglob("*.py")]
    assert sources
    for path in sources:
        assert not re.search(r"^(import pandas|from pandas)", path.read_text(), flags=re.MULTILINE), path
    # (scikit-learn imports pandas whenever it is installed, so only the sklearn-free core is checked)
    code = "import reservoir, reservoir.io, sys; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_esn_regressor_predict_keeps_index_and_name():
    s = _series()
    model = rs.ESNRegressor(50, seed=0).fit(s[:-1], s[1:])
    prediction = model.predict(s[:-1])
    assert isinstance(prediction, pd.Series) and prediction.name == "load"
    assert prediction.index.equals(s.index[:-1])
    np.testing.assert_array_equal(prediction.to_numpy(), model.predict(s[:-1].to_numpy()))


@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2024-01-01", periods=200, freq="h"),
        pd.period_range("2020-01", periods=200, freq="M"),
        pd.RangeIndex(10, 610, 3),
        pd.Index(np.arange(200) * 5 + 7),
    ],
)
def test_forecast_continues_the_index(index):
    s = pd.Series(np.sin(0.3 * np.arange(200)), index=index, name="y")
    model = rs.ESNRegressor(40, seed=1).fit(s[:-1], s[1:])
    forecast = model.forecast(12)
    assert isinstance(forecast, pd.Series) and forecast.name == "y"
    if isinstance(index, pd.PeriodIndex):
        expected = pd.period_range(index[-1] + 1, periods=12, freq=index.freq)
    elif isinstance(index, pd.DatetimeIndex):
        expected = pd.date_range(index[-1] + index.freq, periods=12, freq=index.freq)
    else:
        step = index[1] - index[0]
        expected = pd.Index(index[-1] + step * np.arange(1, 13))
    assert list(forecast.index) == list(expected)
    np.testing.assert_array_equal(forecast.to_numpy(), model.forecast(12).to_numpy())


def test_forecast_of_a_dataframe_keeps_columns_and_infers_a_missing_freq():
    index = pd.DatetimeIndex(pd.date_range("2024-03-01", periods=150, freq="15min").to_list())  # freq dropped
    assert index.freq is None
    frame = pd.DataFrame({"a": np.sin(0.2 * np.arange(150)), "b": np.cos(0.2 * np.arange(150))}, index=index)
    model = rs.ESNRegressor(40, seed=2).fit(frame[:-1], frame[1:])
    forecast = model.forecast(5)
    assert list(forecast.columns) == ["a", "b"]
    assert forecast.index[0] == index[-1] + pd.Timedelta("15min")
    assert (forecast.index[1:] - forecast.index[:-1] == pd.Timedelta("15min")).all()


def test_esn_run_on_a_dataframe_gives_a_dataframe(rng):
    frame = pd.DataFrame(rng.uniform(-1, 1, (30, 2)), index=pd.RangeIndex(100, 130), columns=["u", "v"])
    esn = rs.ESN(20, seed=0)
    states = esn.run(frame)
    assert isinstance(states, pd.DataFrame) and states.shape == (30, 20)
    assert states.index.equals(frame.index)
    np.testing.assert_array_equal(states.to_numpy(), esn.reset().run(frame.to_numpy()))


def test_missing_values_in_a_nullable_column_name_the_step():
    s = pd.Series([0.1, 0.2, pd.NA, 0.4] * 10, dtype="Float64")
    with pytest.raises(ValueError, match="NaN at time step 2"):
        rs.ESN(10, seed=0).run(s)


def test_elm_estimators_keep_index_and_names(rng):
    X = pd.DataFrame(rng.standard_normal((120, 2)), index=[f"r{i}" for i in range(120)], columns=["p", "q"])
    y = pd.Series(X["p"] - X["q"], index=X.index, name="target")
    regression = rs.ELMRegressor(50, seed=0).fit(X, y).predict(X)
    assert isinstance(regression, pd.Series) and regression.name == "target" and regression.index.equals(X.index)
    labels = pd.Series(np.where(X["p"] > 0, "up", "down"), index=X.index, name="direction")
    classifier = rs.ELMClassifier(50, seed=0).fit(X, labels)
    predicted = classifier.predict(X)
    assert isinstance(predicted, pd.Series) and predicted.name == "direction" and predicted.index.equals(X.index)
    assert (predicted == labels).mean() > 0.9
    proba = classifier.predict_proba(X)
    assert list(proba.columns) == ["down", "up"] and proba.index.equals(X.index)
    np.testing.assert_allclose(proba.to_numpy(), classifier.predict_proba(X.to_numpy()))
    hidden = rs.ELMRegressor(30, seed=0).fit(X, y).hidden_activations(X)
    assert hidden.shape == (120, 30) and hidden.index.equals(X.index)


def test_esn_classifier_and_ridge_keep_the_index(rng):
    X = pd.DataFrame(rng.standard_normal((40, 25)), index=np.arange(40) * 2)
    y = pd.Series(rng.integers(0, 2, 40), index=X.index, name="label")
    predicted = rs.ESNClassifier(20, seed=0).fit(X, y).predict(X)
    assert isinstance(predicted, pd.Series) and predicted.index.equals(X.index) and predicted.name == "label"
    Y = pd.DataFrame({"first": X[0] * 2.0, "second": X[1] - 1.0}, index=X.index)
    ridge = rs.Ridge(alpha=1e-8).fit(X, Y)
    out = ridge.predict(X)
    assert list(out.columns) == ["first", "second"] and out.index.equals(X.index)
    np.testing.assert_allclose(out.to_numpy(), Y.to_numpy(), atol=1e-6)
