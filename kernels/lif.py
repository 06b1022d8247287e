"""What every path of the LIF (spiking) kernels shares: the step's constants and the state.

The neuron model (current-based, exponential synapses)::

    tau_m  dv/dt     = v_rest - v + i_exc + i_inh + i_ext
    tau_exc di_exc/dt = -i_exc          (jumps by w when an excitatory spike arrives)
    tau_inh di_inh/dt = -i_inh          (idem, inhibitory; w < 0)

Currents are in volts (the shift of the resting potential they cause), as in
Brian2's CUBA example. Between spikes the system is linear, so one step of length
dt is integrated exactly: with ``P_x = exp(-dt / tau_x)``,

    v  <- v_rest + (v - v_rest) P_m + i_exc K_exc + i_inh K_inh + i_ext (1 - P_m)
    K_s = tau_s / (tau_s - tau_m) (P_s - P_m)      (dt / tau_m P_m when tau_s = tau_m)

with ``i_ext`` (injected input current) constant over the step.

One step, in the order of Brian2's default schedule (so the two agree step for step):

1. update: neurons not refractory integrate v; refractory ones hold v_reset and
   count down; both synaptic currents decay;
2. threshold: ``v > v_thresh`` spikes;
3. synapses: without delays (and without input spikes) each spike adds its weights
   straight to its targets' currents, senders in ascending order, synapses in
   storage order. Otherwise every spike is pushed into its targets' ring-buffer
   slot ``t + delay``, input spikes (Poisson encoding) into slot ``t``, and the slot
   of step ``t`` (which holds zero-delay arrivals of this very step) is then added
   to the currents and cleared;
4. reset: spiking neurons go to v_reset and stay refractory for the next
   ``refractory_steps - 1`` updates, so two spikes of a neuron are at least
   ``refractory_steps`` apart (Brian2: ``timestep(t - lastspike) >= timestep(refractory)``);
5. traces: ``trace <- trace P_trace + spiked``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LifParams:
    """Per-step constants, in the network's dtype (computed once in float64, then cast)."""

    v_rest: float
    v_reset: float
    v_thresh: float
    decay_m: float  # P_m
    gain_exc: float  # K_exc
    gain_inh: float  # K_inh
    gain_ext: float  # 1 - P_m
    decay_exc: float  # P_exc
    decay_inh: float  # P_inh
    decay_trace: float  # P_trace
    refractory_steps: int

    def as_tuple(self, dtype) -> tuple:
        """Scalars in kernel argument order; floats cast to `dtype` so float32 stays float32."""
        cast = np.dtype(dtype).type
        return (
            cast(self.v_rest),
            cast(self.v_reset),
            cast(self.v_thresh),
            cast(self.decay_m),
            cast(self.gain_exc),
            cast(self.gain_inh),
            cast(self.gain_ext),
            cast(self.decay_exc),
            cast(self.decay_inh),
            cast(self.decay_trace),
            np.int64(self.refractory_steps),
        )


def synaptic_gain(dt: float, tau_m: float, tau_syn: float) -> float:
    """K_s: what a unit synaptic current at the start of a step adds to v by its end."""
    p_m = math.exp(-dt / tau_m)
    if math.isclose(tau_syn, tau_m, rel_tol=1e-9):
        return dt / tau_m * p_m
    return tau_syn / (tau_syn - tau_m) * (math.exp(-dt / tau_syn) - p_m)


def lif_params(*, dt, tau_m, tau_exc, tau_inh, v_rest, v_reset, v_thresh, refractory, trace_tau) -> LifParams:
    """The exact-integration constants of one step (arguments already validated)."""
    decay_m = math.exp(-dt / tau_m)
    return LifParams(
        v_rest=v_rest,
        v_reset=v_reset,
        v_thresh=v_thresh,
        decay_m=decay_m,
        gain_exc=synaptic_gain(dt, tau_m, tau_exc),
        gain_inh=synaptic_gain(dt, tau_m, tau_inh),
        gain_ext=1.0 - decay_m,
        decay_exc=math.exp(-dt / tau_exc),
        decay_inh=math.exp(-dt / tau_inh),
        decay_trace=math.exp(-dt / trace_tau),
        refractory_steps=int(round(refractory / dt)),
    )


@dataclass
class LifState:
    """Everything that carries over between runs, for B trials of n neurons.

    ``ring_exc``/``ring_inh`` (B, D, n) hold spikes still in flight: slot
    ``(step + d) % D`` receives what arrives d steps from now (D = max delay + 1).
    ``step`` counts steps since the last reset (it indexes the ring and the Poisson stream).
    """

    v: np.ndarray  # (B, n)
    i_exc: np.ndarray  # (B, n)
    i_inh: np.ndarray  # (B, n)
    refractory: np.ndarray  # (B, n) int32: updates still to hold
    ring_exc: np.ndarray  # (B, D, n)
    ring_inh: np.ndarray  # (B, D, n)
    trace: np.ndarray  # (B, n)
    step: int = 0

    @classmethod
    def initial(cls, v0: np.ndarray, batch: int, ring_slots: int) -> LifState:
        """Membrane potentials v0 (n,) in every trial; no current, nothing in flight."""
        n, dtype = v0.shape[0], v0.dtype
        zeros = np.zeros((batch, n), dtype=dtype)
        return cls(
            v=np.repeat(v0[None], batch, axis=0),
            i_exc=zeros.copy(),
            i_inh=zeros.copy(),
            refractory=np.zeros((batch, n), dtype=np.int32),
            ring_exc=np.zeros((batch, ring_slots, n), dtype=dtype),
            ring_inh=np.zeros((batch, ring_slots, n), dtype=dtype),
            trace=zeros.copy(),
        )

    ARRAYS = ("v", "i_exc", "i_inh", "refractory", "ring_exc", "ring_inh", "trace")

    def arrays(self) -> dict:
        """The state as named arrays (``step`` as a 0-d int64), e.g. for a checkpoint."""
        named = {name: getattr(self, name) for name in self.ARRAYS}
        named["step"] = np.array(self.step, dtype=np.int64)
        return named

    @classmethod
    def from_arrays(cls, named: dict) -> LifState:
        arrays = {name: np.array(named[name]) for name in cls.ARRAYS}
        return cls(**arrays, step=int(named["step"]))

    def copy(self) -> LifState:
        return LifState.from_arrays(self.arrays())


def spike_buffer(batch: int, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial spike records (B, capacity, 2) int64 of (step, neuron), and counts (B,)."""
    return np.empty((batch, capacity, 2), dtype=np.int64), np.zeros(batch, dtype=np.int64)


def sampled_steps(steps: int, sample_every: int) -> np.ndarray:
    """Steps (int64) whose traces a run sampled every `sample_every` steps keeps.

    The last step of each block of `sample_every` steps, the last block ending with the
    run (it may be shorter): ``ceil(steps / sample_every)`` steps, the run's last included.
    """
    kept = np.arange(sample_every - 1, steps, sample_every, dtype=np.int64)
    if steps % sample_every:
        kept = np.append(kept, np.int64(steps - 1))
    return kept
