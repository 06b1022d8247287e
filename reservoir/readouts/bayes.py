"""Bayesian ridge readout: the ridge penalty and the noise level chosen by evidence maximisation.

The model (MacKay 1992; Tipping 2001) for each output: ``y = x·w + b + ε`` with
``ε ~ N(0, 1/α)`` (α: noise precision) and the prior ``w ~ N(0, I/λ)`` (λ: weight
precision), Gamma hyperpriors ``Γ(α₁, α₂)`` and ``Γ(λ₁, λ₂)``. With ``G = XᵀX`` of the
centred states, ``G = V diag(e) Vᵀ``, ``p = Vᵀ Xᵀy`` and ``r = λ/α``, the posterior mean
is ``w = V (p / (e + r))`` and the fixed-point updates are

    γ = Σ α e / (λ + α e)           (well-determined parameters)
    λ ← (γ + 2 λ₁) / (‖w‖² + 2 λ₂)
    α ← (n − γ + 2 α₁) / (‖y − Xw‖² + 2 α₂)

until the coefficients change by less than ``tol`` (L1). Everything comes from the
streamed statistics of :class:`~reservoir.readouts.ridge.GramAccumulator` and one
eigendecomposition of the centred Gram matrix: ``‖w‖²`` and the squared error are sums
over the eigenvalues, so an iteration costs O(features) plus one (features,) rotation for
the convergence test. The predictive variance of a new x is ``1/α + x̃ᵀ Σ x̃`` with
``Σ = V diag(1 / (α e + λ)) Vᵀ`` and ``x̃ = x − x̄`` (as scikit-learn's ``BayesianRidge``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .. import _pandas
from .. import _validation as check
from .ridge import GramAccumulator, Ridge, _is_single_target, _numeric

__all__ = ["BayesianRidge"]

_EPS = np.finfo(np.float64).eps


class BayesianRidge(RegressorMixin, BaseEstimator):
    """Linear readout with a predictive distribution: ridge whose penalty and noise level are
    fitted by maximising the evidence (the marginal likelihood).

    Takes what :class:`~reservoir.readouts.Ridge` takes (a (B, T, features) batch, a list
    of sequences, anything sliceable by rows such as an h5py dataset or a state store's
    run, streamed in chunks), ``partial_fit`` and ``fit_statistics``. Every output has its
    own noise precision ``alpha_`` and weight precision ``lambda_`` (the outputs share
    the states' eigendecomposition, nothing else): for one output the fit is that of
    ``sklearn.linear_model.BayesianRidge``, whose parameter names are kept.

    Parameters
    ----------
    max_iter : int, default 300
        Most fixed-point iterations.
    tol : float > 0, default 1e-3
        Stop when the coefficients change by less than this (sum of absolute changes).
    alpha_1, alpha_2 : float >= 0, default 1e-6
        Shape and rate of the Gamma prior on the noise precision.
    lambda_1, lambda_2 : float >= 0, default 1e-6
        Shape and rate of the Gamma prior on the weight precision.
    alpha_init : float > 0, optional
        Starting noise precision (default ``1 / var(y)``).
    lambda_init : float > 0, optional
        Starting weight precision (default 1).
    fit_intercept : bool, default True
        Fit an unpenalised intercept (the states and targets are centred).

    Attributes
    ----------
    coef_ : (n_targets, n_features), or (n_features,) for 1-D targets
    intercept_ : (n_targets,) or float
    alpha_ : noise precision per output (float for 1-D targets)
    lambda_ : weight precision per output (float for 1-D targets)
    penalty_ : ``lambda_ / alpha_``, the equivalent ridge penalty
    n_iter_ : iterations run per output (int for 1-D targets)
    X_offset_ : (n_features,) the states' mean (zeros without an intercept)
    eigenvalues_, eigenvectors_ : the centred Gram matrix's eigendecomposition
    sigma_ : posterior covariance of the coefficients, (n_features, n_features), or one per output
    """

    def __init__(
        self,
        *,
        max_iter=300,
        tol=1e-3,
        alpha_1=1e-6,
        alpha_2=1e-6,
        lambda_1=1e-6,
        lambda_2=1e-6,
        alpha_init=None,
        lambda_init=None,
        fit_intercept=True,
    ):
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_1 = alpha_1
        self.alpha_2 = alpha_2
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.alpha_init = alpha_init
        self.lambda_init = lambda_init
        self.fit_intercept = fit_intercept

    # scikit-learn's feature-name bookkeeping and the streamed accumulation, shared with Ridge
    _check_names = Ridge._check_names
    _predict_named = Ridge._predict_named
    _accumulate = staticmethod(Ridge._accumulate)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, Y) -> BayesianRidge:
        """Fit on states X and targets Y (see :class:`~reservoir.readouts.Ridge` for what X may be)."""
        self._check_hyperparameters()
        self._check_names(X, reset=True)
        self._target_labels = _pandas.labels_of(Y)
        self._single_target = _is_single_target(X, Y)
        self._solve_from(self._accumulate(GramAccumulator(), X, Y))
        return self

    def fit_statistics(self, train: GramAccumulator) -> BayesianRidge:
        """Fit from statistics gathered elsewhere (``GramAccumulator.add``/``update``/``merged``):
        the same readout as ``fit`` on the samples they summarise. Targets are taken as 2-D."""
        self._check_hyperparameters()
        if train.count == 0:
            raise ValueError("no samples to fit on: the training statistics are empty")
        self._single_target = False
        self._target_labels = None
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._solve_from(train)
        return self

    def partial_fit(self, X, Y) -> BayesianRidge:
        """Add samples to the statistics gathered so far and refit: equals one fit on all of them."""
        self._check_hyperparameters()
        first = getattr(self, "_train", None) is None
        self._check_names(X, reset=first)
        if first:
            self._single_target = _is_single_target(X, Y)
            self._train = GramAccumulator()
        self._solve_from(self._accumulate(self._train, X, Y))
        return self

    def _check_hyperparameters(self) -> None:
        check.positive_int(self.max_iter, "max_iter")
        check.positive_float(self.tol, "tol")
        for name in ("alpha_1", "alpha_2", "lambda_1", "lambda_2"):
            check.non_negative_float(getattr(self, name), name)
        for name in ("alpha_init", "lambda_init"):
            if getattr(self, name) is not None:
                check.positive_float(getattr(self, name), name)

    def _statistics(self, train: GramAccumulator):
        """(Gram, cross, yᵀy diagonal, x mean, y mean), centred with an intercept, raw without."""
        n = train.count
        y_centred = train.y_sum / n
        yy_centred = np.diag(train.yy) - n * y_centred**2
        if self.fit_intercept:
            gram, cross, x_mean, y_mean = train.centred()
            return gram, cross, yy_centred, yy_centred, x_mean, y_mean
        xx, xy, yy, _, _ = train._about(np.zeros_like(train.x_shift), np.zeros_like(train.y_shift))
        zeros = (np.zeros(xx.shape[0]), np.zeros(xy.shape[1]))
        return xx, xy, np.diag(yy), yy_centred, *zeros

    def _solve_from(self, train: GramAccumulator) -> None:
        self._train = train
        n = train.count
        gram, cross, yy, yy_centred, x_mean, y_mean = self._statistics(train)
        eigenvalues, eigenvectors = np.linalg.eigh(gram)
        eigenvalues = np.clip(eigenvalues, 0.0, None)  # a semidefinite Gram rounds slightly below zero
        projected = eigenvectors.T @ cross  # (features, targets)
        n_targets = cross.shape[1]
        alpha = np.full(n_targets, 1.0 / (np.maximum(yy_centred, 0.0) / n + _EPS))
        lambda_ = np.ones(n_targets)
        if self.alpha_init is not None:
            alpha[:] = self.alpha_init
        if self.lambda_init is not None:
            lambda_[:] = self.lambda_init
        running = np.ones(n_targets, dtype=bool)
        n_iter = np.zeros(n_targets, dtype=int)
        squared_error = _squared_error(yy, projected, eigenvalues)
        previous = None
        for iteration in range(int(self.max_iter)):
            shrink = projected / (eigenvalues[:, None] + lambda_ / alpha)  # posterior mean, eigenbasis
            coef = eigenvectors @ shrink
            error = squared_error(lambda_ / alpha)
            gamma = np.sum(alpha * eigenvalues[:, None] / (lambda_ + alpha * eigenvalues[:, None]), axis=0)
            new_lambda = (gamma + 2 * self.lambda_1) / (np.sum(shrink**2, axis=0) + 2 * self.lambda_2)
            new_alpha = (n - gamma + 2 * self.alpha_1) / (error + 2 * self.alpha_2)
            lambda_ = np.where(running, new_lambda, lambda_)  # a converged output keeps its values
            alpha = np.where(running, new_alpha, alpha)
            n_iter[running] = iteration + 1
            if previous is not None:
                running &= np.sum(np.abs(previous - coef), axis=0) >= self.tol
            if not running.any():
                break
            previous = coef
        shrink = projected / (eigenvalues[:, None] + lambda_ / alpha)
        coef = eigenvectors @ shrink
        self.alpha_, self.lambda_, self.n_iter_ = alpha, lambda_, n_iter
        self.penalty_ = lambda_ / alpha
        self.eigenvalues_, self.eigenvectors_ = eigenvalues, eigenvectors
        self.X_offset_ = x_mean
        self.coef_ = coef.T.copy()
        self.intercept_ = y_mean - x_mean @ coef
        self.n_features_in_ = coef.shape[0]
        if self._single_target:
            self.coef_ = self.coef_[0]
            self.intercept_ = float(self.intercept_[0])
            self.alpha_, self.lambda_ = float(alpha[0]), float(lambda_[0])
            self.penalty_, self.n_iter_ = float(self.penalty_[0]), int(n_iter[0])

    # ------------------------------------------------------------------ predicting
    @property
    def sigma_(self) -> np.ndarray:
        """Posterior covariance of the coefficients: (features, features), or (targets, features, features)."""
        check_is_fitted(self, "coef_")
        scale = 1.0 / (np.atleast_1d(self.alpha_)[:, None] * self.eigenvalues_ + np.atleast_1d(self.lambda_)[:, None])
        sigma = np.einsum("ik,tk,jk->tij", self.eigenvectors_, scale, self.eigenvectors_)
        return sigma[0] if self._single_target else sigma

    def predict(self, X, return_std: bool = False):
        """Predictive mean for X (samples, features) or (B, T, features); with ``return_std``
        also the predictive standard deviation ``sqrt(1/alpha_ + x̃ᵀ sigma_ x̃)`` (same shape)."""
        mean = Ridge.predict(self, X)
        if not return_std:
            return mean
        X = _numeric(X, "X")  # validated by the prediction above
        std = self._std(np.asarray(X, dtype=np.float64))
        if X.dtype == np.float32:
            std = std.astype(np.float32)
        rows = _pandas.labels_of(mean)
        if rows is not None:
            std = _pandas.wrap(std, rows.index, getattr(self, "_target_labels", None))
        return mean, std

    def _std(self, X: np.ndarray) -> np.ndarray:
        rotated = (X - self.X_offset_) @ self.eigenvectors_
        alpha, lambda_ = np.atleast_1d(self.alpha_), np.atleast_1d(self.lambda_)
        scale = 1.0 / (alpha[:, None] * self.eigenvalues_ + lambda_[:, None])  # (targets, features)
        std = np.sqrt(rotated**2 @ scale.T + 1.0 / alpha)
        return std[..., 0] if self._single_target else std

    def sample(self, X, n_samples: int = 1, seed=None) -> np.ndarray:
        """Draws from the joint predictive distribution over the rows of X.

        Each draw takes coefficients from the posterior (shared by the rows, so the draws
        are correlated as the model says) and adds independent noise of variance
        ``1/alpha_`` per row. Returns an array of shape ``(n_samples, *predict(X).shape)``.
        """
        n_samples = check.positive_int(n_samples, "n_samples")
        mean = np.asarray(self.predict(X), dtype=np.float64)
        X = np.asarray(_numeric(X, "X"), dtype=np.float64)
        rng = np.random.default_rng(seed)
        alpha, lambda_ = np.atleast_1d(self.alpha_), np.atleast_1d(self.lambda_)
        scale = 1.0 / np.sqrt(alpha[:, None] * self.eigenvalues_ + lambda_[:, None])  # (targets, features)
        rotated = (X - self.X_offset_) @ self.eigenvectors_  # (..., features)
        # x̃ᵀ V diag(scale) z: the coefficients' posterior deviation seen by each row
        z = rng.standard_normal((n_samples, alpha.size, self.eigenvalues_.size))
        weights = np.einsum("...k,stk->s...t", rotated, z * scale)
        noise = rng.standard_normal(weights.shape) / np.sqrt(alpha)
        draws = weights + noise
        draws = draws[..., 0] if self._single_target else draws
        return draws + mean

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _squared_error(yy, projected, eigenvalues):
    """A function of the shrunk coefficients giving ‖y − Xw‖² per output, w = V (p / (e + r)).

    Split as ‖y − Py‖² + ‖Py − Xw‖² (P: the projection on the states' span), the first a
    constant computed once and the second ``Σ p² r² / (e (e + r)²)``: accurate when the
    fit nearly interpolates, where ``yᵀy − 2 pᵀw + wᵀGw`` would cancel to rounding noise.
    Directions of a (numerically) zero eigenvalue keep the direct form.
    """
    span = eigenvalues > eigenvalues.max(initial=0.0) * eigenvalues.size * _EPS
    e, p2 = eigenvalues[:, None], projected**2
    outside = np.maximum(
        yy - np.sum(np.where(span[:, None], p2 / np.where(span, e[:, 0], 1.0)[:, None], 0.0), axis=0), 0.0
    )

    def error(ratio):
        inside = np.where(span[:, None], p2 * ratio**2 / (np.where(span[:, None], e, 1.0) * (e + ratio) ** 2), 0.0)
        rest = np.where(span[:, None], 0.0, p2 * (e + 2 * ratio) / (e + ratio) ** 2)
        return np.maximum(outside + np.sum(inside, axis=0) - np.sum(rest, axis=0), 0.0)

    return error
