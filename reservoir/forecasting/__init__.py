"""Forecasting pipelines: pandas series with a time index, many series, horizon
strategies, backtests, metrics, tuning (Optuna) and the sktime interface."""

__all__: list[str] = []
