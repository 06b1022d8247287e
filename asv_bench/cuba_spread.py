"""How far CUBA's firing rate moves between realisations of the same network.

Float32 push propagation on a GPU adds a step's synaptic inputs in atomic order, so its
trajectory leaves the CPU run's within some hundred steps (the network is chaotic) and
only statistics can agree: a decorrelated run is, statistically, another realisation.
The yardstick is therefore the spread of CPU realisations of the same network (same
synapses) started from other initial potentials, uniform in [V_r, V_t] as the preset
draws them. (A perturbation of one unit in the last place does not do: the reset after a
spike erases it.) The GPU's tolerance is a multiple of that spread, measured by the
machine that checks, never a constant from one run.
"""

from __future__ import annotations

import numpy as np


def realisation_rates(seed: int, dtype: str, n_steps: int, realisations: int = 8) -> tuple[float, np.ndarray]:
    """(rate of the preset's own run, rates of `realisations` runs from other initial potentials), Hz."""
    from reservoir.lsm import cuba

    base = cuba(seed=seed, backend="numba", dtype=dtype)
    rate = base.run(n_steps=n_steps, record_states=False).firing_rate()
    rates = []
    for k in range(realisations):
        rng = np.random.default_rng([seed, k])
        v0 = base.v_reset + rng.random(base.n_neurons) * (base.v_thresh - base.v_reset)
        net = cuba(seed=seed, backend="numba", dtype=dtype, v_init=v0)
        rates.append(net.run(n_steps=n_steps, record_states=False).firing_rate())
    return rate, np.asarray(rates)


def rate_tolerance(seed: int, dtype: str, n_steps: int, realisations: int = 8, sigmas: float = 4.0) -> float:
    """Relative rate difference allowed between the preset's run and a decorrelated one:
    `sigmas` times the rms relative deviation of the other realisations from it."""
    rate, rates = realisation_rates(seed, dtype, n_steps, realisations)
    return sigmas * float(np.sqrt(np.mean((rates / rate - 1) ** 2)))
