"""Rolling-origin backtests: the origins, refit or update, the tidy tables, bad settings."""

import numpy as np
import pytest

from reservoir import metrics
from reservoir.forecasting import ESNForecaster, backtest

pd = pytest.importorskip("pandas")


def _series(n, phase=0.0):
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 12 + phase) + 0.01 * t + 3.0


def test_expanding_refit_backtest_is_a_loop_of_fits():
    y = pd.Series(_series(120), index=pd.period_range("2010-01", periods=120, freq="M"), name="sales")
    model = ESNForecaster(units=30, seed=0)
    result = backtest(model, y, horizon=6, initial=60, step=12, seasonal_period=12)
    assert list(result.scores["n_train"]) == [66, 78, 90, 102, 114]  # flush with the end, 12 apart
    table = result.predictions
    assert list(table.columns[:7]) == ["origin", "step", "time", "series", "variable", "y_true", "y_pred"]
    assert len(table) == 5 * 6 and set(table["variable"]) == {"sales"}
    for n_train, origin_rows in zip(result.scores["n_train"], table.groupby("origin", sort=True)):
        rows = origin_rows[1]
        expected = ESNForecaster(units=30, seed=0).fit(y.iloc[:n_train]).predict(6)
        np.testing.assert_allclose(rows["y_pred"].to_numpy(), expected.to_numpy(), rtol=1e-12)
        assert rows["time"].tolist() == list(expected.index)
        assert origin_rows[0] == y.index[n_train - 1]
        np.testing.assert_allclose(rows["y_true"], y.iloc[n_train : n_train + 6])
        score = result.scores.set_index("origin").loc[origin_rows[0]]
        assert score["mase"] == pytest.approx(
            metrics.mase(y.iloc[n_train : n_train + 6], expected, y.iloc[:n_train], m=12), rel=1e-12
        )
        assert rows["rmse"].iloc[0] == pytest.approx(score["rmse"])
    summary = result.summary
    assert summary.loc["rmse", "mean"] == pytest.approx(result.scores["rmse"].mean())
    assert len(result.by_step("mae")) == 6


def test_no_refit_updates_one_model():
    y = _series(100)
    result = backtest(ESNForecaster(units=30, seed=1), y, horizon=5, initial=50, step=10, refit=False)
    model = ESNForecaster(units=30, seed=1).fit(y[:55])
    first = model.predict(5)
    model.update(y[55:65])
    second = model.predict(5)
    rows = result.predictions
    np.testing.assert_allclose(rows[rows.origin == 54]["y_pred"], first, rtol=1e-12)
    np.testing.assert_allclose(rows[rows.origin == 64]["y_pred"], second, rtol=1e-12)


def test_sliding_window_and_many_series_with_exogenous():
    series = [_series(90, 0.0), _series(70, 1.0)]
    exog = [np.cos(np.arange(len(s)))[:, None] for s in series]
    result = backtest(
        ESNForecaster(units=20, seed=2), series, exog, horizon=4, initial=40, step=8, window="sliding", window_length=30
    )
    scores = result.scores
    assert set(scores["series"]) == {0, 1} and set(scores["n_train"]) == {30}
    last = result.predictions[result.predictions.series == 1].groupby("origin").tail(4).tail(4)
    np.testing.assert_allclose(last["y_true"], series[1][-4:])
    cut = 70 - 4
    expected = (
        ESNForecaster(units=20, seed=2)
        .fit(
            [series[0][cut + 20 - 30 : cut + 20], series[1][cut - 30 : cut]],
            [exog[0][cut + 20 - 30 : cut + 20], exog[1][cut - 30 : cut]],
        )  # fmt: skip
        .predict(4, [exog[0][cut + 20 :], exog[1][cut:]])
    )
    np.testing.assert_allclose(last["y_pred"], expected[1], rtol=1e-12)


def test_bad_backtest_settings():
    y = _series(60)
    with pytest.raises(ValueError, match="seasonal_period=40 is not shorter than the training part"):
        backtest(ESNForecaster(units=10), y, horizon=5, initial=30, seasonal_period=40)
    with pytest.raises(ValueError, match="no origin fits"):
        backtest(ESNForecaster(units=10), y, horizon=10, initial=55)
    with pytest.raises(ValueError, match="unknown metric"):
        backtest(ESNForecaster(units=10), y, horizon=5, metrics=("mape",))
    with pytest.raises(ValueError, match="window"):
        backtest(ESNForecaster(units=10), y, horizon=5, window="rolling")


def test_backtest_of_a_multiindex_panel_keeps_names_and_times():
    index = pd.period_range("2015-01", periods=60, freq="M")
    panel = pd.concat(
        {name: pd.DataFrame({"units": _series(60, p)}, index=index) for name, p in (("x", 0.0), ("y", 2.0))},
        names=["shop", "month"],
    )
    result = backtest(ESNForecaster(units=20, seed=0, readout="per_series"), panel, horizon=3, initial=40, step=6)
    table = result.predictions
    assert set(table["series"]) == {"x", "y"} and set(table["variable"]) == {"units"}
    last = table[(table.series == "y")].tail(3)
    assert list(last["time"]) == list(index[-3:])
    np.testing.assert_allclose(last["y_true"], panel.xs("y")["units"].to_numpy()[-3:])
    assert result.scores.groupby("series").size().tolist() == [3, 3]  # 45, 51, 57 training steps
    assert list(result.scores["n_train"].unique()) == [45, 51, 57]


def test_score_is_the_mean_over_origins():
    result = backtest(ESNForecaster(units=20, seed=0), _series(80), horizon=4, initial=40, step=8)
    assert result.score("rmse") == pytest.approx(result.scores["rmse"].mean())
    with pytest.raises(ValueError, match="no 'crps' scores"):
        result.score("crps")
