"""Intrinsic plasticity (IP): a reservoir whose units adapt their own gain and offset.

Each unit keeps a leaky integral ``r`` of its drive and outputs ``f(gain * r + offset)``:

    r[t] = (1 - lr) * r[t-1] + lr * (W @ x[t-1] + W_in @ u[t] + b)
    x[t] = f(gain * r[t] + offset)

Training (``fit``) moves each unit's gain and offset along the gradient of the
Kullback-Leibler divergence between the distribution of its output and a target:
a Gaussian N(mu, sigma^2) for tanh units (Schrauwen et al. 2008), an exponential of
mean mu for sigmoid units (Triesch 2005). This is ReservoirPy's ``IPReservoir``
(same update, same rule, same order of updates): the same matrices and inputs give
the same gains, offsets and states. The rule's kernels are in
``kernels/reference.py`` (NumPy) and ``kernels/cpu/plasticity.py`` (Numba).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import _arrays, _pandas
from .. import _validation as check
from .._diagnostics import ReservoirWarning
from ..esn import ESN
from ._kernels import backend_for
from ._kernels import module as kernel_module

__all__ = ["IPReservoir"]

#: The target distribution of each activation's IP rule.
TARGETS = {"tanh": "Gaussian N(mu, sigma^2)", "sigmoid": "exponential of mean mu"}
#: mu when none is given: a zero-mean Gaussian for tanh, Triesch's mean rate 0.2 for sigmoid.
DEFAULT_MU = {"tanh": 0.0, "sigmoid": 0.2}
#: A fit warns when more than this fraction of the gains overshot through zero (see _warn_gains).
OVERSHOOT_FRACTION = 0.1


def _rule(activation, mu, sigma, learning_rate, epochs) -> dict:
    """The IP rule's parameters, checked; ValueError naming the one out of range."""
    if activation not in TARGETS:
        raise ValueError(
            f"activation={activation!r} has no intrinsic-plasticity rule: use 'tanh' (Gaussian target, "
            "mu and sigma) or 'sigmoid' (exponential target of mean mu)"
        )
    mu = DEFAULT_MU[activation] if mu is None else check.real(mu, "mu")
    sigma = check.positive_float(sigma, "sigma")
    if activation == "sigmoid" and not 0.0 < mu < 1.0:
        raise ValueError(f"mu must be in (0, 1) for sigmoid units (the mean of their outputs), got {mu}")
    return {
        "mu": mu,
        "sigma": sigma,
        "learning_rate": check.positive_float(learning_rate, "learning_rate"),
        "epochs": check.positive_int(epochs, "epochs"),
    }


