"""Ready-made objectives for :func:`reservoir.forecasting.tune`: an ESN forecaster scored on
a time-ordered split or on rolling origins.

The model is an ESN driven by the series (optionally by a few delayed values of it,
``delays``) with a *direct* multi-horizon ridge readout: from the state at time t
one linear map gives ``s[t+1], ..., s[t+horizon]``, so no forecast is fed back and
every penalty of a list is scored in one pass over one Gram matrix
(:class:`reservoir.readouts.Ridge` with ``validation=``). The reservoir is causal,
so one teacher-forced run over the whole series gives the state at every origin;
those states are cached per reservoir configuration and seed, and a trial that
changes only readout parameters (``alpha``, ``include_input``) runs no reservoir.

Parameters the objectives understand (searched or fixed): the reservoir's
``units, spectral_radius, leak_rate, input_scaling, input_density, bias_scaling,
density, fan_in, activation``; ``delays`` (int >= 1: the inputs are
``s[t], ..., s[t-delays+1]``); ``include_input`` (bool: those inputs also feed the
readout); ``alpha`` (one penalty instead of the list ``alphas``); ``relative_to``
(``None``, ``"last"`` or ``"season"``: the readout learns the change from the last
value ``s[t]``, or from the seasonal naive forecast ``s[t+k-m*ceil(k/m)]`` with the
objective's ``season`` m, instead of the value itself; the error is the same one,
measured on the values, so the choice can be searched like any other).
"""

from __future__ import annotations

import numbers
from collections import OrderedDict

import numpy as np

from .. import _pandas
from .. import _validation as check
from ..esn import ESN
from ..readouts import Ridge

__all__ = ["SplitObjective", "BacktestObjective", "EstimatorObjective"]

#: Penalties scored in one pass when ``alpha`` is not a parameter of the trial.
DEFAULT_ALPHAS = tuple(10.0**k for k in range(-8, 3))

_RESERVOIR = ("spectral_radius", "leak_rate", "input_scaling", "input_density", "bias_scaling", "density", "fan_in")
_READOUT = ("alpha", "include_input", "relative_to")
_DEFAULTS = {"units": 100, "delays": 1, "include_input": True, "relative_to": None}


