"""Leaky integrate-and-fire (LSM) kernel of the Numba-CUDA path (``lif.cu`` holds the same kernel in CUDA C).

One launch runs every step of every trial: grid (blocks per trial, trials). A trial's
neurons are cut into partitions, ranges of ``settings.gpu_lif_neurons_per_block``
(a multiple of 32; :func:`~.._gpu_layout.plan_lif_blocks`), each worked on by one
block for the whole launch. A step is

A) :func:`update_phase`: update and threshold of the partition's neurons; its spikes
   are written, in ascending order, from the partition's first position on in the
   step's list (a block prefix sum per tile of neurons), and their number beside it;
   barrier;
B) propagation: "push" (:func:`push_phase`, the default): warps scatter the spikes'
   rows with atomics, then a second barrier (without delays or input spikes, into the
   currents directly, as the reference does); "pull" (:func:`pull_phase`): each target
   binary-searches itself in the rows of the step's spikes, read partition after
   partition, which is ascending order: the reference's, with no sort;
C) :func:`deliver_phase`: input spikes, delivery of the step's ring slot, reset,
   traces, states.

The lists alternate between two buffers, so that one barrier per step (pull)
separates a step's readers from the next step's writers. With one block per trial the
barrier is ``syncthreads`` and the launch an ordinary one (:data:`lif_run_blocks`);
with several, the grid sync of a cooperative launch (:data:`lif_run_grid`, see
``barrier.py``), which every block of the grid must reach: all blocks run the same
steps, from the earliest trial's position, and a trial works from its own position
until it stops (its spike records could overflow; the host grows them and launches
again from where it stopped). Under the CUDA simulator (one block at a time) the one
block of a trial works on all its partitions in turn (:func:`_lif_plan`).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda, int32

from ...config import settings
from .. import _gpu_layout as layout
from .barrier import block_sync, co_resident_blocks, grid_sync, launch_cooperative
from .device import add_rn, cast_like, mul_rn
from .transfers import SIMULATOR, is_device, on_device, write_back

#: Shared scratch of the block prefix sum: one int per thread of the largest block.
SCAN_SCRATCH = layout.MAX_THREADS_PER_BLOCK


# --------------------------------------------------------------------------- device code
@cuda.jit(device=True)
def input_drive(in_indptr, in_indices, in_data, inputs, b, t, i):
    """W_in row i (pull layout) times trial b's inputs at step t, channels in ascending order."""
    drive = cast_like(0, in_data[0])
    for k in range(in_indptr[i], in_indptr[i + 1]):
        drive = add_rn(drive, mul_rn(in_data[k], inputs[b, t, in_indices[k]]))
    return drive


@cuda.jit(device=True)
def block_exclusive_scan(value, scratch):
    """(sum of `value` over the threads before this one, sum over the block): a Hillis-Steele
    scan in shared memory, log2(threads) rounds (CUDA C counts a warp with one ballot instead;
    this path uses only what the CUDA simulator also has)."""
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    scratch[tid] = value
    cuda.syncthreads()
    offset = 1
    while offset < threads:
        earlier = scratch[tid - offset] if tid >= offset else 0
        cuda.syncthreads()
        scratch[tid] += earlier
        cuda.syncthreads()
        offset *= 2
    inclusive = scratch[tid]
    total = scratch[threads - 1]
    cuda.syncthreads()  # scratch is reused by the next call
    return inclusive - value, total


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
    scratch,
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
    """A) exact integration (refractory neurons hold), decays, threshold of neurons [begin, end):
    their spikes go to list `which` from position `begin` on, in ascending order (a block prefix
    sum per tile of blockDim.x neurons, so no sort is needed to read them in the reference's
    order). Returns how many spiked (the same in every thread)."""
    found = 0
    for tile in range(begin, end, cuda.blockDim.x):  # the same tiles in every thread: the scan needs all
        i = tile + cuda.threadIdx.x
        fired = 0
        if i < end:
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
                fired = 1
        before, total = block_exclusive_scan(fired, scratch)
        if fired:
            spike_lists[b, which, begin + found + before] = i
        found += total
    return found


@cuda.jit(device=True)
def spikes_before(spike_counts, b, which, partition):
    """Spikes of the step in the partitions before `partition` (where its spikes start in the
    step's concatenated, ascending list)."""
    before = 0
    for q in range(partition):
        before += spike_counts[b, which, q]
    return before


