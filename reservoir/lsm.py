"""Liquid-state machine: a spiking reservoir of leaky integrate-and-fire neurons.

Current-based exponential synapses, excitatory and inhibitory populations (Dale's
law), exact integration of the sub-threshold dynamics over each step, refractory
period and synaptic delays held in a ring buffer; the step is written out in
``reservoir.kernels.lif``. Units are SI without unit objects: seconds, volts;
synaptic and input currents are in volts (the depolarisation they drive), as in
Brian2's CUBA example.

The class holds parameters, weights and state; the arithmetic lives in the
backend's kernels, on the same connectivity code as the ESN.

A run returns the spikes (step, neuron[, trial]) and the states readouts train on:
the exponentially filtered spike traces, kept in the kernel's state and written out
every ``sample_every`` steps (by default ten samples per trace time constant), the
traces of every step (``sample_every=1``), or spike counts per window (``window=``);
``LSM.run`` says why the default samples.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import _validation as check
from . import backends
from ._diagnostics import warn_silent_network
from ._progress import progress_bar
from ._reservoir import InputDrivenModel
from .connectivity import (
    _seed_sequence,
    dale_weights,
    default_density,
    input_matrix,
    push_layout,
    random_delays,
)
from .connectivity.build import normalised as normalised_connectivity
from .connectivity.build import recurrent_matrix
from .connectivity.local import MAASS_C
from .kernels.lif import LifState, lif_params, sampled_steps
from .metrics import firing_rate, isi_cv

__all__ = ["LSM", "LSMResult", "cuba"]

ENCODINGS = ("current", "poisson")
#: Recurrent connection probability of a large network when none is given (Brette et al. 2007).
DEFAULT_LSM_DENSITY = 0.02
#: Default trace sampling: this many samples per trace time constant (see ``LSM.run``).
TRACE_SAMPLES_PER_TAU = 10
#: Bound of the per-chunk buffer of every step's traces, for backends whose kernel cannot sample.
SCRATCH_BYTES = 1 << 26


@functools.cache
def _samples_traces(lsm_run) -> bool:
    """Whether a backend's ``lsm_run`` writes traces only at sampled steps (its ``sample_every``)."""
    return "sample_every" in inspect.signature(lsm_run).parameters


@dataclass
class LSMResult:
    """What one ``LSM.run`` produced.

    spike_times : int64 (S,)
        Step of each spike, counted from the start of this run (``* dt`` for seconds).
    spike_neurons : int64 (S,)
        Neuron of each spike. Spikes are in time order: by step, then trial, then neuron.
    spike_trials : int64 (S,) or None
        Trial of each spike, for a batched run.
    states : array (R, N), (B, R, N), or None
        Exponentially filtered spike traces sampled every ``sample_every`` steps (or
        spike counts per window of that many steps), ``R = ceil(T / sample_every)``
        rows: what readouts train on.
    sample_every : int
        Steps per row of `states`: the trace sampling period, or the count window.
    """

    spike_times: np.ndarray | None
    spike_neurons: np.ndarray | None
    spike_trials: np.ndarray | None
    states: np.ndarray | None
    dt: float
    n_steps: int
    n_neurons: int
    n_trials: int
    sample_every: int = 1

    @property
    def state_steps(self) -> np.ndarray | None:
        """Step of each row of `states` (counted from the start of the run): the traces'
        sampled step, or a count window's last step; ``* dt`` for seconds."""
        return None if self.states is None else sampled_steps(self.n_steps, self.sample_every)

    @property
    def duration(self) -> float:
        """Simulated time of the run, seconds (per trial)."""
        return self.n_steps * self.dt

    def firing_rate(self) -> float:
        """Mean firing rate over neurons and trials, Hz."""
        return firing_rate(self.spike_times, self.n_neurons * self.n_trials, self.duration)

    def isi_cv(self, min_spikes: int = 3) -> float:
        """Mean over neurons (and trials) of the coefficient of variation of inter-spike intervals."""
        neurons = (
            self.spike_neurons if self.spike_trials is None else self.spike_trials * self.n_neurons + self.spike_neurons
        )
        return isi_cv(self.spike_times, neurons, min_spikes=min_spikes)


