"""scikit-learn estimators on an extreme learning machine: ELMRegressor, ELMClassifier."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import _pandas
from .._parameters import ELM_PARAMETERS, model_arguments
from ..elm import HiddenLayer
from ..readouts import Ridge
from ._common import (
    AUTO_ALPHA_STREAM,
    AUTO_ALPHAS,
    _fit_ridge,
    _OneHotClassifier,
    _seed,
)


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
