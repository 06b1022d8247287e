"""Any scikit-learn regressor as a readout of reservoir states.

The regressor does its own fitting and predicting: :class:`SklearnReadout` only
brings what holds reservoir states (a (B, T, features) batch, a list of sequences,
a table of samples) to the (samples, features) table scikit-learn takes, and back.
It fits a clone (the estimator given is never changed), and targets of several
columns go to a regressor that cannot take them through
``sklearn.multioutput.MultiOutputRegressor`` (one clone per column), the role of
ReservoirPy's ``ScikitLearnNode``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.multioutput import MultiOutputRegressor
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from .ridge import _is_single_target, _numeric, _paired_blocks

__all__ = ["SklearnReadout"]


class SklearnReadout(RegressorMixin, BaseEstimator):
    """A scikit-learn regressor fitted on reservoir states, usable wherever :class:`Ridge` is.

    Parameters
    ----------
    estimator : scikit-learn regressor
        Cloned on ``fit``; e.g. ``sklearn.linear_model.Lasso(alpha=1e-3)``,
        ``sklearn.neighbors.KNeighborsRegressor()``.

    Attributes
    ----------
    estimator_ : the fitted clone (a ``MultiOutputRegressor`` around clones for several
        targets when the estimator takes one target only)
    n_features_in_ : int
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, Y) -> SklearnReadout:
        """Fit on states X ((samples, features), (B, T, features) or a list of (T_i, features))
        and aligned targets Y."""
        if not (hasattr(self.estimator, "fit") and hasattr(self.estimator, "predict")):
            raise TypeError(f"estimator must be a scikit-learn regressor with fit and predict, got {self.estimator!r}")
        single = _is_single_target(X, Y)
        if isinstance(Y, (list, tuple)) and not isinstance(X, (list, tuple)):
            Y = _numeric(Y, "Y")
        X_blocks, Y_blocks = _paired_blocks(X, Y)
        states = np.concatenate([_numeric(block, "X") for block in X_blocks])
        targets = np.concatenate([_numeric(block, "Y") for block in Y_blocks])
        if not np.all(np.isfinite(states)):
            raise ValueError("X contains NaN or Inf")
        if not np.all(np.isfinite(targets)):
            raise ValueError("Y contains NaN or Inf")
        estimator = clone(self.estimator)
        if single:
            targets = targets[:, 0]
        elif not get_tags(estimator).target_tags.multi_output:
            estimator = MultiOutputRegressor(estimator)
        self.estimator_ = estimator.fit(states, targets)
        self.n_features_in_ = states.shape[1]
        self._single_target = single
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions for X (samples, features) or (B, T, features); (B, T[, n_targets]) for a batch."""
        check_is_fitted(self, "estimator_")
        X = _numeric(X, "X")
        if X.ndim not in (2, 3):
            raise ValueError(f"X must be (samples, features) or (B, T, features), got shape {X.shape}")
        if X.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[-1]} features, the readout was fitted on {self.n_features_in_}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or Inf")
        prediction = np.asarray(self.estimator_.predict(X.reshape(-1, X.shape[-1])))
        return prediction.reshape(X.shape[:-1] + prediction.shape[1:])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