class LSM(InputDrivenModel):
    """Liquid-state machine: LIF neurons, excitatory and inhibitory populations.

    Parameters
    ----------
    n_exc, n_inh : int
        Sizes of the excitatory (neurons ``[0, n_exc)``) and inhibitory populations
        (``n_inh`` may be 0).
    density : float in (0, 1], optional
        Probability of each possible connection (any source to any target). By
        default 2 % (80 synapses per neuron at CUBA's 4,000), raised to about 10
        sources per neuron below 500 neurons: at 2 % a 100-neuron network would have
        2 synapses per neuron and no recurrent activity to speak of.
    fan_in : int, optional
        Exact number of sources per neuron; replaces ``density``.
    connectivity : str or dict, optional
        Another generator of the recurrent synapses (``reservoir.connectivity.build``):
        e.g. ``{"kind": "distance", "shape": (15, 3, 3)}`` places the neurons in a
        column and connects them with Maass et al.'s (2002) probability
        ``C exp(-(D / λ)²)``, λ = 2 and C per E/I pair (0.3 EE, 0.2 EI, 0.4 IE, 0.1 II)
        by default; ``"local"`` every neuron within a radius. ``density`` and
        ``fan_in`` then do not apply; ``positions`` holds the neurons' lattice
        coordinates (n, 3) (the excitatory ones scattered through the column).
    dt : float, default 1e-4
        Step, seconds; at most the smallest time constant.
    tau_m, tau_exc, tau_inh : float, seconds
        Membrane and synaptic time constants.
    v_rest, v_reset, v_thresh : float, volts
        Resting, reset and threshold potentials (``v_thresh > v_reset``).
    refractory : float, seconds
        No two spikes of a neuron are closer than this (rounded to whole steps).
    w_exc, w_inh : float, volts
        Jump of the target's synaptic current per excitatory (> 0) / inhibitory (< 0) spike.
    delay : None, float or (float, float), seconds
        Synaptic delay: None delivers a spike in the step it is emitted (Brian2's
        default); one value for every synapse; or a range from which each synapse
        draws a whole number of steps. At least one step.
    input_encoding : {"current", "poisson"}
        ``"current"``: ``u[t]`` (any real values) is injected through the sparse
        ``W_in`` as a current held over the step. ``"poisson"``: ``u[t]`` in [0, 1]
        sets each input channel's rate (``u * input_rate``); its spikes jump ``i_exc``
        of their targets by their ``W_in`` weight.
    input_scaling : float, volts, optional
        ``W_in`` weights are uniform in [-s, s) (current) or [0, s) (poisson).
        Default 20 mV (current), 5 mV (poisson).
    input_density : float in (0, 1], default 0.1
        Fraction of (neuron, input channel) pairs connected.
    input_rate : float, Hz, default 100
        Rate of a Poisson input channel at ``u = 1``.
    v_init : "uniform", float or array (N,)
        Membrane potentials after construction and after ``reset()``: uniform in
        [v_reset, v_thresh) drawn from the seed (the same draw at every reset), or given.
    seed : int, optional
        Seeds connectivity, delays, input weights, initial potentials and the Poisson stream.
    dtype : {"float32", "float64"}
    backend : str, default "auto"
    """

    _noun = "network"

    def __init__(
        self,
        n_exc,
        n_inh,
        *,
        density=None,
        fan_in=None,
        connectivity=None,
        dt=1e-4,
        tau_m=20e-3,
        tau_exc=5e-3,
        tau_inh=10e-3,
        v_rest=-60e-3,
        v_reset=-60e-3,
        v_thresh=-50e-3,
        refractory=5e-3,
        w_exc=1.62e-3,
        w_inh=-9e-3,
        delay=None,
        input_encoding="current",
        input_scaling=None,
        input_density=0.1,
        input_rate=100.0,
        v_init="uniform",
        seed=None,
        dtype="float32",
        backend="auto",
    ):
        self.n_exc = check.positive_int(n_exc, "n_exc")
        self.n_inh = check.non_negative_int(n_inh, "n_inh")
        self.n_neurons = self.n_exc + self.n_inh
        self.dtype = check.float_dtype(dtype)
        self.dt = check.positive_float(dt, "dt")
        self.tau_m = check.positive_float(tau_m, "tau_m")
        self.tau_exc = check.positive_float(tau_exc, "tau_exc")
        self.tau_inh = check.positive_float(tau_inh, "tau_inh")
        smallest = min(self.tau_m, self.tau_exc, self.tau_inh)
        if self.dt > smallest:
            raise ValueError(f"dt={self.dt:g} s is larger than the smallest time constant ({smallest:g} s)")
        self.v_rest = check.real(v_rest, "v_rest")
        self.v_reset = check.real(v_reset, "v_reset")
        self.v_thresh = check.real(v_thresh, "v_thresh")
        if not self.v_thresh > self.v_reset:
            raise ValueError(f"v_thresh ({self.v_thresh:g} V) must be above v_reset ({self.v_reset:g} V)")
        self.refractory = check.non_negative_float(refractory, "refractory")
        self.w_exc = check.real(w_exc, "w_exc")
        self.w_inh = check.real(w_inh, "w_inh")
        self.delay = delay
        self._delay_steps = self._delay_range(delay)
        if input_encoding not in ENCODINGS:
            raise ValueError(f"input_encoding must be one of {ENCODINGS}, got {input_encoding!r}")
        self.input_encoding = input_encoding
        default_scaling = 20e-3 if input_encoding == "current" else 5e-3
        self.input_scaling = (
            default_scaling if input_scaling is None else check.positive_float(input_scaling, "input_scaling")
        )
        self.input_density = check.density(input_density, "input_density")
        self.input_rate = check.positive_float(input_rate, "input_rate")
        if fan_in is None and density is None:
            density = default_density(self.n_neurons, base=DEFAULT_LSM_DENSITY)
        self.density = None if fan_in is not None else density
        self.fan_in = fan_in
        self.connectivity = normalised_connectivity(connectivity)
        self.seed = seed
        self.backend = backends.validate(backend)
        self._backend = backends.resolve(self.backend)

        streams = _seed_sequence(seed).spawn(5)
        recurrent_seed, delay_seed, self._input_seed, v_seed, poisson_seed = streams
        W, self.positions = recurrent_matrix(
            self.connectivity,
            self.n_neurons,
            density=self.density,
            fan_in=fan_in,
            spectral_radius=None,
            seed=recurrent_seed,
            dtype=self.dtype,
            pattern=True,
            n_exc=self.n_exc,
            default_C=MAASS_C,
        )
        self.W = dale_weights(W, self.n_exc, self.w_exc, self.w_inh)  # pull layout: rows = targets
        self.W_push = push_layout(self.W)  # rows = sources: what a spike visits
        self.delays = random_delays(self.W_push.nnz, *self._delay_steps, seed=delay_seed)
        self.v_init = v_init
        self._v0 = self._initial_potentials(v_init, v_seed)
        self._poisson_key = poisson_seed.generate_state(2, np.uint64)
        self.W_in = None  # drawn on the first run with input, when its width is known
        self._prepared = None
        self._state = None
        self._state_single = True

    # ------------------------------------------------------------------ construction helpers
    def _delay_range(self, delay) -> tuple[int, int]:
        """(low, high) delay in whole steps; (0, 0) for None (same-step delivery)."""
        if delay is None:
            return 0, 0
        bounds = delay if isinstance(delay, (tuple, list)) else (delay, delay)
        if len(bounds) != 2:
            raise ValueError(f"delay must be None, a number or a (low, high) pair of seconds, got {delay!r}")
        steps = []
        for bound in bounds:
            seconds = check.real(bound, "delay")
            count = int(round(seconds / self.dt))
            if count < 1:
                raise ValueError(
                    f"delay {seconds:g} s is shorter than one step (dt={self.dt:g} s); "
                    "use delay=None for delivery within the step"
                )
            steps.append(count)
        if steps[0] > steps[1]:
            raise ValueError(f"delay range ({bounds[0]}, {bounds[1]}) has low > high")
        return steps[0], steps[1]

    def _initial_potentials(self, v_init, seed) -> np.ndarray:
        n = self.n_neurons
        if isinstance(v_init, str):
            if v_init != "uniform":
                raise ValueError(f"v_init must be 'uniform', a number or an array of {n}, got {v_init!r}")
            rng = np.random.default_rng(seed)
            return (self.v_reset + rng.random(n) * (self.v_thresh - self.v_reset)).astype(self.dtype)
        v0 = np.broadcast_to(np.asarray(v_init, dtype=np.float64), (n,)).astype(self.dtype)
        if not np.all(np.isfinite(v0)):
            raise ValueError("v_init contains NaN or Inf")
        return v0

    def _draw_input_weights(self, n_in: int) -> None:
        self.W_in = input_matrix(
            self.n_neurons,
            n_in,
            density=self.input_density,
            scaling=self.input_scaling,
            seed=self._input_seed,
            dtype=self.dtype,
            nonnegative=self.input_encoding == "poisson",
        )  # input spikes excite

    # ------------------------------------------------------------------ state
    @property
    def ring_slots(self) -> int:
        return self._delay_steps[1] + 1

    @property
    def state(self) -> LifState:
        """A copy of the network state (potentials, currents, refractory counters, spikes in flight)."""
        if self._state is None:
            return LifState.initial(self._v0, 1, self.ring_slots)
        return self._state.copy()

    def reset(self) -> LSM:
        """Back to the initial potentials, no current, nothing in flight, Poisson stream from its start."""
        self._state = None
        return self

    def _start_state(self, batch: int) -> LifState:
        if self._state is None:
            return LifState.initial(self._v0, batch, self.ring_slots)
        self._check_batch(self._state.v.shape[0], batch, "trial(s)")
        return self._state.copy()

    def _prepare(self, kernels):
        W_in = self.W_in if self.W_in is not None else sp.csr_array((self.n_neurons, 0), dtype=self.dtype)
        return kernels.prepare_lsm(self.W_push, self.delays, self.n_exc, W_in)

    def params(self, trace_tau: float | None = None):
        """The per-step constants (``kernels.lif.LifParams``) for a trace time constant."""
        trace_tau = self.tau_m if trace_tau is None else check.positive_float(trace_tau, "trace_tau")
        return lif_params(
            dt=self.dt,
            tau_m=self.tau_m,
            tau_exc=self.tau_exc,
            tau_inh=self.tau_inh,
            v_rest=self.v_rest,
            v_reset=self.v_reset,
            v_thresh=self.v_thresh,
            refractory=self.refractory,
            trace_tau=trace_tau,
        )

    # ------------------------------------------------------------------ inputs
    def _inputs(self, u, n_steps):
        """Validated inputs as (B, T, n_in) in the dtype, and whether the run is batched."""
        if u is None:
            if n_steps is None:
                raise ValueError("give u (inputs) or n_steps (a run without input)")
            n_steps = check.positive_int(n_steps, "n_steps")
            batch = 1 if self._state is None else self._state.v.shape[0]
            return np.zeros((batch, n_steps, 0), dtype=self.dtype), batch > 1  # no input, no drive
        inputs, batched = check.sequences(u, self.dtype, "u", self.n_inputs)
        if n_steps is not None and n_steps != inputs.shape[1]:
            raise ValueError(f"n_steps={n_steps} but u has {inputs.shape[1]} steps")
        if self.input_encoding == "poisson" and (inputs.min() < 0 or inputs.max() > 1):
            raise ValueError(
                f"Poisson encoding needs u in [0, 1] (rate = u * input_rate); got values in "
                f"[{inputs.min():g}, {inputs.max():g}]: rescale u first"
            )
        self._ensure_input_weights(inputs.shape[2])
        return inputs, batched

    def _encode(self, inputs: np.ndarray, first_step: int) -> np.ndarray:
        """Poisson spikes (0/1 in the dtype) for global steps [first_step, first_step + T).

        The stream is counter-based (Philox keyed by the seed, advanced to the step), so
        the spikes of a step do not depend on how the run is cut into calls or chunks.
        """
        batch, steps, width = inputs.shape
        draws_per_step = batch * width
        blocks_per_step = -(-draws_per_step // 4)  # Philox yields 4 numbers per counter step
        generator = np.random.Generator(np.random.Philox(key=self._poisson_key).advance(first_step * blocks_per_step))
        uniform = generator.random((steps, 4 * blocks_per_step))[:, :draws_per_step].reshape(steps, batch, width)
        probability = inputs.transpose(1, 0, 2) * (self.input_rate * self.dt)
        return np.ascontiguousarray((uniform < probability).transpose(1, 0, 2), dtype=self.dtype)

    # ------------------------------------------------------------------ running
    def run(
        self,
        u=None,
        *,
        n_steps=None,
        record_spikes=True,
        record_states=True,
        trace_tau=None,
        sample_every=None,
        window=None,
        out=None,
        progress=False,
        store=None,
        name=None,
        checkpoint_every=None,
        resume=False,
        targets=None,
        storage_dtype=None,
        compression=None,
        store_weights=False,
    ):
        """Simulate the network over inputs (or without input for `n_steps`).

        Parameters
        ----------
        u : array (T,), (T, n_in) or (B, T, n_in), optional
            Inputs per step (see ``input_encoding``); (B, T, n_in) runs B independent
            trials at once. NaN/Inf raise ValueError naming the step.
        n_steps : int, optional
            Steps to run without input (or a check of u's length).
        record_spikes : bool
            Return every spike as (step, neuron[, trial]).
        record_states : bool
            Return the states (sampled traces or windowed counts).
        trace_tau : float, seconds, optional
            Time constant of the spike traces (default ``tau_m``).
        sample_every : int, optional
            Keep the traces every this many steps: row k holds them after step
            ``min((k + 1) * sample_every, T) - 1`` (the end of each block of steps, the
            last block ending with the run), ``ceil(T / sample_every)`` rows; the
            sampled step of each row is ``LSMResult.state_steps`` (per-step targets
            align as ``targets[result.state_steps]``). ``sample_every=1`` keeps every
            step. Default: ten samples per ``trace_tau`` (20 steps for ``tau_m`` = 20 ms
            at dt = 0.1 ms), at least 1 step.
        window : int, optional
            States are spike counts per window of this many steps instead of traces.
        out : array, optional
            Receives the states instead of a new array: the shape ``states`` would
            have, the network's dtype, C-contiguous; the result's ``states`` is `out`.
            A loop that passes the same array writes into memory already mapped.
        progress : bool
            Show a progress bar over time.
        store : reservoir.StateStore, optional
            Stream traces (of every step) and spikes into run `name` of this store,
            checkpointed every `checkpoint_every` steps (see ``reservoir.storage``); returns
            the stored ``Run``. ``resume=True`` continues run `name` from its last
            checkpoint, bit-identical to an uninterrupted run. `targets` are stored beside
            the states, `storage_dtype`/`compression` as for the ESN; `store_weights` also
            stores W, W_in and the delays.

        Returns
        -------
        LSMResult, or the stored ``Run`` with `store`.

        Notes
        -----
        Why the traces are sampled by default: the traces of every step are T x N
        values (160 MB per biological second for CUBA's 4000 neurons in float32), written
        into freshly allocated memory at every call, which costs more than the
        simulation itself (each new page is faulted in and zeroed by the system) while a
        trace low-pass filtered with ``trace_tau`` changes little from one step to the
        next. Readouts read the liquid at the end of each input presentation, so the
        kernel keeps the traces in the state and writes them out only at the sampled
        steps: ten samples per ``trace_tau`` cost about 1/20 of the full record, and the
        sampled rows equal the full record's rows at those steps bit for bit.
        ``sample_every=1`` (every step), ``window=`` (spike counts) and ``out=``
        (one buffer reused across calls) are there when a run needs them.
        """
        inputs, batched = self._inputs(u, n_steps)
        trace_tau = self.tau_m if trace_tau is None else check.positive_float(trace_tau, "trace_tau")
        params = self.params(trace_tau).as_tuple(self.dtype)
        window = 0 if window is None else check.positive_int(window, "window")
        if window and sample_every is not None:
            raise ValueError(
                "window= (spike counts per window) and sample_every= (traces every so many steps) "
                "exclude each other: give one of them"
            )
        batch, steps = inputs.shape[:2]
        chunk = self._chunk_steps(checkpoint_every)
        if store is not None:
            if window:
                raise ValueError("a stored run keeps traces (and spikes); window= counts are for in-memory runs")
            if sample_every is not None and check.positive_int(sample_every, "sample_every") != 1:
                raise ValueError("a stored run keeps the traces of every step; sample_every= is for in-memory runs")
            if out is not None:
                raise ValueError("out= is for in-memory runs; a stored run writes into its store")
            return self._run_stored(
                u,
                inputs,
                batched,
                params,
                chunk,
                record_states,
                record_spikes,
                progress,
                store,
                name,
                resume,
                targets,
                storage_dtype,
                compression,
                store_weights,
            )
        if window:
            period = window
        elif sample_every is None:
            period = max(1, int(round(trace_tau / (TRACE_SAMPLES_PER_TAU * self.dt))))
        else:
            period = check.positive_int(sample_every, "sample_every")
        kernels, _ = self._kernels()
        if record_states and not window and period > 1 and not _samples_traces(kernels.lsm_run):
            # this backend writes every step's traces: through a bounded scratch, sampled after each chunk
            per_step = batch * self.n_neurons * self.dtype.itemsize
            chunk = min(chunk, max(1, SCRATCH_BYTES // per_step))
        chunk = -(-chunk // period) * period  # blocks and windows never straddle two kernel calls
        states = None
        if record_states:
            states = self._output(out, batch, -(-steps // period), batched, window)
        elif out is not None:
            raise ValueError("out= receives the states, but record_states=False records none")

        def block_for(first, last):
            return None if states is None else states[:, first // period : -(-last // period)]

        state = self._start_state(batch)
        spikes = []
        for _, _, _, records in self._advance(
            inputs, state, 0, chunk, params, window, 0 if window else period, block_for, record_spikes, progress
        ):
            spikes.append(records)
        self._state = state
        self._state_single = not batched
        result = self._result(spikes if record_spikes else None, states, steps, batch, batched, period)
        if out is not None:
            result.states = out
        return result

    def _output(self, out, batch, rows, batched, window) -> np.ndarray:
        """The (B, rows, N) array the states go to: `out` (checked, as a view) or a new one."""
        shape = (batch, rows, self.n_neurons) if batched else (rows, self.n_neurons)
        if out is None:  # traces fill every row; counts are added
            return (
                np.zeros((batch, rows, self.n_neurons), self.dtype)
                if window
                else np.empty((batch, rows, self.n_neurons), self.dtype)
            )
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
        if out.shape != shape or out.dtype != self.dtype:
            raise ValueError(
                f"out must have the states' shape {shape} and dtype {self.dtype.name}; got {out.shape} {out.dtype.name}"
            )
        if not (out.flags.c_contiguous and out.flags.writeable):
            raise ValueError("out must be C-contiguous and writeable")
        if window:
            out[...] = 0
        return out if batched else out[None]

    def _advance(self, inputs, state, start, chunk, params, window, sample_every, block_for, record_spikes, progress):
        """Run time chunks from `start`; yield (first, last, states block, spikes).

        `block_for(first, last)` gives the array the chunk's states go to (or None):
        counts per `window` or, with ``window == 0``, the traces every `sample_every`
        steps (chunks start on a block boundary). Spikes are (S, 3) rows of (step from
        the start of `inputs`, neuron, trial) in time order. `state` advances in place.
        """
        kernels, prepared = self._kernels()
        poisson = self.input_encoding == "poisson"
        sampled = not window and sample_every > 1
        native = _samples_traces(kernels.lsm_run)
        scratch = None
        steps = inputs.shape[1]
        bar = progress_bar(steps - start, progress, desc="lsm")
        for first in range(start, steps, chunk):
            last = min(first + chunk, steps)
            block = inputs[:, first:last]
            if poisson and block.shape[2]:
                block = self._encode(block, state.step)
            out = block_for(first, last)
            if out is None or not sampled:
                per_trial = kernels.lsm_run(prepared, params, block, poisson, state, out, window, record_spikes)
            elif native:
                per_trial = kernels.lsm_run(
                    prepared, params, block, poisson, state, out, 0, record_spikes, sample_every=sample_every
                )
            else:  # every step's traces into the scratch, then the sampled ones kept
                if scratch is None:
                    scratch = np.empty((inputs.shape[0], min(chunk, steps - start), self.n_neurons), self.dtype)
                every = scratch[:, : last - first]
                per_trial = kernels.lsm_run(prepared, params, block, poisson, state, every, 0, record_spikes)
                out[...] = every[:, sampled_steps(last - first, sample_every)]
            records = None
            if record_spikes:
                records = np.concatenate(
                    [
                        np.column_stack([trial[:, 0] + first, trial[:, 1], np.full(len(trial), b, dtype=np.int64)])
                        for b, trial in enumerate(per_trial)
                    ]
                )
                if len(per_trial) > 1:  # time order across trials: by step, then trial, then neuron
                    records = records[np.lexsort((records[:, 1], records[:, 2], records[:, 0]))]
            if bar is not None:
                bar.update(last - first)
            yield first, last, out, records
        if bar is not None:
            bar.close()

    def _run_stored(
        self,
        u,
        inputs,
        batched,
        params,
        chunk,
        record_states,
        record_spikes,
        progress,
        store,
        name,
        resume,
        targets,
        storage_dtype,
        compression,
        store_weights,
    ):
        self._check_run_name(name)
        batch, steps = inputs.shape[:2]
        if resume and name in store:
            run = store[name]
            saved = run.saved_state()
            if not isinstance(saved, dict) or "v" not in saved:
                raise ValueError(f"{run.path}: run {name!r} is not an LSM run")
            if run.steps != steps or saved["v"].shape != (batch, self.n_neurons):
                raise ValueError(
                    f"{run.path}: run {name!r} holds {run.steps} steps of {saved['v'].shape[0]} "
                    f"trial(s) of {saved['v'].shape[1]} neurons; these inputs give {steps} steps of "
                    f"{batch} trial(s) of {self.n_neurons}"
                )
            state = LifState.from_arrays(saved)
            spike_count = int(saved["spike_count"])
            start = run.steps_done
        else:
            state = self._start_state(batch)
            spike_count = start = 0
            stored_inputs = None if u is None else (u if np.ndim(u) > 1 else np.asarray(u)[:, None])
            run = store.create_run(
                name,
                steps=steps,
                units=self.n_neurons,
                batch=batch if batched else None,
                dtype=self.dtype,
                storage_dtype=storage_dtype,
                compression=compression,
                inputs=stored_inputs,
                targets=targets,
                config=self.config(),
                chunk_steps=min(chunk, steps),
                states=record_states,
                state_arrays={**state.arrays(), "spike_count": np.int64(0)},
                spikes=record_spikes,
            )
        if store_weights:
            W_in = self.W_in if self.W_in is not None else sp.csr_array((self.n_neurons, 0), dtype=self.dtype)
            run.save_weights(W=self.W, W_in=W_in, delays=self.delays)
        buffer = np.empty((batch, min(chunk, steps), self.n_neurons), dtype=self.dtype) if record_states else None

        def block_for(first, last):
            return None if buffer is None else buffer[:, : last - first]

        for first, last, block, records in self._advance(
            inputs, state, start, chunk, params, 0, 1, block_for, record_spikes, progress
        ):
            if block is not None:
                run.write(first, block if batched else block[0])
            if records is not None and len(records):
                run.write_spikes(spike_count, records[:, 0], records[:, 1], records[:, 2] if batched else None)
                spike_count += len(records)
            run.commit(last, {**state.arrays(), "spike_count": np.int64(spike_count)})
        self._state = state
        self._state_single = not batched
        return run

    def _result(self, spikes, out, steps, batch, batched, period) -> LSMResult:
        times = neurons = trials = None
        if spikes is not None:
            joined = np.concatenate(spikes)
            times, neurons = joined[:, 0].copy(), joined[:, 1].copy()
            if batched:
                trials = joined[:, 2].copy()
        states = None if out is None else (out if batched else out[0])
        silent = (times is not None and times.size == 0) or (times is None and out is not None and not out.any())
        if silent:
            warn_silent_network(self, steps, stacklevel=4)
        return LSMResult(times, neurons, trials, states, self.dt, steps, self.n_neurons, batch, period)

    def config(self) -> dict:
        """Everything needed to rebuild this network (with its seed), as plain values."""
        return {
            "model": "LSM",
            "n_exc": self.n_exc,
            "n_inh": self.n_inh,
            "density": self.density,
            "fan_in": self.fan_in,
            "connectivity": self.connectivity,
            "dt": self.dt,
            "tau_m": self.tau_m,
            "tau_exc": self.tau_exc,
            "tau_inh": self.tau_inh,
            "v_rest": self.v_rest,
            "v_reset": self.v_reset,
            "v_thresh": self.v_thresh,
            "refractory": self.refractory,
            "w_exc": self.w_exc,
            "w_inh": self.w_inh,
            "delay": self.delay,
            "input_encoding": self.input_encoding,
            "input_scaling": self.input_scaling,
            "input_density": self.input_density,
            "input_rate": self.input_rate,
            "v_init": self.v_init if isinstance(self.v_init, (str, int, float)) else "array",
            "seed": self.seed if isinstance(self.seed, (int, type(None))) else str(self.seed),
            "dtype": self.dtype.name,
            "backend": self.backend_name,
        }

    def __repr__(self) -> str:
        connectivity = (
            f"connectivity={self.connectivity['kind']!r}"
            if self.connectivity is not None
            else f"fan_in={self.fan_in}"
            if self.fan_in is not None
            else f"density={self.density:g}"
        )
        return (
            f"LSM(n_exc={self.n_exc}, n_inh={self.n_inh}, {connectivity}, dt={self.dt:g}, "
            f"input_encoding={self.input_encoding!r}, dtype={self.dtype.name}, backend={self.backend_name!r})"
        )


def cuba(seed=None, dt=1e-4, backend="auto", dtype="float32", v_init="uniform") -> LSM:
    """The CUBA benchmark network of Brette et al. (2007), as in Brian2's CUBA example.

    4000 neurons (3200 excitatory, 800 inhibitory), connection probability 0.02,
    tau_m 20 ms, tau_exc 5 ms, tau_inh 10 ms, V_t -50 mV, V_r -60 mV, E_l -49 mV
    (above threshold: the network is self-sustained without input), refractory 5 ms,
    w_exc 60 * 0.27 / 10 mV, w_inh -20 * 4.5 / 10 mV, initial v uniform in [V_r, V_t]
    (or `v_init`, as for :class:`LSM`: the same network from other initial potentials).
    """
    return LSM(
        3200,
        800,
        density=0.02,
        dt=dt,
        tau_m=20e-3,
        tau_exc=5e-3,
        tau_inh=10e-3,
        v_rest=-49e-3,
        v_reset=-60e-3,
        v_thresh=-50e-3,
        refractory=5e-3,
        w_exc=60 * 0.27 / 10 * 1e-3,
        w_inh=-20 * 4.5 / 10 * 1e-3,
        seed=seed,
        dtype=dtype,
        backend=backend,
        v_init=v_init,
    )
