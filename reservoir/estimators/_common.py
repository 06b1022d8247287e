"""What the ESN and ELM estimators share: the ridge fit with a penalty chosen on held-out
samples, the seed rule, one-hot classification."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin

from .. import _pandas
from .. import _validation as check
from .._parameters import ESN_PARAMETERS, model_arguments
from ..esn import ESN
from ..readouts import Ridge

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
