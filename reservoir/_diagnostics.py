"""Warnings for settings that run but give garbage, each saying what to change.

They are cheap by design: the saturation check looks at a few sampled time steps of
what a kernel call already wrote, never at every state.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _arrays

__all__ = ["ReservoirWarning", "SaturationMonitor", "warn_echo_state", "warn_few_samples"]

#: Spectral radius above which the echo-state property is unlikely (see warn_echo_state).
ECHO_STATE_LIMIT = 1.5
#: A state is saturated when |x| exceeds this (tanh'(x) < 0.02 there) ...
SATURATED_STATE = 0.99
#: ... and the reservoir is when more than this fraction of the sampled states are.
SATURATED_FRACTION = 0.9
#: Time steps sampled per kernel call by the saturation check.
SAMPLED_STEPS = 8


class ReservoirWarning(UserWarning):
    """A setting that runs but will likely give poor results; the message says what to change."""


def _warn(message: str, stacklevel: int) -> None:
    warnings.warn(message, ReservoirWarning, stacklevel=stacklevel + 1)


def warn_echo_state(spectral_radius, leak_rate: float, stacklevel: int = 2) -> None:
    """Warn when the spectral radius exceeds ``ECHO_STATE_LIMIT`` (1.5).

    The usual rule is ``rho < 1``; input drive pushes tanh units off their steepest
    slope, which keeps the fading memory a little above 1 (ReservoirPy's README uses
    1.25), but not far. Measured on ESN(100) and ESN(1000) (10 seeds each) driven by
    uniform inputs in [-1, 1], with two runs from different random states counted as
    having forgotten their start when they met to 1e-6 within 1500 steps: with
    leak_rate 1, 10/10 did up to rho = 1.2, 10 and 9 at 1.4, 6 and 0 at 1.5, none at
    1.6 and beyond. A leak rate below 1 does not rescue a large radius (at 0.3: 5 and
    0 of 10 at 1.4, none at 2), so the limit is on ``rho`` itself: above 1.5 a run's
    states depend on where it started, the echo-state property lost, and the warning
    fires whatever the leak rate. (Between 1.2 and 1.5 a leaky reservoir can lose it
    too; that is left to validation.)
    """
    if spectral_radius is None:
        return
    if spectral_radius > ECHO_STATE_LIMIT:
        _warn(
            f"spectral_radius={spectral_radius:g} is above {ECHO_STATE_LIMIT}, where the echo-state property "
            "usually fails: the states depend on where the reservoir started more than on the input. "
            "Use spectral_radius <= 1.2",
            stacklevel + 1,
        )


def warn_few_samples(n_features: int, n_samples: int, alpha, stacklevel: int = 2) -> None:
    """Warn when a readout has more features than training samples (it can interpolate them)."""
    if n_features > n_samples:
        _warn(
            f"the readout has {n_features} features but only {n_samples} training samples: it can fit them "
            f"exactly and will generalise poorly (alpha={alpha}). Use fewer units, more (or longer) training "
            "data, or a larger alpha",
            stacklevel + 1,
        )


#: A spiking run this long (seconds of biological time) without a spike is reported.
SILENT_RUN_SECONDS = 0.05


def warn_silent_network(lsm, steps: int, stacklevel: int = 2) -> None:
    """Warn that an LSM run of at least SILENT_RUN_SECONDS produced no spike at all: its
    states are all zero, and a readout on them learns nothing."""
    if steps * lsm.dt < SILENT_RUN_SECONDS:
        return
    gap = lsm.v_thresh - lsm.v_rest
    receiving = "no input" if lsm.W_in is None else f"{lsm.W_in.nnz} input connection(s)"
    _warn(
        f"no neuron spiked in {steps} steps ({steps * lsm.dt:g} s): every state is zero. The threshold is "
        f"{gap * 1e3:.3g} mV above rest; raise input_scaling (now {lsm.input_scaling * 1e3:.3g} mV per unit of "
        f"input, {receiving} for {lsm.n_neurons} neurons) or input_density (now {lsm.input_density:g}), scale "
        "the inputs up, or lower v_thresh",
        stacklevel,
    )


class SaturationMonitor:
    """Counts saturated states on a few sampled steps of each block; warns once at the end of a run."""

    def __init__(self, activation: str):
        self.active = activation == "tanh"
        self.saturated = 0
        self.seen = 0

    def observe(self, block) -> None:
        """`block` (B, steps, units): states a kernel call just wrote."""
        if not self.active or block is None or block.shape[1] == 0:
            return
        steps = block.shape[1]
        # the middles of equal parts of the block: a run's first steps (from rest) are not over-weighted
        picked = np.unique((np.arange(SAMPLED_STEPS) * 2 + 1) * steps // (2 * SAMPLED_STEPS))
        sample = np.abs(np.asarray(_arrays.to_host(block[:, picked]), dtype=np.float64))
        self.saturated += int(np.count_nonzero(sample > SATURATED_STATE))
        self.seen += sample.size

    def finish(self, hint, stacklevel: int = 2) -> None:
        """Warn if the run was saturated; `hint()` says what to change (computed only then)."""
        if self.seen and self.saturated > SATURATED_FRACTION * self.seen:
            _warn(
                f"{self.saturated / self.seen:.0%} of the sampled reservoir states have |x| > {SATURATED_STATE}: "
                "the tanh units are saturated and act as binary switches, which loses the input's detail. "
                f"{hint()}",
                stacklevel + 1,
            )
