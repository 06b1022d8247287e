"""Leaky integrate-and-fire (LSM) kernel of the Numba-CUDA path (``lif.cu`` holds the same kernel in CUDA C).

One launch runs every step of every trial: grid (blocks per trial, trials), each block
owning a fixed range of its trial's neurons. A step is

A) :func:`update_phase`: update and threshold of the block's neurons, spikes appended
   to the step's list with an atomic counter; barrier;
B) propagation: "pull" (:func:`pull_phase`): every block sorts the list into shared
   memory and each target binary-searches itself in the spikes' rows, adding in the
   reference's order; "push" (:func:`push_phase`): warps scatter the spikes' rows with
   atomics, then a second barrier (without delays or input spikes, into the currents
   directly, as the reference does);
C) :func:`deliver_phase`: input spikes, delivery of the step's ring slot, reset,
   traces, states.

Lists and counters rotate over three buffers, so that one barrier per step (pull)
separates a step's readers from the next step's writers. With one block per trial the
barrier is ``syncthreads`` and the launch an ordinary one (:data:`lif_run_blocks`);
with several, the grid sync of a cooperative launch (:data:`lif_run_grid`, see
``barrier.py``), which every block of the grid must reach: all blocks run the same
steps, from the earliest trial's position, and a trial works from its own position
until it stops (its spike records could overflow; the host grows them and launches
again from where it stopped).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda, int32

from ...config import settings
from .. import _gpu_layout as layout
from .barrier import block_sync, co_resident_blocks, grid_sync, launch_cooperative
from .device import add_rn, block_range, cast_like, mul_rn
from .transfers import SIMULATOR, is_device, on_device, write_back


# --------------------------------------------------------------------------- device code
@cuda.jit(device=True)
def input_drive(in_indptr, in_indices, in_data, inputs, b, t, i):
    """W_in row i (pull layout) times trial b's inputs at step t, channels in ascending order."""
    drive = cast_like(0, in_data[0])
    for k in range(in_indptr[i], in_indptr[i + 1]):
        drive = add_rn(drive, mul_rn(in_data[k], inputs[b, t, in_indices[k]]))
    return drive


@cuda.jit(device=True)
def update_phase(
    b,
    t,
    which,
    begin,
    end,
    current_input,
    in_indptr,
    in_indices,
    in_data,
    inputs,
    v,
    i_exc,
    i_inh,
    hold,
    trace,
    spike_lists,
    spike_counters,
    v_rest,
    v_thresh,
    decay_m,
    gain_exc,
    gain_inh,
    gain_ext,
    decay_exc,
    decay_inh,
    decay_trace,
):
    """A) exact integration (refractory neurons hold), decays, threshold: spikes into list `which`."""
    for i in range(begin + cuda.threadIdx.x, end, cuda.blockDim.x):
        i_ext = cast_like(0, v_rest)
        if current_input:
            i_ext = input_drive(in_indptr, in_indices, in_data, inputs, b, t, i)
        integrated = add_rn(
            add_rn(
                add_rn(add_rn(v_rest, mul_rn(v[b, i] - v_rest, decay_m)), mul_rn(i_exc[b, i], gain_exc)),
                mul_rn(i_inh[b, i], gain_inh),
            ),
            mul_rn(i_ext, gain_ext),
        )
        if hold[b, i] == 0:
            v[b, i] = integrated
        else:
            hold[b, i] -= 1
        i_exc[b, i] = mul_rn(i_exc[b, i], decay_exc)
        i_inh[b, i] = mul_rn(i_inh[b, i], decay_inh)
        trace[b, i] = mul_rn(trace[b, i], decay_trace)
        if v[b, i] > v_thresh:
            spike_lists[b, which, cuda.atomic.add(spike_counters, (b, which), 1)] = i


