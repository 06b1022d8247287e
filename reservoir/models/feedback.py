"""Output feedback: the readout's output of the step before drives the reservoir too.

    x[t] = (1 - a) x[t-1] + a f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)
    y[t] = W_out [x[t], u[t]] + b_out          (u[t] only with include_input)

the convention of ReservoirPy 0.4.2's ``readout >> reservoir`` feedback edge (a
connection with one step of delay): at step t the reservoir reads the output of step
t - 1, zeros at the first step after a reset. ReservoirPy concatenates it to the input
(``Win`` has ``n_in + n_out`` columns, the input's first); here ``W_fb`` is a matrix
of its own, so that ``[W_in, W_fb]`` is ReservoirPy's ``Win``.

In training the fed-back signal is the target (teacher forcing): ``y[t-1]`` is the
target of step t - 1, optionally with Gaussian noise; afterwards, in
:meth:`FeedbackESN.predict`, it is the model's own output (closed loop): reservoir
step, readout and feedback run in one kernel call (``kernels.reference.stack_generate``).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import _validation as check
from ..connectivity import _seed_sequence, random_sparse
from ..esn import ESN
from ..readouts.ridge import Ridge
from .compose import Stack, _targets

__all__ = ["FeedbackESN"]


class FeedbackESN:
    """An ESN (or a :class:`Stack` of them) whose readout output is fed back, one step delayed.

    Parameters
    ----------
    reservoir : reservoir.ESN or reservoir.models.Stack
        The reservoir. In a stack the output is fed back where the input enters: into
        the first layer (stacked) or every layer (parallel). A Stack given here has no
        readout of its own; its ``readout_from`` and ``include_input`` say what the
        readout sees (for an ESN: its states, and the input with ``include_input``).
    readout : reservoir.Ridge, optional
        Trained by :meth:`fit`; ``Ridge(alpha=1e-6)`` by default.
    include_input : bool, default False
        For an ESN reservoir: the readout also sees the input, ``[x, u]``.
    fb_scaling : float, default 1.0
        Feedback weights are ``fb_scaling`` times values drawn from `fb_distribution`.
    fb_density : float in (0, 1], default 0.1
        Fraction of nonzero feedback weights (ReservoirPy's ``fb_connectivity``).
    fb_distribution : {"bernoulli", "uniform", "normal"}, default "bernoulli"
        +1/-1 with equal probability (ReservoirPy's feedback weights), uniform in
        [-1, 1), or standard normal.
    teacher_noise : float >= 0, default 0
        Standard deviation of Gaussian noise added to the fed-back targets in training
        (it makes closed-loop generation more robust to its own errors).
    n_feedback : int, optional
        Width of the output, when known before :meth:`fit` (otherwise the targets give it).
    seed : int, optional
        Seeds the feedback weights and the teacher noise.

    Attributes
    ----------
    W_fb : ndarray (units of the input-driven layers, n_feedback)
        Drawn at the first :meth:`fit` (or at construction with `n_feedback`).
    last_output : ndarray (n_feedback,) or (B, n_feedback)
        The output fed back at the next step.
    """

    def __init__(
        self,
        reservoir,
        readout=None,
        *,
        include_input=False,
        fb_scaling=1.0,
        fb_density=0.1,
        fb_distribution="bernoulli",
        teacher_noise=0.0,
        n_feedback=None,
        seed=None,
    ):
        if isinstance(reservoir, ESN):
            stack = Stack([reservoir], include_input=include_input, backend=reservoir.backend)
        elif isinstance(reservoir, Stack):
            if reservoir.readout is not None:
                raise ValueError("the Stack given as reservoir has a readout; give it to FeedbackESN(readout=...)")
            stack = reservoir
        else:
            raise TypeError(f"reservoir must be a reservoir.ESN or a Stack, got {type(reservoir).__name__}")
        if readout is None:
            readout = Ridge(alpha=1e-6)
        if not isinstance(readout, Ridge):
            raise TypeError(f"readout must be a reservoir.Ridge, got {type(readout).__name__}")
        self.reservoir = reservoir
        self.readout = readout
        self.include_input = stack.include_input
        self.fb_scaling = check.real(fb_scaling, "fb_scaling")
        self.fb_density = check.density(fb_density, "fb_density")
        if fb_distribution not in ("bernoulli", "uniform", "normal"):
            raise ValueError(f"fb_distribution must be 'bernoulli', 'uniform' or 'normal', got {fb_distribution!r}")
        self.fb_distribution = fb_distribution
        self.teacher_noise = check.non_negative_float(teacher_noise, "teacher_noise")
        self.seed = seed
        self._stack = stack
        self._fb_seed, self._noise_seed = _seed_sequence(seed).spawn(2)
        self.W_fb = None
        self._last_output = None
        if n_feedback is not None:
            self._draw_feedback_weights(check.positive_int(n_feedback, "n_feedback"))

    # ------------------------------------------------------------------ weights and state
    @property
    def n_feedback(self) -> int | None:
        """Width of the fed-back output (None until known)."""
        return None if self.W_fb is None else self.W_fb.shape[1]

    @property
    def dtype(self) -> np.dtype:
        return self._stack.dtype

    def _fed_units(self) -> int:
        return sum(layer.units for layer, source in zip(self._stack.layers, self._stack.sources()) if source < 0)

    def _draw_feedback_weights(self, n_feedback: int) -> None:
        W_fb = random_sparse(
            self._fed_units(),
            n_feedback,
            density=self.fb_density,
            distribution=self.fb_distribution,
            seed=self._fb_seed,
            dtype=self.dtype,
        ).toarray()
        self.W_fb = np.ascontiguousarray(W_fb * self.dtype.type(self.fb_scaling))

    def _ensure_feedback_weights(self, n_feedback: int) -> None:
        if self.W_fb is None:
            self._draw_feedback_weights(n_feedback)
        elif n_feedback != self.W_fb.shape[1]:
            raise ValueError(
                f"y has {n_feedback} features per step, but this model feeds back {self.W_fb.shape[1]} "
                "(W_fb's width); build a new FeedbackESN for another output width"
            )

    @property
    def state(self) -> np.ndarray:
        """Current reservoir state (all layers of a stack, concatenated)."""
        return self._stack.state

    @state.setter
    def state(self, value):
        self._stack.state = value

    @property
    def last_output(self) -> np.ndarray:
        """The output the next step reads back (zeros after reset)."""
        if self.W_fb is None:
            raise ValueError(self._unknown_width("last_output"))
        if self._last_output is None:
            return np.zeros(self.W_fb.shape[1], dtype=self.dtype)
        return self._last_output[0].copy() if self._stack._single else self._last_output.copy()

    @last_output.setter
    def last_output(self, value):
        if self.W_fb is None:
            raise ValueError(self._unknown_width("last_output"))
        value = np.asarray(value, dtype=self.dtype)
        n_fb = self.W_fb.shape[1]
        if value.ndim not in (1, 2) or value.shape[-1] != n_fb:
            raise ValueError(f"last_output must have shape ({n_fb},) or (B, {n_fb}), got {value.shape}")
        check.finite_sequences(value.reshape(1, -1, n_fb), "last_output")
        self._last_output = np.array(value.reshape(-1, n_fb))

    def reset(self):
        """Forget the reservoir state and the fed-back output: the next run starts from zeros."""
        self._stack.reset()
        self._last_output = None
        return self

    @staticmethod
    def _unknown_width(what: str) -> str:
        return (
            f"FeedbackESN.{what}: the feedback width is not known yet (W_fb is drawn for the "
            "width of the targets): call fit(u, y) first, or give n_feedback= when building the model"
        )

    # ------------------------------------------------------------------ training
    def fit(self, u, y, *, warmup=0):
        """Teacher-forced training from rest: the targets are fed back, one step delayed.

        Runs the reservoir with ``y[t-1]`` fed back at step t (zeros at the first step;
        plus ``teacher_noise``), trains the readout on the states after `warmup`, and
        leaves the model at the end of the sequences (the next fed-back output is the
        last target), so :meth:`predict` continues them.

        Parameters
        ----------
        u : array (T,), (T, n_in) or (B, T, n_in)
        y : array (T,), (T, n_out) or (B, T, n_out)
            Targets aligned with `u`.
        warmup : int, default 0
            Steps dropped at the start of each sequence before training the readout.

        Returns
        -------
        self
        """
        warmup = check.non_negative_int(warmup, "warmup")
        inputs, batched = self._stack._inputs(u)
        train_targets = _targets(y, inputs, batched, warmup)
        targets, _ = check.sequences(y, self.dtype, "y")
        self._ensure_feedback_weights(targets.shape[2])
        fed = np.zeros_like(targets)
        fed[:, 1:] = targets[:, :-1]
        if self.teacher_noise > 0:
            noise = np.random.default_rng(self._noise_seed).standard_normal(fed.shape)
            fed += (self.teacher_noise * noise).astype(self.dtype)
        self.reset()
        states = self._stack._run(inputs, batched, fed, self.W_fb)  # warns of saturation, naming fb_scaling
        X = self._stack.features(states, inputs)[:, warmup:]
        self.readout.fit(X if batched else X[0], train_targets)
        self._last_output = targets[:, -1].copy()
        return self

    # ------------------------------------------------------------------ closed loop
    def predict(self, u, *, return_states=False):
        """Closed loop over the inputs `u`: each output is fed back at the next step.

        Continues from the current state and last output (after :meth:`fit`, the end of
        the training sequences; after :meth:`reset`, zeros).

        Parameters
        ----------
        u : array (T,), (T, n_in) or (B, T, n_in)
        return_states : bool
            Also return the reservoir states (T, N) or (B, T, N).

        Returns
        -------
        outputs : (T, n_out) or (B, T, n_out) ((T,) after a fit on 1-D targets);
        with `return_states`, (outputs, states).
        """
        if self.W_fb is None:
            raise ValueError(self._unknown_width("predict"))
        check_is_fitted(self.readout, "coef_")
        stack = self._stack
        inputs, batched = stack._inputs(u)
        batch, steps = inputs.shape[:2]
        n_fb = self.W_fb.shape[1]
        coef = np.atleast_2d(self.readout.coef_)
        if coef.shape != (n_fb, stack.n_features()):
            raise ValueError(
                f"the readout has coefficients of shape {coef.shape}; the feedback loop needs ({n_fb}, "
                f"{stack.n_features()}): fit it with this model's fit(u, y)"
            )
        kernels, prepared = stack._kernels(n_fb, self.W_fb)
        state = stack._start_state(batch)
        if self._last_output is None:
            last = np.zeros((batch, n_fb), dtype=self.dtype)
        elif self._last_output.shape[0] != batch:
            raise ValueError(
                f"the model holds the fed-back output of {self._last_output.shape[0]} sequence(s) but u has "
                f"{batch}; call reset() to start new sequences"
            )
        else:
            last = self._last_output.copy()
        full = stack.readout_coefficients(coef).astype(self.dtype)
        intercept = np.broadcast_to(np.asarray(self.readout.intercept_, dtype=self.dtype), (n_fb,)).copy()
        states = np.empty((batch, steps, stack.units), dtype=self.dtype)
        outputs = np.empty((batch, steps, n_fb), dtype=self.dtype)
        kernels.stack_generate(prepared, inputs, state, last, full, intercept, states, outputs)
        stack._state, stack._single = state, not batched
        self._last_output = last
        stack.warn_saturation(states, "fb_scaling")
        if np.ndim(self.readout.coef_) == 1:  # fitted on 1-D targets: 1-D outputs, as Ridge.predict gives
            outputs = outputs[..., 0]
        if not batched:
            outputs, states = outputs[0], states[0]
        return (outputs, states) if return_states else outputs

    def config(self) -> dict:
        """The construction parameters as plain values (the reservoir's own ``config()``)."""
        return {
            "model": "FeedbackESN",
            "reservoir": self.reservoir.config(),
            "readout": self.readout.get_params(),
            "include_input": self.include_input,
            "fb_scaling": self.fb_scaling,
            "fb_density": self.fb_density,
            "fb_distribution": self.fb_distribution,
            "teacher_noise": self.teacher_noise,
            "n_feedback": self.n_feedback,
            "seed": self.seed if isinstance(self.seed, (int, type(None))) else str(self.seed),
        }

    def __repr__(self) -> str:
        return (
            f"FeedbackESN({self.reservoir!r}, n_feedback={self.n_feedback}, fb_scaling={self.fb_scaling}, "
            f"teacher_noise={self.teacher_noise})"
        )
