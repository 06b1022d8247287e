#!/usr/bin/env python
"""reservoir-engine's CUBA network against Brian2's, side by side on one machine.

The Brette et al. (2007) CUBA benchmark (4000 LIF neurons, 80/20 E/I, p = 0.02), the
network of Brian2's CUBA example, run for ``--duration`` seconds of biological time
by both, for ``--seeds`` seeds each. Printed: mean firing rate and the coefficient of
variation of inter-spike intervals (both computed by ``reservoir.metrics`` from each
simulator's spike times, so the statistics are computed the same way), and the wall
time per biological second, with the ratio.

Brian2 2.9 needs numpy < 2.3, so it runs in its own virtual environment, in a
subprocess started from here (``--brian-python``; ``make peers-lsm`` creates
``.venv-brian2``). Brian2's code generation and compilation (its Cython target
compiles the network's code once, about 40 s here, cached on disk afterwards) are
kept out of its timing: the network is built and run for one step before the clock
starts, as our Numba kernels are compiled (and cached) before ours starts. Brian2's C++
standalone mode (``--targets cpp_standalone`` serial, ``cpp_standalone:2`` with two
OpenMP threads; g++ compiles the generated project) is timed by the program's own
clock of its simulation loop, compilation and synapse construction excluded. That
clock is ``std::clock()``: the process's CPU time (with two OpenMP threads, the sum of
both), so our spikes-only call is also timed in process CPU time and both ratios are
printed. Our
timings are for spikes only (what Brian2's SpikeMonitor records), for the default
call (spikes and the trace states a readout trains on, sampled every ``sample_every``
steps) and with the traces of every step (``sample_every=1``). Ours run as a user's
loop runs them: each result is kept until the next call of its kind replaces it.
Ratios are medians over ``--repeats`` runs per seed (the range over all runs beside
them); seed by seed, ours and Brian2's run one after the other, so both see the
machine's load of the moment, and the load average is printed at the start and the end.

Also measured, seed by seed: batched trials (``--batch`` independent trials of the
network, each from its own initial potentials, in one kernel call: the trials run in
parallel over the cores, each trial's time loop serial), and the physical count: the
neuron updates and synaptic events of a biological second, with the time of each on
this machine (the same kernel on the same network with the potentials held below
threshold gives the cost of the neuron updates alone; the rest of a full run, divided
by its synaptic events, the cost of a spike's delivery and bookkeeping per event).

Usage::

    make peers-lsm                                        # creates .venv-brian2 and runs this
    python asv_bench/peers/lsm_vs_brian2.py --brian-python .venv-brian2/bin/python --out results.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

# The Brian2 side, written from the CUBA equations; each script prints one JSON line.
# The network, shared by the runtime targets and the C++ standalone mode:
BRIAN2_NETWORK = """
defaultclock.dt = 0.1 * ms
seed(seed_value)
taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
Vt, Vr, El = -50 * mV, -60 * mV, -49 * mV
eqs = '''
dv/dt  = (ge + gi - (v - El)) / taum : volt (unless refractory)
dge/dt = -ge / taue : volt
dgi/dt = -gi / taui : volt
'''
P = NeuronGroup(4000, eqs, threshold='v > Vt', reset='v = Vr', refractory=5 * ms, method='exact')
P.v = 'Vr + rand() * (Vt - Vr)'
P.ge = 0 * mV
P.gi = 0 * mV
we = (60 * 0.27 / 10) * mV
wi = (-20 * 4.5 / 10) * mV
Ce = Synapses(P, P, on_pre='ge += we')
Ci = Synapses(P, P, on_pre='gi += wi')
Ce.connect('i < 3200', p=0.02)
Ci.connect('i >= 3200', p=0.02)
monitor = SpikeMonitor(P)
net = Network(P, Ce, Ci, monitor)
"""
BRIAN2_IMPORTS = """
import json, sys, time
import numpy as np
from brian2 import (NeuronGroup, Synapses, SpikeMonitor, Network, defaultclock, prefs, seed,
                    set_device, device, ms, mV, second)
