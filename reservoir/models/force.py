"""An ESN whose readout learns online while the reservoir runs; FORCE learning.

Each step, for every sequence of a batch::

    x[t] = (1 - a) x[t-1] + a f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)
    z[t] = x[t]  (or [x[t], u[t]] with include_input) ;  y[t] = coef z[t] + intercept

the convention of ReservoirPy 0.4.2 for a readout fed back to its reservoir (one
step late). While learning, the readout takes an RLS or LMS step on (z[t], target
y*[t]) every ``update_every`` steps and y[t] is the output with the updated weights,
which is what is fed back: the network learns on its own output, not on the
teacher's (FORCE, Sussillo & Abbott 2009). Reservoir step and readout update run in
one compiled loop (``kernels/cpu/online.py``); a batch of B sequences drives one
readout, updated with each sequence's sample in turn.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .. import _validation as check
from ..connectivity import _seed_sequence
from ..esn import ESN
from ..kernels.reference import LMS as LMS_CODE
from ..kernels.reference import RLS as RLS_CODE
from ..readouts.online import LMS, RLS, online_kernels

__all__ = ["OnlineESN", "FORCE"]


class OnlineESN(BaseEstimator):
    """Echo-state network with an RLS or LMS readout trained online, optionally fed back.

    Parameters
    ----------
    units, density, spectral_radius, leak_rate, input_scaling, bias_scaling, activation
        The reservoir's, as for :class:`reservoir.ESN`.
    rule : {"rls", "lms"}, default "rls"
    alpha, forgetting : float
        RLS: ``P`` starts at ``I / alpha``; forgetting factor in (0, 1] (:class:`reservoir.readouts.RLS`).
    learning_rate : float
        LMS step (:class:`reservoir.readouts.LMS`).
    fit_intercept : bool, default True
    feedback : bool, default False
        Feed the output back into the reservoir through ``W_fb`` (drawn uniform in
        [-feedback_scaling, feedback_scaling], dense, on the first fit).
    feedback_scaling : float, default 1.0
    include_input : bool, default False
        The readout sees ``[x, u]`` rather than ``x``.
    update_every : int, default 1
        Learn on every k-th step only (the steps between run with the weights held).
    seed : int, optional
        Seeds the reservoir's weights and ``W_fb``.
    dtype : {"float64", "float32"}, default "float64"
    backend : {"auto", "numba", "numpy"}

    Attributes
    ----------
    reservoir_ : reservoir.ESN holding W, W_in and bias
    W_fb_ : (units, n_outputs) feedback weights (zeros without feedback)
    readout_ : reservoir.readouts.RLS or LMS holding ``coef_``, ``intercept_`` (and ``P_``, ``count_``)
    state_ : (B, units) reservoir state
    feedback_ : (B, n_outputs) last output
    steps_ : int, steps learned so far (``update_every`` counts from them)
    """

    def __init__(
        self,
        units=100,
        *,
        density=None,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=1.0,
        bias_scaling=0.5,
        activation="tanh",
        rule="rls",
        alpha=1.0,
        forgetting=1.0,
        learning_rate=1e-3,
        fit_intercept=True,
        feedback=False,
        feedback_scaling=1.0,
        include_input=False,
        update_every=1,
        seed=None,
        dtype="float64",
        backend="auto",
    ):
        self.units = units
        self.density = density
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.bias_scaling = bias_scaling
        self.activation = activation
        self.rule = rule
        self.alpha = alpha
        self.forgetting = forgetting
        self.learning_rate = learning_rate
        self.fit_intercept = fit_intercept
        self.feedback = feedback
        self.feedback_scaling = feedback_scaling
        self.include_input = include_input
        self.update_every = update_every
        self.seed = seed
        self.dtype = dtype
        self.backend = backend

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_weights(cls, W, W_in, bias=None, W_fb=None, **params) -> OnlineESN:
        """A model on given matrices: W (units, units), W_in (units, n_in) (n_in may be 0),
        bias (units,), W_fb (units, n_outputs) or None (no feedback). ``params`` as in the
        class (the reservoir's drawing parameters are ignored)."""
        W = check.square_matrix(W, "W")
        params.setdefault("feedback", W_fb is not None)
        model = cls(units=W.shape[0], **params)
        dtype = check.float_dtype(model.dtype)
        W_in = np.asarray(W_in, dtype=dtype)
        W_in = W_in[:, None] if W_in.ndim == 1 else W_in
        model.reservoir_ = ESN.from_weights(
            W, W_in, bias, leak_rate=model.leak_rate, activation=model.activation, dtype=dtype, backend="numpy"
        )
        if W_fb is not None:
            W_fb = np.asarray(W_fb, dtype=dtype)
            model.W_fb_ = W_fb[:, None] if W_fb.ndim == 1 else W_fb
            model._given_feedback = True
            if model.W_fb_.shape[0] != W.shape[0]:
                raise ValueError(f"W_fb must have shape (units={W.shape[0]}, n_outputs), got {model.W_fb_.shape}")
        return model

    def _readout(self):
        rule = self.rule
        if rule == "rls":
            return RLS(self.alpha, self.forgetting, self.fit_intercept, self.dtype, self.backend)
        if rule == "lms":
            return LMS(self.learning_rate, self.fit_intercept, self.dtype, self.backend)
        raise ValueError(f"rule must be 'rls' or 'lms', got {rule!r}")

    def _build(self, n_in: int, n_out: int) -> None:
        """Draw (or check) the weights for n_in inputs and n_out outputs; start a fresh readout."""
        dtype = check.float_dtype(self.dtype)
        if not hasattr(self, "reservoir_"):
            reservoir = ESN(
                check.positive_int(self.units, "units"),
                density=self.density,
                spectral_radius=self.spectral_radius,
                leak_rate=self.leak_rate,
                input_scaling=self.input_scaling,
                bias_scaling=self.bias_scaling,
                activation=self.activation,
                seed=self.seed,
                dtype=dtype,
                backend="numpy",
            )
            reservoir._ensure_input_weights(max(n_in, 1))  # the bias is drawn with the input weights
            reservoir.W_in = np.ascontiguousarray(reservoir.W_in[:, :n_in])
            self.reservoir_ = reservoir
        elif self.reservoir_.n_inputs != n_in:
            raise ValueError(
                f"u has {n_in} features per step, but this model's W_in expects {self.reservoir_.n_inputs}"
            )
        units = self.reservoir_.units
        if not self.feedback:
            self.W_fb_ = np.zeros((units, n_out), dtype=dtype)
        elif getattr(self, "_given_feedback", False):
            if self.W_fb_.shape[1] != n_out:
                raise ValueError(f"y has {n_out} outputs per step, but the given W_fb feeds back {self.W_fb_.shape[1]}")
        else:
            scaling = check.real(self.feedback_scaling, "feedback_scaling")
            rng = np.random.default_rng(_seed_sequence(self.seed).spawn(4)[3])  # the ESN takes the first three
            self.W_fb_ = (rng.uniform(-1.0, 1.0, (units, n_out)) * scaling).astype(dtype)
        self.readout_ = self._readout()
        self.readout_._check_params()
        n_features = units + (n_in if self.include_input else 0)
        arrays = self.readout_._initial_state(n_features)
        arrays["coef"] = np.zeros((n_out, n_features), dtype=dtype)
        arrays["intercept"] = np.zeros(n_out, dtype=dtype)
        self.readout_._set_arrays({k: v.astype(dtype) if hasattr(v, "astype") else v for k, v in arrays.items()}, False)
        self.state_ = None
        self.feedback_ = None
        self.steps_ = 0

    # ------------------------------------------------------------------ inputs
    def _sequences(self, u, y, steps=None):
        """(inputs (B, T, n_in), targets (B, T, n_out) or None, batched) in the model's dtype."""
        dtype = check.float_dtype(self.dtype)
        targets = None
        if y is not None:
            y = np.asarray(y)
            targets, batched = check.sequences(y if y.ndim != 1 else y[:, None], dtype, "y")
        if u is None:
            if targets is None and steps is None:
                raise ValueError("without inputs u, give the targets y (training) or n_steps (running)")
            shape = targets.shape[:2] if targets is not None else (self._batch(), steps)
            inputs = np.zeros((*shape, 0), dtype=dtype)
            batched = targets.ndim == 3 and y.ndim == 3 if targets is not None else shape[0] > 1
        else:
            inputs, batched = check.sequences(u, dtype, "u")
            if targets is not None and targets.shape[:2] != inputs.shape[:2]:
                raise ValueError(
                    f"u and y disagree on sequences and time steps: {inputs.shape[:2]} != {targets.shape[:2]}"
                )
        return inputs, targets, batched

    def _batch(self) -> int:
        return 1 if getattr(self, "state_", None) is None else self.state_.shape[0]

    # ------------------------------------------------------------------ learning and running
    def fit(self, u, y) -> OnlineESN:
        """Start over (new readout, zero state) and learn online over u and targets y.

        u : (T, n_in), (B, T, n_in) or None for a network without inputs (a generator);
        y : (T,), (T, n_out) or (B, T, n_out), aligned with u.
        """
        self.train(u, y, restart=True)
        return self

    def partial_fit(self, u, y) -> OnlineESN:
        """Continue learning from where the last call left the state, feedback and readout."""
        self.train(u, y, restart=not hasattr(self, "readout_"))
        return self

    def train(self, u, y, *, restart: bool = False) -> np.ndarray:
        """Learn online over u and y; return the outputs y[t] produced while learning.

        ``restart`` starts over as ``fit`` does; otherwise this continues (``partial_fit``).
        Targets of another width than the readout's raise ValueError and leave the model as it was.
        """
        inputs, targets, batched = self._sequences(u, y)
        if targets is None:
            raise ValueError("training needs the targets y")
        if restart:
            self._build(inputs.shape[2], targets.shape[2])
        else:
            check_is_fitted(self, "readout_")
            self._check_widths(inputs, targets)
        outputs = self._loop(inputs, targets, learn=True)
        return outputs if batched else outputs[0]

    def run(self, u=None, *, n_steps=None, return_states=False):
        """Run with the readout's weights held: outputs fed back (closed loop), no learning.

        u : inputs (T, n_in) / (B, T, n_in), or None with ``n_steps`` for a model without
        inputs. Continues from the current state and feedback. Returns outputs (T, n_out)
        or (B, T, n_out), and the states too with ``return_states``.
        """
        check_is_fitted(self, "readout_")
        if n_steps is not None:
            n_steps = check.positive_int(n_steps, "n_steps")
        inputs, _, batched = self._sequences(u, None, n_steps)
        self._check_widths(inputs, None)
        states = np.empty((*inputs.shape[:2], self.reservoir_.units), dtype=inputs.dtype) if return_states else None
        outputs = self._loop(inputs, None, learn=False, states_out=states)
        if not batched:
            outputs = outputs[0]
            states = None if states is None else states[0]
        return (outputs, states) if return_states else outputs

    predict = run

    def reset(self) -> OnlineESN:
        """Zero the state and the fed-back output (the readout is kept)."""
        self.state_ = None
        self.feedback_ = None
        return self

    def _check_widths(self, inputs, targets) -> None:
        n_in, n_out = self.reservoir_.n_inputs, self.W_fb_.shape[1]
        if inputs.shape[2] != n_in:
            raise ValueError(f"u has {inputs.shape[2]} features per step, but this model was trained on {n_in}")
        if targets is not None and targets.shape[2] != n_out:
            raise ValueError(
                f"y has {targets.shape[2]} outputs per step, but this model's readout was trained on {n_out}; "
                "call fit() to start a new one"
            )

    def _loop(self, inputs, targets, *, learn: bool, states_out=None) -> np.ndarray:
        dtype = check.float_dtype(self.dtype)
        batch, steps = inputs.shape[:2]
        kernels = online_kernels(self.backend, type(self).__name__)
        reservoir = self.reservoir_
        n_out = self.W_fb_.shape[1]
        state = np.zeros((batch, reservoir.units), dtype=dtype) if self.state_ is None else self.state_.copy()
        feedback = np.zeros((batch, n_out), dtype=dtype) if self.feedback_ is None else self.feedback_.copy()
        if state.shape[0] != batch:
            raise ValueError(
                f"the model holds the state of {state.shape[0]} sequence(s) but u has {batch}; call reset() first"
            )
        weights = kernels.prepare_online_esn(reservoir.W, reservoir.W_in, self.W_fb_, reservoir.bias)
        arrays = self.readout_._arrays(dtype)
        rule = RLS_CODE if isinstance(self.readout_, RLS) else LMS_CODE
        P = arrays.get("P", np.zeros((0, 0), dtype=dtype))
        out = np.empty((batch, steps, n_out), dtype=dtype)
        update_every = check.positive_int(self.update_every, "update_every")
        count, steps_done = kernels.online_esn_run(
            weights,
            inputs,
            targets if targets is not None else np.zeros((batch, steps, 0), dtype=dtype),
            state,
            feedback,
            float(self.leak_rate),
            self.activation,
            bool(self.include_input),
            rule,
            learn,
            arrays["coef"],
            arrays["intercept"],
            P,
            arrays.get("count", 0.0),
            float(self.forgetting),
            float(self.learning_rate),
            bool(self.fit_intercept),
            update_every,
            self.steps_,
            out,
            states_out,
        )
        if not (np.all(np.isfinite(out)) and np.all(np.isfinite(arrays["coef"]))):
            raise FloatingPointError(
                "the online readout diverged (outputs overflowed to Inf/NaN); the model was left as it was "
                "before this call. Use a larger alpha, a smaller learning_rate or feedback_scaling"
            )
        # Committed only now: an error above leaves the model as it was.
        if learn:
            arrays["count"] = count
            if rule == LMS_CODE:
                arrays.pop("P", None)
            self.readout_._set_arrays(arrays, False)
            self.steps_ = steps_done
        self.state_, self.feedback_ = state, feedback
        return out


class FORCE(OnlineESN):
    """FORCE learning (Sussillo & Abbott 2009): RLS on a reservoir fed back its own output.

    An :class:`OnlineESN` with ``feedback=True`` and ``rule="rls"``, whose defaults
    follow the paper where a discrete-time ESN allows: ``alpha = 1`` (``P`` starts at
    the identity), a reservoir active on its own (``spectral_radius = 1.2``: rich
    autonomous activity for the feedback to tame), feedback weights uniform in
    [-1, 1], and a bias (``bias_scaling = 0.5``): without input or bias the zero
    state is a fixed point that no feedback leaves. The leak rate (0.5) and the
    other defaults were picked on 3 seeds of a sum of three sines of periods 20-60
    steps (closed-loop NRMSE 0.004-0.02 after 4000 steps of training with 300
    units; ``tests/test_force.py``). ``fit(None, target)`` trains a generator without
    input; ``run(n_steps=...)`` lets it run on its own output afterwards.
    """

    def __init__(
        self,
        units=300,
        *,
        density=None,
        spectral_radius=1.2,
        leak_rate=0.5,
        input_scaling=1.0,
        bias_scaling=0.5,
        activation="tanh",
        alpha=1.0,
        forgetting=1.0,
        fit_intercept=False,
        feedback_scaling=1.0,
        include_input=False,
        update_every=1,
        seed=None,
        dtype="float64",
        backend="auto",
    ):
        super().__init__(
            units,
            density=density,
            spectral_radius=spectral_radius,
            leak_rate=leak_rate,
            input_scaling=input_scaling,
            bias_scaling=bias_scaling,
            activation=activation,
            rule="rls",
            alpha=alpha,
            forgetting=forgetting,
            fit_intercept=fit_intercept,
            feedback=True,
            feedback_scaling=feedback_scaling,
            include_input=include_input,
            update_every=update_every,
            seed=seed,
            dtype=dtype,
            backend=backend,
        )
