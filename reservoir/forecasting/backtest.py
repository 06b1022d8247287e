"""Rolling-origin evaluation: forecast from many origins, compare with what came next.

Origins are counted back from the end of every series: the last origin leaves
exactly ``horizon`` steps after it, the ones before it are ``step`` steps earlier
each, down to the first that leaves ``initial`` training steps in the shortest
series. Series of different lengths are aligned at their ends. At every origin a
forecaster is fitted on each series' training part (``window="expanding"``: all of
it; ``"sliding"``: its last ``window_length`` steps) - or, with ``refit=False``,
fitted once at the first origin and then updated with the new observations (its
reservoir runs on, its readouts stay); ``refit=k`` refits at every k-th origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from .. import _validation as check
from .. import metrics as _metrics
from ._series import read_exogenous, read_panel, require_pandas

__all__ = ["backtest", "Backtest", "METRICS"]

#: Per-origin metrics a backtest can report: name -> function(y_true, y_pred, y_train, m).
METRICS = {
    "mae": lambda t, p, train, m: _metrics.mae(t, p),
    "rmse": lambda t, p, train, m: _metrics.rmse(t, p),
    "smape": lambda t, p, train, m: _metrics.smape(t, p),
    "mase": lambda t, p, train, m: _metrics.mase(t, p, train, m),
}


@dataclass
class Backtest:
    """What ``backtest`` returns.

    Attributes
    ----------
    predictions : pandas.DataFrame
        One row per origin, series, horizon step and variable: ``origin`` (the last
        training time), ``step`` (1..horizon), ``time``, ``series``, ``variable``,
        ``y_true``, ``y_pred``, then the per-origin metrics of that origin and series.
    scores : pandas.DataFrame
        One row per origin and series: ``origin``, ``series``, ``n_train``, the metrics.
    summary : pandas.DataFrame
        Per metric (rows): mean, std, min, max over origins and series.
    """

    predictions: object
    scores: object
    summary: object

    def score(self, metric: str = "mase") -> float:
        """The mean of `metric` over all origins and series (an objective for tuning)."""
        if metric not in self.scores.columns:
            raise ValueError(f"this backtest has no {metric!r} scores; it has {list(self.summary.index)}")
        return float(self.scores[metric].mean())

    def by_step(self, metric: str = "rmse"):
        """`metric` per horizon step, over all origins, series and variables (a pandas Series)."""
        if metric not in ("mae", "rmse", "smape"):
            raise ValueError(f"by_step computes 'mae', 'rmse' or 'smape', got {metric!r}")
        return self.predictions.groupby("step")[["y_true", "y_pred"]].apply(
            lambda rows: METRICS[metric](rows["y_true"].to_numpy(), rows["y_pred"].to_numpy(), None, 1)
        )


def _origins(lengths, horizon: int, step: int, initial: int) -> list[int]:
    """Offsets from the series' ends (steps hidden after each origin), in time order."""
    shortest = min(lengths)
    offsets = []
    offset = horizon
    while shortest - offset >= initial:
        offsets.append(offset)
        offset += step
    if not offsets:
        raise ValueError(
            f"no origin fits: the shortest series has {shortest} steps, fewer than initial={initial} "
            f"training steps plus horizon={horizon}"
        )
    return offsets[::-1]