@cuda.jit(device=True)
def push_phase(
    b,
    which,
    partitions,
    part_size,
    slot,
    direct,
    n_exc,
    spike_lists,
    spike_counts,
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
    arrivals at a synapse varies, so sums may differ from the reference in the last bits).
    The trial's warps take the step's spikes, partition after partition, round robin."""
    slots = ring_exc.shape[1]
    lane = cuda.threadIdx.x % 32
    warp = (cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x) // 32
    warps = cuda.gridDim.x * cuda.blockDim.x // 32
    offset = 0  # spikes of the partitions before q
    for q in range(partitions):
        spiked = spike_counts[b, which, q]
        first = ((warp - offset) % warps + warps) % warps  # this warp's first spike of partition q
        for s in range(first, spiked, warps):
            j = spike_lists[b, which, q * part_size + s]
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
        offset += spiked


@cuda.jit(device=True)
def pull_phase(
    b,
    which,
    partitions,
    part_size,
    slot,
    direct,
    n_exc,
    begin,
    end,
    spike_lists,
    spike_counts,
    push_indptr,
    push_indices,
    push_data,
    delays,
    i_exc,
    i_inh,
    ring_exc,
    ring_inh,
):
    """B, pull) each target of [begin, end) binary-searches itself in the rows of the step's
    spikes, read partition after partition (ascending neurons: the reference's order), and adds."""
    slots = ring_exc.shape[1]
    for i in range(begin + cuda.threadIdx.x, end, cuda.blockDim.x):
        for q in range(partitions):
            for s in range(spike_counts[b, which, q]):
                j = spike_lists[b, which, q * part_size + s]
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
        spike_counts,
        partitions,
        part_size,
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
    ):
        """Trial blockIdx.y from step positions[b]; stops early when its records could overflow
        (positions/counts tell where it stopped: the host grows the records and launches again).
        Its neurons are cut into `partitions` ranges of `part_size`; block x works on partitions
        x, x + gridDim.x, ... (on a GPU one each; under the simulator one block takes them all)."""
        b = cuda.blockIdx.y
        tid = cuda.threadIdx.x
        n = v.shape[1]
        slots = ring_exc.shape[1]
        lead = cuda.blockIdx.x == 0 and tid == 0
        scratch = cuda.shared.array(SCAN_SCRATCH, int32)
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
            # Two lists: step t + 1 writes the other; step t + 2 writes this one only after
            # the barrier of step t + 1, which every block reaches after its reads of step t.
            which = t % 2
            if working:
                for p in range(cuda.blockIdx.x, partitions, cuda.gridDim.x):
                    begin = p * part_size
                    begin = n if begin > n else begin
                    end = begin + part_size
                    end = n if end > n else end
                    found = update_phase(
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
                        scratch,
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
                    if tid == 0:
                        spike_counts[b, which, p] = found
            trial_sync()
            spiked = 0
            if working:
                spiked = spikes_before(spike_counts, b, which, partitions)
                if record_spikes:  # each block its own partitions' spikes, in ascending order
                    for p in range(cuda.blockIdx.x, partitions, cuda.gridDim.x):
                        first = count + spikes_before(spike_counts, b, which, p)
                        for s in range(tid, spike_counts[b, which, p], cuda.blockDim.x):
                            records[b, first + s, 0] = t
                            records[b, first + s, 1] = spike_lists[b, which, p * part_size + s]
                if push_variant:
                    push_phase(
                        b,
                        which,
                        partitions,
                        part_size,
                        slot,
                        direct,
                        n_exc,
                        spike_lists,
                        spike_counts,
                        push_indptr,
                        push_indices,
                        push_data,
                        delays,
                        i_exc,
                        i_inh,
                        ring_exc,
                        ring_inh,
                    )
            if push_variant:  # the scattered arrivals reach every block before delivery
                trial_sync()
            if working:
                for p in range(cuda.blockIdx.x, partitions, cuda.gridDim.x):
                    begin = p * part_size
                    begin = n if begin > n else begin
                    end = begin + part_size
                    end = n if end > n else end
                    if not push_variant:
                        pull_phase(
                            b,
                            which,
                            partitions,
                            part_size,
                            slot,
                            direct,
                            n_exc,
                            begin,
                            end,
                            spike_lists,
                            spike_counts,
                            push_indptr,
                            push_indices,
                            push_data,
                            delays,
                            i_exc,
                            i_inh,
                            ring_exc,
                            ring_inh,
                        )
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


def _lif_plan(args, lif: layout.LifSettings, batch: int, n: int):
    """(blocks per trial, partitions of a trial, neurons per partition, threads) of the LIF kernel.

    On a GPU each block works on one partition. The CUDA simulator runs one block at a time,
    so there a grid barrier holds a single block: the partitions the settings plan (without a
    co-residency cap) are all worked on by that block, in turn, which runs the multi-block
    code (ranges, ordered lists across partitions, records) with a block barrier."""
    threads = lif.threads
    kwargs = dict(single_block_max_neurons=lif.single_block_max_neurons, neurons_per_block=lif.neurons_per_block)
    if SIMULATOR:
        plan = layout.plan_lif_blocks(n, batch, batch * n, **kwargs)
        return 1, plan.blocks, plan.neurons_per_block, threads
    if n <= lif.single_block_max_neurons:
        return 1, 1, n, threads
    compiled = lif_run_grid.compile(tuple(numba.typeof(a) for a in args))
    threads = max(32, min(threads, compiled.max_threads_per_block) // 32 * 32)
    plan = layout.plan_lif_blocks(n, batch, co_resident_blocks(lif_run_grid, args, threads)(0), **kwargs)
    return plan.blocks, plan.blocks, plan.neurons_per_block, threads


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
    lif = layout.lif_settings(settings)
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

    def arguments(records, partitions, part_size):
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
            spike_lists,
            cuda.device_array((batch, 2, partitions), np.int32),
            np.int32(partitions),
            np.int32(part_size),
            *scalars,
            hold_after_spike,
            np.bool_(lif.push),
        )

    spike_lists = cuda.device_array((batch, 2, n), np.int32)
    blocks, partitions, part_size, threads = _lif_plan(arguments(records, 1, n), lif, batch, n)
    kernel = kernel_for(blocks)
    while True:
        if kernel is lif_run_grid:
            launch_cooperative(
                kernel, "lif_run", (blocks, batch), threads, 0, arguments(records, partitions, part_size)
            )
        else:
            kernel[(blocks, batch), threads](*arguments(records, partitions, part_size))
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
