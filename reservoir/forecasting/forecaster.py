"""ESNForecaster: an echo-state network that forecasts one series or many, with exogenous inputs.

The model, per series (after each series is standardised on its training part):

    u[t] = [y[t], X[t + 1]]                      the input of step t
    x[t] = (1 - a) x[t-1] + a tanh(W x[t-1] + W_in u[t] + b)
    ŷ[t + 1] = W_out [x[t], u[t]] + c            ("recursive": one step ahead)
    ŷ[t + h] = W_out,h [x[t], u[t]] + c_h        ("direct": a readout per step h)

so an exogenous input ``X`` enters beside the target at the time it describes
(the step being forecast), and its future values are what ``predict`` needs.
All series run through the reservoir in ONE batched run (B, T, n_in), aligned at
their starts (each from a zero state, so a series of a batch gets exactly the
states it gets alone), shorter ones padded at the end; each series drops its own
first ``warmup`` steps. The readouts are ridge regressions (``reservoir.readouts.Ridge``)
over the rows of all series (``readout="global"``) or of each series
(``readout="per_series"``); the direct strategy fits the readouts of every horizon
step in one multi-output solve. Recursive forecasts for all series run in one
batched closed loop compiled in the backend's kernels (``esn_forecast``).
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .. import _pandas
from .. import _validation as check
from .._diagnostics import ReservoirWarning
from ..estimators._common import AUTO_ALPHA_STREAM, AUTO_ALPHAS, DEFAULT_WASHOUT, _reservoir
from ..readouts import Ridge
from ._series import Layout, future_index, read_exogenous, read_future, read_panel, write_forecast

__all__ = ["ESNForecaster"]

STRATEGIES = ("recursive", "direct")
READOUTS = ("global", "per_series")
#: Standard deviations from a series' training mean beyond which a forecast has diverged.
DIVERGED = 10.0
#: The kernel module of each backend that has the batched closed loop, relative to reservoir.kernels.
_FORECAST_KERNELS = {"reference": "reference", "cpu": "cpu.forecast"}


class ESNForecaster(BaseEstimator):
    """Forecast time series with an echo-state network and a ridge readout.

    Parameters
    ----------
    units : int, default 100
        Reservoir size.
    spectral_radius, leak_rate, input_scaling, density, fan_in, connectivity, input_density, bias_scaling, activation
        Reservoir parameters, as in :class:`reservoir.ESN` (``input_scaling`` applies to
        the standardised series).
    alpha : "auto", float or list of floats, default "auto"
        Ridge penalty. "auto" chooses from 1e-6 ... 1e2 (a list: from those) on the last
        ``validation_fraction`` of every series' training rows, then refits on all rows.
    include_input : bool, default True
        The readout sees the input ``u[t]`` beside the state.
    seed : int or None
        Seed of the random weights (``random_state`` is scikit-learn's name for it).
    warmup : int or None
        Steps each series drops at its start before the readout sees its states
        (the reservoir forgets its zero start state). Default: a tenth of the
        series, at most 100.
    strategy : {"recursive", "direct"}
        "recursive": one-step readout, forecasts fed back as inputs (closed loop).
        "direct": one readout per horizon step 1..``horizon``, trained on the same states.
    horizon : int or None
        The steps the direct strategy is trained for (required with "direct").
    readout : {"global", "per_series"}
        One readout over all series, or one per series (all from one reservoir run).
    normalize : bool, default True
        Standardise every target and exogenous column per series (mean, std of its
        training part); forecasts are returned in the original units.
    difference : bool, default False
        Model the steps ``y[t] - y[t-1]`` instead of the values, and sum the forecast
        steps onto the last value: for series with a trend or a drifting level, which
        a closed loop of bounded tanh units cannot extrapolate otherwise.
    validation_fraction : float, default 0.2
        The part of each series' training rows that chooses ``alpha``.
    dtype : "float64" or "float32"
    backend : str, default "auto"

    Attributes
    ----------
    coef_ : (n_readouts, n_outputs, n_features)
        Readout weights; ``n_outputs`` is the number of target variables times the
        horizon for "direct". ``intercept_`` : (n_readouts, n_outputs).
    alpha_ : (n_readouts,)
        The penalty each readout was fitted with.
    state_ : (n_series, units)
        Reservoir state at the end of each series (before its last input).
    last_value_ : (n_series, n_targets)
        Each series' last (standardised, differenced) value: the first fed-back input.
    last_level_ : (n_series, n_targets)
        Each series' last value as given (the level differenced forecasts start from).
    y_mean_, y_scale_, X_mean_, X_scale_ : (n_series, n_columns)
        The standardisation of each series.
    """

    def __init__(
        self,
        units=100,
        *,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=0.5,
        density=None,
        fan_in=None,
        connectivity=None,
        input_density=1.0,
        bias_scaling=0.5,
        activation="tanh",
        alpha="auto",
        include_input=True,
        seed=None,
        warmup=None,
        strategy="recursive",
        horizon=None,
        readout="global",
        normalize=True,
        difference=False,
        validation_fraction=0.2,
        dtype="float64",
        backend="auto",
        random_state=None,
    ):
        self.units = units
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.density = density
        self.fan_in = fan_in
        self.connectivity = connectivity
        self.input_density = input_density
        self.bias_scaling = bias_scaling
        self.activation = activation
        self.alpha = alpha
        self.include_input = include_input
        self.seed = seed
        self.warmup = warmup
        self.strategy = strategy
        self.horizon = horizon
        self.readout = readout
        self.normalize = normalize
        self.difference = difference
        self.validation_fraction = validation_fraction
        self.dtype = dtype
        self.backend = backend
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(self, y, X=None):
        """Fit on the series `y` (and exogenous inputs `X` beside them, same steps).

        Parameters
        ----------
        y : array (T,), (T, k), (B, T, k), a list of series, a pandas Series /
            DataFrame with a time index, one with a (series, time) MultiIndex, or a
            dict / list of pandas series. See ``reservoir.forecasting``.
        X : same layout as `y`, optional
            Exogenous inputs known in advance (calendar, prices, ...), one row per step of `y`.

        Returns
        -------
        self
        """
        series, layout = read_panel(y, "y")
        exogenous = read_exogenous(X, layout, "X")
        self._check_parameters()
        history = (series, exogenous, layout)
        last_level = np.stack([s[-1] for s in series])
        if self.difference:  # model the steps y[t] - y[t-1]; X stays beside the step it ends at
            for i, s in enumerate(series):
                if len(s) < 3:
                    raise ValueError(
                        f"series {layout.keys[i]!r} of y has {len(s)} step(s); difference=True needs at least 3"
                    )
            series = [np.diff(s, axis=0) for s in series]
            exogenous = None if exogenous is None else [e[1:] for e in exogenous]
        n_targets = series[0].shape[1]
        n_exog = 0 if exogenous is None else exogenous[0].shape[1]
        horizon = self._trained_horizon()
        y_mean, y_scale = _standardisation(series, self.normalize)
        X_mean, X_scale = _standardisation(exogenous, self.normalize, n_exog, len(series))
        z = [(s - m) / d for s, m, d in zip(series, y_mean, y_scale)]
        xz = [np.zeros((len(s), 0)) for s in series] if exogenous is None else [
            (e - m) / d for e, m, d in zip(exogenous, X_mean, X_scale)
        ]  # fmt: skip
        for i, s in enumerate(z):
            if len(s) < 2:
                raise ValueError(f"series {layout.keys[i]!r} of y has {len(s)} step(s); at least 2 are needed")
        inputs = [np.concatenate([s[:-1], e[1:]], axis=1) for s, e in zip(z, xz)]
        reservoir = _reservoir(self)
        states = _run_aligned(reservoir, inputs, None)
        features = [self._features(x, u) for x, u in zip(states, inputs)]
        rows, targets = [], []
        for i, (s, f) in enumerate(zip(z, features)):
            steps = len(f)
            warmup = min(DEFAULT_WASHOUT, steps // 10) if self.warmup is None else self.warmup
            last_row = steps - horizon + 1  # rows t < last_row have targets up to t + horizon
            if last_row <= warmup:
                raise ValueError(
                    f"series {layout.keys[i]!r} of y has {len(s)} steps: too few for warmup={warmup}"
                    + (f" and horizon={horizon}" if self.strategy == "direct" else "")
                    + " (pass a smaller warmup or a longer series)"
                )
            rows.append(f[warmup:last_row])
            targets.append(np.concatenate([s[warmup + h : last_row + h] for h in range(1, horizon + 1)], axis=1))
        groups = [list(range(len(z)))] if self.readout == "global" else [[i] for i in range(len(z))]
        readouts = [self._fit_readout([rows[i] for i in group], [targets[i] for i in group]) for group in groups]
        # nothing is set before here: a fit that raises leaves a fitted model as it was
        self._history = history
        self.last_level_ = last_level
        self.y_mean_, self.y_scale_, self.X_mean_, self.X_scale_ = y_mean, y_scale, X_mean, X_scale
        self.coef_ = np.stack([np.atleast_2d(r.coef_) for r in readouts])
        self.intercept_ = np.stack([np.atleast_1d(r.intercept_) for r in readouts])
        self.alpha_ = np.array([r.alpha_ for r in readouts], dtype=np.float64)
        self.reservoir_ = reservoir
        self.state_ = np.stack([x[-1] for x in states]).astype(np.float64)
        self.last_value_ = np.stack([s[-1] for s in z])
        self.n_targets_ = n_targets
        self.n_exogenous_ = n_exog
        self.n_series_ = len(z)
        self.layout_ = layout
        return self

    def _check_parameters(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {STRATEGIES}")
        if self.readout not in READOUTS:
            raise ValueError(f"unknown readout {self.readout!r}; choose one of {READOUTS}")
        if self.warmup is not None:
            check.non_negative_int(self.warmup, "warmup")
        fraction = check.real(self.validation_fraction, "validation_fraction")
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")

    def _trained_horizon(self) -> int:
        if self.strategy == "recursive":
            return 1
        if self.horizon is None:
            raise ValueError("strategy='direct' needs horizon= (the number of steps its readouts forecast)")
        return check.positive_int(self.horizon, "horizon")

    def _features(self, states, inputs):
        return np.concatenate([states, inputs], axis=-1) if self.include_input else states

    def _fit_readout(self, rows: list, targets: list) -> Ridge:
        """A ridge readout on the rows of some series; "auto" or a list of alphas chosen on
        the last validation_fraction of every series' rows, then refitted on all of them."""
        alphas = list(AUTO_ALPHAS) if isinstance(self.alpha, str) and self.alpha == "auto" else self.alpha
        if isinstance(self.alpha, str) and self.alpha != "auto":
            raise ValueError(f"alpha must be 'auto', a number or a list of numbers, got {self.alpha!r}")
        if np.ndim(alphas) == 0:
            return Ridge(alpha=alphas).fit(rows, targets)
        train_x, train_y, held_x, held_y = [], [], [], []
        for x, t in zip(rows, targets):
            split = int(round(len(x) * (1.0 - self.validation_fraction)))
            if 0 < split < len(x):
                held_x.append(x[split:])
                held_y.append(t[split:])
            else:
                split = len(x)
            train_x.append(x[:split])
            train_y.append(t[:split])
        if not held_x:  # too few rows to hold any out: a moderate penalty
            return Ridge(alpha=AUTO_ALPHA_STREAM).fit(rows, targets)
        return Ridge(alpha=list(alphas)).fit(train_x, train_y, validation=(held_x, held_y)).refitted()

    # ------------------------------------------------------------------ forecasting
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def predict(self, horizon=None, X=None):
        """Forecast the `horizon` steps after the end of every fitted (or updated) series.

        Parameters
        ----------
        horizon : int
            Steps to forecast (for "direct": at most the fitted ``horizon``, its default).
        X : same layout as the fit's X, optional
            The exogenous inputs' values for the forecast steps (required when the fit had X).
            With pandas, its index must continue the series'.

        Returns
        -------
        Forecasts in the form of the fitted `y`: NumPy (H,), (H, k), (B, H, k); pandas with
        the index continued at the series' frequency and the same column names.
        """
        self._check_fitted()
        horizon = self._horizon(horizon)
        future = read_future(X, self.layout_, self.n_exogenous_, horizon, "X")
        future = (future - self.X_mean_[:, None]) / self.X_scale_[:, None]
        outputs = self._forecast_standardised(self.state_, self.last_value_, future)
        if self.normalize and not np.all(np.abs(outputs) < DIVERGED):
            warn_diverged(float(np.nanmax(np.abs(outputs))), self.strategy)
        outputs = outputs * self.y_scale_[:, None] + self.y_mean_[:, None]
        if self.difference:
            outputs = self.last_level_[:, None] + np.cumsum(outputs, axis=1)
        return write_forecast(outputs, self.layout_)

    def _horizon(self, horizon) -> int:
        if self.strategy == "direct":
            trained = self.coef_.shape[1] // self.n_targets_
            horizon = trained if horizon is None else check.positive_int(horizon, "horizon")
            if horizon > trained:
                raise ValueError(f"the direct strategy was fitted for horizon={trained}; got horizon={horizon}")
            return horizon
        if horizon is None:
            raise ValueError("predict needs horizon= (the number of steps to forecast)")
        return check.positive_int(horizon, "horizon")

    def _readout_of_series(self):
        """(coef, intercept) for every series: the global readout repeated, or each series' own."""
        if self.coef_.shape[0] == 1:
            return (
                np.repeat(self.coef_, self.n_series_, axis=0),
                np.repeat(self.intercept_, self.n_series_, axis=0),
            )
        return self.coef_, self.intercept_

    def _forecast_standardised(self, state, last_value, future) -> np.ndarray:
        """Forecasts (B, H, k) of standardised series from their states and last values."""
        coef, intercept = self._readout_of_series()
        reservoir = self.reservoir_
        if self.strategy == "recursive":
            module = _FORECAST_KERNELS.get(reservoir._backend.kernel_module)
            if module is None:
                raise NotImplementedError(
                    f"{type(self).__name__}: backend {reservoir.backend_name!r} has no batched closed-loop "
                    "forecast kernel (esn_forecast); use backend='numba' or backend='numpy'"
                )
            kernels = importlib.import_module(f"reservoir.kernels.{module}")
            _, prepared = reservoir._kernels()
            dtype = reservoir.dtype
            return kernels.esn_forecast(
                prepared,
                coef.astype(dtype),
                intercept.astype(dtype),
                bool(self.include_input),
                state.astype(dtype),
                last_value.astype(dtype),
                future.astype(dtype),
                reservoir.leak_rate,
                reservoir.activation,
            ).astype(np.float64)
        # direct: one more reservoir step on the pending input, then every horizon step's readout
        inputs = np.concatenate([last_value, future[:, 0]], axis=1)[:, None, :]
        reservoir.state = state
        x = reservoir.run(inputs)[:, 0].astype(np.float64)
        features = self._features(x, inputs[:, 0])
        outputs = np.einsum("bof,bf->bo", coef, features) + intercept
        return outputs.reshape(len(x), -1, self.n_targets_)[:, : future.shape[1]]

    # ------------------------------------------------------------------ new observations
    def update(self, y, X=None, *, refit: bool = False):
        """Take new observations that continue every fitted series.

        Without `refit` the reservoir runs on over them from the stored states (the
        readouts stay as they are); with `refit` the model is fitted again on all the
        data seen so far. `y` (and `X`) have the fitted layout, each series' steps
        following its last one (pandas: its index continues the series').
        """
        self._check_fitted()
        series, layout = read_panel(y, "y")
        exogenous = read_exogenous(X, layout, "X")
        if layout.n_series != self.n_series_:
            raise ValueError(f"y holds {layout.n_series} series but the forecaster was fitted on {self.n_series_}")
        if series[0].shape[1] != self.n_targets_:
            raise ValueError(f"y has {series[0].shape[1]} variable(s), the fit had {self.n_targets_}")
        if (exogenous is None) != (self.n_exogenous_ == 0):
            raise ValueError("X must be given in update exactly when the fit had exogenous inputs")
        if layout.is_pandas and self.layout_.is_pandas:
            for i in range(self.n_series_):
                expected = future_index(self.layout_, i, 1)[0]
                if layout.indexes[i][0] != expected:
                    raise ValueError(
                        f"y's new steps of series {layout.keys[i]!r} start at {layout.indexes[i][0]!r}, "
                        f"but the series continues at {expected!r}"
                    )
        old_series, old_exogenous, old_layout = self._history
        merged_layout = _appended_layout(old_layout, layout)
        merged = [np.concatenate([a, b]) for a, b in zip(old_series, series)]
        merged_exog = None if exogenous is None else [np.concatenate(p) for p in zip(old_exogenous, exogenous)]
        if refit:
            self._refit(merged, merged_exog, merged_layout)
            return self
        levels = np.stack([s[-1] for s in series])
        if self.difference:
            series = [np.diff(np.concatenate([last[None], s]), axis=0) for last, s in zip(self.last_level_, series)]
        z = [(s - m) / d for s, m, d in zip(series, self.y_mean_, self.y_scale_)]
        xz = [np.zeros((len(s), 0)) for s in series] if exogenous is None else [
            (e - m) / d for e, m, d in zip(exogenous, self.X_mean_, self.X_scale_)
        ]  # fmt: skip
        # the pending input [last value, X of the first new step], then the new steps but the last
        inputs = [
            np.concatenate([np.concatenate([last[None], s[:-1]]), e], axis=1)
            for last, s, e in zip(self.last_value_, z, xz)
        ]
        states = _run_aligned(self.reservoir_, inputs, self.state_)
        self.state_ = np.stack([x[-1] for x in states]).astype(np.float64)
        self.last_value_ = np.stack([s[-1] for s in z])
        self.last_level_ = levels
        self._history = (merged, merged_exog, merged_layout)
        self.layout_ = merged_layout
        return self

    def _refit(self, series, exogenous, layout: Layout) -> None:
        self.fit(_rebuilt(series, layout), None if exogenous is None else _rebuilt(exogenous, layout, exogenous=True))


def warn_diverged(largest: float, strategy: str) -> None:
    """Warn that forecasts left the training data's range by far (a closed loop that diverges)."""
    hint = " or strategy='direct'" if strategy == "recursive" else ""
    warnings.warn(
        f"the forecasts reach {largest:.3g} standard deviations from the training mean: the forecast "
        f"diverges. Try a smaller spectral_radius or input_scaling, a larger alpha{hint}",
        ReservoirWarning,
        stacklevel=3,
    )


def _standardisation(series, normalize: bool, width: int | None = None, count: int | None = None):
    """Per-series (mean, std) of every column, (B, k) each; (0, 1) without `normalize` (std 0 -> 1)."""
    if series is None:
        return np.zeros((count, width)), np.ones((count, width))
    if not normalize:
        return np.zeros((len(series), series[0].shape[1])), np.ones((len(series), series[0].shape[1]))
    mean = np.stack([s.mean(axis=0) for s in series])
    scale = np.stack([s.std(axis=0) for s in series])
    return mean, np.where(scale > 0, scale, 1.0)


def _run_aligned(reservoir, inputs: list, state) -> list:
    """Run sequences of different lengths in one batch, aligned at their starts (from `state`, or
    zeros), the shorter padded at the end; returns each sequence's own states (T_i, units)."""
    lengths = [len(u) for u in inputs]
    batch = np.zeros((len(inputs), max(lengths), inputs[0].shape[1]))
    for i, u in enumerate(inputs):
        batch[i, : len(u)] = u
        batch[i, len(u) :] = u[-1]  # padding after the end: never read
    if state is None:
        reservoir.reset()
    else:
        reservoir.state = state
    states = reservoir.run(batch)
    reservoir.reset()
    return [states[i, :length] for i, length in enumerate(lengths)]


def _appended_layout(old: Layout, new: Layout) -> Layout:
    lengths = [a + b for a, b in zip(old.lengths, new.lengths)]
    indexes = None
    if old.is_pandas and new.is_pandas:
        indexes = [a.append(b) for a, b in zip(old.indexes, new.indexes)]
    return Layout(
        old.kind, old.n_series, lengths, old.one_variable, old.keys, indexes, old.columns, old.name, old.index_names
    )


def _rebuilt(series: list, layout: Layout, *, exogenous: bool = False):
    """NumPy or pandas data of the given layout (for a refit on the data seen so far)."""
    if layout.is_pandas:
        pd = _pandas._pd()  # the layout came from pandas objects: pandas is imported
        frames = [pd.DataFrame(s, index=index) for s, index in zip(series, layout.indexes)]
        if not exogenous and layout.columns is not None:
            for frame in frames:
                frame.columns = layout.columns
        if not exogenous and layout.one_variable:
            frames = [frame.iloc[:, 0].rename(layout.name) for frame in frames]
        if layout.kind == "pandas":
            return frames[0]
        if layout.kind == "multi":
            return pd.concat(frames, keys=layout.keys, names=list(layout.index_names))
        return dict(zip(layout.keys, frames)) if layout.kind == "dict" else frames
    if layout.one_variable and not exogenous:
        series = [s[:, 0] for s in series]
    if layout.kind == "array":
        return series[0]
    return dict(zip(layout.keys, series)) if layout.kind == "dict" else list(series)