@cuda.jit(device=True)
def push_phase(
    b,
    which,
    spiked,
    slot,
    direct,
    n_exc,
    spike_lists,
    push_indptr,
    push_indices,
    push_data,
    delays,
    i_exc,
    i_inh,
    ring_exc,
    ring_inh,
):
    """B, push) a warp per spike scatters its row with atomics (the order of one step's
    arrivals at a synapse varies, so sums may differ from the reference in the last bits)."""
    slots = ring_exc.shape[1]
    lane = cuda.threadIdx.x % 32
    warp = (cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x) // 32
    warps = cuda.gridDim.x * cuda.blockDim.x // 32
    for s in range(warp, spiked, warps):
        j = spike_lists[b, which, s]
        for k in range(push_indptr[j] + lane, push_indptr[j + 1], 32):
            arrival = slot + delays[k]  # delays < slots: a subtraction, not a modulo
            if arrival >= slots:
                arrival -= slots
            if direct:
                if j < n_exc:
                    cuda.atomic.add(i_exc, (b, push_indices[k]), push_data[k])
                else:
                    cuda.atomic.add(i_inh, (b, push_indices[k]), push_data[k])
            elif j < n_exc:
                cuda.atomic.add(ring_exc, (b, arrival, push_indices[k]), push_data[k])
            else:
                cuda.atomic.add(ring_inh, (b, arrival, push_indices[k]), push_data[k])


@cuda.jit(device=True)
def pull_phase(
    b,
    which,
    spiked,
    slot,
    direct,
    n_exc,
    begin,
    end,
    chunk,
    sorted_spikes,
    spike_lists,
    push_indptr,
    push_indices,
    push_data,
    delays,
    i_exc,
    i_inh,
    ring_exc,
    ring_inh,
):
    """B, pull) the step's spikes rank-sorted into shared memory `chunk` at a time; each of the
    block's targets binary-searches itself in their rows and adds in the reference's order."""
    slots = ring_exc.shape[1]
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    for first in range(0, spiked, chunk):
        # Rank sort (neurons are unique within a step): positions [first, first + chunk).
        for s in range(tid, spiked, threads):
            j = spike_lists[b, which, s]
            rank = 0
            for m in range(spiked):
                if spike_lists[b, which, m] < j:
                    rank += 1
            if rank >= first and rank < first + chunk:
                sorted_spikes[rank - first] = j
        cuda.syncthreads()
        last = spiked - first
        last = chunk if last > chunk else last
        for i in range(begin + tid, end, threads):
            for r in range(last):
                j = sorted_spikes[r]
                low = push_indptr[j]
                high = push_indptr[j + 1]
                row_end = high
                while low < high:
                    middle = (low + high) // 2
                    if push_indices[middle] < i:
                        low = middle + 1
                    else:
                        high = middle
                while low < row_end and push_indices[low] == i:
                    arrival = slot + delays[low]
                    if arrival >= slots:
                        arrival -= slots
                    if direct:
                        if j < n_exc:
                            i_exc[b, i] = add_rn(i_exc[b, i], push_data[low])
                        else:
                            i_inh[b, i] = add_rn(i_inh[b, i], push_data[low])
                    elif j < n_exc:
                        ring_exc[b, arrival, i] = add_rn(ring_exc[b, arrival, i], push_data[low])
                    else:
                        ring_inh[b, arrival, i] = add_rn(ring_inh[b, arrival, i], push_data[low])
                    low += 1
        cuda.syncthreads()


