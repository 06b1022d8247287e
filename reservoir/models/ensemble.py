"""Ensembles of echo-state networks for closed-loop forecasts with a spread.

K members differ only in their random weights (seeds); each has its own ridge readout.
In closed loop their forecasts agree while the reservoirs' memory of the data dominates
and drift apart as each member's own errors are fed back, so the spread of the members
grows with the horizon: an interval from the model's own disagreement.

The K members run as ONE block-diagonal echo-state network of K·units units: the
recurrent and input matrices are block-diagonal, the biases stacked, and the joint
readout maps each block (its states and its own inputs) to its own outputs, which are
fed back to its own inputs. A block never sees another block, so the joint network is
exactly the K members side by side, and the backend's compiled closed-loop kernel
(``ESN.generate``) advances all of them in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .. import _validation as check
from ..esn import ESN
from ..estimators.esn import ESNRegressor

__all__ = ["ESNEnsemble", "EnsembleForecast"]


@dataclass(frozen=True)
class EnsembleForecast:
    """A forecast of an ensemble: ``members`` (K, n_steps, n_outputs) and their summaries.

    ``mean`` and ``std`` (the members' standard deviation, ddof=1) are (n_steps, n_outputs);
    ``quantiles`` is (len(levels), n_steps, n_outputs), the members' empirical quantiles at
    ``levels``. For 1-D training targets the last axis is dropped everywhere.
    """

    mean: np.ndarray
    std: np.ndarray
    quantiles: np.ndarray
    levels: tuple
    members: np.ndarray

    def interval(self, coverage: float) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) central interval of the members holding `coverage` (e.g. 0.9)."""
        coverage = check.real(coverage, "coverage")
        if not 0.0 < coverage < 1.0:
            raise ValueError(f"coverage must be in (0, 1), got {coverage}")
        low, high = np.quantile(self.members, [(1 - coverage) / 2, (1 + coverage) / 2], axis=0)
        return low, high


class ESNEnsemble(BaseEstimator):
    """K echo-state networks with their own seeds and ridge readouts, forecasting together.

    Each member is an :class:`~reservoir.ESNRegressor` with the parameters given here and
    seed ``member_seeds_[k]`` (drawn from ``seed``). ``forecast`` runs all members in
    closed loop as one block-diagonal network (one compiled kernel call).

    Parameters
    ----------
    n_members : int >= 2, default 10
        Number of members K.
    units : int, default 100
        Units per member.
    spectral_radius, leak_rate, input_scaling, bias_scaling, density, activation :
        Reservoir parameters of every member (see :class:`reservoir.ESN`).
    alpha : float, default 1e-6
        Ridge penalty of every member's readout.
    washout : int, optional
        Steps dropped per sequence before fitting (ESNRegressor's default when None).
    include_input : bool, default True
        Readouts on ``[state, input]``.
    seed : int, optional
        Seeds the member seeds.
    dtype : {"float64", "float32"}, default "float64"
    backend : str, default "auto"

    Attributes
    ----------
    members_ : list of fitted ESNRegressor
    member_seeds_ : (K,) the members' seeds
    """

    def __init__(
        self,
        n_members=10,
        units=100,
        *,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=1.0,
        bias_scaling=0.5,
        density=None,
        activation="tanh",
        alpha=1e-6,
        washout=None,
        include_input=True,
        seed=None,
        dtype="float64",
        backend="auto",
    ):
        self.n_members = n_members
        self.units = units
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.bias_scaling = bias_scaling
        self.density = density
        self.activation = activation
        self.alpha = alpha
        self.washout = washout
        self.include_input = include_input
        self.seed = seed
        self.dtype = dtype
        self.backend = backend

    def _member(self, seed: int) -> ESNRegressor:
        return ESNRegressor(
            self.units,
            spectral_radius=self.spectral_radius,
            leak_rate=self.leak_rate,
            input_scaling=self.input_scaling,
            bias_scaling=self.bias_scaling,
            density=self.density,
            activation=self.activation,
            alpha=self.alpha,
            washout=self.washout,
            include_input=self.include_input,
            seed=seed,
            dtype=self.dtype,
            backend=self.backend,
        )

    def fit(self, u, y) -> ESNEnsemble:
        """Fit every member on inputs u and targets y (as :meth:`ESNRegressor.fit`)."""
        n_members = check.positive_int(self.n_members, "n_members")
        if n_members < 2:
            raise ValueError(f"n_members must be at least 2 for a spread, got {n_members}")
        if np.size(self.alpha) != 1:
            raise ValueError("alpha must be a single penalty for the members' readouts")
        seeds = np.random.SeedSequence(self.seed).generate_state(n_members)
        self.member_seeds_ = seeds.astype(np.int64)
        self.members_ = [self._member(int(s)).fit(u, y) for s in self.member_seeds_]
        first = self.members_[0]
        self.n_features_in_, self.n_outputs_ = first.n_features_in_, first.n_outputs_
        self._y_was_1d = first._y_was_1d
        self._joint = None
        return self

    def _check_fitted(self):
        if not hasattr(self, "members_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def _shape(self, values: np.ndarray) -> np.ndarray:
        return values[..., 0] if self._y_was_1d else values

    def joint_network(self):
        """(ESN, coef, intercept, first_input): the members as one block-diagonal network and
        its block-diagonal readout, in their fitted state, ready for ``ESN.generate``."""
        self._check_fitted()
        if self._joint is not None:
            return self._joint
        reservoirs = [m.reservoir_ for m in self.members_]
        units, n_in, n_out = reservoirs[0].units, self.n_features_in_, self.n_outputs_
        K = len(self.members_)
        W = sp.block_diag([r.W for r in reservoirs], format="csr")
        W_in = sp.block_diag([r.W_in for r in reservoirs], format="csr").toarray()
        bias = np.concatenate([r.bias for r in reservoirs])
        joint = ESN.from_weights(
            W,
            W_in,
            bias,
            leak_rate=reservoirs[0].leak_rate,
            activation=self.activation,
            dtype=reservoirs[0].dtype,
            backend=self.backend,
        )
        width = K * units + (K * n_in if self.include_input else 0)
        coef = np.zeros((K * n_out, width))
        intercept = np.empty(K * n_out)
        for k, member in enumerate(self.members_):
            member_coef = np.atleast_2d(member.readout_.coef_)
            rows = slice(k * n_out, (k + 1) * n_out)
            coef[rows, k * units : (k + 1) * units] = member_coef[:, :units]
            if self.include_input:
                coef[rows, K * units + k * n_in : K * units + (k + 1) * n_in] = member_coef[:, units:]
            intercept[rows] = np.atleast_1d(member.readout_.intercept_)
        first_input = np.concatenate([m.last_target_ for m in self.members_])
        self._joint = (joint, coef, intercept, first_input)
        return self._joint

    def forecast(self, n_steps: int, *, levels=(0.05, 0.25, 0.5, 0.75, 0.95)) -> EnsembleForecast:
        """Closed-loop forecast of the ``n_steps`` steps after the training targets, every
        member from its own fitted state, all members in one kernel call."""
        self._check_fitted()
        n_steps = check.positive_int(n_steps, "n_steps")
        levels = tuple(float(q) for q in np.atleast_1d(levels))
        if any(not 0.0 <= q <= 1.0 for q in levels):
            raise ValueError(f"levels must lie in [0, 1], got {levels}")
        if self.n_outputs_ != self.n_features_in_:
            raise ValueError(
                f"forecast feeds outputs back as inputs: needs n_outputs ({self.n_outputs_}) == "
                f"n_inputs ({self.n_features_in_})"
            )
        states = [np.asarray(m.fitted_state_) for m in self.members_]
        if states[0].ndim != 1:
            raise ValueError("forecast runs one sequence; the ensemble was fitted on a batch")
        joint, coef, intercept, first_input = self.joint_network()
        joint.state = np.concatenate(states)
        outputs = joint.generate(n_steps, coef, intercept, first_input, include_input=self.include_input)
        members = np.moveaxis(np.asarray(outputs).reshape(n_steps, len(self.members_), self.n_outputs_), 1, 0)
        return self._summary(members, levels)

    def _summary(self, members: np.ndarray, levels: tuple) -> EnsembleForecast:
        members = members.astype(np.float64)
        quantiles = np.quantile(members, levels, axis=0) if levels else np.empty((0,) + members.shape[1:])
        return EnsembleForecast(
            mean=self._shape(members.mean(axis=0)),
            std=self._shape(members.std(axis=0, ddof=1)),
            quantiles=self._shape(quantiles),
            levels=levels,
            members=self._shape(members),
        )

    def predict(self, u, *, reset: bool = False, levels=(0.05, 0.25, 0.5, 0.75, 0.95)) -> EnsembleForecast:
        """Open-loop (one-step) predictions of every member for inputs u, continuing from the
        fitted states (zeros with ``reset``), summarised as in :meth:`forecast`."""
        self._check_fitted()
        outputs = [np.asarray(m.predict(u, reset=reset), dtype=np.float64) for m in self.members_]
        members = np.stack(outputs)
        if self._y_was_1d:
            members = members[..., None]
        return self._summary(members, tuple(float(q) for q in np.atleast_1d(levels)))
