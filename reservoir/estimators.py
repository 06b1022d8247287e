"""scikit-learn style estimators built from a reservoir and a readout."""

from __future__ import annotations

import inspect

import numpy as np

from . import _validation as check
from .elm import HiddenLayer, check_features
from .esn import ESN
from .readouts import Ridge

__all__ = ["ESNRegressor", "ELMRegressor", "ELMClassifier", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """A model used before fit (scikit-learn's convention: both a ValueError and an AttributeError)."""


class _Params:
    """get_params / set_params from the constructor signature (the scikit-learn contract)."""

    @classmethod
    def _param_names(cls):
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults[k].default is not v
                   and not (np.isscalar(v) and defaults[k].default == v)]
        return f"{type(self).__name__}({', '.join(changed)})"


class ESNRegressor(_Params):
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
    chosen on the last ``validation_fraction`` of the training steps), ``washout``,
    ``include_input`` and ``fit_intercept``; ``progress`` shows a progress bar.
    """

    def __init__(self, units=500, *, density=0.01, fan_in=None, spectral_radius=0.9, leak_rate=1.0,
                 input_scaling=1.0, input_density=1.0, bias_scaling=0.0, activation="tanh", alpha=1e-6,
                 washout=100, include_input=True, fit_intercept=True, validation_fraction=0.2, seed=None,
                 dtype="float32", backend="auto", progress=False):
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

    def _features(self, states, inputs):
        return np.concatenate([states, inputs], axis=-1) if self.include_input else states

    def fit(self, u, y):
        """Fit on inputs u ((T,), (T, n_in) or (B, T, n_in)) and aligned targets y."""
        washout = check.non_negative_int(self.washout, "washout")
        dtype = check.float_dtype(self.dtype)
        inputs, batched = check.sequences(u, dtype, "u")
        targets, _ = check.sequences(y if np.ndim(y) != 1 else np.asarray(y)[:, None], np.float64, "y")
        if targets.shape[:2] != inputs.shape[:2]:
            raise ValueError(f"u and y disagree on sequences and time steps: {inputs.shape[:2]} != {targets.shape[:2]}")
        steps = inputs.shape[1]
        if washout >= steps:
            raise ValueError(f"washout={washout} leaves no training steps out of {steps}")
        reservoir = ESN(self.units, density=self.density, fan_in=self.fan_in,
                        spectral_radius=self.spectral_radius, leak_rate=self.leak_rate,
                        input_scaling=self.input_scaling, input_density=self.input_density,
                        bias_scaling=self.bias_scaling, activation=self.activation, seed=self.seed,
                        dtype=dtype, backend=self.backend)
        states = reservoir.run(inputs if batched else inputs[0], progress=self.progress).reshape(
            inputs.shape[:2] + (-1,))
        features = self._features(states, inputs)[:, washout:]
        targets = targets[:, washout:]
        readout = Ridge(alpha=self.alpha, fit_intercept=self.fit_intercept)
        if np.size(self.alpha) > 1:
            fraction = check.real(self.validation_fraction, "validation_fraction")
            split = int(round(features.shape[1] * (1.0 - fraction)))
            if not 0 < split < features.shape[1]:
                raise ValueError(f"validation_fraction={fraction} leaves no training or no validation steps")
            readout.fit(features[:, :split], targets[:, :split],
                        validation=(features[:, split:], targets[:, split:]))
            readout = Ridge(alpha=readout.alpha_, fit_intercept=self.fit_intercept)
        readout.fit(features, targets)
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
        _check_fitted(self)

    def _shape_output(self, prediction):
        return prediction[..., 0] if self._y_was_1d else prediction

    def predict(self, u, *, reset: bool = False):
        """Outputs for inputs u, continuing from the fitted state (or from zeros with reset=True)."""
        self._check_fitted()
        reservoir = self.reservoir_
        inputs, batched = check.sequences(u, reservoir.dtype, "u", self.n_features_in_)
        if reset:
            reservoir.reset()
        else:  # run() raises if u has another number of sequences than the fitted state
            reservoir.state = self.fitted_state_
        states = reservoir.run(inputs if batched else inputs[0], progress=self.progress)
        features = self._features(states, inputs if batched else inputs[0])
        return self._shape_output(np.asarray(self.readout_.predict(features)).reshape(features.shape[:-1] + (-1,)))

    def forecast(self, n_steps: int, *, warmup=None):
        """Closed-loop forecast of the ``n_steps`` steps that follow the training targets.

        The first input is the last training target (known data); every later input is
        the previous output. With ``warmup`` (inputs that continue the fitted series),
        the reservoir first runs over it and the forecast starts with its prediction
        for the step after the warm-up. Needs as many outputs as inputs.
        """
        self._check_fitted()
        n_steps = check.positive_int(n_steps, "n_steps")
        if self.n_outputs_ != self.n_features_in_:
            raise ValueError(f"forecast feeds outputs back as inputs: needs n_outputs ({self.n_outputs_}) == "
                             f"n_inputs ({self.n_features_in_})")
        reservoir = self.reservoir_
        state = np.asarray(self.fitted_state_)
        if state.ndim != 1:
            raise ValueError("forecast runs one sequence; the model was fitted on a batch")
        reservoir.state = state
        coef = np.atleast_2d(self.readout_.coef_)
        intercept = np.atleast_1d(self.readout_.intercept_)
        if warmup is None:
            outputs = reservoir.generate(n_steps, coef, intercept, self.last_target_,
                                         include_input=self.include_input)
        else:
            warm, _ = check.sequences(warmup, reservoir.dtype, "warmup", self.n_features_in_)
            if warm.shape[0] != 1:
                raise ValueError("warmup must be a single sequence")
            states = reservoir.run(warm[0])
            first = np.atleast_1d(self.readout_.predict(self._features(states[-1:], warm[0, -1:])))
            outputs = np.empty((n_steps, self.n_outputs_), dtype=reservoir.dtype)
            outputs[0] = first.ravel()
            if n_steps > 1:
                outputs[1:] = reservoir.generate(n_steps - 1, coef, intercept, outputs[0],
                                                 include_input=self.include_input)
        return self._shape_output(outputs)

    def score(self, u, y):
        """Coefficient of determination R² of predict(u) (scikit-learn's regressor score)."""
        prediction = np.asarray(self.predict(u), dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(prediction.shape)
        residual = np.sum((y - prediction) ** 2)
        total = np.sum((y - y.mean(axis=tuple(range(y.ndim - 1)) if y.ndim > 1 else 0)) ** 2)
        return float(1.0 - residual / total)


def _check_fitted(model):
    if not hasattr(model, "readout_"):
        raise NotFittedError(f"this {type(model).__name__} is not fitted yet: call fit() first")


def _r2(y, prediction) -> float:
    """Coefficient of determination averaged over outputs (scikit-learn's regressor score)."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    prediction = np.asarray(prediction, dtype=np.float64).reshape(y.shape)
    residual = np.sum((y - prediction) ** 2, axis=0)
    total = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    return float(np.mean(1.0 - residual / np.where(total == 0, 1.0, total)))


class _ELM(_Params):
    """Shared parts of the ELM estimators: a sparse random hidden layer, then a ridge readout."""

    def __init__(self, n_hidden=1000, *, density=0.01, fan_in=None, activation="tanh", input_scaling=1.0,
                 bias_scaling=1.0, alpha=1e-6, seed=None, dtype="float32", backend="auto"):
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

    def _hidden(self, X, *, new: bool):
        """Hidden activations of X; `new` draws the hidden layer for X's width first."""
        dtype = check.float_dtype(self.dtype)
        if new:
            X = check_features(X, dtype)
            self.hidden_ = HiddenLayer(self.n_hidden, X.shape[1], density=self.density, fan_in=self.fan_in,
                                       activation=self.activation, input_scaling=self.input_scaling,
                                       bias_scaling=self.bias_scaling, seed=self.seed, dtype=dtype,
                                       backend=self.backend)
            self.n_features_in_ = X.shape[1]
        return self.hidden_.transform(X)

    def _fit_readout(self, H, targets):
        """Ridge on the hidden activations; an alpha list is chosen on the last 20 % of the samples."""
        readout = Ridge(alpha=self.alpha)
        if np.size(self.alpha) > 1:
            split = int(0.8 * H.shape[0])
            if not 0 < split < H.shape[0]:
                raise ValueError("choosing among several alphas needs at least 2 samples")
            readout.fit(H[:split], targets[:split], validation=(H[split:], targets[split:]))
            readout = Ridge(alpha=readout.alpha_)
        self.readout_ = readout.fit(H, targets)
        self.alpha_ = readout.alpha_

    def _partial(self, X, targets):
        new = not hasattr(self, "hidden_")
        H = self._hidden(X, new=new)
        if new:
            if np.size(self.alpha) > 1:
                raise ValueError("partial_fit takes a single alpha")
            self.readout_ = Ridge(alpha=self.alpha)
        self.readout_.partial_fit(H, targets)
        self.alpha_ = self.readout_.alpha_

    def _decision(self, X):
        _check_fitted(self)
        return self.readout_.predict(self._hidden(X, new=False))

    def transform(self, X):
        """The hidden activations (samples, n_hidden)."""
        if not hasattr(self, "hidden_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")
        return self._hidden(X, new=False)


def _targets(y, n_samples: int, *, numeric: bool) -> np.ndarray:
    y = np.asarray(y)
    if y.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]}")
    if numeric:
        try:
            y = y.astype(np.float64)
        except (ValueError, TypeError) as error:
            raise ValueError(f"y must hold numbers: {error}") from None
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity")
    return y


