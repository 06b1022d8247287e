"""Ridge regression readout from streamed Gram statistics.

States are never concatenated: ``XᵀX`` and ``XᵀY`` are accumulated in float64 over
row chunks of whatever holds the states (an array, a (B, T, N) batch, a list of
those, or anything sliceable by rows such as an h5py dataset), then the normal
equations are solved by Cholesky.

With ``fit_intercept`` the statistics are accumulated about a shift (the mean of the
first chunk) so that a large common offset does not cancel catastrophically when
the Gram matrix is centred; the intercept is not penalised (as in scikit-learn).

Several alphas are selected in one pass: validation statistics ``ZᵀZ``, ``ZᵀY``,
``YᵀY`` (Z = [X, 1]) are accumulated beside the training ones, the training Gram
matrix is diagonalised once, and the validation error of every alpha follows in
closed form, ``‖Y − Zθ‖² = tr(YᵀY) − 2 tr(θᵀZᵀY) + tr(θᵀZᵀZθ)``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _pandas
from .. import _validation as check
from .._diagnostics import warn_few_samples
from ..config import settings

__all__ = ["Ridge", "GramAccumulator"]


def _is_block_list(X) -> bool:
    """A list of blocks (arrays of 2 or more dimensions, e.g. one per sequence), not a list of rows."""
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(len(np.shape(item)) >= 2 for item in X)


def _blocks(X, name: str, *, samples_1d: bool = True) -> list:
    """Split what holds the samples into blocks of shape (rows, features) (views, no copies).

    A 1-D array is one feature per sample for targets (`samples_1d`); for states it is an error.
    """
    if isinstance(X, (list, tuple)) and (_is_block_list(X) or (samples_1d and X and np.ndim(X[0]) == 1)):
        blocks = []
        for item in X:
            blocks.extend(_blocks(item, name, samples_1d=samples_1d))
        return blocks
    if isinstance(X, (list, tuple)) and not X:
        raise ValueError(f"{name} is an empty list")
    if X is None:
        raise ValueError(
            "Ridge requires y to be passed, but the target y is None" if name == "Y" else f"{name} is None"
        )
    if sp.issparse(X):
        raise TypeError(f"{name} is a sparse matrix; the ridge readout needs dense states (X.toarray())")
    if not hasattr(X, "shape") or not hasattr(X, "__getitem__") or _pandas.is_pandas(X):
        X = _numeric(X, name)
    elif getattr(X, "dtype", np.dtype(np.float64)).kind not in "fiub":
        X = _numeric(X, name)
    if len(X.shape) == 1:
        if not samples_1d:
            raise ValueError(
                f"{name} is 1-D (shape {X.shape}); the readout needs (samples, features). Reshape "
                "your data: reshape(-1, 1) for one feature, reshape(1, -1) for one sample"
            )
        return [np.asarray(X).reshape(-1, 1)]
    if len(X.shape) >= 2 and X.shape[-1] == 0:  # scikit-learn's wording
        raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if len(X.shape) == 2:
        return [X]
    if len(X.shape) == 3:
        return [X[b] for b in range(X.shape[0])]
    raise ValueError(f"{name} must be 2-D (samples, features), 3-D (B, T, features) or a list; got shape {X.shape}")


def _chunks(X_blocks, Y_blocks, chunk_rows: int):
    """Yield float64 (x, y) row chunks of matching blocks."""
    for x_block, y_block in zip(X_blocks, Y_blocks):
        for start in range(0, x_block.shape[0], chunk_rows):
            stop = min(start + chunk_rows, x_block.shape[0])
            x = np.asarray(x_block[start:stop], dtype=np.float64)
            y = np.asarray(y_block[start:stop], dtype=np.float64)
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
                raise ValueError(f"states or targets contain NaN or Inf (rows {start}..{stop - 1} of a block)")
            yield x, y


def _shape(X) -> tuple:
    """The shape of an array, a table or a nested list (without NumPy's dispatch on foreign objects)."""
    shape = getattr(X, "shape", None)
    return tuple(shape) if shape is not None else np.asarray(X).shape


def _numeric(X, name: str) -> np.ndarray:
    """X as a NumPy array of real numbers (pandas' missing values become NaN and are caught later)."""
    if _pandas.is_pandas(X):
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        array = np.asarray(X)
        if array.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {name} has dtype {array.dtype}")
        if array.dtype.kind not in "fiub":
            array = array.astype(np.float64)
    except TypeError as error:
        raise TypeError(f"{name} must hold real numbers: {error}") from None
    except ValueError as error:
        if "Complex" in str(error):
            raise
        raise ValueError(f"{name} must hold real numbers: {error}") from None
    return array


def _paired_blocks(X, Y):
    if isinstance(Y, (list, tuple)) and not _is_block_list(X):
        Y = _numeric(Y, "Y")  # rows of a table beside X's rows, not one block per sequence
    X_blocks, Y_blocks = _blocks(X, "X", samples_1d=False), _blocks(Y, "Y")
    if len(X_blocks) != len(Y_blocks):
        raise ValueError(f"X has {len(X_blocks)} sequences but Y has {len(Y_blocks)}")
    for index, (x, y) in enumerate(zip(X_blocks, Y_blocks)):
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"X and Y disagree on the number of samples in sequence {index}: {x.shape[0]} != {y.shape[0]}"
            )
        if x.shape[1] != X_blocks[0].shape[1] or y.shape[1] != Y_blocks[0].shape[1]:
            raise ValueError(f"sequence {index} has a different number of features or targets than sequence 0")
    return X_blocks, Y_blocks


