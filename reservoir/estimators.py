"""scikit-learn style estimators built from a reservoir and a readout."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _pandas
from . import _validation as check
from ._parameters import ELM_PARAMETERS, ESN_PARAMETERS, model_arguments
from .elm import HiddenLayer
from .esn import ESN
from .readouts import Ridge

__all__ = ["ESNRegressor", "ESNClassifier", "ELMRegressor", "ELMClassifier", "NotFittedError"]

#: Penalties ``alpha="auto"`` chooses from (ELM estimators), on held-out samples.
AUTO_ALPHAS = tuple(10.0**k for k in range(-6, 3))
#: The penalty ``alpha="auto"`` takes where no samples are held out: ``partial_fit``,
#: activations read from a store, fewer than 10 samples.
AUTO_ALPHA_STREAM = 1e-3

#: Steps dropped at the start of every training sequence when ``washout`` is not given
#: (a tenth of shorter sequences): the reservoir forgets its zero start state.
DEFAULT_WASHOUT = 100


def _fit_ridge(features, targets, alpha, validation_fraction=0.2, fit_intercept=True) -> Ridge:
    """Ridge readout; a list of alphas is chosen on the last `validation_fraction` of the samples
    (in order: for time series that is the most recent part), then refitted on all of them
    from the statistics already gathered."""
    readout = Ridge(alpha=alpha, fit_intercept=fit_intercept)
    if np.size(alpha) > 1:
        fraction = check.real(validation_fraction, "validation_fraction")
        count = features.shape[-2]
        split = int(round(count * (1.0 - fraction)))
        if not 0 < split < count:
            raise ValueError(f"validation_fraction={fraction} leaves no training or no validation samples")
        readout.fit(
            _samples(features, slice(None, split)),
            _samples(targets, slice(None, split)),
            validation=(_samples(features, slice(split, None)), _samples(targets, slice(split, None))),
        )
        return readout.refitted()
    return readout.fit(features, targets)


def _samples(array, steps: slice):
    """The samples (time steps) `steps` of a (samples, k), (B, samples, k) or 1-D (samples,) array."""
    return array[..., steps, :] if np.ndim(array) >= 2 else array[steps]


def _seed(estimator):
    """The seed of an estimator's random weights: ``seed``, else scikit-learn's name for it, ``random_state``.

    scikit-learn's tools (``set_random_state``, the estimator checks) set ``random_state``
    to make fits reproducible; a given ``seed`` already does, and is kept. An int gives
    the same weights under either name; a ``numpy.random.RandomState`` a seed drawn from it.
    """
    seed = estimator.seed if estimator.seed is not None else estimator.random_state
    if isinstance(seed, np.random.RandomState):
        seed = int(seed.randint(np.iinfo(np.int32).max))
    return seed


def _reservoir(estimator) -> ESN:
    """The ESN described by an estimator's reservoir parameters."""
    return ESN(
        estimator.units, dtype=estimator.dtype, **model_arguments(estimator, ESN_PARAMETERS, seed=_seed(estimator))
    )


class _OneHotClassifier(ClassifierMixin):
    """Classifier outputs from per-class ridge scores (`_scores(X)`, one column per class)."""

    def _set_classes(self, labels):
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(
                f"a classifier needs samples of at least 2 classes; y has one class only: {self.classes_.tolist()}"
            )

    def _one_hot(self, y):
        return (np.asarray(y)[:, None] == self.classes_[None, :]).astype(np.float64)

    def decision_function(self, X):
        """Per-class outputs; for two classes, scikit-learn's 1-D convention (> 0 means classes_[1]).

        A pandas X gives a Series (two classes) or a DataFrame with a column per class, on X's index."""
        scores = self._scores(X)
        scores = scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores
        return _by_class(scores, X, self.classes_)

    def predict(self, X):
        """Labels (samples,); a pandas Series on X's index for a pandas X."""
        scores = self._scores(X)  # raises NotFittedError before classes_ is looked up
        labels = self.classes_[np.argmax(scores, axis=1)]
        rows = _pandas.labels_of(X)
        return labels if rows is None else _pandas.wrap(labels, rows.index, getattr(self, "_target_labels", None))

    def predict_proba(self, X):
        """Softmax of the per-class outputs; a DataFrame with a column per class for a pandas X."""
        scores = self._scores(X)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return _by_class(scores / scores.sum(axis=1, keepdims=True), X, self.classes_)