class ELMRegressor(_ELM):
    """Extreme learning machine regressor: sparse random hidden layer ``h = f(W x + b)``, ridge readout.

    ``X`` may be a dense array or a scipy.sparse matrix (never densified). ``alpha``
    may be a list, chosen on the last 20 % of the samples. ``partial_fit`` streams
    batches into the readout's Gram statistics (out of core).
    """

    def fit(self, X, y):
        H = self._hidden(X, new=True)
        self._fit_readout(H, _targets(y, H.shape[0], numeric=True))
        return self

    def partial_fit(self, X, y):
        n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
        self._partial(X, _targets(y, n_samples, numeric=True))
        return self

    def predict(self, X):
        return self._decision(X)

    def score(self, X, y):
        return _r2(y, self.predict(X))


class ELMClassifier(_ELM):
    """Extreme learning machine classifier: ridge regression on one-hot targets.

    ``predict`` takes the class of the largest output; ``predict_proba`` is the
    softmax of the outputs. ``classes_`` holds the labels in sorted order.
    """

    def _one_hot(self, y):
        return (np.asarray(y)[:, None] == self.classes_[None, :]).astype(np.float64)

    def fit(self, X, y):
        H = self._hidden(X, new=True)
        y = _targets(y, H.shape[0], numeric=False)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per sample), got shape {y.shape}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"classifier needs samples of at least 2 classes; y has only {self.classes_.tolist()}")
        self._fit_readout(H, self._one_hot(y))
        return self

    def partial_fit(self, X, y, classes=None):
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("the first partial_fit call needs classes= (every label that will appear)")
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError("classifier needs at least 2 classes")
        y = np.asarray(y)
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y has labels not in classes_: {unknown.tolist()}")
        self._partial(X, self._one_hot(_targets(y, y.shape[0], numeric=False)))
        return self

    def decision_function(self, X):
        return self._decision(X)

    def predict(self, X):
        scores = self.decision_function(X)  # raises NotFittedError before classes_ is needed
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        scores = np.asarray(self.decision_function(X), dtype=np.float64)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def score(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))
