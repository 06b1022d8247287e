"""Forecasting pipelines: pandas series with a time index, many series, horizon
strategies, backtests, metrics and the sktime interface.

API (stable)::

    from reservoir.forecasting import ESNForecaster, backtest

    f = ESNForecaster(units=100, spectral_radius=0.9, leak_rate=1.0, input_scaling=0.5,
                      density=None, alpha="auto", include_input=True, seed=0, warmup=None,
                      strategy="recursive" | "direct", horizon=None,
                      readout="global" | "per_series", normalize=True, difference=False,
                      validation_fraction=0.2, dtype="float64", backend="auto")
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
    result.score("mase")  # mean over origins and series: a float, e.g. a tuning objective
    result.by_step("rmse")

Forecasts come back in the form ``y`` was given (NumPy: (H,), (H, k), (B, H, k);
pandas: the index continued at the series' frequency, the columns kept). Fitted
arrays end in ``_``; the constructor parameters are plain JSON values.

Metrics live in ``reservoir.metrics`` (mae, rmse, nrmse, mase, smape, r2,
crps_gaussian, crps_ensemble). ``reservoir.forecasting.sktime.ESNSktimeForecaster``
is the sktime interface (needs sktime; importing this package does not).
"""

from ._objectives import BacktestObjective, EstimatorObjective, SplitObjective  # tuning: Optuna is imported lazily
from .backtest import METRICS, Backtest, backtest
from .forecaster import ESNForecaster
from .tuning import search_space, tune

__all__: list[str] = ["ESNForecaster", "backtest", "Backtest", "METRICS"]
__all__ += ["tune", "search_space", "SplitObjective", "BacktestObjective", "EstimatorObjective"]
