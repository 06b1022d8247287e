"""Forecasting pipelines: pandas series with a time index, many series, horizon
strategies, backtests, metrics, tuning (Optuna) and the sktime interface."""

from ._objectives import BacktestObjective, EstimatorObjective, SplitObjective
from .tuning import search_space, tune

__all__: list[str] = ["tune", "search_space", "SplitObjective", "BacktestObjective", "EstimatorObjective"]
