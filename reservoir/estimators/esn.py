"""scikit-learn estimators on an echo-state network: ESNRegressor (forecasting), ESNClassifier."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import _pandas
from .. import _validation as check
from ..readouts.bayes import BayesianRidge
from ..readouts.ridge import GramAccumulator, Ridge
from ._common import (
    DEFAULT_WASHOUT,
    _fit_ridge,
    _OneHotClassifier,
    _reservoir,
)


class ESNRegressor(BaseEstimator):
    """Echo-state network with a ridge readout, for sequence-to-sequence regression and forecasting.

    ``fit(u, y)`` runs the reservoir over ``u`` from a zero state, drops the first
    ``washout`` steps of every sequence, and fits the readout on ``[state, input]``
    (``include_input``) to ``y``. ``y[t]`` is the target for input ``u[t]``; for
    one-step-ahead forecasting of a series ``s`` pass ``u = s[:-1]``, ``y = s[1:]``.

    ``predict(u)`` continues from the state reached at the end of ``fit`` (the
    natural continuation of the training series); ``reset=True`` starts from zeros.
    It does not change the fitted state, so calling it twice gives the same result.
    ``forecast(n_steps)`` runs in closed loop from the end of ``fit``: each
    prediction is fed back as the next input (generative mode).

    Parameters are those of :class:`reservoir.ESN` plus ``alpha`` (float, or a list
    chosen on the last ``validation_fraction`` of the training steps), ``washout``
    (steps dropped per sequence; by default 100, or a tenth of a sequence shorter than
    1000 steps), ``include_input`` and ``fit_intercept``; ``progress`` shows a progress
    bar; ``random_state`` is scikit-learn's name for ``seed`` (used when ``seed`` is None).

    ``readout="bayesian"`` (or a :class:`~reservoir.readouts.BayesianRidge` to copy the
    settings of) fits the readout by evidence maximisation instead of a given ``alpha``
    (which is then unused; ``alpha_`` is the penalty it chose): ``predict`` and
    ``forecast`` then take ``return_std=True`` and return the predictive standard
    deviation beside the mean.
    """

    def __init__(
        self,
        units=500,
        *,
        density=None,
        fan_in=None,
        connectivity=None,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=1.0,
        input_density=1.0,
        bias_scaling=0.5,
        activation="tanh",
        alpha=1e-6,
        washout=None,
        include_input=True,
        fit_intercept=True,
        validation_fraction=0.2,
        seed=None,
        dtype="float32",
        backend="auto",
        progress=False,
        random_state=None,
        readout="ridge",
    ):
        self.units = units
        self.density = density
        self.fan_in = fan_in
        self.connectivity = connectivity
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.input_density = input_density
        self.bias_scaling = bias_scaling
        self.activation = activation
        self.alpha = alpha
        self.washout = washout
        self.include_input = include_input
        self.fit_intercept = fit_intercept
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.dtype = dtype
        self.backend = backend
        self.progress = progress
        self.random_state = random_state
        self.readout = readout

    def _bayesian(self) -> BayesianRidge | None:
        """The unfitted Bayesian readout asked for, or None for ridge."""
        if isinstance(self.readout, BayesianRidge):
            return clone(self.readout)
        if self.readout == "bayesian":
            return BayesianRidge(fit_intercept=self.fit_intercept)
        if self.readout == "ridge":
            return None
        raise ValueError(f"readout must be 'ridge', 'bayesian' or a BayesianRidge, got {self.readout!r}")

    def _features(self, states, inputs):
        return np.concatenate([states, inputs], axis=-1) if self.include_input else states

    def fit(self, u, y):
        """Fit on inputs u ((T,), (T, n_in) or (B, T, n_in)) and aligned targets y.

        pandas inputs (a Series or DataFrame per series) are welcome: ``predict`` and
        ``forecast`` then return pandas objects with the targets' column names, on the
        inputs' index (``predict``) or the index that continues the training targets'
        (``forecast``: at its frequency for a DatetimeIndex/PeriodIndex, its step for a
        RangeIndex or an evenly spaced integer index).
        """
        if y is None:  # scikit-learn's wording
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(for one-step-ahead forecasting of a series s: fit(s[:-1], s[1:]))"
            )
        self._target_labels = _pandas.labels_of(y)
        self._fit_index = (self._target_labels or _pandas.labels_of(u) or _pandas.Labels(None, None)).index
        u, y = _pandas.to_numpy(u), _pandas.to_numpy(y)
        dtype = check.float_dtype(self.dtype)
        inputs, batched = check.sequences(u, dtype, "u")
        targets, _ = check.sequences(y if np.ndim(y) != 1 else np.asarray(y)[:, None], np.float64, "y")
        if targets.shape[:2] != inputs.shape[:2]:
            raise ValueError(f"u and y disagree on sequences and time steps: {inputs.shape[:2]} != {targets.shape[:2]}")
        steps = inputs.shape[1]
        washout = (
            min(DEFAULT_WASHOUT, steps // 10)
            if self.washout is None
            else check.non_negative_int(self.washout, "washout")
        )
        if washout >= steps:
            raise ValueError(f"washout={washout} leaves no training steps out of {steps}")
        self._bayesian()  # an unknown readout fails before the reservoir runs
        reservoir = _reservoir(self)
        readout = self._streamed_readout(reservoir, inputs if batched else inputs[0], inputs, targets, washout)
        targets = targets[:, washout:]
        self.reservoir_ = reservoir
        self.readout_ = readout
        self.alpha_ = readout.penalty_ if isinstance(readout, BayesianRidge) else readout.alpha_
        self.n_features_in_ = inputs.shape[2]
        self.n_outputs_ = targets.shape[2]
        self._y_was_1d = np.ndim(y) == 1
        self.fitted_state_ = reservoir.state
        self.last_target_ = targets[0, -1].copy()  # first input of a closed-loop forecast
        return self

    def _streamed_readout(self, reservoir, u, inputs, targets, washout: int):
        """The ridge readout on the states after `washout`, fed chunk by chunk as the reservoir
        computes them: memory holds one chunk of states, never (B, T, units).

        With several alphas the last `validation_fraction` of the steps after the washout
        (the most recent part of every sequence) chooses one, which is then refitted on all
        of them from the statistics already gathered (as ``Ridge.fit(validation=...)``)."""
        steps = inputs.shape[1]
        bayesian = self._bayesian()
        several = np.size(self.alpha) > 1 and bayesian is None
        split = steps
        if several:
            fraction = check.real(self.validation_fraction, "validation_fraction")
            count = steps - washout
            split = washout + int(round(count * (1.0 - fraction)))
            if not washout < split < steps:
                raise ValueError(f"validation_fraction={fraction} leaves no training or no validation samples")
        train, held_out = GramAccumulator(), GramAccumulator()
        for first, last, states in reservoir.iter_states(u, progress=self.progress):
            features = self._features(states, inputs[:, first:last])
            for accumulator, begin, end in ((train, washout, split), (held_out, split, steps)):
                lo, hi = max(begin, first), min(end, last)
                if lo < hi:
                    rows = features[:, lo - first : hi - first]
                    accumulator.add(rows.reshape(-1, rows.shape[-1]), targets[:, lo:hi].reshape(-1, targets.shape[-1]))
        if bayesian is not None:
            return bayesian.fit_statistics(train)
        readout = Ridge(alpha=self.alpha, fit_intercept=self.fit_intercept)
        readout.fit_statistics(train, held_out if several else None)
        return readout.refitted() if several else readout

    def _check_fitted(self):
        if not hasattr(self, "readout_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def _shape_output(self, prediction):
        return prediction[..., 0] if self._y_was_1d else prediction

    def _check_std(self, return_std: bool) -> bool:
        if return_std and not isinstance(self.readout_, BayesianRidge):
            raise ValueError(
                f"return_std=True needs a readout with a predictive variance; this {type(self).__name__}'s "
                f"readout is {type(self.readout_).__name__} (use readout='bayesian')"
            )
        return bool(return_std)

    def predict(self, u, *, reset: bool = False, return_std: bool = False):
        """Outputs for inputs u, continuing from the fitted state (or from zeros with reset=True).

        A pandas u gives a pandas result on u's index, named like the training targets.
        ``return_std=True`` (Bayesian readout only) returns ``(mean, std)``, the std of the
        one-step predictive distribution given the states."""
        self._check_fitted()
        return_std = self._check_std(return_std)
        rows = _pandas.labels_of(u)
        u = _pandas.to_numpy(u)
        reservoir = self.reservoir_
        if np.ndim(u) >= 2 and np.shape(u)[-1] != self.n_features_in_:  # scikit-learn's wording
            raise ValueError(
                f"X has {np.shape(u)[-1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        inputs, batched = check.sequences(u, reservoir.dtype, "u", self.n_features_in_)
        if reset:
            reservoir.reset()
        else:  # run() raises if u has another number of sequences than the fitted state
            reservoir.state = self.fitted_state_
        states = reservoir.run(inputs if batched else inputs[0], progress=self.progress)
        features = self._features(states, inputs if batched else inputs[0])
        if return_std:
            mean, std = self.readout_.predict(features, return_std=True)
            return self._wrapped(mean, features, rows), self._wrapped(std, features, rows)
        return self._wrapped(self.readout_.predict(features), features, rows)

    def _wrapped(self, values, features, rows):
        prediction = self._shape_output(np.asarray(values).reshape(features.shape[:-1] + (-1,)))
        return prediction if rows is None else _pandas.wrap(prediction, rows.index, self._target_labels)

    def forecast(self, n_steps: int, *, warmup=None, return_std: bool = False):
        """Closed-loop forecast of the ``n_steps`` steps that follow the training targets.

        The first input is the last training target (known data); every later input is
        the previous output. With ``warmup`` (inputs that continue the fitted series),
        the reservoir first runs over it and the forecast starts with its prediction
        for the step after the warm-up. Needs as many outputs as inputs.

        After a fit on pandas targets (or with a pandas ``warmup``) the result is a
        pandas object whose index continues the targets' (or the warm-up's).

        ``return_std=True`` (Bayesian readout only) returns ``(outputs, std)``: at every
        step the readout's predictive std given the closed-loop state, the uncertainty of
        one step ahead (it does not propagate the errors fed back; for that spread use
        :class:`reservoir.models.ESNEnsemble`).
        """
        self._check_fitted()
        return_std = self._check_std(return_std)
        warm_rows = _pandas.labels_of(warmup)
        warmup = _pandas.to_numpy(warmup)
        n_steps = check.positive_int(n_steps, "n_steps")
        if self.n_outputs_ != self.n_features_in_:
            raise ValueError(
                f"forecast feeds outputs back as inputs: needs n_outputs ({self.n_outputs_}) == "
                f"n_inputs ({self.n_features_in_})"
            )
        reservoir = self.reservoir_
        state = np.asarray(self.fitted_state_)
        if state.ndim != 1:
            raise ValueError("forecast runs one sequence; the model was fitted on a batch")
        reservoir.state = state
        coef = np.atleast_2d(self.readout_.coef_)
        intercept = np.atleast_1d(self.readout_.intercept_)
        if warmup is None:
            outputs = reservoir.generate(n_steps, coef, intercept, self.last_target_, include_input=self.include_input)
        else:
            warm, _ = check.sequences(warmup, reservoir.dtype, "warmup", self.n_features_in_)
            if warm.shape[0] != 1:
                raise ValueError("warmup must be a single sequence")
            states = reservoir.run(warm[0])
            first = np.atleast_1d(self.readout_.predict(self._features(states[-1:], warm[0, -1:])))
            outputs = np.empty((n_steps, self.n_outputs_), dtype=reservoir.dtype)
            outputs[0] = first.ravel()
            if n_steps > 1:
                outputs[1:] = reservoir.generate(
                    n_steps - 1, coef, intercept, outputs[0], include_input=self.include_input
                )
        std = None
        if return_std:  # the closed loop's states again, driven by the inputs it fed itself
            if warmup is None:
                start, fed = state, np.concatenate([self.last_target_[None], outputs[:-1]])
            else:  # from the state before the last warm-up input, which gave outputs[0]
                start = states[-2] if len(states) > 1 else state
                fed = np.concatenate([warm[0, -1:], outputs[:-1]])
            reservoir.state = start
            fed = fed.astype(reservoir.dtype)
            closed = reservoir.run(fed)
            _, std = self.readout_.predict(self._features(closed, fed), return_std=True)
            std = self._shape_output(np.asarray(std).reshape(n_steps, -1))
        outputs = self._shape_output(outputs)
        index = warm_rows.index if warm_rows is not None else getattr(self, "_fit_index", None)
        if index is None:
            return outputs if std is None else (outputs, std)
        outputs = _pandas.wrap(outputs, _pandas.continued_index(index, n_steps), self._target_labels)
        if std is None:
            return outputs
        return outputs, _pandas.wrap(std, _pandas.continued_index(index, n_steps), self._target_labels)

    def score(self, u, y):
        """Coefficient of determination R² of predict(u) (scikit-learn's regressor score)."""
        prediction = np.asarray(self.predict(u), dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(prediction.shape)
        residual = np.sum((y - prediction) ** 2)
        total = np.sum((y - y.mean(axis=tuple(range(y.ndim - 1)) if y.ndim > 1 else 0)) ** 2)
        return float(1.0 - residual / total)


POOLINGS = ("mean", "last", "max", "mean+last")


class ESNClassifier(_OneHotClassifier, BaseEstimator):
    """Sequence classification: one label per sequence, reservoir states pooled over time, ridge readout.

    ``X`` is (n_sequences, T) for univariate sequences, (n_sequences, T, n_in), or a
    list of (T_i, n_in) arrays of different lengths. Every sequence starts from a zero
    state; the first ``washout`` steps are dropped, then the states are pooled:
    ``"mean"`` (the time average), ``"last"`` (the final state), ``"max"`` (per unit)
    or ``"mean+last"`` (both, concatenated). The readout is ridge regression on one-hot
    labels, as in :class:`ELMClassifier`.

    The reservoir parameters are those of :class:`reservoir.ESN` (the same defaults;
    ``density`` unset gives at least 10 connections per unit). ``dtype`` defaults to
    float64 here: float32 sums of one sequence and of a batch round differently, and
    the ridge readout magnifies that beyond scikit-learn's 1e-7 consistency checks.
    ``random_state`` is scikit-learn's name for ``seed`` (used when ``seed`` is None).
    A DataFrame X (a row per sequence) gives pandas predictions on its index.
    """

    def __init__(
        self,
        units=300,
        *,
        density=None,
        fan_in=None,
        connectivity=None,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=1.0,
        input_density=1.0,
        bias_scaling=0.5,
        activation="tanh",
        pooling="mean",
        washout=0,
        alpha=1e-6,
        seed=None,
        dtype="float64",
        backend="auto",
        random_state=None,
    ):
        self.units = units
        self.density = density
        self.fan_in = fan_in
        self.connectivity = connectivity
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.input_density = input_density
        self.bias_scaling = bias_scaling
        self.activation = activation
        self.pooling = pooling
        self.washout = washout
        self.alpha = alpha
        self.seed = seed
        self.dtype = dtype
        self.backend = backend
        self.random_state = random_state

    def _sequences(self, X, *, reset: bool) -> list:
        """X as a list of (T, n_in) float arrays (equal lengths keep one (B, T, n_in) array)."""
        if isinstance(X, (list, tuple)) and len(X) and np.ndim(X[0]) >= 1 and _ragged(X):
            sequences = [check.sequences(x, np.float64, f"X[{i}]")[0][0] for i, x in enumerate(X)]
        else:
            array = X if sp.issparse(X) or isinstance(X, np.ndarray) else np.asarray(X)
            if sp.issparse(array) or array.ndim <= 2:  # scikit-learn's checks and messages (sparse, 1-D, NaN)
                try:
                    array = validate_data(self, array, reset=reset, dtype=[np.float64, np.float32])[..., None]
                except ValueError as error:
                    if "features, but" not in str(error):
                        raise
                    # scikit-learn's 2-D convention counts time steps as features: say how to
                    # classify sequences of another length (its wording kept, its checks match it).
                    raise ValueError(
                        f"{str(error).rstrip('.')}. As (n_sequences, T) the sequence length is "
                        "fixed at fit; pass (n_sequences, T, n_in) or a list of sequences "
                        "for other lengths"
                    ) from None
            elif array.ndim != 3:
                raise ValueError(
                    f"X must be (n_sequences, T), (n_sequences, T, n_in) or a list of sequences; "
                    f"got shape {array.shape}"
                )
            sequences = check.sequences(array, np.float64, "X")[0]
        widths = {s.shape[-1] for s in sequences}
        if len(widths) != 1:
            raise ValueError(f"all sequences must have the same number of input features, got {sorted(widths)}")
        if reset:
            self.n_inputs_ = widths.pop()
        elif widths.pop() != self.n_inputs_:
            raise ValueError(f"X has sequences of another input width than the fitted {self.n_inputs_}")
        return sequences

    def _pooled(self, sequences) -> np.ndarray:
        washout = check.non_negative_int(self.washout, "washout")
        if isinstance(sequences, np.ndarray):  # equal lengths: one batched run
            runs = self.reservoir_.reset().run(sequences)
        else:
            runs = [self.reservoir_.reset().run(s) for s in sequences]
        features = []
        for states in runs:
            if washout >= len(states):
                raise ValueError(f"washout={washout} leaves no steps of a sequence of length {len(states)}")
            kept = states[washout:]
            parts = {
                "mean": [kept.mean(axis=0)],
                "last": [kept[-1]],
                "max": [kept.max(axis=0)],
                "mean+last": [kept.mean(axis=0), kept[-1]],
            }[self.pooling]
            features.append(np.concatenate(parts))
        self.reservoir_.reset()
        return np.asarray(features, dtype=np.float64)

    def fit(self, X, y):
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {POOLINGS}")
        check.non_negative_int(self.washout, "washout")
        self._target_labels = _pandas.labels_of(y)
        sequences = self._sequences(X, reset=True)
        y = column_or_1d(np.asarray(y), warn=True)
        if len(y) != len(sequences):
            raise ValueError(f"X has {len(sequences)} sequences but y has {len(y)} labels")
        check_classification_targets(y)
        self._set_classes(y)
        self.reservoir_ = _reservoir(self)
        self.readout_ = _fit_ridge(self._pooled(sequences), self._one_hot(y), self.alpha)
        self.alpha_ = self.readout_.alpha_
        return self

    def _scores(self, X):
        check_is_fitted(self, "readout_")
        return np.asarray(self.readout_.predict(self._pooled(self._sequences(X, reset=False))), dtype=np.float64)


def _ragged(sequences) -> bool:
    return len({np.shape(s)[0] for s in sequences}) > 1