def _by_class(values, X, classes):
    """Per-class values as a DataFrame (a column per class; a Series for one column) on a pandas X's index."""
    rows = _pandas.labels_of(X)
    return values if rows is None else _pandas.wrap(values, rows.index, columns=classes)


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
    """

    def __init__(
        self,
        units=500,
        *,
        density=None,
        fan_in=None,
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
    ):
        self.units = units
        self.density = density
        self.fan_in = fan_in
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
        reservoir = _reservoir(self)
        states = reservoir.run(inputs if batched else inputs[0], progress=self.progress).reshape(
            inputs.shape[:2] + (-1,)
        )
        features = self._features(states, inputs)[:, washout:]
        targets = targets[:, washout:]
        readout = _fit_ridge(features, targets, self.alpha, self.validation_fraction, self.fit_intercept)
        self.reservoir_ = reservoir
        self.readout_ = readout
        self.alpha_ = readout.alpha_
        self.n_features_in_ = inputs.shape[2]
        self.n_outputs_ = targets.shape[2]
        self._y_was_1d = np.ndim(y) == 1
        self.fitted_state_ = reservoir.state
        self.last_target_ = targets[0, -1].copy()  # first input of a closed-loop forecast
        return self

    def _check_fitted(self):
        if not hasattr(self, "readout_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def _shape_output(self, prediction):
        return prediction[..., 0] if self._y_was_1d else prediction

    def predict(self, u, *, reset: bool = False):
        """Outputs for inputs u, continuing from the fitted state (or from zeros with reset=True).

        A pandas u gives a pandas result on u's index, named like the training targets."""
        self._check_fitted()
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
        outputs = np.asarray(self.readout_.predict(features)).reshape(features.shape[:-1] + (-1,))
        prediction = self._shape_output(outputs)
        return prediction if rows is None else _pandas.wrap(prediction, rows.index, self._target_labels)

    def forecast(self, n_steps: int, *, warmup=None):
        """Closed-loop forecast of the ``n_steps`` steps that follow the training targets.

        The first input is the last training target (known data); every later input is
        the previous output. With ``warmup`` (inputs that continue the fitted series),
        the reservoir first runs over it and the forecast starts with its prediction
        for the step after the warm-up. Needs as many outputs as inputs.

        After a fit on pandas targets (or with a pandas ``warmup``) the result is a
        pandas object whose index continues the targets' (or the warm-up's).
        """
        self._check_fitted()
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
        outputs = self._shape_output(outputs)
        index = warm_rows.index if warm_rows is not None else getattr(self, "_fit_index", None)
        if index is None:
            return outputs
        return _pandas.wrap(outputs, _pandas.continued_index(index, n_steps), self._target_labels)

    def score(self, u, y):
        """Coefficient of determination R² of predict(u) (scikit-learn's regressor score)."""
        prediction = np.asarray(self.predict(u), dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(prediction.shape)
        residual = np.sum((y - prediction) ** 2)
        total = np.sum((y - y.mean(axis=tuple(range(y.ndim - 1)) if y.ndim > 1 else 0)) ** 2)
        return float(1.0 - residual / total)


class _ELM(BaseEstimator):
    """Shared parts of the ELM estimators: a sparse random hidden layer, then a ridge readout.

    Parameters are those of ``reservoir.elm.HiddenLayer`` (``density`` unset: every
    hidden unit sees all inputs up to 10 features, about 10 of them up to 1000, 1 %
    beyond, and at least one), plus ``alpha`` and ``random_state`` (scikit-learn's name
    for ``seed``, used when ``seed`` is None). ``alpha="auto"`` (the default) picks the
    ridge penalty from 1e-6 ... 100 on a random fifth of the samples and refits on all
    of them; a float or a list (chosen on the last fifth) as for the ESN estimators.
    pandas inputs give pandas outputs on their index, named like the targets.

    Inputs are validated the scikit-learn way (``validate_data``: dense or CSR, float,
    finite, ``n_features_in_``); the hidden layer runs on the reservoir backends.
    """

    def __init__(
        self,
        n_hidden=1000,
        *,
        density=None,
        fan_in=None,
        activation="tanh",
        input_scaling=1.0,
        bias_scaling=1.0,
        alpha="auto",
        seed=None,
        dtype="float32",
        backend="auto",
        random_state=None,
    ):
        self.n_hidden = n_hidden
        self.density = density
        self.fan_in = fan_in
        self.activation = activation
        self.input_scaling = input_scaling
        self.bias_scaling = bias_scaling
        self.alpha = alpha
        self.seed = seed
        self.dtype = dtype
        self.backend = backend
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _new_hidden_layer(self, n_features: int) -> None:
        self.hidden_ = HiddenLayer(self.n_hidden, n_features, **model_arguments(self, ELM_PARAMETERS, seed=_seed(self)))

    def _fit_readout(self, H, targets):
        if isinstance(self.alpha, str) and self.alpha == "auto":
            self.readout_ = self._auto_alpha_ridge(H, targets)
        else:
            self.readout_ = _fit_ridge(H, targets, self.alpha)
        self.alpha_ = self.readout_.alpha_

    def _auto_alpha_ridge(self, H, targets) -> Ridge:
        """``alpha="auto"``: the penalty of :data:`AUTO_ALPHAS` that predicts a random fifth of
        the samples best (the samples of an ELM are unordered), refitted on all of them.

        Why not a fixed penalty: with as many hidden units as samples or more (1,000 units
        on a few hundred samples is a first script), a tiny one interpolates the noise;
        on large data the same tiny one is right. Held-out data tells which.
        """
        count = H.shape[0]
        if count < 10 or not isinstance(H, np.ndarray):
            # too few samples to hold some out, or stored activations read as a stream
            return Ridge(alpha=AUTO_ALPHA_STREAM).fit(H, targets)
        order = np.random.default_rng(_seed(self)).permutation(count)
        held_out = order[: max(1, count // 5)]
        kept = np.sort(order[count // 5 :])
        readout = Ridge(alpha=AUTO_ALPHAS).fit(
            H[kept], targets[kept], validation=(H[np.sort(held_out)], targets[np.sort(held_out)])
        )
        return readout.refitted()

    def _partial(self, H_of_X, targets):
        if not hasattr(self, "readout_"):
            alpha = self.alpha
            if isinstance(alpha, str) and alpha == "auto":
                alpha = AUTO_ALPHA_STREAM  # a stream holds nothing out to choose on
            elif np.size(alpha) > 1:
                raise ValueError("partial_fit takes a single alpha (a list is chosen on held-out data by fit)")
            self.readout_ = Ridge(alpha=alpha)
        self.readout_.partial_fit(H_of_X, targets)
        self.alpha_ = self.readout_.alpha_

    def _validated(self, X, y, *, reset: bool, **options):
        """(X, y) checked for fitting; y=None gets scikit-learn's "requires y" error."""
        return validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], reset=reset, **options)

    def hidden_activations(self, X):
        """The hidden activations (samples, n_hidden); a DataFrame on X's index for a pandas X.
        (Not named `transform`: these are predictors.)"""
        check_is_fitted(self, "hidden_")
        rows = _pandas.labels_of(X)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        hidden = self.hidden_.transform(X)
        return hidden if rows is None else _pandas.wrap(hidden, rows.index)

    def _decision(self, X):
        check_is_fitted(self, "readout_")
        return self.readout_.predict(np.asarray(self.hidden_activations(X)))

    def store_hidden(self, X, store, name: str, *, chunk_rows: int = 10_000):
        """Write the hidden activations of X as run `name` of a StateStore, chunk by chunk.

        Draws the hidden layer on first use. Train on the stored run with
        ``fit_hidden(run.time_range(), y)``: out of core, as large as the disk.
        """
        first = not hasattr(self, "hidden_")
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=first)
        if first:
            self._new_hidden_layer(X.shape[1])
        run = store.create_run(
            name,
            steps=X.shape[0],
            units=self.n_hidden,
            dtype=self.hidden_.dtype,
            config={"model": type(self).__name__, **self.get_params()},
        )
        no_state = np.zeros((1, self.n_hidden))  # an ELM has no state to checkpoint
        for start in range(0, X.shape[0], chunk_rows):
            hidden = self.hidden_.transform(X[start : start + chunk_rows])
            run.write(start, hidden)
            run.commit(start + hidden.shape[0], no_state)
        return run

    def fit_hidden(self, H, y):
        """Fit the readout on hidden activations computed by this model (e.g. a stored run's time range)."""
        check_is_fitted(self, "hidden_")
        self._fit_readout(H, self._encode_targets(np.asarray(y)))
        return self


class ELMRegressor(RegressorMixin, _ELM):
    """Extreme learning machine regressor: sparse random hidden layer ``h = f(W x + b)``, ridge readout.

    ``X`` may be a dense array or a scipy.sparse matrix (never densified). ``alpha``
    may be a list, chosen on the last 20 % of the samples. ``partial_fit`` streams
    batches into the readout's Gram statistics (out of core).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # several outputs in one ridge solve
        return tags

    def _encode_targets(self, y):
        return np.asarray(y, dtype=np.float64)

    def fit(self, X, y):
        self._target_labels = _pandas.labels_of(y)
        X, y = self._validated(X, y, reset=True, y_numeric=True, multi_output=True)
        self._new_hidden_layer(X.shape[1])
        self._fit_readout(self.hidden_.transform(X), self._encode_targets(y))
        return self

    def partial_fit(self, X, y):
        first = not hasattr(self, "hidden_")
        X, y = self._validated(X, y, reset=first, y_numeric=True, multi_output=True)
        if first:
            self._new_hidden_layer(X.shape[1])
        self._partial(self.hidden_.transform(X), np.asarray(y, dtype=np.float64))
        return self

    def predict(self, X):
        """Outputs (samples,) or (samples, n_outputs); pandas on X's index, named like y, for a pandas X."""
        prediction = np.asarray(self._decision(X), dtype=np.float64)
        rows = _pandas.labels_of(X)
        return prediction if rows is None else _pandas.wrap(prediction, rows.index, self._target_labels)


class ELMClassifier(_OneHotClassifier, _ELM):
    """Extreme learning machine classifier: ridge regression on one-hot targets.

    ``predict`` takes the class of the largest output; ``predict_proba`` is the
    softmax of the outputs. ``classes_`` holds the labels in sorted order.
    """

    def _encode_targets(self, y):
        y = column_or_1d(y)
        if not hasattr(self, "classes_"):
            self._set_classes(y)
        return self._one_hot(y)

    def _labels(self, X, y, *, reset: bool):
        X, y = self._validated(X, y, reset=reset)
        y = column_or_1d(y, warn=True)  # a (n, 1) column is accepted with a warning, as in scikit-learn
        check_classification_targets(y)
        return X, y

    def fit(self, X, y):
        self._target_labels = _pandas.labels_of(y)
        X, y = self._labels(X, y, reset=True)
        self._set_classes(y)
        self._new_hidden_layer(X.shape[1])
        self._fit_readout(self.hidden_.transform(X), self._one_hot(y))
        return self

    def partial_fit(self, X, y, classes=None):
        first = not hasattr(self, "hidden_")
        X, y = self._labels(X, y, reset=first)
        if first:
            if classes is None:
                raise ValueError("the first partial_fit call needs classes= (every label that will appear)")
            self._set_classes(classes)
            self._new_hidden_layer(X.shape[1])
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y has labels not in classes_: {unknown.tolist()}")
        self._partial(self.hidden_.transform(X), self._one_hot(y))
        return self

    def _scores(self, X):
        """One output per class, (samples, classes)."""
        return np.asarray(self._decision(X), dtype=np.float64)


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
