"""NVAR: next-generation reservoir computing (Gauthier et al. 2021).

No random reservoir: the features at step t are a constant, the linear part

    lin[t] = u[t] ⊕ u[t-s] ⊕ ... ⊕ u[t-(k-1)s]        (k = delay, s = strides)

and the distinct monomials of ``lin[t]`` of order 2 to p (``order``), each order's in
the order of ``itertools.combinations_with_replacement``; a ridge readout maps them
to the target. For forecasting the readout learns the increment u[t+1] - u[t] (as in
the paper) or u[t+1], and the closed loop feeds each prediction back as the next
input. Feature construction and the closed loop run in the backend's kernels
(``reservoir.kernels.cpu.nvar``, the NumPy reference ``reservoir.kernels.reference``).

ReservoirPy's ``NVAR(delay, order, strides) >> Ridge(ridge)`` is ``NVAR(delay, order,
strides, constant=False, monomials="exact", alpha=ridge)`` here: the same features in
the same order (ReservoirPy keeps the monomials of order ``order`` alone, and its
readout fits an unpenalised bias, which ``constant=False`` does).
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .. import _validation as check
from .. import backends
from .._diagnostics import ReservoirWarning
from ..readouts.ridge import Ridge

__all__ = ["NVAR"]

_TARGETS = ("increment", "next")
_MONOMIALS = ("up_to", "exact")


class NVAR(BaseEstimator):
    """Nonlinear vector autoregression with a ridge readout.

    Parameters
    ----------
    delay : int >= 1
        k, the number of inputs in a window (the current one and k - 1 delayed ones).
    order : int >= 1
        p, the highest order of the monomials (1: linear features only).
    strides : int >= 1
        s, the steps between two inputs of a window; a window spans (k-1)s + 1 steps.
    constant : bool
        Put a constant 1 first among the features, penalised like the others (the
        paper's readout). False: no constant, and the readout fits an unpenalised
        intercept instead (ReservoirPy's ``NVAR >> Ridge``).
    monomials : {"up_to", "exact"}
        Monomials of every order from 2 to ``order`` ("up_to"), or of order ``order``
        alone ("exact", ReservoirPy's features). Both are the same for order 2.
    alpha : float >= 0
        Ridge penalty of the readout (``reservoir.readouts.Ridge``).
    target : {"increment", "next"}
        What the readout learns when ``fit`` is given no targets: the increment
        u[t+1] - u[t] (the paper's choice for flows such as Lorenz-63) or u[t+1].
    dtype : {"float64", "float32"}
        Dtype of the features and of the closed loop (the readout is fitted in float64).
    backend : {"auto", "numba", "numpy"}
        Where the kernels run: Numba (compiled loops) or the NumPy reference. The GPU
        backends have no NVAR kernels.

    Attributes
    ----------
    coef_ : (n_outputs, n_features) readout weights
    intercept_ : (n_outputs,) readout intercept (zeros with ``constant``)
    last_window_ : (B, (k-1)s + 1, n_in) the last inputs seen by ``fit`` or ``forecast``,
        where a ``forecast`` without ``history`` continues
    n_features_in_ : inputs per step
    n_outputs_ : readout outputs
    forecasting_ : bool, the readout predicts the inputs' next step (``fit`` without y)

    Examples
    --------
    The Lorenz-63 forecast of Gauthier et al. (2021): 400 training points after a
    warm-up of 200, then the closed loop from the end of the training data.

    >>> from reservoir.datasets import lorenz
    >>> x0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)
    >>> series = lorenz(1401, dt=0.025, x0=x0, method="RK23")
    >>> model = NVAR(delay=2, order=2, strides=1, alpha=2.5e-6).fit(series[:601], warmup=199)
    >>> model.forecast(800).shape  # series[601:1401]
    (800, 3)
    """

    def __init__(
        self,
        delay=2,
        order=2,
        strides=1,
        *,
        constant=True,
        monomials="up_to",
        alpha=2.5e-6,
        target="increment",
        dtype="float64",
        backend="auto",
    ):
        # Checked here, so that a bad value fails where it is written; stored as given
        # (scikit-learn's clone and get_params expect the arguments unchanged).
        check.positive_int(delay, "delay")
        check.positive_int(order, "order")
        check.positive_int(strides, "strides")
        if not isinstance(constant, (bool, np.bool_)):
            raise TypeError(f"constant must be True or False, got {constant!r}")
        if monomials not in _MONOMIALS:
            raise ValueError(f"monomials must be one of {_MONOMIALS}, got {monomials!r}")
        check.non_negative_float(alpha, "alpha")
        if target not in _TARGETS:
            raise ValueError(f"target must be one of {_TARGETS}, got {target!r}")
        check.float_dtype(dtype)
        backends.validate(backend)
        self.delay, self.order, self.strides, self.constant = delay, order, strides, constant
        self.monomials, self.alpha, self.target, self.dtype, self.backend = monomials, alpha, target, dtype, backend
        self._kernels()  # a backend without NVAR kernels fails here, not at fit

    # ------------------------------------------------------------------ structure
    @property
    def window_span(self) -> int:
        """(k-1)s + 1: the steps one window covers; the first feature row is at step window_span - 1."""
        return (self.delay - 1) * self.strides + 1

    def _orders(self) -> tuple[int, ...]:
        order = int(self.order)
        if order < 2:
            return ()
        return (order,) if self.monomials == "exact" else tuple(range(2, order + 1))

    def n_features_for(self, n_inputs: int) -> int:
        """Number of features for `n_inputs` inputs per step."""
        n_linear = self.delay * n_inputs
        return int(self.constant) + n_linear + sum(comb(n_linear + p - 1, p) for p in self._orders())

    def feature_names(self, input_names=None) -> list[str]:
        """Names of the features in order, e.g. ``["1", "u0(t)", "u0(t-1)", "u0(t)*u0(t-1)", ...]``."""
        n_in = getattr(self, "n_features_in_", None)
        if input_names is None:
            if n_in is None:
                raise ValueError("feature_names needs input_names or a fitted model")
            input_names = [f"u{i}" for i in range(n_in)]
        input_names = [str(name) for name in input_names]
        linear = [
            f"{name}(t)" if j == 0 else f"{name}(t-{j * self.strides})"
            for j in range(self.delay)
            for name in input_names
        ]
        names = ["1"] if self.constant else []
        names += linear
        for p in self._orders():
            names += [
                "*".join(linear[i] for i in c) for c in itertools.combinations_with_replacement(range(len(linear)), p)
            ]
        return names

    def config(self) -> dict:
        """Everything needed to rebuild this model (before fitting), as plain (JSON) values."""
        return {
            "model": "NVAR",
            "delay": int(self.delay),
            "order": int(self.order),
            "strides": int(self.strides),
            "constant": bool(self.constant),
            "monomials": self.monomials,
            "alpha": float(self.alpha),
            "target": self.target,
            "dtype": check.float_dtype(self.dtype).name,
            "backend": self.backend,
        }

    def _kernels(self):
        name = self.backend
        if name == "auto":
            name = "numba" if "numba" in backends.available() else "numpy"
        if name == "numpy":
            from ..kernels import reference

            return reference
        if name == "numba":
            backends.resolve("numba")  # raises, naming what is missing, without Numba
            from ..kernels.cpu import nvar

            return nvar
        raise ValueError(
            f"NVAR has no kernels on backend {name!r}: use backend='numba' (compiled CPU) or 'numpy' (reference)"
        )

    # ------------------------------------------------------------------ features
    def _sequences(self, X, name="X", n_features=None):
        array, batched = check.sequences(X, check.float_dtype(self.dtype), name, n_features)
        if array.shape[1] < self.window_span:
            raise ValueError(
                f"{name} has {array.shape[1]} time steps, fewer than one window of delay={self.delay} "
                f"inputs with strides={self.strides} spans ({self.window_span} steps)"
            )
        return array, batched

    def _features(self, inputs: np.ndarray) -> np.ndarray:
        out = np.empty(
            (inputs.shape[0], inputs.shape[1] - self.window_span + 1, self.n_features_for(inputs.shape[2])),
            dtype=inputs.dtype,
        )
        delay, strides, constant = int(self.delay), int(self.strides), bool(self.constant)
        return self._kernels().nvar_features(inputs, delay, strides, self._orders(), constant, out)

    def transform(self, X) -> np.ndarray:
        """Features of every whole window of X.

        Parameters
        ----------
        X : (T, n_in), (T,) or (B, T, n_in)

        Returns
        -------
        (T - (k-1)s, n_features), or (B, T - (k-1)s, n_features) for a batch: row r holds
        the features of step r + (k-1)s (the steps before it lack a whole window).
        """
        n_in = getattr(self, "n_features_in_", None)
        inputs, batched = self._sequences(X, "X", n_in)
        features = self._features(inputs)
        return features if batched else features[0]

    # ------------------------------------------------------------------ training
    def fit(self, X, y=None, *, warmup=0) -> NVAR:
        """Fit the readout.

        Parameters
        ----------
        X : (T, n_in), (T,) or (B, T, n_in)
            One series or a batch of series of equal length.
        y : same leading shape as X, optional
            Targets per step (``y[t]`` for the features of step t). Without y the model
            learns to forecast X: the target of step t is X[t+1] - X[t] (``target=
            "increment"``) or X[t+1], and the last step of X is a target only.
        warmup : int >= 0
            Steps after the first whole window left out of the fit (features of steps
            ``(k-1)s + warmup`` on are used).

        Returns
        -------
        self
        """
        warmup = check.non_negative_int(warmup, "warmup")
        inputs, batched = self._sequences(X, "X")
        first = self.window_span - 1 + warmup
        forecasting = y is None
        if forecasting:
            targets = np.diff(inputs, axis=1) if self.target == "increment" else inputs[:, 1:]
            last = inputs.shape[1] - 1  # the last step has no next value to learn
        else:
            targets, _ = check.sequences(y, np.dtype(np.float64), "y")
            if targets.shape[:2] != inputs.shape[:2]:
                raise ValueError(
                    f"y must have one row per step of X: X has {inputs.shape[1]} steps"
                    f"{f' in {inputs.shape[0]} sequences' if batched else ''}, y has shape {np.shape(y)}"
                )
            last = inputs.shape[1]
        if last - first < 1:
            raise ValueError(
                f"X has {inputs.shape[1]} time steps: nothing left to fit after a window of delay={self.delay} "
                f"with strides={self.strides} ({self.window_span} steps) and warmup={warmup}"
                f"{' and the one-step-ahead target' if forecasting else ''}"
            )
        features = self._features(inputs[:, :last])[:, warmup:]
        ridge = Ridge(alpha=float(self.alpha), fit_intercept=not self.constant).fit(features, targets[:, first:last])
        self.coef_ = np.atleast_2d(ridge.coef_).astype(np.float64)
        self.intercept_ = np.atleast_1d(np.asarray(ridge.intercept_, dtype=np.float64))
        self.n_features_in_ = inputs.shape[2]
        self.n_outputs_ = self.coef_.shape[0]
        self.forecasting_ = forecasting
        self.last_window_ = inputs[:, -self.window_span :].copy()
        return self

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise NotFittedError("this NVAR is not fitted yet: call fit first")

    def predict(self, X) -> np.ndarray:
        """Readout output for every whole window of X (open loop, one step ahead).

        For a forecasting fit this is the predicted next input X̂[t+1] (the increment
        added to X[t] with ``target="increment"``); else the fitted targets' estimate.

        Returns
        -------
        (T - (k-1)s, n_outputs), or (B, T - (k-1)s, n_outputs) for a batch; row r
        belongs to step r + (k-1)s.
        """
        self._check_fitted()
        inputs, batched = self._sequences(X, "X", self.n_features_in_)
        output = self._features(inputs).astype(np.float64) @ self.coef_.T + self.intercept_
        if self.forecasting_ and self.target == "increment":
            output += inputs[:, self.window_span - 1 :]
        output = output.astype(inputs.dtype, copy=False)
        return output if batched else output[0]

    def forecast(self, n_steps, history=None) -> np.ndarray:
        """Closed-loop forecast: each prediction becomes the next input.

        Parameters
        ----------
        n_steps : int >= 1
        history : (T, n_in) or (B, T, n_in), optional
            Inputs whose last (k-1)s + 1 steps start the loop; by default the loop
            continues from where the last ``fit`` or ``forecast`` stopped.

        Returns
        -------
        (n_steps, n_in), or (B, n_steps, n_in) for a batch: the values after the
        history's last step.
        """
        self._check_fitted()
        if not self.forecasting_:
            raise ValueError("forecast needs a model fitted to forecast its inputs: fit(X) without y")
        n_steps = check.positive_int(n_steps, "n_steps")
        if history is None:
            window, batched = self.last_window_.copy(), self.last_window_.shape[0] > 1
        else:
            window, batched = self._sequences(history, "history", self.n_features_in_)
            window = window[:, -self.window_span :].copy()  # the kernel advances it in place
        out = np.empty((window.shape[0], n_steps, window.shape[2]), dtype=window.dtype)
        increment = self.target == "increment"
        self._kernels().nvar_forecast(
            window,
            self.coef_,
            self.intercept_,
            int(self.delay),
            int(self.strides),
            self._orders(),
            bool(self.constant),
            increment,
            out,
        )
        finite = np.isfinite(out).all(axis=(0, 2))
        if not finite.all():
            import warnings

            warnings.warn(
                f"the closed-loop forecast diverged at step {int(np.argmin(finite))} of {n_steps} (values beyond "
                "float range): a larger alpha or a shorter horizon may help",
                ReservoirWarning,
                stacklevel=2,
            )
        self.last_window_ = window
        return out if batched else out[0]
