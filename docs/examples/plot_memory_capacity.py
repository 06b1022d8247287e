"""
Memory capacity of an ESN and an LSM
====================================

Memory capacity (Jaeger 2001) sums, over delays k = 1, 2, ..., how well a linear
readout of the present state recalls the input of k steps ago (the squared
correlation r² of the recall on held-out samples). An i.i.d. input, uniform in
[-1, 1], drives both networks, one value per sample. The ESN takes one step per
sample. A spiking network needs time to respond, so the LSM holds each value as
an input current for ``hold`` steps of 0.1 ms, and its states are the spike
traces (τ = 20 ms) at the end of each hold. :func:`reservoir.metrics.memory_capacity`
scores every network the same way: one ridge pass over all delays, its penalty
searched on part of the training samples, r² on the held-out second half.

**Reduced size at build time**: 200 units, 1,000 samples, delays up to 60 and a
2 ms hold. ``python docs/examples/plot_memory_capacity.py --full`` runs the full
grid (1,000 units, 3,000 samples, delays up to 200, holds of 2 and 10 ms). Its
result (2-core AMD EPYC, 2026-11-21):

.. md-table::

   | network | settings | MC | r2 at k=1, 2, 5 |
   |---|---|---|---|
   | ESN (tanh, density 0.01) | spectral radius 0.9 | 44.0 | 1.00, 1.00, 1.00 |
   | ESN (tanh, density 0.01) | spectral radius 0.99 | 63.7 | 1.00, 1.00, 1.00 |
   | LSM (LIF, p 0.02, 80/20 E/I, 14.9 Hz) | self-sustained, hold 2 ms | 1.9 | 0.17, 0.16, 0.07 |
   | LSM (LIF, p 0.02, 80/20 E/I, 2.1 Hz) | input-driven, hold 2 ms | 1.1 | 0.03, 0.04, 0.06 |
   | LSM (LIF, p 0.02, 80/20 E/I, 17.6 Hz) | self-sustained, hold 10 ms | 1.7 | 0.39, 0.33, 0.16 |
   | LSM (LIF, p 0.02, 80/20 E/I, 5.3 Hz) | input-driven, hold 10 ms | 1.0 | 0.30, 0.16, 0.07 |

A sparse-firing LIF network read through its spike traces keeps almost no linear
trace of past inputs; the ESN's analog units keep tens of values.
"""

# %%
# The ESN: two spectral radii
# ---------------------------

import sys

import matplotlib.pyplot as plt
import numpy as np

import reservoir as rs

FULL = "--full" in sys.argv
UNITS, SAMPLES, MAX_DELAY = (1000, 3000, 200) if FULL else (200, 1000, 60)
HOLDS = (20, 100) if FULL else (20,)
ALPHAS = [1e-8, 1e-6, 1e-4, 1e-2, 1.0, 100.0]

u = np.random.default_rng(0).uniform(-1, 1, SAMPLES)
curves = {}
for radius in (0.9, 0.99):
    esn = rs.ESN(UNITS, density=0.01, spectral_radius=radius, input_scaling=0.1, seed=1, dtype="float64")
    capacity, curve = rs.metrics.memory_capacity(esn.run(u), u, max_delay=MAX_DELAY, alpha=ALPHAS, return_curve=True)
    curves[f"ESN, spectral radius {radius}: MC {capacity:.1f}"] = curve
    print(f"ESN, spectral radius {radius}: MC = {capacity:.1f}")

# %%
# The LSM: self-sustained and input-driven
# ----------------------------------------
# Self-sustained: the resting potential lies above the threshold (as in the CUBA
# benchmark network), so the network fires without input. Input-driven: it lies
# below, and only the input makes the neurons fire.

n_exc = int(round(0.8 * UNITS))
for hold in HOLDS:
    for regime, v_rest, scaling in (("self-sustained", -49e-3, 50e-3), ("input-driven", -55e-3, 30e-3)):
        lsm = rs.LSM(
            n_exc,
            UNITS - n_exc,
            density=0.02,
            v_rest=v_rest,
            input_density=1.0,
            input_scaling=scaling,
            seed=1,
            dtype="float64",
        )
        # one trace sample at the last step of each held input value
        result = lsm.run(np.repeat(u, hold)[:, None], trace_tau=20e-3, sample_every=hold)
        states = result.states
        capacity, curve = rs.metrics.memory_capacity(states, u, max_delay=MAX_DELAY, alpha=ALPHAS, return_curve=True)
        label = f"LSM, {regime}, hold {hold * lsm.dt * 1e3:.0f} ms ({result.firing_rate():.1f} Hz): MC {capacity:.1f}"
        curves[label] = curve
        print(label)

# %%
# The memory curves
# -----------------
# r² of the recall against the delay; the memory capacity is the area under each
# curve.

fig, ax = plt.subplots(figsize=(8, 4.5))
for label, curve in curves.items():
    ax.plot(np.arange(1, len(curve) + 1), curve, label=label)
ax.set_xscale("log")
ax.set_xlabel("delay k (samples)")
ax.set_ylabel("recall r²")
ax.set_ylim(-0.02, 1.05)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