class GramAccumulator:
    """Sums of x xᵀ, x yᵀ, y yᵀ, x, y and the count, about a fixed shift of x and y."""

    def __init__(self):
        self.count = 0

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        if self.count == 0:
            n_features, n_targets = x.shape[1], y.shape[1]
            self.x_shift = x.mean(axis=0)
            self.y_shift = y.mean(axis=0)
            self.xx = np.zeros((n_features, n_features))
            self.xy = np.zeros((n_features, n_targets))
            self.yy = np.zeros((n_targets, n_targets))
            self.x_sum = np.zeros(n_features)
            self.y_sum = np.zeros(n_targets)
        elif x.shape[1] != self.xx.shape[0] or y.shape[1] != self.xy.shape[1]:
            raise ValueError(
                f"expected {self.xx.shape[0]} features and {self.xy.shape[1]} targets, "
                f"got {x.shape[1]} and {y.shape[1]}"
            )
        x = x - self.x_shift
        y = y - self.y_shift
        self.xx += x.T @ x
        self.xy += x.T @ y
        self.yy += y.T @ y
        self.x_sum += x.sum(axis=0)
        self.y_sum += y.sum(axis=0)
        self.count += x.shape[0]

    def add(self, x, y) -> None:
        """`update` with (rows, features) states of any float type and (rows, targets) targets,
        converted to float64 and checked for NaN/Inf ``settings.gram_chunk_rows`` rows at a time
        (a float64 copy of a large float32 chunk would double its memory)."""
        for x_rows, y_rows in _chunks([x], [y], settings.gram_chunk_rows):
            self.update(x_rows, y_rows)

    def centred(self):
        """(Gram, cross, x mean, y mean) of the data centred on its own mean."""
        x_mean = self.x_sum / self.count
        y_mean = self.y_sum / self.count
        gram = self.xx - self.count * np.outer(x_mean, x_mean)
        cross = self.xy - self.count * np.outer(x_mean, y_mean)
        return gram, cross, x_mean + self.x_shift, y_mean + self.y_shift

    def raw(self):
        """(Gram, cross) about the origin (no centring)."""
        xx, xy, _, _, _ = self._about(np.zeros_like(self.x_shift), np.zeros_like(self.y_shift))
        return xx, xy

    def _about(self, x_shift, y_shift):
        """New arrays (xx, xy, yy, x_sum, y_sum) of the same samples about another shift.

        With d = old − new shift, x − new = (x − old) + d, so xx gains
        x_sum dᵀ + d x_sumᵀ + n d dᵀ = a dᵀ + d aᵀ with a = x_sum + n d / 2: two outer
        products added in place, so a features² Gram needs one temporary of its size.
        """
        d, e, n = self.x_shift - x_shift, self.y_shift - y_shift, self.count
        a, b = self.x_sum + 0.5 * n * d, self.y_sum + 0.5 * n * e
        xx = self.xx + np.outer(a, d)
        xx += np.outer(d, a)
        xy = self.xy + np.outer(self.x_sum, e)
        xy += np.outer(d, self.y_sum + n * e)
        yy = self.yy + np.outer(b, e)
        yy += np.outer(e, b)
        return xx, xy, yy, self.x_sum + n * d, self.y_sum + n * e

    def merged(self, other: GramAccumulator) -> GramAccumulator:
        """The statistics of both sample sets together (about this one's shift): what one
        accumulator fed with all of their samples would hold, up to rounding."""
        if other.xx.shape != self.xx.shape or other.xy.shape != self.xy.shape:
            raise ValueError("cannot merge statistics of different numbers of features or targets")
        total = GramAccumulator()
        total.x_shift, total.y_shift, total.count = self.x_shift, self.y_shift, self.count + other.count
        total.xx, total.xy, total.yy, total.x_sum, total.y_sum = other._about(self.x_shift, self.y_shift)
        for mine, theirs in zip(
            (self.xx, self.xy, self.yy, self.x_sum, self.y_sum),
            (total.xx, total.xy, total.yy, total.x_sum, total.y_sum),
        ):
            theirs += mine
        return total

    def squared_error(self, coef: np.ndarray, intercept: np.ndarray) -> float:
        """Σ‖y − (x coef + intercept)‖² over the accumulated samples, from the statistics alone.

        coef (features, targets), intercept (targets,). About the shift: the residual is
        (y' − x' coef) − c with x' = x − s, y' = y − t, c = intercept + s coef − t.
        A difference of large sums: accurate to about machine precision times ‖y'‖²,
        so a near-perfect fit may round below zero, which is clamped.
        """
        c = intercept + self.x_shift @ coef - self.y_shift
        error = (
            np.trace(self.yy)
            - 2.0 * np.sum(coef * self.xy)
            + np.sum(coef * (self.xx @ coef))
            - 2.0 * c @ (self.y_sum - coef.T @ self.x_sum)
            + self.count * c @ c
        )
        return max(float(error), 0.0)