class IPReservoir(ESN):
    """Reservoir of tanh or sigmoid units with intrinsic plasticity (ReservoirPy's ``IPReservoir``).

    The weights are drawn as :class:`reservoir.ESN` draws them (same seed, same
    ``W``, ``W_in`` and ``bias``); with ``gain = 1``, ``offset = 0`` and
    ``leak_rate = 1`` its states are the ESN's.

    Parameters
    ----------
    units : int
        Number of reservoir units.
    mu : float, optional
        Mean of the target distribution: 0 by default for tanh, 0.2 for sigmoid
        (there it must be in (0, 1)).
    sigma : float > 0, default 0.2
        Standard deviation of the Gaussian target (tanh units; unused for sigmoid).
        ReservoirPy's default is 1.0, a spread that a tanh output (bounded by 1)
        cannot reach: the outputs' standard deviation then ends near 0.55 (100
        units, uniform inputs), where 0.2 and 0.1 are met to within 0.01.
    learning_rate : float > 0, default 5e-4
        Step ``eta`` of the gain and offset updates (ReservoirPy's default).
    epochs : int > 0, default 1
        Passes over the training sequences in ``fit``.
    leak_rate : float in (0, 1], default 1.0
        ``lr`` of the leaky integral ``r`` (ReservoirPy's ``lr``).
    activation : {"tanh", "sigmoid"}
        The activation, and with it the rule (Gaussian or exponential target).
    density, fan_in, connectivity, spectral_radius, input_scaling, input_density, bias_scaling, seed, dtype
        As for :class:`reservoir.ESN`.
    backend : {"auto", "numba", "numpy"}
        The compiled CPU path or the NumPy reference; GPU backends have no IP kernels.

    Attributes
    ----------
    gain, offset : ndarray (units,)
        The adapted ``a`` and ``b`` of ReservoirPy's ``IPReservoir`` (1 and 0 before ``fit``).
    W, W_in, bias
        The weights, as on :class:`reservoir.ESN`.
    """

    _capability = "intrinsic-plasticity"

    def __init__(
        self,
        units,
        *,
        mu=None,
        sigma=0.2,
        learning_rate=5e-4,
        epochs=1,
        density=None,
        fan_in=None,
        connectivity=None,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=1.0,
        input_density=1.0,
        bias_scaling=0.5,
        activation="tanh",
        seed=None,
        dtype="float32",
        backend="auto",
    ):
        rule = _rule(activation, mu, sigma, learning_rate, epochs)  # before any weight is drawn
        super().__init__(
            units,
            density=density,
            fan_in=fan_in,
            connectivity=connectivity,
            spectral_radius=spectral_radius,
            leak_rate=leak_rate,
            input_scaling=input_scaling,
            input_density=input_density,
            bias_scaling=bias_scaling,
            activation=activation,
            seed=seed,
            dtype=dtype,
            backend=backend,
        )
        self._set_plasticity(rule, None, None)

    @classmethod
    def from_weights(
        cls,
        W,
        W_in,
        bias=None,
        *,
        gain=None,
        offset=None,
        mu=None,
        sigma=0.2,
        learning_rate=5e-4,
        epochs=1,
        leak_rate=1.0,
        activation="tanh",
        dtype=None,
        backend="auto",
    ) -> IPReservoir:
        """An IP reservoir on given matrices (as :meth:`reservoir.ESN.from_weights`).

        ``gain`` and ``offset`` (units,) restore adapted values (1 and 0 by default).
        """
        rule = _rule(activation, mu, sigma, learning_rate, epochs)
        self = super().from_weights(
            W, W_in, bias, leak_rate=leak_rate, activation=activation, dtype=dtype, backend=backend
        )
        self._set_plasticity(rule, gain, offset)
        return self

    def _common(self, units, dtype, leak_rate, activation, backend):
        super()._common(
            units, dtype, leak_rate, activation, backend_for(backend, type(self).__name__, self._capability)
        )
        self._internal = None
        self._live = None  # (state, integral) of the run in progress

    def _set_plasticity(self, rule: dict, gain, offset) -> None:
        self.mu, self.sigma = rule["mu"], rule["sigma"]
        self.learning_rate, self.epochs = rule["learning_rate"], rule["epochs"]
        self.gain = self._unit_vector(gain, 1.0, "gain")
        self.offset = self._unit_vector(offset, 0.0, "offset")

    def _unit_vector(self, value, default: float, name: str) -> np.ndarray:
        if value is None:
            return np.full(self.units, default, dtype=self.dtype)
        value = np.asarray(value, dtype=self.dtype)
        if value.shape != (self.units,):
            raise ValueError(f"{name} must have shape (units={self.units},), got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or Inf")
        if name == "gain" and not np.all(value != 0):
            raise ValueError("gain contains 0: the IP rule divides by the gain")
        return value.copy()

    # ------------------------------------------------------------------ state and kernels
    @property
    def internal_state(self) -> np.ndarray:
        """The leaky integral ``r`` (ReservoirPy's ``internal`` state), shaped as ``state``."""
        internal = self._start_internal(1 if self._state is None else self._state.shape[0])
        return internal[0] if self._state_single else internal

    def reset(self) -> IPReservoir:
        """Forget the state (outputs and their integral): the next run starts from zeros.

        The adapted gains and offsets are kept."""
        super().reset()
        self._internal = self._live = None
        return self

    def _start_internal(self, batch: int) -> np.ndarray:
        if self._internal is None or self._internal.shape[0] != batch:
            return np.zeros((batch, self.units), dtype=self.dtype)
        return self._internal.copy()

    def _kernels(self):
        kernels = kernel_module(self._backend.name, "plasticity")
        if self._prepared is None:
            self._prepared = kernels.prepare_ip(self.W, self.W_in, self.bias)
        return kernels, self._prepared

    # ------------------------------------------------------------------ training
    def fit(self, u, *, warmup: int = 0) -> IPReservoir:
        """Adapt the gains and offsets to the inputs by the IP rule.

        Parameters
        ----------
        u : array (T,), (T, n_in), (B, T, n_in), or a list of (T_i, n_in) sequences
            The training inputs. All sequences, in order and ``epochs`` times, are one
            stream: the state carries over from each to the next (as in ReservoirPy).
        warmup : int, default 0
            Steps at the start of every sequence that run without adapting.
            (ReservoirPy's ``fit`` skips them instead: ``warmup=0`` matches it exactly.)

        Returns
        -------
        self
            The stream starts from the current state (zeros after ``reset()``) and
            leaves its last state in the reservoir, as ReservoirPy's ``fit`` does.
        """
        blocks = self._training_blocks(u)
        warmup = check.non_negative_int(warmup, "warmup")
        shortest = min(block.shape[1] for block in blocks)
        if warmup >= shortest:
            raise ValueError(f"warmup={warmup} leaves no step to adapt on: a sequence has only {shortest} steps")
        self._ensure_input_weights(blocks[0].shape[2])
        if self._state is not None and self._state.shape[0] != 1:
            raise ValueError(
                f"fit trains on one stream from the current state, but the reservoir holds the state of "
                f"{self._state.shape[0]} sequences (a batch run); call reset() first"
            )
        kernels, prepared = self._kernels()
        state, internal = self._start_state(1)[0], self._start_internal(1)[0]
        gain, offset = self.gain.copy(), self.offset.copy()
        # one compiled call for the whole stream; a ragged list is one call per sequence per epoch
        passes = (
            [(blocks[0], self.epochs)] if len(blocks) == 1 else [(b, 1) for _ in range(self.epochs) for b in blocks]
        )
        with np.errstate(all="ignore"):  # a diverging rule is caught below, with what to change
            for block, epochs in passes:
                kernels.ip_fit(
                    prepared, gain, offset, block, internal, state, self.leak_rate, self.activation,
                    self.mu, self.sigma, self.learning_rate, epochs, warmup,
                )  # fmt: skip
        if not (np.all(np.isfinite(gain)) and np.all(np.isfinite(offset)) and np.all(np.isfinite(state))):
            raise FloatingPointError(
                f"intrinsic plasticity diverged (gains or offsets reached NaN/Inf) with "
                f"learning_rate={self.learning_rate:g}; the reservoir is unchanged. Lower learning_rate "
                f"(e.g. {self.learning_rate / 10:g})"
            )
        self._warn_gains(gain)
        self.gain, self.offset = gain, offset
        self._finish(state[None], batched=False)
        self._internal = internal[None]
        return self

    def _training_blocks(self, u) -> list[np.ndarray]:
        """The training inputs as (B, T, n_in) blocks: one, or one per sequence of a ragged list."""
        u = _arrays.to_host(_pandas.to_numpy(u))
        if isinstance(u, (list, tuple)) and len({np.shape(item) for item in u}) > 1:
            blocks = [check.sequences(item, self.dtype, f"u[{i}]", self.n_inputs)[0] for i, item in enumerate(u)]
            if blocks and len({block.shape[2] for block in blocks}) > 1:
                raise ValueError(f"the sequences of u have different widths: {sorted({b.shape[2] for b in blocks})}")
            if any(block.shape[0] != 1 for block in blocks):
                raise ValueError("a list of sequences must hold (T, n_in) arrays, not batches")
            return blocks
        return [check.sequences(u, self.dtype, "u", self.n_inputs)[0]]

    def _warn_gains(self, gain: np.ndarray) -> None:
        """Warn when the step is too large for many units: their gains overshot through zero.

        The rule's ``1 / gain`` term pushes a gain away from zero, so in small steps a
        gain never crosses it; a crossing is an overshoot. A unit or two may do it at a
        sound setting; when more than ``OVERSHOOT_FRACTION`` of the units did (measured:
        40-60 % at ten times a working learning rate, with gains in the thousands and
        half the states saturated), the adapted reservoir is garbage.
        """
        flipped = int(np.count_nonzero(gain <= 0))
        if flipped > OVERSHOOT_FRACTION * self.units:
            warnings.warn(
                f"{flipped} of {self.units} gains overshot through zero during intrinsic plasticity "
                f"(learning_rate={self.learning_rate:g} is too large a step; gains now span "
                f"[{gain.min():.3g}, {gain.max():.3g}]): the adapted units act as switches. Lower learning_rate "
                f"(e.g. {self.learning_rate / 10:g})",
                ReservoirWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ running
    def run(self, u, **options):
        """Run the adapted reservoir over inputs and return every state.

        As :meth:`reservoir.ESN.run` (one sequence or a batch, pandas in and out,
        ``progress``, ``out=``, streaming into a ``StateStore``); the state, outputs
        and their integral, carries over from the previous run until ``reset()``.
        A stored run resumes only with ``leak_rate=1``: the store keeps the outputs,
        not the integral a leaky reservoir needs.
        """
        if options.get("resume") and self.leak_rate < 1.0:
            raise ValueError(
                f"resuming a stored IPReservoir run needs leak_rate=1 (it is {self.leak_rate:g}): "
                "the store keeps the outputs x, not the integral r a leaky reservoir continues from"
            )
        return super().run(u, **options)

    def _run_chunk(self, kernels, prepared, inputs, state, out) -> None:
        # the integral r advances beside `state` and is kept when `state` is (``_finish``)
        if self._live is None or self._live[0] is not state:
            self._live = (state, self._start_internal(state.shape[0]))
        kernels.ip_run(
            prepared, self.gain, self.offset, inputs, self._live[1], state, self.leak_rate, self.activation, out
        )

    def _finish(self, state, batched: bool) -> None:
        super()._finish(state, batched)
        if self._live is not None and self._live[0] is state:
            self._internal = self._live[1]
        self._live = None

    def _saturation_hint(self, inputs) -> str:
        return f"Lower sigma (now {self.sigma:g}), or scale the inputs to about [-1, 1]"

    def generate(self, *args, **kwargs):
        """Closed-loop generation is not implemented for IPReservoir (it has no compiled loop)."""
        raise NotImplementedError(
            "IPReservoir has no closed-loop generate(); feed predictions back with run() on one step at a time"
        )

    def config(self) -> dict:
        """Everything needed to rebuild this reservoir (with its seed), as plain values.

        ``IPReservoir(**{k: v for k, v in config.items() if k != "model"})`` draws the same
        weights; the adapted ``gain`` and ``offset`` are arrays to store beside it."""
        config = super().config()
        config.update(model="IPReservoir", mu=self.mu, sigma=self.sigma)
        config.update(learning_rate=self.learning_rate, epochs=self.epochs)
        return config

    def __repr__(self) -> str:
        return (
            f"IPReservoir(units={self.units}, activation={self.activation!r}, mu={self.mu:g}, "
            f"sigma={self.sigma:g}, learning_rate={self.learning_rate:g}, epochs={self.epochs}, "
            f"leak_rate={self.leak_rate}, dtype={self.dtype.name}, backend={self.backend_name!r})"
        )
