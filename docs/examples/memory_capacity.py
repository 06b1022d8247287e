#!/usr/bin/env python
"""Memory capacity (Jaeger 2001) of an ESN and an LSM with the same number of units.

Both are driven by the same i.i.d. input, uniform in [-1, 1], one value per sample.
The ESN takes one step per sample. The LSM holds each value as an input current for
``hold`` steps of 0.1 ms (a spiking network needs time to respond) and its states
are the spike traces (tau 20 ms) at the end of each hold; a small grid over the
hold time and the regime (self-sustained activity, v_rest above threshold as in
CUBA, or input-driven, v_rest below) is reported, since the LSM's memory depends on
both. ``reservoir.metrics.memory_capacity`` scores every network the same way:
delays 1..max_delay, one ridge pass with its penalty searched on part of the
training samples, r2 on the held-out second half.

    python docs/examples/memory_capacity.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import reservoir as rs

ALPHAS = [1e-8, 1e-6, 1e-4, 1e-2, 1.0, 100.0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--max-delay", type=int, default=200)
    args = parser.parse_args(argv)
    u = np.random.default_rng(0).uniform(-1, 1, args.samples)
    print(f"memory capacity, {args.units} units, {args.samples} samples, delays 1..{args.max_delay}")
    print("| network | settings | MC | r2 at k=1, 2, 5 | run s |")
    print("|---|---|---|---|---|")
    for radius in (0.9, 0.99):
        start = time.perf_counter()
        esn = rs.ESN(args.units, density=0.01, spectral_radius=radius, input_scaling=0.1, seed=1, dtype="float64")
        states = esn.run(u)
        elapsed = time.perf_counter() - start
        capacity, curve = rs.metrics.memory_capacity(states, u, max_delay=args.max_delay, alpha=ALPHAS,
                                                     return_curve=True)
        print(f"| ESN (tanh, density 0.01) | spectral radius {radius} | {capacity:.1f} "
              f"| {curve[0]:.2f}, {curve[1]:.2f}, {curve[4]:.2f} | {elapsed:.1f} |")
    n_exc = int(round(0.8 * args.units))
    for hold in (20, 100):
        for regime, v_rest, scaling in (("self-sustained", -49e-3, 50e-3), ("input-driven", -55e-3, 30e-3)):
            start = time.perf_counter()
            lsm = rs.LSM(n_exc, args.units - n_exc, density=0.02, v_rest=v_rest, input_density=1.0,
                         input_scaling=scaling, seed=1, dtype="float64")
            result = lsm.run(np.repeat(u, hold)[:, None], trace_tau=20e-3)
            states = result.states[hold - 1::hold]
            elapsed = time.perf_counter() - start
            capacity, curve = rs.metrics.memory_capacity(states, u, max_delay=args.max_delay, alpha=ALPHAS,
                                                         return_curve=True)
            print(f"| LSM (LIF, p 0.02, 80/20 E/I, {result.firing_rate():.1f} Hz) | {regime}, hold "
                  f"{hold * lsm.dt * 1e3:.0f} ms | {capacity:.1f} | {curve[0]:.2f}, {curve[1]:.2f}, {curve[4]:.2f} "
                  f"| {elapsed:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