"""
BRIAN2_SCRIPT = (
    BRIAN2_IMPORTS
    + """
duration, seed_value, target, repeats = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
prefs.codegen.target = target
"""
    + BRIAN2_NETWORK
    + """
start = time.perf_counter()
net.run(defaultclock.dt)  # code generation and compilation happen here, not in the timing
build = time.perf_counter() - start
times = []
start_t = float(defaultclock.t / second)
for _ in range(repeats):
    start = time.perf_counter()
    net.run(duration * second)
    times.append(time.perf_counter() - start)
step = np.asarray(monitor.t / defaultclock.dt).round().astype(np.int64)
mine = step >= int(round(start_t / float(defaultclock.dt)))
mine &= step < int(round((start_t + duration) / float(defaultclock.dt)))  # the first timed run
print(json.dumps({"build_s": build, "run_s": times, "steps": step[mine].tolist(),
                  "neurons": np.asarray(monitor.i)[mine].tolist(),
                  "synapses": int(len(Ce) + len(Ci))}))
"""
)
# Brian2's C++ standalone mode (what its users switch on for speed): the network written
# out as a C++ project, compiled with g++ and run as a program. The time is the program's
# own timer of the simulation loop (Brian2's last_run_info.txt): code generation,
# compilation, synapse construction and file output are all outside it. Each repeat runs
# the compiled program again. openmp_threads = 0 is Brian2's default (serial code).
BRIAN2_STANDALONE_SCRIPT = (
    BRIAN2_IMPORTS
    + """
