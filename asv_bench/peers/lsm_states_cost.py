#!/usr/bin/env python
"""What the states of a CUBA run cost, called as a user's loop calls it.

CUBA (4000 neurons), 10,000 steps (1 s of biological time), numba backend: spikes
only, the default call (spikes and traces sampled every ``sample_every`` steps),
every step's traces, and every step's traces into one reused ``out=`` buffer. The
calls are interleaved and each result is kept until the next call of its kind
replaces it. Printed: medians and ranges over ``--repeats`` runs, the ratio of each
median to the spikes-only one, and the physical counts (neuron updates and synaptic
events per biological second) with the cost of each on this core.

    python asv_bench/peers/lsm_states_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import reservoir as rs

STEPS = 10_000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", default="numba")
    args = parser.parse_args(argv)

    net = rs.lsm.cuba(seed=1, backend=args.backend)
    buffer = np.empty((STEPS, net.n_neurons), net.dtype)
    calls = {
        "spikes only (record_states=False)": dict(record_states=False),
        "default call": dict(),
        "every step (sample_every=1)": dict(sample_every=1),
        "every step into a reused out=": dict(sample_every=1, out=buffer),
    }
    for kwargs in calls.values():
        net.run(n_steps=10, **{key: value for key, value in kwargs.items() if key != "out"})  # compile
    times = {name: [] for name in calls}
    kept = dict.fromkeys(calls)
    for _ in range(args.repeats):  # interleaved: every call sees the machine's load of the moment
        for name, kwargs in calls.items():
            net.reset()
            start = time.perf_counter()
            kept[name] = net.run(n_steps=STEPS, **kwargs)
            times[name].append(time.perf_counter() - start)
    spikes_only = statistics.median(times["spikes only (record_states=False)"])
    for name, seconds in times.items():
        states = kept[name].states
        shape = "none" if states is None else str(states.shape)
        print(
            f"{name:34s} states {shape:14s} median {statistics.median(seconds):.4f} s "
            f"[{min(seconds):.4f}, {max(seconds):.4f}]  {statistics.median(seconds) / spikes_only:.2f}x spikes only"
        )

    result = kept["spikes only (record_states=False)"]
    out_degree = np.diff(net.W_push.indptr)
    events = int(out_degree[result.spike_neurons].sum())
    updates = net.n_neurons * STEPS
    quiet = rs.LSM(net.n_exc, net.n_inh, density=0.02, v_rest=-60e-3, seed=1, backend=args.backend)  # no spike
    quiet.run(n_steps=10)
    quiet_times = []
    for _ in range(args.repeats):
        quiet.reset()
        start = time.perf_counter()
        silent = quiet.run(n_steps=STEPS, record_states=False)
        quiet_times.append(time.perf_counter() - start)
    assert len(silent.spike_times) == 0
    update_time = statistics.median(quiet_times)
    print(
        f"per biological second: {updates:.3g} neuron updates, {len(result.spike_times)} spikes, {events:.4g} "
        f"synaptic events (mean out-degree {out_degree.mean():.1f})"
    )
    print(
        f"updates alone (the same neurons at rest, no spike): {update_time:.4f} s = "
        f"{update_time / updates * 1e9:.2f} ns per update; the rest of the spikes-only run: "
        f"{(spikes_only - update_time) / events * 1e9:.1f} ns per synaptic event (spike bookkeeping included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