def backtest(
    forecaster,
    y,
    X=None,
    *,
    horizon: int,
    initial: int | None = None,
    step: int | None = None,
    window: str = "expanding",
    window_length: int | None = None,
    refit=True,
    seasonal_period: int = 1,
    metrics=("mae", "rmse", "smape", "mase"),
) -> Backtest:
    """Rolling-origin evaluation of a forecaster on one series or many.

    Parameters
    ----------
    forecaster : ESNForecaster (or an estimator with the same fit / predict / update)
        Cloned (``sklearn.base.clone``) for every fit; the one given is not changed.
    y, X : series and exogenous inputs, in any layout ``ESNForecaster.fit`` takes.
    horizon : int
        Steps forecast from every origin.
    initial : int, optional
        Training steps at the first origin (in the shortest series); default: half of it.
    step : int, optional
        Steps between origins (default `horizon`: the forecast windows tile the test part).
    window : {"expanding", "sliding"}
        Train on everything before the origin, or on its last `window_length` steps
        (default `initial`).
    refit : bool or int
        Fit at every origin (True), once at the first (False, then ``update``), or at
        every k-th origin (an int k).
    seasonal_period : int
        ``m`` of MASE (the seasonal naive forecast it scales by).
    metrics : sequence of str
        From ``METRICS``: "mae", "rmse", "smape", "mase".

    Returns
    -------
    Backtest
        ``predictions`` (a tidy table), ``scores`` (per origin and series), ``summary``.
    """
    pd = require_pandas("backtest (its tables are pandas DataFrames)")
    series, layout = read_panel(y, "y")
    exogenous = read_exogenous(X, layout, "X")
    horizon = check.positive_int(horizon, "horizon")
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {sorted(METRICS)}")
    if window not in ("expanding", "sliding"):
        raise ValueError(f"window must be 'expanding' or 'sliding', got {window!r}")
    shortest = min(layout.lengths)
    initial = max(2, shortest // 2) if initial is None else check.positive_int(initial, "initial")
    step = horizon if step is None else check.positive_int(step, "step")
    window_length = initial if window_length is None else check.positive_int(window_length, "window_length")
    refit_every = 1 if refit is True else 0 if refit is False else check.positive_int(refit, "refit")
    seasonal_period = check.positive_int(seasonal_period, "seasonal_period")
    if "mase" in metrics and seasonal_period >= min(initial, window_length if window == "sliding" else initial):
        raise ValueError(
            f"seasonal_period={seasonal_period} is not shorter than the training part "
            f"({min(initial, window_length)} steps): MASE cannot be scaled"
        )
    offsets = _origins(layout.lengths, horizon, step, initial)

    def part(values, stop, start):
        return None if values is None else [v[start_i:stop_i] for v, start_i, stop_i in zip(values, start, stop)]

    rows, score_rows = [], []
    model = None
    previous_cut = None
    for number, offset in enumerate(offsets):
        cut = [length - offset for length in layout.lengths]  # training steps of each series
        start = [max(0, c - window_length) for c in cut] if window == "sliding" else [0] * len(cut)
        if model is None or (refit_every and number % refit_every == 0):
            model = clone(forecaster).fit(part(series, cut, start), part(exogenous, cut, start))
        else:
            model.update(part(series, cut, previous_cut), part(exogenous, cut, previous_cut))
        previous_cut = cut
        future = part(exogenous, [c + horizon for c in cut], cut)
        forecast = np.asarray(model.predict(horizon, future))
        forecast = forecast.reshape(len(series), horizon, -1)
        for i, values in enumerate(series):
            truth = values[cut[i] : cut[i] + horizon]
            train = values[start[i] : cut[i]]
            origin = layout.indexes[i][cut[i] - 1] if layout.is_pandas else cut[i] - 1
            times = (
                layout.indexes[i][cut[i] : cut[i] + horizon]
                if layout.is_pandas
                else np.arange(cut[i], cut[i] + horizon)
            )
            scores = {name: METRICS[name](truth, forecast[i], train, seasonal_period) for name in metrics}
            score_rows.append({"origin": origin, "series": layout.keys[i], "n_train": len(train), **scores})
            variables = _variable_names(layout, values.shape[1])
            for v, variable in enumerate(variables):
                for h in range(horizon):
                    rows.append(
                        {
                            "origin": origin,
                            "step": h + 1,
                            "time": times[h],
                            "series": layout.keys[i],
                            "variable": variable,
                            "y_true": truth[h, v],
                            "y_pred": forecast[i, h, v],
                            **scores,
                        }
                    )
    scores = pd.DataFrame(score_rows)
    summary = scores[list(metrics)].agg(["mean", "std", "min", "max"]).T
    return Backtest(pd.DataFrame(rows), scores, summary)


def _variable_names(layout, width: int) -> list:
    if layout.columns is not None and len(layout.columns) == width:
        return list(layout.columns)
    if layout.one_variable and layout.name is not None:
        return [layout.name]
    return list(range(width))