duration, seed_value, threads, repeats = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
directory = sys.argv[5]
set_device("cpp_standalone", directory=directory, build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = threads
"""
    + BRIAN2_NETWORK
    + """
net.run(duration * second)
start = time.perf_counter()
device.build(directory=directory, compile=True, run=True, with_output=False)
build = time.perf_counter() - start
times = [device._last_run_time]
for _ in range(repeats - 1):
    device.run(directory=directory, with_output=False)
    times.append(device._last_run_time)
step = np.asarray(monitor.t / defaultclock.dt).round().astype(np.int64)
print(json.dumps({"build_s": build, "run_s": times, "steps": step.tolist(),
                  "neurons": np.asarray(monitor.i).tolist(),
                  "synapses": int(len(Ce) + len(Ci))}))
"""
)
STANDALONE = "cpp_standalone"


def run_brian2(python: str, duration: float, seed: int, target: str, repeats: int) -> dict:
    if target.startswith(STANDALONE):  # "cpp_standalone" (serial) or "cpp_standalone:THREADS"
        threads = target.partition(":")[2] or "0"
        with tempfile.TemporaryDirectory(prefix="brian2_cuba_") as directory:
            completed = subprocess.run(
                [python, "-c", BRIAN2_STANDALONE_SCRIPT, str(duration), str(seed), threads, str(repeats), directory],
                capture_output=True,
                text=True,
                timeout=3600,
            )
        if completed.returncode != 0:
            raise RuntimeError(f"Brian2 failed:\n{completed.stderr[-3000:]}")
        return json.loads(completed.stdout.strip().splitlines()[-1])
    completed = subprocess.run(
        [python, "-c", BRIAN2_SCRIPT, str(duration), str(seed), target, str(repeats)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"Brian2 failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# Our calls: run() keyword arguments, and the key of their timings.
OUR_CALLS = {"run_s": {"record_states": False}, "run_default_s": {}, "run_every_step_s": {"sample_every": 1}}


def run_ours(duration: float, seed: int, repeats: int, backend: str) -> dict:
    from reservoir.lsm import cuba

    steps = int(round(duration / 1e-4))
    net = cuba(seed=seed, backend=backend)
    for kwargs in OUR_CALLS.values():
        net.run(n_steps=10, **kwargs)  # compile (or load the cache)
    times = {key: [] for key in OUR_CALLS}
    times["run_cpu_s"] = []  # the spikes-only call's process CPU time, as Brian2 standalone's clock counts
    kept = dict.fromkeys(OUR_CALLS)
    for _ in range(repeats):
        for key, kwargs in OUR_CALLS.items():
            net.reset()
            start, start_cpu = time.perf_counter(), time.process_time()
            kept[key] = net.run(n_steps=steps, **kwargs)  # the last result of each kind stays alive
            times[key].append(time.perf_counter() - start)
            if key == "run_s":
                times["run_cpu_s"].append(time.process_time() - start_cpu)
    result = kept["run_s"]
    states_shape = kept["run_default_s"].states.shape
    return {
        **times,
        "steps": result.spike_times,
        "neurons": result.spike_neurons,
        "synapses": int(net.W.nnz),
        "default_states": states_shape,
    }


def _cuba_kernel(seed: int, backend: str):
    """The network, its kernels, prepared weights and step constants (kernel-level runs)."""
    import scipy.sparse as sp

    from reservoir.lsm import cuba

    net = cuba(seed=seed, backend=backend)
    kernels, _ = net._kernels()
    prepared = kernels.prepare_lsm(net.W_push, net.delays, net.n_exc, sp.csr_array((net.n_neurons, 0), dtype=net.dtype))
    return net, kernels, prepared


def run_ours_batched(duration: float, seed: int, repeats: int, backend: str, batch: int) -> dict:
    """`batch` trials in one kernel call, trial b from the potentials of seed `seed + b`."""
    from reservoir.kernels.lif import LifState
    from reservoir.lsm import cuba

    net, kernels, prepared = _cuba_kernel(seed, backend)
    params = net.params().as_tuple(net.dtype)
    steps = int(round(duration / 1e-4))
    v0 = np.stack([cuba(seed=seed + b, backend="numpy")._v0 for b in range(batch)])
    inputs = np.zeros((batch, steps, 0), dtype=net.dtype)

    def call(n_steps):
        state = LifState.initial(net._v0, batch, net.ring_slots)
        state.v[...] = v0
        return kernels.lsm_run(prepared, params, inputs[:, :n_steps], False, state, None, 0, True)

    call(10)  # compile (or load the cache)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        spikes = call(steps)
        times.append(time.perf_counter() - start)
    return {"run_s": times, "spikes": [len(trial) for trial in spikes]}


def physical_count(duration: float, seed: int, repeats: int, backend: str) -> dict:
    """Neuron updates and synaptic events of a run, and the time of each (see the module notes)."""
    from reservoir.kernels.lif import LifParams, LifState

    net, kernels, prepared = _cuba_kernel(seed, backend)
    steps = int(round(duration / 1e-4))
    inputs = np.zeros((1, steps, 0), dtype=net.dtype)
    full = net.params()
    fields = {**full.__dict__, "v_rest": full.v_reset}  # resting at the reset potential: never a spike
    silent = LifParams(**fields)
    timed = {}
    for name, params in (("full", full), ("silent", silent)):
        constants = params.as_tuple(net.dtype)
        kernels.lsm_run(prepared, constants, inputs[:, :10], False, LifState.initial(net._v0, 1, 1), None, 0, True)
        times = []
        for _ in range(repeats):
            state = LifState.initial(net._v0, 1, net.ring_slots)
            start = time.thread_time()  # this thread's CPU time: the time on the core, not the waits for it
            spikes = kernels.lsm_run(prepared, constants, inputs, False, state, None, 0, True)[0]
            times.append(time.thread_time() - start)
        timed[name] = (statistics.median(times), spikes)
    (full_s, spikes), (silent_s, silent_spikes) = timed["full"], timed["silent"]
    assert len(silent_spikes) == 0
    indptr = net.W_push.indptr
    events = int(np.sum(indptr[spikes[:, 1] + 1] - indptr[spikes[:, 1]]))
    updates = net.n_neurons * steps
    return {
        "updates": updates,
        "events": events,
        "spikes": len(spikes),
        "full_s": full_s,
        "silent_s": silent_s,
        "ns_per_update": 1e9 * silent_s / updates,
        "ns_per_event": 1e9 * (full_s - silent_s) / events,
    }


def _median_range(values) -> str:
    return f"{statistics.median(values):.4f} ({min(values):.4f}-{max(values):.4f})"


def statistics_of(record: dict, duration: float) -> tuple[float, float]:
    from reservoir.metrics import firing_rate, isi_cv

    steps = np.asarray(record["steps"])
    return firing_rate(steps, 4000, duration), isi_cv(steps, np.asarray(record["neurons"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--brian-python",
        default=os.environ.get("BRIAN2_PYTHON", ".venv-brian2/bin/python"),
        help="interpreter of an environment with brian2 (numpy < 2.3)",
    )
    parser.add_argument("--duration", type=float, default=1.0, help="biological seconds per run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--targets",
        default="cpp_standalone,cpp_standalone:2,cython,numpy",
        help="Brian2 configurations to time: code generation targets (cython, numpy) and "
        "cpp_standalone[:THREADS] (C++ standalone; serial code, or THREADS OpenMP threads)",
    )
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--batch", type=int, default=2, help="trials per call of the batched timing (0: none)")
    parser.add_argument("--out", help="also write the report (markdown) here")
    args = parser.parse_args(argv)

    load_start = os.getloadavg()
    started = datetime.datetime.now(datetime.UTC)
    print(f"load average at the start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}", flush=True)
    lines = [
        f"# CUBA (Brette et al. 2007): reservoir-engine vs Brian2, {datetime.date.today()}",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.duration:g} s of biological time per run, "
        f"dt = 0.1 ms, seeds {list(range(1, args.seeds + 1))}, {args.repeats} timed runs each "
        "(medians).",
        "",
        "| simulator | rate (Hz) | ISI CV | synapses | wall s per bio s | ours faster by |",
        "|---|---|---|---|---|---|",
    ]
    # Seed by seed, ours then each Brian2 target: the two share the machine's load of the moment.
    seeds = range(1, args.seeds + 1)
    targets = args.targets.split(",")
    ours, theirs, failed, batched, counts = {}, {target: {} for target in targets}, {}, {}, {}
    for seed in seeds:
        ours[seed] = run_ours(args.duration, seed, args.repeats, args.backend)
        counts[seed] = physical_count(args.duration, seed, args.repeats, args.backend)
        if args.batch > 1:
            batched[seed] = run_ours_batched(args.duration, seed, args.repeats, args.backend, args.batch)
        for target in targets:
            if target in failed:
                continue
            try:
                theirs[target][seed] = run_brian2(args.brian_python, args.duration, seed, target, args.repeats)
            except Exception as error:  # one failing target must not lose the others
                failed[target] = str(error).splitlines()[-1][:80]
    our_rates, our_cvs = zip(*(statistics_of(ours[seed], args.duration) for seed in seeds))
    our_times = {
        key: statistics.median(t for seed in seeds for t in ours[seed][key]) / args.duration for key in OUR_CALLS
    }
    our_time = our_times["run_s"]
    our_cpu = statistics.median(t for seed in seeds for t in ours[seed]["run_cpu_s"]) / args.duration
    synapses = statistics.mean(ours[seed]["synapses"] for seed in seeds)
    rows = []
    for target in targets:
        if target in failed:
            rows.append(f"| Brian2 {target} | failed: {failed[target]} | | | | |")
            continue
        runs = theirs[target]
        rates, cvs = zip(*(statistics_of(runs[seed], args.duration) for seed in seeds))
        brian_times = [t / args.duration for seed in seeds for t in runs[seed]["run_s"]]
        wall = statistics.median(brian_times)
        build = statistics.median(runs[seed]["build_s"] for seed in seeds)
        brian_synapses = statistics.mean(runs[seed]["synapses"] for seed in seeds)
        rows.append(
            f"| Brian2 2.9 {target} (build {build:.1f} s, not timed) "
            f"| {np.mean(rates):.2f} ± {np.std(rates):.2f} "
            f"| {np.mean(cvs):.3f} ± {np.std(cvs):.3f} | {brian_synapses:,.0f} | {_median_range(brian_times)} "
            f"| {wall / our_time:.1f}x (spikes), {wall / our_times['run_default_s']:.1f}x (default), "
            f"{wall / our_times['run_every_step_s']:.1f}x (every step); "
            f"{wall / our_cpu:.1f}x against our CPU time (spikes) |"
        )
        rows.append(
            f"| rate / CV: ours vs Brian2 {target} | {np.mean(our_rates) / np.mean(rates) - 1:+.1%} "
            f"| {np.mean(our_cvs) / np.mean(cvs) - 1:+.1%} | | | |"
        )
    spikes_only = [t / args.duration for seed in seeds for t in ours[seed]["run_s"]]
    lines.append(
        f"| reservoir-engine {args.backend}, spikes only | {np.mean(our_rates):.2f} ± {np.std(our_rates):.2f} "
        f"| {np.mean(our_cvs):.3f} ± {np.std(our_cvs):.3f} | {synapses:,.0f} | {_median_range(spikes_only)} | |"
    )
    spikes_cpu = [t / args.duration for seed in seeds for t in ours[seed]["run_cpu_s"]]
    lines.append(
        f"| reservoir-engine {args.backend}, spikes only, process CPU time | | | | {_median_range(spikes_cpu)} | |"
    )
    if batched:
        per_trial = [t / args.duration / args.batch for seed in seeds for t in batched[seed]["run_s"]]
        lines.append(
            f"| reservoir-engine {args.backend}, {args.batch} trials in one call (spikes only), per trial "
            f"| | | | {_median_range(per_trial)} | {our_time / statistics.median(per_trial):.2f}x one trial |"
        )
    default_shape = ours[seeds[0]]["default_states"]
    lines.append(
        f"| reservoir-engine {args.backend}, default call: spikes and traces {default_shape} | | | | "
        f"{our_times['run_default_s']:.4f} | {our_times['run_default_s'] / our_time:.2f}x spikes only |"
    )
    lines.append(
        f"| reservoir-engine {args.backend}, spikes and every step's traces (sample_every=1) | | | | "
        f"{our_times['run_every_step_s']:.4f} | {our_times['run_every_step_s'] / our_time:.2f}x spikes only |"
    )
    lines.extend(rows)
    lines += [
        "",
        "Real time: reservoir-engine runs CUBA "
        f"{1 / our_time:.0f}x faster than biological time (spikes only) on this machine.",
    ]
    updates = statistics.mean(counts[seed]["updates"] for seed in seeds) / args.duration
    events = statistics.mean(counts[seed]["events"] for seed in seeds) / args.duration
    ns_update = [counts[seed]["ns_per_update"] for seed in seeds]
    ns_event = [counts[seed]["ns_per_event"] for seed in seeds]
    silent = statistics.median(counts[seed]["silent_s"] for seed in seeds) / args.duration
    full = statistics.median(counts[seed]["full_s"] for seed in seeds) / args.duration
    load_end = os.getloadavg()
    finished = datetime.datetime.now(datetime.UTC)
    lines += [
        "",
        f"Physical count per biological second: {updates:.2e} neuron updates (4,000 neurons x "
        f"{updates / 4000:,.0f} steps) and {events:.2e} synaptic events ({events / 80 / 4000:.1f} Hz x "
        "4,000 neurons x 80 targets, counted from the spikes). Measured with our kernel, seed by seed "
        "(CPU time of the thread, medians): "
        f"a run with the potentials held below threshold (the neuron updates, the threshold pass and "
        f"the traces, no spike) takes {silent:.4f} s, {statistics.median(ns_update):.3f} ns per neuron "
        f"update ({min(ns_update):.3f}-{max(ns_update):.3f}); the full run {full:.4f} s, the difference "
        f"{statistics.median(ns_event):.2f} ns per synaptic event ({min(ns_event):.2f}-{max(ns_event):.2f}; "
        "delivery, refractory hold and records together).",
        "",
        f"Load average (1, 5, 15 min) at the start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}, "
        f"at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f} "
        f"({started:%H:%M}-{finished:%H:%M} UTC). Times are medians with the range over all runs in brackets.",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report + "\n\nCommand: `python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]) + "`\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
