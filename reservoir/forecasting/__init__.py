"""Forecasting pipelines: pandas series with a time index, many series, horizon
strategies, backtests, metrics and the sktime interface.

API (stable)::

    from reservoir.forecasting import ESNForecaster, backtest

    f = ESNForecaster(units=100, spectral_radius=0.9, leak_rate=1.0, input_scaling=0.5,
                      density=None, alpha="auto", include_input=True, seed=0, warmup=None,
                      strategy="recursive" | "direct", horizon=None,
                      readout="global" | "per_series")
    f.fit(y, X=None)                 # y: array (T,), (T, k), (B, T, k), list of series,
                                     # pandas Series/DataFrame (time index), MultiIndex
                                     # (series, time), dict of pandas; X beside y
    f.predict(horizon, X=None)       # X: future exogenous values for the horizon
    f.update(y_new, X_new=None, refit=False)
    f.get_params() / f.set_params(units=..., spectral_radius=..., ...)

    result = backtest(f, y, X=None, horizon=12, initial=None, step=None,
                      window="expanding" | "sliding", window_length=None,
                      refit=True | False | k, seasonal_period=1,
                      metrics=("mae", "rmse", "smape", "mase"))
    result.predictions   # tidy: origin, step, time, series, variable, y_true, y_pred, metrics
    result.scores        # one row per origin and series: origin, series, n_train, metrics
    result.summary       # metric x (mean, std, min, max)
    result.by_step("rmse")

Metrics live in ``reservoir.metrics`` (mae, rmse, nrmse, mase, smape, r2,
crps_gaussian, crps_ensemble). ``reservoir.forecasting.sktime.ESNSktimeForecaster``
is the sktime interface (needs sktime; importing this package does not).
"""

from .backtest import METRICS, Backtest, backtest
from .forecaster import ESNForecaster

__all__: list[str] = ["ESNForecaster", "backtest", "Backtest", "METRICS"]
