"""Online readouts: recursive least squares (RLS) and least mean squares (LMS).

Both learn one sample at a time, so a stream of states can arrive in pieces
(``partial_fit``) and the readout can learn while a reservoir runs (see
``reservoir.models.force``). The rules are those of ReservoirPy 0.4.2's ``RLS`` and
``LMS`` nodes (same initialisation, same updates), written down in
``kernels/reference.py``; the loop over samples is compiled (``kernels/cpu/online.py``).

Every fitted quantity is a NumPy attribute ending in ``_`` (``coef_``,
``intercept_``, ``P_``, ``count_``) and ``get_params()`` holds plain values, so a
readout can be rebuilt from both.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .. import _validation as check
from .. import backends
from .._diagnostics import _warn
from .ridge import _is_single_target, _numeric, _paired_blocks

__all__ = ["RLS", "LMS"]

#: Backends with online-readout kernels, and the module that holds them.
ONLINE_KERNELS = {"numpy": "reference", "numba": "cpu.online"}


def online_kernels(backend: str, model: str):
    """The kernel module of the online rules on `backend` ("auto": the compiled CPU path).

    Raises an error naming the backend and the model when that path has no such kernels.
    """
    import importlib

    name = backends.validate(backend)
    if name == "auto":
        name = "numba" if backends.resolve("numba").is_available() else "numpy"
    if name not in ONLINE_KERNELS:
        raise NotImplementedError(
            f"backend {name!r} has no kernels for {model} (online learning runs on the CPU): "
            f"use backend='numba' or 'numpy'"
        )
    backends.resolve(name)  # raises if that backend cannot run here
    return importlib.import_module(f"reservoir.kernels.{ONLINE_KERNELS[name]}")


class _OnlineReadout(RegressorMixin, BaseEstimator):
    """What RLS and LMS share: input checks, the fitted arrays, prediction."""

    _rule_name = "online readout"

    # ------------------------------------------------------------------ subclass hooks
    def _check_params(self) -> None:  # pragma: no cover - every rule defines it
        raise NotImplementedError

    def _initial_state(self, n_features: int) -> dict:  # pragma: no cover
        raise NotImplementedError

    def _train(self, kernels, X, Y, arrays: dict, out) -> None:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ fitting
    def fit(self, X, Y) -> _OnlineReadout:
        """Start over and learn from every sample of X (states) and Y (targets), in order.

        X is (samples, features), (B, T, features) or a list of (T_i, features)
        sequences (taken one after another), as for :class:`reservoir.readouts.Ridge`.
        """
        self._learn(X, Y, restart=True)
        return self

    def partial_fit(self, X, Y) -> _OnlineReadout:
        """Continue learning from more samples (the first call starts from the initial weights).

        Targets or states of another width than those seen so far raise ValueError,
        and the readout trained so far is left as it was.
        """
        self._learn(X, Y, restart=not hasattr(self, "coef_"))
        return self

    def partial_fit_predict(self, X, Y) -> np.ndarray:
        """``partial_fit`` that returns the prediction made at each sample while learning.

        What ReservoirPy's ``partial_fit`` returns: for each sample, the output with the
        weights just updated on it (the intercept from before its update).
        """
        return self._learn(X, Y, restart=not hasattr(self, "coef_"))

    def _learn(self, X, Y, *, restart: bool) -> np.ndarray:
        self._check_params()
        dtype = check.float_dtype(self.dtype)
        kernels = online_kernels(self.backend, type(self).__name__)
        single = _is_single_target(X, Y)
        if isinstance(Y, (list, tuple)) and not isinstance(X, (list, tuple)):
            Y = _numeric(Y, "Y")
        X_blocks, Y_blocks = _paired_blocks(X, Y)
        blocks = [self._checked_pair(x, y, dtype, restart) for x, y in zip(X_blocks, Y_blocks)]
        n_features, n_targets = blocks[0][0].shape[1], blocks[0][1].shape[1]
        arrays = self._initial_state(n_features) if restart else self._arrays(dtype)
        if restart:
            arrays["coef"] = np.zeros((n_targets, n_features), dtype=dtype)
            arrays["intercept"] = np.zeros(n_targets, dtype=dtype)
            arrays = {
                name: value.astype(dtype) if hasattr(value, "astype") else value for name, value in arrays.items()
            }
        self._warn_settings(blocks)
        outputs = []
        for x, y in blocks:
            out = np.empty(y.shape, dtype=dtype)
            self._train(kernels, x, y, arrays, out)
            outputs.append(out)
        fitted = [value for value in arrays.values() if isinstance(value, np.ndarray)]
        if not all(np.all(np.isfinite(value)) for value in fitted):
            raise FloatingPointError(
                f"{type(self).__name__} diverged (its weights overflowed to Inf/NaN); the readout was left as it "
                f"was before this call. {self._divergence_hint()}"
            )
        # Committed only now: an error above leaves the readout trained so far untouched.
        self._set_arrays(arrays, single if restart else self.coef_.ndim == 1)
        predictions = np.concatenate(outputs) if len(outputs) > 1 else outputs[0]
        return predictions[:, 0] if self.coef_.ndim == 1 else predictions

    def _checked_pair(self, x, y, dtype, restart: bool):
        x = np.ascontiguousarray(np.asarray(x), dtype=dtype)
        y = np.ascontiguousarray(np.asarray(y), dtype=dtype)
        if not np.all(np.isfinite(x)):
            raise ValueError("X contains NaN or Inf")
        if not np.all(np.isfinite(y)):
            raise ValueError("Y contains NaN or Inf")
        if not restart:
            name = type(self).__name__
            if x.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {x.shape[1]} features per sample, but this {name} readout was trained on "
                    f"{self.n_features_in_}; call fit() to start a new readout"
                )
            held = 1 if np.ndim(self.intercept_) == 0 else np.shape(self.intercept_)[0]
            if y.shape[1] != held:
                raise ValueError(
                    f"Y has {y.shape[1]} targets per sample, but this {name} readout was trained on {held}; "
                    "call fit() to start a new readout"
                )
        return x, y

    def _arrays(self, dtype) -> dict:
        """Copies of the fitted arrays in the kernels' layout (2-D coef, 1-D intercept)."""
        arrays = {
            "coef": np.array(np.atleast_2d(self.coef_), dtype=dtype),
            "intercept": np.array(np.atleast_1d(self.intercept_), dtype=dtype),
        }
        if hasattr(self, "P_"):
            arrays["P"] = np.array(self.P_, dtype=dtype)
            arrays["count"] = float(self.count_)
        return arrays

    def _set_arrays(self, arrays: dict, single: bool) -> None:
        coef, intercept = arrays["coef"], arrays["intercept"]
        self.coef_ = coef[0].copy() if single else coef
        self.intercept_ = float(intercept[0]) if single else intercept
        self.n_features_in_ = coef.shape[1]
        if "P" in arrays:
            self.P_ = arrays["P"]
            self.count_ = float(arrays["count"])

    def _warn_settings(self, blocks) -> None:
        pass

    def _divergence_hint(self) -> str:
        return ""

    # ------------------------------------------------------------------ prediction
    def predict(self, X) -> np.ndarray:
        """Outputs ``X @ coef_.T + intercept_`` for X (samples, features) or (B, T, features)."""
        check_is_fitted(self, "coef_")
        X = _numeric(X, "X")
        if X.ndim not in (2, 3):
            raise ValueError(f"X must be (samples, features) or (B, T, features), got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or Inf")
        if X.shape[-1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[-1]} features, the readout was trained on {self.n_features_in_}")
        prediction = np.asarray(X, dtype=np.float64) @ np.atleast_2d(self.coef_).T.astype(np.float64)
        prediction += np.atleast_1d(self.intercept_).astype(np.float64)
        if X.dtype == np.float32:
            prediction = prediction.astype(np.float32)
        return prediction[..., 0] if self.coef_.ndim == 1 else prediction

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class RLS(_OnlineReadout):
    """Linear readout learned by recursive least squares, one sample at a time.

    For each sample (state x, target y), with forgetting factor λ::

        k = P x ;  P ← (P − k kᵀ / (λ + xᵀ k)) / λ
        e = coef x + b − y ;  coef ← coef − e (P x)ᵀ
        S ← λ S + 1 ;  b ← b − e / S            (with fit_intercept)

    starting from ``coef = 0``, ``b = 0``, ``P = I / alpha``, ``S = 0``: ReservoirPy
    0.4.2's ``RLS`` node (its ``fit_bias`` is ``fit_intercept`` here). With λ = 1 the
    weights after T samples solve ridge regression with penalty ``alpha`` on those
    samples (without intercept); λ < 1 forgets old samples with weight λ^age.

    Parameters
    ----------
    alpha : float > 0, default 1e-6
        ``P`` starts at ``I / alpha``: the ridge penalty, and the inverse of the
        initial learning rate (FORCE learning uses about 1).
    forgetting : float in (0, 1], default 1.0
        Forgetting factor λ.
    fit_intercept : bool, default True
        Learn an intercept (ReservoirPy's ``fit_bias``): the running mean of the errors.
    dtype : {"float64", "float32"}, default "float64"
        The readout's arithmetic. RLS is ill-conditioned in float32 with a small alpha.
    backend : {"auto", "numba", "numpy"}
        Compiled loop over samples, or the NumPy reference.

    Attributes
    ----------
    coef_ : (n_targets, n_features), or (n_features,) for 1-D targets
    intercept_ : (n_targets,) or float
    P_ : (n_features, n_features) inverse correlation matrix estimate
    count_ : float, the forgetting-weighted number of samples seen (S)
    """

    _rule_name = "RLS"

    def __init__(self, alpha=1e-6, forgetting=1.0, fit_intercept=True, dtype="float64", backend="auto"):
        self.alpha = alpha
        self.forgetting = forgetting
        self.fit_intercept = fit_intercept
        self.dtype = dtype
        self.backend = backend

    def _check_params(self) -> None:
        check.positive_float(self.alpha, "alpha")
        forgetting = check.real(self.forgetting, "forgetting")
        if not 0.0 < forgetting <= 1.0:
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting}")

    def _initial_state(self, n_features: int) -> dict:
        return {"P": np.eye(n_features) / float(self.alpha), "count": 0.0}

    def _train(self, kernels, X, Y, arrays: dict, out) -> None:
        arrays["count"] = kernels.rls_train(
            X,
            Y,
            arrays["coef"],
            arrays["intercept"],
            arrays["P"],
            arrays["count"],
            float(self.forgetting),
            bool(self.fit_intercept),
            out,
        )

    def _warn_settings(self, blocks) -> None:
        if check.float_dtype(self.dtype) == np.float32 and float(self.alpha) < 1e-3:
            _warn(
                f"RLS in float32 with alpha={self.alpha:g}: P starts at I / alpha, and its update subtracts "
                "numbers that large from each other, which float32 cannot resolve. Use dtype='float64' or "
                "alpha >= 1e-3",
                4,
            )

    def _divergence_hint(self) -> str:
        return "Use dtype='float64', a larger alpha, or forgetting closer to 1."