@cuda.jit(device=True)
def deliver_phase(
    b,
    t,
    slot,
    begin,
    end,
    has_input,
    input_spikes,
    in_indptr,
    in_indices,
    in_data,
    inputs,
    v,
    i_exc,
    i_inh,
    hold,
    ring_exc,
    ring_inh,
    trace,
    out,
    record_states,
    window,
    v_thresh,
    v_reset,
    hold_after_spike,
):
    """C) input spikes, delivery of this step's ring slot, reset, traces, states."""
    zero = cast_like(0, v_reset)
    one = cast_like(1, v_reset)
    for i in range(begin + cuda.threadIdx.x, end, cuda.blockDim.x):
        if has_input and input_spikes:
            ring_exc[b, slot, i] = add_rn(
                ring_exc[b, slot, i], input_drive(in_indptr, in_indices, in_data, inputs, b, t, i)
            )
        i_exc[b, i] = add_rn(i_exc[b, i], ring_exc[b, slot, i])
        i_inh[b, i] = add_rn(i_inh[b, i], ring_inh[b, slot, i])
        ring_exc[b, slot, i] = zero
        ring_inh[b, slot, i] = zero
        if v[b, i] > v_thresh:
            v[b, i] = v_reset
            hold[b, i] = hold_after_spike
            trace[b, i] = add_rn(trace[b, i], one)
            if record_states and window > 0:
                out[b, t // window, i] += one
        if record_states and window == 0:
            out[b, t, i] = trace[b, i]


def _lif_kernel(trial_sync):
    """The LIF kernel with `trial_sync` as its barrier: block_sync (one block per trial, an
    ordinary launch) or grid_sync (several, a cooperative launch)."""

    @cuda.jit
    def lif_run(
        push_indptr,
        push_indices,
        push_data,
        delays,
        n_exc,
        in_indptr,
        in_indices,
        in_data,
        inputs,
        steps,
        has_input,
        input_spikes,
        v,
        i_exc,
        i_inh,
        hold,
        ring_exc,
        ring_inh,
        trace,
        step0,
        out,
        record_states,
        window,
        record_spikes,
        records,
        counts,
        positions,
        spike_lists,
        spike_counters,
        v_rest,
        v_reset,
        v_thresh,
        decay_m,
        gain_exc,
        gain_inh,
        gain_ext,
        decay_exc,
        decay_inh,
        decay_trace,
        hold_after_spike,
        push_variant,
        chunk,
    ):
        """Trial blockIdx.y from step positions[b]; stops early when its records could overflow
        (positions/counts tell where it stopped: the host grows the records and launches again)."""
        b = cuda.blockIdx.y
        tid = cuda.threadIdx.x
        n = v.shape[1]
        slots = ring_exc.shape[1]
        begin, end, _ = block_range(n)
        lead = cuda.blockIdx.x == 0 and tid == 0
        sorted_spikes = cuda.shared.array(0, int32)
        current_input = has_input and not input_spikes
        # The reference's rule: without delays or input spikes, spikes add straight into the
        # currents (an empty ring slot added afterwards changes nothing: x + 0 == x).
        direct = slots == 1 and not input_spikes
        own_first = positions[b]
        t = own_first
        for c in range(positions.shape[0]):
            t = positions[c] if positions[c] < t else t
        stop = steps  # where this trial stops: the end, or a step that could overflow its records
        count = counts[b]
        while t < steps:
            working = t >= own_first and t < stop  # the same in every block of the trial
            if working and record_spikes and records.shape[1] - count < n:
                stop = t
                working = False
            slot = (step0 + t) % slots
            which = t % 3
            if working:
                update_phase(
                    b,
                    t,
                    which,
                    begin,
                    end,
                    current_input,
                    in_indptr,
                    in_indices,
                    in_data,
                    inputs,
                    v,
                    i_exc,
                    i_inh,
                    hold,
                    trace,
                    spike_lists,
                    spike_counters,
                    v_rest,
                    v_thresh,
                    decay_m,
                    gain_exc,
                    gain_inh,
                    gain_ext,
                    decay_exc,
                    decay_inh,
                    decay_trace,
                )
            trial_sync()
            spiked = spike_counters[b, which] if working else 0
            if working and lead:  # the buffer of step t + 2, last read in step t - 1 (before this barrier)
                spike_counters[b, (t + 2) % 3] = 0
            if record_spikes and cuda.blockIdx.x == 0:  # any order: the host sorts each step's records
                for s in range(tid, spiked, cuda.blockDim.x):
                    records[b, count + s, 0] = t
                    records[b, count + s, 1] = spike_lists[b, which, s]
            if push_variant:
                push_phase(
                    b,
                    which,
                    spiked,
                    slot,
                    direct,
                    n_exc,
                    spike_lists,
                    push_indptr,
                    push_indices,
                    push_data,
                    delays,
                    i_exc,
                    i_inh,
                    ring_exc,
                    ring_inh,
                )
                trial_sync()
            else:
                pull_phase(
                    b,
                    which,
                    spiked,
                    slot,
                    direct,
                    n_exc,
                    begin,
                    end,
                    chunk,
                    sorted_spikes,
                    spike_lists,
                    push_indptr,
                    push_indices,
                    push_data,
                    delays,
                    i_exc,
                    i_inh,
                    ring_exc,
                    ring_inh,
                )
            if working:
                deliver_phase(
                    b,
                    t,
                    slot,
                    begin,
                    end,
                    has_input,
                    input_spikes,
                    in_indptr,
                    in_indices,
                    in_data,
                    inputs,
                    v,
                    i_exc,
                    i_inh,
                    hold,
                    ring_exc,
                    ring_inh,
                    trace,
                    out,
                    record_states,
                    window,
                    v_thresh,
                    v_reset,
                    hold_after_spike,
                )
                if record_spikes:
                    count += spiked
            t += 1
        if lead:
            positions[b] = stop
            counts[b] = count

    return lif_run


#: One block per trial: syncthreads between phases, an ordinary launch of any number of trials.
lif_run_blocks = _lif_kernel(block_sync)
#: Several blocks per trial: the grid sync, a cooperative launch of every block of every trial.
lif_run_grid = _lif_kernel(grid_sync)


# --------------------------------------------------------------------------- host driver
def kernel_for(blocks_per_trial: int):
    """The LIF kernel variant a grid of `blocks_per_trial` blocks per trial needs."""
    return lif_run_blocks if blocks_per_trial == 1 else lif_run_grid


def _lif_plan(args, batch: int, n: int):
    """(blocks per trial, threads, spike chunk, shared bytes) of the LIF kernel."""
    threads = layout.checked_threads_per_block(
        settings.gpu_lif_threads_per_block, "settings.gpu_lif_threads_per_block", power_of_two=False
    )
    chunk = max(1, min(settings.gpu_lif_spike_chunk, n))
    shared_bytes = 4 * chunk
    if SIMULATOR or n <= settings.gpu_lif_single_block_max_neurons:
        return 1, threads, chunk, shared_bytes
    compiled = lif_run_grid.compile(tuple(numba.typeof(a) for a in args))
    threads = max(32, min(threads, compiled.max_threads_per_block) // 32 * 32)
    max_blocks = co_resident_blocks(lif_run_grid, args, threads)(shared_bytes)
    blocks = layout.plan_lif_blocks(
        n,
        batch,
        max_blocks,
        single_block_max_neurons=settings.gpu_lif_single_block_max_neurons,
        neurons_per_block=settings.gpu_lif_neurons_per_block,
    )
    return blocks, threads, chunk, shared_bytes


# --------------------------------------------------------------------------- public functions
def prepare_lsm(push, delays, n_exc: int, W_in) -> layout.GpuLifWeights:
    """Push rows sorted by target and W_in in pull layout, on the device."""
    lif = layout.lif_layout(push, delays, n_exc, W_in)

    def to_device(array):  # a zero-length array still needs a device buffer
        return cuda.to_device(array if array.shape[0] else np.zeros(1, dtype=array.dtype))

    return layout.GpuLifWeights(
        lif,
        tuple(to_device(a) for a in (lif.push_indptr, lif.push_indices, lif.push_data, lif.delays)),
        tuple(to_device(a) for a in (lif.in_indptr, lif.in_indices, lif.in_data)),
    )


def lsm_run(
    weights: layout.GpuLifWeights,
    params: tuple,
    inputs,
    input_spikes: bool,
    state,
    out,
    window: int,
    record_spikes: bool,
):
    """Same contract as ``reference.lsm_run``: advance every trial over all of `inputs`.

    `state` (``kernels.lif.LifState``) may hold NumPy arrays (copied to the device and
    back) or device arrays (advanced in place); `inputs` and `out` likewise. The whole
    call is one kernel launch, again only when a trial's spike records fill up.
    """
    dtype = weights.dtype
    push_variant = layout.is_push_propagation(settings.gpu_lif_propagation)
    batch, steps = inputs.shape[0], inputs.shape[1]
    n = weights.layout.n
    has_input = weights.has_input and inputs.shape[2] > 0
    u = on_device(inputs, dtype) if has_input else cuda.to_device(np.zeros((1, 1, 1), dtype))
    names = ("v", "i_exc", "i_inh", "refractory", "ring_exc", "ring_inh", "trace")
    arrays = {name: on_device(getattr(state, name), np.int32 if name == "refractory" else dtype) for name in names}
    record_states = out is not None
    if not record_states:
        states = cuda.to_device(np.zeros((1, 1, 1), dtype))
    elif window == 0 and not is_device(out):  # traces overwrite every element: nothing to copy in
        states = cuda.device_array(out.shape, dtype)
    else:  # counts are added to what `out` holds
        states = on_device(out, dtype)
    capacity = layout.lif_record_capacity(n, steps) if record_spikes else 1
    records = cuda.device_array((batch, capacity, 2), np.int32)
    counts = cuda.to_device(np.zeros(batch, dtype=np.int64))
    positions = cuda.to_device(np.zeros(batch, dtype=np.int64))
    (
        v_rest,
        v_reset,
        v_thresh,
        decay_m,
        gain_exc,
        gain_inh,
        gain_ext,
        decay_exc,
        decay_inh,
        decay_trace,
        refractory_steps,
    ) = params
    scalars = tuple(
        dtype.type(x)
        for x in (v_rest, v_reset, v_thresh, decay_m, gain_exc, gain_inh, gain_ext, decay_exc, decay_inh, decay_trace)
    )
    hold_after_spike = np.int32(max(int(refractory_steps) - 1, 0))

    def arguments(records, chunk):
        return (
            *weights.push,
            np.int32(weights.layout.n_exc),
            *weights.inputs,
            u,
            np.int64(steps),
            np.bool_(has_input),
            np.bool_(input_spikes),
            arrays["v"],
            arrays["i_exc"],
            arrays["i_inh"],
            arrays["refractory"],
            arrays["ring_exc"],
            arrays["ring_inh"],
            arrays["trace"],
            np.int64(state.step),
            states,
            np.bool_(record_states),
            np.int64(window),
            np.bool_(record_spikes),
            records,
            counts,
            positions,
            cuda.to_device(np.zeros((batch, 3, n), np.int32)),
            cuda.to_device(np.zeros((batch, 3), np.int32)),
            *scalars,
            hold_after_spike,
            np.bool_(push_variant),
            np.int32(chunk),
        )

    blocks, threads, chunk, shared_bytes = _lif_plan(arguments(records, 1), batch, n)
    kernel = kernel_for(blocks)
    while True:
        if kernel is lif_run_grid:
            launch_cooperative(kernel, "lif_run", (blocks, batch), threads, shared_bytes, arguments(records, chunk))
        else:
            kernel[(blocks, batch), threads, 0, shared_bytes](*arguments(records, chunk))
        reached = positions.copy_to_host()
        if np.all(reached == steps):
            break
        # A trial stopped with its records nearly full: double them and go on from where it stopped.
        grown = np.empty((batch, 2 * records.shape[1], 2), dtype=np.int32)
        grown[:, : records.shape[1]] = records.copy_to_host()
        records = cuda.to_device(grown)
    for name in names:
        if not is_device(getattr(state, name)):
            write_back(getattr(state, name), arrays[name])
    if record_states and not is_device(out):
        write_back(out, states)
    state.step += steps
    if not record_spikes:
        return None
    spike_counts = counts.copy_to_host()
    host = records.copy_to_host()
    return [layout.spikes_in_step_order(host[b, : spike_counts[b]]) for b in range(batch)]