class _DirectESN:
    """States of a series under an ESN (cached) and direct ridge readouts fitted on rows of them."""

    def __init__(self, series, horizon, washout, scale_until, dtype, backend, cache_size, season=1):
        values = np.asarray(_pandas.to_numpy(series), dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[0] < 3:
            raise ValueError(f"series must be (T,) or (T, n_series) with T >= 3, got shape {np.shape(series)}")
        if not np.all(np.isfinite(values)):
            step = int(np.argwhere(~np.isfinite(values))[0][0])
            raise ValueError(f"series contains NaN or Inf (first at step {step}); fill or drop missing values first")
        self.horizon = check.positive_int(horizon, "horizon")
        self.season = check.positive_int(season, "season")
        self.washout = check.non_negative_int(washout, "washout")
        # Normalised with the statistics of the part every fit may see (no look-ahead).
        head = values[:scale_until]
        self.mean = head.mean(axis=0)
        self.scale = head.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        self.values = values
        self.scaled = (values - self.mean) / self.scale
        self.dtype = dtype
        self.backend = backend
        self.cache_size = check.positive_int(cache_size, "cache_size")
        self._cache: OrderedDict = OrderedDict()
        self.runs = 0  # reservoir runs made (the rest came from the cache)

    @property
    def length(self) -> int:
        return self.values.shape[0]

    def _inputs(self, delays: int) -> np.ndarray:
        """Rows ``[s[t], s[t-1], ..., s[t-delays+1]]`` (before the start: the first value)."""
        padded = np.concatenate([np.repeat(self.scaled[:1], delays - 1, axis=0), self.scaled])
        return np.concatenate(
            [padded[delays - 1 - lag : delays - 1 - lag + self.length] for lag in range(delays)], axis=1
        )

    def _states(self, reservoir_params: dict, units: int, delays: int, seed: int) -> np.ndarray:
        key = (units, delays, seed, tuple(sorted(reservoir_params.items())))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        esn = ESN(units, seed=seed, dtype=self.dtype, backend=self.backend, **reservoir_params)
        states = np.asarray(esn.run(self._inputs(delays).astype(self.dtype)), dtype=np.float64)
        self.runs += 1
        self._cache[key] = states
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return states

    def design(self, params: dict, seed: int):
        """(features (T, F), targets (T, horizon * n_series), first usable row, penalties)."""
        params = {**_DEFAULTS, **params}
        unknown = sorted(set(params) - set(_RESERVOIR) - set(_READOUT) - {"units", "delays", "activation"})
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown}; the ESN objectives understand units, delays, activation, "
                f"{', '.join(_RESERVOIR + _READOUT)}"
            )
        units = check.positive_int(params["units"], "units")
        delays = check.positive_int(params["delays"], "delays")
        reservoir_params = {name: params[name] for name in _RESERVOIR + ("activation",) if name in params}
        states = self._states(reservoir_params, units, delays, seed)
        features = np.concatenate([states, self._inputs(delays)], axis=1) if params["include_input"] else states
        targets = self._targets() - self._baseline(params["relative_to"])
        first = max(self.washout, delays - 1)
        if params["relative_to"] == "season":
            first = max(first, self.season - 1)
        return features, targets, first, params.get("alpha")

    def _shifted(self, steps) -> np.ndarray:
        """Row t: ``s[t + k]`` for k in `steps` (all series side by side; NaN past the end)."""
        T, n = self.scaled.shape
        rows = np.full((T, len(steps) * n), np.nan)
        for column, k in enumerate(steps):
            lo, hi = max(0, -k), min(T, T - k)
            rows[lo:hi, column * n : (column + 1) * n] = self.scaled[lo + k : hi + k]
        return rows

    def _targets(self) -> np.ndarray:
        return self._shifted(range(1, self.horizon + 1))

    def _baseline(self, relative_to) -> np.ndarray:
        """What the readout's targets are relative to: known at the origin t."""
        if relative_to is None:
            return np.zeros((self.length, self.horizon * self.scaled.shape[1]))
        if relative_to == "last":
            return np.tile(self.scaled, (1, self.horizon))
        if relative_to == "season":
            m = self.season
            return self._shifted([k - m * -(-k // m) for k in range(1, self.horizon + 1)])
        raise ValueError(f"relative_to must be None, 'last' or 'season', got {relative_to!r}")

    def fold_errors(self, features, targets, train_rows: slice, test_rows: slice, alphas) -> dict:
        """Validation mean squared error (scaled units) of every penalty: one Gram matrix, one pass."""
        if train_rows.stop - train_rows.start < 2:
            raise ValueError(
                f"only {max(train_rows.stop - train_rows.start, 0)} training rows before a validation origin: "
                "shorten washout, horizon or the validation part"
            )
        readout = Ridge(alpha=list(alphas))
        with _one_blas_thread():
            readout.fit(features[train_rows], targets[train_rows], validation=(features[test_rows], targets[test_rows]))
        return readout.validation_errors_

    def forecast(self, params: dict, seed: int, origin: int, alpha: float) -> np.ndarray:
        """The ``horizon`` values after step ``origin`` (original units), fitted on what precedes them."""
        features, targets, first, _ = self.design(params, seed)
        rows = slice(first, origin - self.horizon + 1)
        with _one_blas_thread():
            readout = Ridge(alpha=alpha).fit(features[rows], targets[rows])
        baseline = self._baseline({**_DEFAULTS, **params}["relative_to"])[origin]
        prediction = (readout.predict(features[origin : origin + 1])[0] + baseline).reshape(self.horizon, -1)
        return prediction * self.scale + self.mean


def _one_blas_thread():
    """The readouts here are small (about 100 features): BLAS threads only contend for the
    cores the trials already use (an eigh of 104 x 104 measured 0.003 s on one OpenBLAS
    thread, 0.3 s on two, on a loaded 2-core machine)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _alphas(alphas, chosen):
    if chosen is not None:
        return [check.non_negative_float(chosen, "alpha")]
    values = [check.non_negative_float(value, "alphas") for value in np.ravel(alphas)]
    if not values:
        raise ValueError("alphas is empty: give at least one penalty")
    return values


def _score(errors: dict) -> tuple[float, dict]:
    alpha = min(errors, key=errors.get)
    return float(np.sqrt(errors[alpha])), {"alpha": float(alpha)}


def _count(value, total: int, name: str) -> int:
    """A number of steps given as a count or as a fraction of `total`."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        if not 0 < value < 1:
            raise ValueError(f"{name} as a fraction must be in (0, 1), got {value}")
        return max(1, int(round(value * total)))
    return check.positive_int(value, name)


class SplitObjective:
    """Score of an ESN forecaster on the last part of a series after fitting on the first.

    ``objective(params, seed)`` returns ``(rmse, {"alpha": chosen})``: the root mean
    squared error of the ``horizon``-step direct forecasts from every origin of the
    validation part (in units of the training part's standard deviation: 1.0 is the
    error of forecasting the training mean), with the penalty of ``alphas`` that
    gives the lowest error.

    Parameters
    ----------
    series : array (T,) or (T, n_series), or a pandas Series / DataFrame
        Ordered in time; NaN is an error.
    validation : float in (0, 1) or int
        The last steps held out (a fraction of T, or a count).
    horizon : int
        Steps ahead forecast from each origin.
    season : int
        Seasonal period m (for ``relative_to="season"``); 1 for none.
    washout : int, optional
        Leading states left out of every fit (the reservoir forgets its zero start);
        by default ``min(20, T // 10)``.
    alphas : sequence of float
        Penalties scored in one pass when ``alpha`` is not among the parameters.
    dtype, backend : as for :class:`reservoir.ESN` (float64 and "auto" by default).
    cache_size : int
        Reservoir runs kept (per configuration and seed).
    """

    def __init__(
        self,
        series,
        *,
        validation=0.2,
        horizon=1,
        season=1,
        washout=None,
        alphas=DEFAULT_ALPHAS,
        dtype="float64",
        backend="auto",
        cache_size=32,
    ):
        length = np.shape(_pandas.to_numpy(series))[0]
        self.n_validation = _count(validation, length, "validation")
        split = length - self.n_validation
        if split < 2:
            raise ValueError(f"validation={validation} leaves {split} training steps out of {length}")
        washout = min(20, length // 10) if washout is None else washout
        self.engine = _DirectESN(series, horizon, washout, split, dtype, backend, cache_size, season)
        self.split = split
        self.alphas = alphas

    def __call__(self, params: dict, seed: int):
        features, targets, first, chosen = self.engine.design(params, seed)
        h = self.engine.horizon
        train = slice(first, self.split - h)  # targets of training rows end before the split
        test = slice(max(self.split - 1, first), self.engine.length - h)
        if test.stop <= test.start:
            raise ValueError(f"the validation part ({self.n_validation} steps) is shorter than horizon={h}")
        return _score(self.engine.fold_errors(features, targets, train, test, _alphas(self.alphas, chosen)))


class BacktestObjective:
    """Score of an ESN forecaster over rolling origins: refitted at each origin on all that precedes it.

    Origins ``T - horizon - k * step`` for ``k = 0 .. n_origins - 1``; at each, the readout
    is fitted on the rows whose targets precede the origin and forecasts the next
    ``horizon`` steps. ``objective(params, seed)`` returns ``(rmse, {"alpha": chosen})``:
    the root mean squared error over every origin and step (units of the standard
    deviation before the first origin), for the penalty that is best over all origins.
    ``forecast(params, seed, alpha)`` gives the forecasts themselves.

    Parameters
    ----------
    series : array (T,) or (T, n_series), or a pandas Series / DataFrame
    horizon, season : as for :class:`SplitObjective`.
    n_origins : int
    step : int
        Steps between consecutive origins.
    washout, alphas, dtype, backend, cache_size : as for :class:`SplitObjective`.
    """

    def __init__(
        self,
        series,
        *,
        horizon=1,
        season=1,
        n_origins=5,
        step=1,
        washout=None,
        alphas=DEFAULT_ALPHAS,
        dtype="float64",
        backend="auto",
        cache_size=32,
    ):
        length = np.shape(_pandas.to_numpy(series))[0]
        horizon = check.positive_int(horizon, "horizon")
        n_origins = check.positive_int(n_origins, "n_origins")
        step = check.positive_int(step, "step")
        self.origins = [length - 1 - horizon - k * step for k in range(n_origins)][::-1]
        if self.origins[0] < 2:
            raise ValueError(
                f"{n_origins} origins {step} step(s) apart with horizon={horizon} do not fit in {length} steps"
            )
        washout = min(20, length // 10) if washout is None else washout
        self.engine = _DirectESN(series, horizon, washout, self.origins[0] + 1, dtype, backend, cache_size, season)
        self.alphas = alphas

    def __call__(self, params: dict, seed: int):
        features, targets, first, chosen = self.engine.design(params, seed)
        alphas = _alphas(self.alphas, chosen)
        h = self.engine.horizon
        total = dict.fromkeys(alphas, 0.0)
        for origin in self.origins:
            errors = self.engine.fold_errors(
                features, targets, slice(first, origin - h + 1), slice(origin, origin + 1), alphas
            )
            for alpha, error in errors.items():
                total[alpha] += error / len(self.origins)
        return _score(total)

    def forecast(self, params: dict, seed: int, alpha: float) -> np.ndarray:
        """Forecasts (n_origins, horizon, n_series) in the series' units, one per origin."""
        return np.stack([self.engine.forecast(params, seed, origin, alpha) for origin in self.origins])


class EstimatorObjective:
    """Score of any forecaster estimator under a backtest callable: ``objective(params, seed)``
    clones ``forecaster``, sets ``params`` and ``seed``, runs ``backtest`` and returns the
    mean of ``metric`` over its origins (and series).

    The generic route (slower than :class:`BacktestObjective`, which caches states and
    scores every penalty in one pass): every fit runs the reservoir again.

    Parameters
    ----------
    forecaster : estimator
        With scikit-learn's ``get_params`` / ``set_params``, e.g.
        :class:`~reservoir.forecasting.ESNForecaster`.
    y, X : the series (and exogenous inputs) in any layout the forecaster takes.
    metric : str
        A column of the backtest's ``scores`` table ("mase", "rmse", "mae", "smape").
    backtest : callable, optional
        ``backtest(forecaster, y, X, **backtest_options)`` returning an object whose
        ``scores`` is a table with a ``metric`` column; by default
        :func:`reservoir.forecasting.backtest`.
    seed_parameter : str
        The forecaster's parameter that takes the seed.
    **backtest_options
        Passed on (``horizon``, ``initial``, ``step``, ``seasonal_period``, ...).
    """

    def __init__(self, forecaster, y, X=None, *, metric="mase", backtest=None, seed_parameter="seed", **options):
        if not hasattr(forecaster, "set_params"):
            raise TypeError(f"forecaster must be an estimator with set_params, got {type(forecaster).__name__}")
        if seed_parameter not in forecaster.get_params():
            raise ValueError(f"the forecaster has no parameter {seed_parameter!r} (seed_parameter)")
        self.forecaster = forecaster
        self.y, self.X = y, X
        self.metric = metric
        self.backtest = backtest
        self.seed_parameter = seed_parameter
        self.options = options

    def __call__(self, params: dict, seed: int) -> float:
        from sklearn.base import clone

        backtest = self.backtest
        if backtest is None:
            from .backtest import backtest
        model = clone(self.forecaster).set_params(**params, **{self.seed_parameter: seed})
        result = backtest(model, self.y, self.X, **self.options)
        scores = result.scores
        if self.metric not in scores:
            raise ValueError(f"the backtest reports no {self.metric!r}; it has {list(scores.columns)}")
        return float(np.mean(np.asarray(scores[self.metric], dtype=np.float64)))