class Ridge(RegressorMixin, BaseEstimator):
    """Linear readout ``y = x @ coef_.T + intercept_`` fitted by ridge regression.

    A scikit-learn regressor (``get_params``/``set_params``, ``fit``/``predict``/``score``,
    ``coef_``/``intercept_`` as in ``sklearn.linear_model.Ridge``) that also takes what
    holds reservoir states: a (B, T, features) batch, a list of (T_i, features)
    sequences, or anything sliceable by rows such as an h5py dataset, streamed in
    chunks. A fit with more features than samples warns (it interpolates them).

    Parameters
    ----------
    alpha : float >= 0 or sequence of floats
        L2 penalty. A sequence selects the one with the lowest validation error
        (``fit(..., validation=(X_val, Y_val))``) in one pass over the data.
    fit_intercept : bool
        Fit an unpenalised intercept.

    Attributes
    ----------
    coef_ : (n_targets, n_features) or (n_features,) for 1-D targets
    intercept_ : (n_targets,) or float
    alpha_ : the alpha used
    validation_errors_ : dict alpha -> validation mean squared error (alpha sequences only)
    """

    def __init__(self, alpha=1e-6, fit_intercept=True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def _alphas(self) -> list[float]:
        values = list(np.ravel(np.asarray(self.alpha, dtype=object)))
        if not values:
            raise ValueError("alpha is an empty sequence")
        return [
            check.non_negative_float(value.item() if isinstance(value, np.generic) else value, "alpha")
            for value in values
        ]

    def fit(self, X, Y, *, validation=None) -> Ridge:
        """Fit on states X and targets Y; see the class docstring for what X may be."""
        alphas = self._alphas()
        if len(alphas) > 1 and validation is None:
            raise ValueError("several alphas need validation=(X_val, Y_val) to choose between them")
        self._check_names(X, reset=True)
        self._target_labels = _pandas.labels_of(Y)
        self._single_target = _is_single_target(X, Y)
        train = self._accumulate(GramAccumulator(), X, Y)
        warn_few_samples(train.xx.shape[0] + bool(self.fit_intercept), train.count, self.alpha, stacklevel=2)
        held_out = self._accumulate(GramAccumulator(), *validation) if validation is not None else None
        if held_out is not None and held_out.xx.shape != train.xx.shape:
            raise ValueError("validation data have a different number of features than the training data")
        self._held_out = held_out
        self._solve_from(train, alphas, held_out)
        return self

    def fit_statistics(self, train: GramAccumulator, validation: GramAccumulator | None = None) -> Ridge:
        """Fit from sufficient statistics gathered elsewhere (``GramAccumulator.update`` on
        chunks of states as they are computed, or ``merged`` over shards): the same readout
        as ``fit`` on the samples they summarise, without the samples.

        Several alphas are chosen on `validation` (statistics of the held-out samples);
        ``refitted()`` then refits on both. Targets are taken as 2-D (``coef_`` of shape
        (n_targets, n_features)).
        """
        alphas = self._alphas()
        if train.count == 0:
            raise ValueError("no samples to fit on: the training statistics are empty")
        if len(alphas) > 1 and (validation is None or validation.count == 0):
            raise ValueError("several alphas need validation statistics to choose between them")
        if validation is not None and validation.count and validation.xx.shape != train.xx.shape:
            raise ValueError("validation statistics have a different number of features than the training ones")
        self._single_target = False
        self._target_labels = None
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        warn_few_samples(train.xx.shape[0] + bool(self.fit_intercept), train.count, self.alpha, stacklevel=2)
        held_out = validation if validation is not None and validation.count else None
        self._held_out = held_out
        self._solve_from(train, alphas, held_out)
        return self

    def refitted(self) -> Ridge:
        """After ``fit(X, Y, validation=(X_val, Y_val))``: a new Ridge with the chosen alpha,
        fitted on the training and validation samples together.

        It is built from the statistics this fit already gathered, so it equals fitting
        ``Ridge(alpha=self.alpha_)`` on both sets (up to rounding) without a second pass
        over the data: that pass cost as much as the first, which dominates a large
        readout's fit. ``validation_errors_`` is carried over.
        """
        held_out = getattr(self, "_held_out", None)
        if held_out is None:
            raise ValueError("refitted() needs a fit with validation=(X_val, Y_val) first")
        model = Ridge(alpha=self.alpha_, fit_intercept=self.fit_intercept)
        model._single_target = self._single_target
        model._target_labels = getattr(self, "_target_labels", None)
        model._solve_from(self._train.merged(held_out), [self.alpha_], None)
        model.validation_errors_ = dict(self.validation_errors_)
        return model

    def partial_fit(self, X, Y) -> Ridge:
        """Add samples to the statistics gathered so far (by fit or earlier calls) and refit.

        Out of core: stream batches of any size; the result equals one fit on all of them.
        """
        alphas = self._alphas()
        if len(alphas) > 1:
            raise ValueError("partial_fit takes a single alpha")
        first = getattr(self, "_train", None) is None
        self._check_names(X, reset=first)
        if first:
            self._single_target = _is_single_target(X, Y)
            self._train = GramAccumulator()
        self._held_out = None  # refitted() would merge statistics of older samples
        self._solve_from(self._accumulate(self._train, X, Y), alphas, None)
        return self

    def _solve_from(self, train: GramAccumulator, alphas, held_out) -> None:
        self._train = train
        gram, cross, x_mean, y_mean = self._normal_equations(train)
        solutions = self._solutions(gram, cross, alphas)
        if held_out is None:
            self.alpha_, coef = next(solutions)
        else:
            self.validation_errors_ = {}
            best = None
            for alpha, coef in solutions:
                error = held_out.squared_error(coef, y_mean - x_mean @ coef) / (held_out.count * cross.shape[1])
                self.validation_errors_[alpha] = error
                if best is None or error < best[0]:
                    best = (error, alpha, coef)
            _, self.alpha_, coef = best
        self._set_coefficients(coef, y_mean - x_mean @ coef)

    @staticmethod
    def _accumulate(accumulator: GramAccumulator, X, Y) -> GramAccumulator:
        for x, y in _chunks(*_paired_blocks(X, Y), settings.gram_chunk_rows):
            accumulator.update(x, y)
        if accumulator.count == 0:
            raise ValueError("no samples to fit on")
        return accumulator

    def _normal_equations(self, accumulator: GramAccumulator):
        if self.fit_intercept:
            return accumulator.centred()
        gram, cross = accumulator.raw()
        return gram, cross, np.zeros(gram.shape[0]), np.zeros(cross.shape[1])

    @classmethod
    def _solutions(cls, gram, cross, alphas):
        """Yield (alpha, coefficients) for every alpha.

        A few alphas: one Cholesky factorisation each (n³/3 flops). Many: one symmetric
        eigendecomposition (about 9x a Cholesky), after which every alpha is a rescaling.
        """
        if len(alphas) <= 8:
            for alpha in alphas:
                yield alpha, cls._solve(gram, cross, alpha)
            return
        eigenvalues, eigenvectors = np.linalg.eigh(gram)
        projected = eigenvectors.T @ cross
        for alpha in alphas:
            yield alpha, eigenvectors @ (projected / (eigenvalues + alpha)[:, None])

    @staticmethod
    def _solve(gram, cross, alpha):
        regularised = gram + alpha * np.eye(gram.shape[0])
        try:
            factor = scipy.linalg.cho_factor(regularised, lower=True, check_finite=False)
            return scipy.linalg.cho_solve(factor, cross, check_finite=False)
        except np.linalg.LinAlgError:
            # Singular without (enough) penalty: least-norm solution.
            return np.linalg.lstsq(regularised, cross, rcond=None)[0]

    def _set_coefficients(self, coef, intercept):
        self.coef_ = coef.T.copy()
        self.intercept_ = intercept
        self.n_features_in_ = coef.shape[0]
        if self._single_target:
            self.coef_ = self.coef_[0]
            self.intercept_ = float(intercept[0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # several targets in one solve
        return tags

    def _check_names(self, X, *, reset: bool) -> None:
        """scikit-learn's feature-name bookkeeping (``feature_names_in_``) for a 2-D table."""
        if sp.issparse(X) or _is_block_list(X) or len(_shape(X)) != 2:
            if reset and hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return
        validate_data(self, X, reset=reset, skip_check_array=True)

    def predict(self, X) -> np.ndarray:
        """Predictions for X of shape (samples, features) or (B, T, features)."""
        check_is_fitted(self, "coef_")
        self._check_names(X, reset=False)
        return self._predict_named(X)

    def _predict_named(self, X) -> np.ndarray:
        """`predict` after the feature-name check (a table's values are checked once, not again as an array)."""
        rows = _pandas.labels_of(X)
        if rows is not None:  # a table in, a table out: X's index, the targets' names
            return _pandas.wrap(
                self._predict_named(_numeric(X, "X")), rows.index, getattr(self, "_target_labels", None)
            )
        if sp.issparse(X) or len(_shape(X)) == 1:
            _blocks(X, "X", samples_1d=False)  # raises, naming the shape the readout needs
        X = _numeric(X, "X")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or Inf")
        if X.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[-1]} features, the readout was fitted on {self.n_features_in_}")
        # Computed in float64 (a lightly penalised fit has large coefficients, and float32
        # products would lose digits the fit had), returned in the states' float dtype.
        prediction = np.asarray(X, dtype=np.float64) @ np.atleast_2d(self.coef_).T + self.intercept_
        if X.dtype == np.float32:
            prediction = prediction.astype(np.float32)
        return prediction[..., 0] if self._single_target else prediction


def _is_single_target(X, Y) -> bool:
    """True for 1-D targets (one per sample), also when given per sequence beside a list of blocks."""
    if Y is None:
        raise ValueError("Ridge requires y to be passed, but the target y is None")
    if _is_block_list(X) and isinstance(Y, (list, tuple)) and Y:
        return len(_shape(Y[0])) == 1
    return len(_shape(Y)) == 1