class LMS(_OnlineReadout):
    """Linear readout learned by least mean squares (stochastic gradient), one sample at a time.

    For each sample (state x, target y), with learning rate η::

        e = coef x + b − y ;  coef ← coef − η e xᵀ ;  b ← b − η e   (with fit_intercept)

    from ``coef = 0``, ``b = 0``: ReservoirPy 0.4.2's ``LMS`` node with a constant
    learning rate. It converges only for ``η < 2 / ‖x‖²``; a stream where
    ``η ‖x‖² ≥ 2`` warns (``ReservoirWarning``).

    Parameters
    ----------
    learning_rate : float > 0, default 1e-3
        η. (ReservoirPy's default, 1e-6, barely moves a readout of tanh states.)
    fit_intercept : bool, default True
        Learn an intercept (ReservoirPy's ``fit_bias``).
    dtype : {"float64", "float32"}, default "float64"
    backend : {"auto", "numba", "numpy"}

    Attributes
    ----------
    coef_ : (n_targets, n_features), or (n_features,) for 1-D targets
    intercept_ : (n_targets,) or float
    """

    _rule_name = "LMS"

    def __init__(self, learning_rate=1e-3, fit_intercept=True, dtype="float64", backend="auto"):
        self.learning_rate = learning_rate
        self.fit_intercept = fit_intercept
        self.dtype = dtype
        self.backend = backend

    def _check_params(self) -> None:
        check.positive_float(self.learning_rate, "learning_rate")

    def _initial_state(self, n_features: int) -> dict:
        return {}

    def _train(self, kernels, X, Y, arrays: dict, out) -> None:
        kernels.lms_train(
            X, Y, arrays["coef"], arrays["intercept"], float(self.learning_rate), bool(self.fit_intercept), out
        )

    def _warn_settings(self, blocks) -> None:
        largest = max(float(np.max(np.einsum("ij,ij->i", x, x))) for x, _ in blocks) + bool(self.fit_intercept)
        if float(self.learning_rate) * largest >= 2.0:
            _warn(
                f"LMS learning_rate={self.learning_rate:g} times the largest squared norm of a sample "
                f"({largest:.3g}) is >= 2: the updates overshoot and the weights grow without bound. "
                f"Use learning_rate < {2.0 / largest:.3g} (or scale the states down)",
                4,
            )

    def _divergence_hint(self) -> str:
        return "Lower learning_rate."
