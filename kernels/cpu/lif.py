"""Numba CPU path for spiking LIF networks: the whole time loop in compiled code.

Same contract as ``reference.lsm_run``; see the comment below for the step order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _prefetch(typingctx, array, index):
    """Ask the cache for the line holding ``array[index]`` (LLVM's prefetch: read, keep)."""

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]], wraparound=False)
        byte_pointer = ir.PointerType(ir.IntType(8))
        int32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]), "llvm.prefetch.p0"
        )
        builder.call(prefetch, [builder.bitcast(pointer, byte_pointer), int32(0), int32(3), int32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit(inline="always")
def _prefetch_rows(spiked, n_spiked, indptr, indices, data, delays, with_delays):
    """Every cache line of the push rows of this step's spikes, requested at once: the rows
    (80 synapses each for CUBA) are in the outer caches or memory, and issued together
    their misses overlap instead of following one another row by row."""
    for s in range(n_spiked):
        j = spiked[s]
        start, stop = indptr[j], indptr[j + 1]
        for k in range(start, stop + 15, 16):  # 16 int32 / float32 per 64-byte line, the last one too
            k = min(k, stop - 1)
            _prefetch(indices, k)
            _prefetch(data, k)
            if with_delays:
                _prefetch(delays, k)


# --------------------------------------------------------------------------- LIF (spiking) networks
# The step order and the arithmetic are those of reference.lsm_run, operation for
# operation and without fastmath (no fused multiply-adds, no reassociation), so the
# two paths give the same spikes bit for bit. Event-driven: only neurons that spiked
# push to their targets (rows of the push matrix are presynaptic), so synaptic work
# follows the spike count. A step's neuron loops are branch-free and vectorise; the
# parallelism is over trials: one trial's step (4000 neurons: a few microseconds) is
# shorter than starting a parallel region.
@njit(inline="always")
def _lif_update(i, params, v, i_exc, i_inh, drive, current_input):
    """1. of the step for neuron i (exact integration), and the synaptic decays.

    Every neuron integrates here, refractory ones too, and ``_hold_refractory`` then puts
    back the held potentials of the few that are refractory: a select on the refractory
    state inside this loop took about half the loop's time again. The traces are not
    touched here (``_replay_traces``): three arrays of n stream through the cache per step
    instead of four.
    """
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
    integrated = v_rest + (v[i] - v_rest) * decay_m + i_exc[i] * gain_exc + i_inh[i] * gain_inh
    if current_input:
        integrated += drive[i] * gain_ext
    v[i] = integrated
    i_exc[i] *= decay_exc
    i_inh[i] *= decay_inh


@njit(inline="always")
def _hold_refractory(t, v, held, held_v, held_until, entry_of, n_held):
    """Put back the potential of each neuron still refractory at step t (t < its free step);
    drop the entries of those that integrate from t on. Returns the entries left."""
    k = 0
    while k < n_held:
        if t < held_until[k]:
            v[held[k]] = held_v[k]
            k += 1
        else:  # free: its integration stands; the last entry takes this place
            n_held -= 1
            held[k] = held[n_held]
            held_v[k] = held_v[n_held]
            held_until[k] = held_until[n_held]
            entry_of[held[k]] = k
    return n_held


@njit(inline="always")
def _replay_traces(decay_trace, trace, records, first, last, begin, end, steps, out, write, sample_every):
    """5. of steps begin..end-1, from their spike records: ``trace <- trace P_trace + spiked``
    (the same operations in the same order as in the time loop), the sampled rows into `out`.

    Alone, the n traces stay in the first-level cache; in the neuron update they were a
    fourth array streamed per step (a tenth of the whole run's time for CUBA).
    """
    n = trace.shape[0]
    one = trace.dtype.type(1)
    k = first
    for t in range(begin, end):
        for i in range(n):
            trace[i] *= decay_trace
        while k < last and records[k, 0] == t:
            trace[records[k, 1]] += one
            k += 1
        if write and ((t + 1) % sample_every == 0 or t + 1 == steps):  # the last step of a sample block
            row = t // sample_every
            for i in range(n):
                out[row, i] = trace[i]


@njit(cache=True)
def _lif_trial(
    push_indptr,
    push_indices,
    push_data,
    delays,
    n_exc,
    in_indptr,
    in_indices,
    in_data,
    params,
    inputs,
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
    sample_every,
    record_spikes,
    records,
    count,
    begin,
):
    """Advance one trial from step `begin`; stop early when `records` could overflow.

    Returns (step reached, spike count). One vectorised pass over the neurons per step
    does the previous step's delivery (deferred to here: same arithmetic, one pass
    fewer), the update and the decays; spikes then visit only their targets.
    """
    v_reset, v_thresh, refractory_steps = params[1], params[2], params[10]
    first_record = count
    n = v.shape[0]
    slots = ring_exc.shape[0]
    zero = v.dtype.type(0)
    one = v.dtype.type(1)
    # Refractory counters become the local step at which each neuron integrates again,
    # converted back when the call ends.
    free_after_spike = np.int32(max(refractory_steps, 1))
    free_at = np.empty(n, dtype=np.int32)
    # The refractory neurons: index, held potential, free step (``_hold_refractory``).
    # One entry per neuron at most: entry_of[i] is neuron i's while it is held.
    held = np.empty(n, dtype=np.int64)
    held_v = np.empty(n, dtype=v.dtype)
    held_until = np.empty(n, dtype=np.int32)
    entry_of = np.empty(n, dtype=np.int64)
    n_held = 0
    for i in range(n):
        free_at[i] = np.int32(begin + hold[i])
        if hold[i] > 0:
            entry_of[i] = n_held
            held[n_held] = i
            held_v[n_held] = v[i]
            held_until[n_held] = free_at[i]
            n_held += 1
    drive = np.zeros(n, dtype=v.dtype)
    spiked = np.empty(n, dtype=np.int64)
    # The threshold marks, one byte per neuron, padded to whole groups of 64 (8 words).
    above = np.zeros(-(-n // 64) * 64, dtype=np.uint8)
    above_words = above.view(np.uint64)
    steps = inputs.shape[0]
    has_input = in_indices.shape[0] > 0 and inputs.shape[1] > 0
    current_input = has_input and not input_spikes
    # Without delays or input spikes, spikes go straight into the currents (no ring sweep).
    sweep_ring = slots > 1 or (has_input and input_spikes)
    t = begin
    while t < steps:
        if records.shape[0] - count < n:
            break
        t32 = np.int32(t)
        slot = (step0 + t) % slots
        previous = slot - 1 if slot > 0 else slots - 1
        if has_input:  # the input matrix in push layout: silent channels (no input spike) cost nothing
            for i in range(n):
                drive[i] = zero
            for c in range(inputs.shape[1]):
                x = inputs[t, c]
                if x != zero:
                    for k in range(in_indptr[c], in_indptr[c + 1]):
                        drive[in_indices[k]] += in_data[k] * x
        # (3. of the previous step) delivery; 1. update -- branch-free, so it vectorises.
        # At a call's first step the previous slot was delivered already and holds zeros.
        if sweep_ring:
            for i in range(n):
                i_exc[i] += ring_exc[previous, i]
                i_inh[i] += ring_inh[previous, i]
                ring_exc[previous, i] = zero
                ring_inh[previous, i] = zero
                _lif_update(i, params, v, i_exc, i_inh, drive, current_input)
        elif current_input:  # one loop per case: a branch inside kept the loop from vectorising
            for i in range(n):
                _lif_update(i, params, v, i_exc, i_inh, drive, True)
        else:
            for i in range(n):
                _lif_update(i, params, v, i_exc, i_inh, drive, False)
        n_held = _hold_refractory(t32, v, held, held_v, held_until, entry_of, n_held)
        # 2. threshold: one byte per neuron (a vector pass; a count or a max across the loop
        # does not vectorise), then only the groups of 64 neurons that hold a mark are read
        for i in range(n):
            above[i] = v[i] > v_thresh
        n_spiked = 0
        for group in range(above_words.shape[0] // 8):
            marks = np.uint64(0)
            for w in range(8 * group, 8 * group + 8):
                marks |= above_words[w]
            if marks:
                for i in range(64 * group, min(64 * group + 64, n)):
                    if above[i]:
                        spiked[n_spiked] = i
                        n_spiked += 1
        _prefetch_rows(spiked, n_spiked, push_indptr, push_indices, push_data, delays, sweep_ring)
        # 4. reset; the records (5., the traces, is replayed from them below) -- before 3., which
        # touches other arrays, while the rows arrive
        for s in range(n_spiked):
            j = spiked[s]
            v[j] = v_reset
            if free_at[j] <= t32:  # not held: a new entry (one spiking while held keeps its own)
                entry_of[j] = n_held
                held[n_held] = j
                n_held += 1
            free_at[j] = t32 + free_after_spike
            held_v[entry_of[j]] = v_reset
            held_until[entry_of[j]] = free_at[j]
        for s in range(n_spiked):
            records[count, 0] = t
            records[count, 1] = spiked[s]
            count += 1
        if record_states and window > 0:
            for s in range(n_spiked):
                out[t // window, spiked[s]] += one
        # 3. synapses
        if sweep_ring:  # each spike into its targets' arrival slots, input spikes into this step's
            for s in range(n_spiked):
                j = spiked[s]
                ring = ring_exc if j < n_exc else ring_inh
                for k in range(push_indptr[j], push_indptr[j + 1]):
                    arrival = slot + delays[k]  # delays < slots: a subtraction instead of a modulo
                    if arrival >= slots:
                        arrival -= slots
                    ring[arrival, push_indices[k]] += push_data[k]
            if has_input and input_spikes:
                for i in range(n):
                    ring_exc[slot, i] += drive[i]
        else:  # no delays: straight into the currents, in push order
            for s in range(n_spiked):
                j = spiked[s]
                current = i_exc if j < n_exc else i_inh
                for k in range(push_indptr[j], push_indptr[j + 1]):
                    current[push_indices[k]] += push_data[k]
        t += 1
    _replay_traces(
        params[9],
        trace,
        records,
        first_record,
        count,
        begin,
        t,
        steps,
        out,
        record_states and window == 0,
        sample_every,
    )
    for i in range(n):
        hold[i] = max(free_at[i] - np.int32(t), 0)
    if sweep_ring and t > begin:  # deliver the last step's slot: the state leaves complete
        last_slot = (step0 + t - 1) % slots
        for i in range(n):
            i_exc[i] += ring_exc[last_slot, i]
            i_inh[i] += ring_inh[last_slot, i]
            ring_exc[last_slot, i] = zero
            ring_inh[last_slot, i] = zero
    return t, count


@njit(cache=True)
def _lif_serial(
    push_indptr,
    push_indices,
    push_data,
    delays,
    n_exc,
    in_indptr,
    in_indices,
    in_data,
    params,
    inputs,
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
    sample_every,
    record_spikes,
    records,
    counts,
    positions,
):
    for b in range(v.shape[0]):
        positions[b], counts[b] = _lif_trial(
            push_indptr,
            push_indices,
            push_data,
            delays,
            n_exc,
            in_indptr,
            in_indices,
            in_data,
            params,
            inputs[b],
            input_spikes,
            v[b],
            i_exc[b],
            i_inh[b],
            hold[b],
            ring_exc[b],
            ring_inh[b],
            trace[b],
            step0,
            out[b],
            record_states,
            window,
            sample_every,
            record_spikes,
            records[b],
            counts[b],
            positions[b],
        )


@njit(parallel=True, cache=True)
def _lif_parallel(
    push_indptr,
    push_indices,
    push_data,
    delays,
    n_exc,
    in_indptr,
    in_indices,
    in_data,
    params,
    inputs,
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
    sample_every,
    record_spikes,
    records,
    counts,
    positions,
):
    for b in prange(v.shape[0]):
        positions[b], counts[b] = _lif_trial(
            push_indptr,
            push_indices,
            push_data,
            delays,
            n_exc,
            in_indptr,
            in_indices,
            in_data,
            params,
            inputs[b],
            input_spikes,
            v[b],
            i_exc[b],
            i_inh[b],
            hold[b],
            ring_exc[b],
            ring_inh[b],
            trace[b],
            step0,
            out[b],
            record_states,
            window,
            sample_every,
            record_spikes,
            records[b],
            counts[b],
            positions[b],
        )


@dataclass
class CpuLifWeights:
    push_indptr: np.ndarray
    push_indices: np.ndarray
    push_data: np.ndarray
    delays: np.ndarray
    n_exc: int
    in_indptr: np.ndarray
    in_indices: np.ndarray
    in_data: np.ndarray


def prepare_lsm(push, delays, n_exc: int, W_in) -> CpuLifWeights:
    """Recurrent and input matrices both in push layout (rows = sources), sorted.

    Neuron indices and delays are int32: spike delivery reads a row of indices per spike,
    and half the bytes took a quarter off its time (CUBA, 1.8e6 synaptic events).
    """
    push = sp.csr_array(push)
    input_push = sp.csr_array(sp.csr_array(W_in).T)  # rows = input channels
    input_push.sort_indices()  # each neuron sums its channels in ascending order, as the reference's matvec
    return CpuLifWeights(
        push.indptr.astype(np.int64),
        push.indices.astype(np.int32),
        push.data,
        np.asarray(delays, dtype=np.int32),
        int(n_exc),
        input_push.indptr.astype(np.int64),
        input_push.indices.astype(np.int32),
        input_push.data.astype(push.data.dtype),
    )


def lsm_run(
    weights: CpuLifWeights,
    params: tuple,
    inputs,
    input_spikes: bool,
    state,
    out,
    window: int,
    record_spikes: bool,
    sample_every: int = 1,
):
    """Same contract as ``reference.lsm_run``: advance every trial over all of `inputs`.

    One addition: with ``window == 0`` and ``sample_every = s > 1``, `out` is
    (B, ceil(T / s), n) and receives the traces only after the last step of each block
    of s steps (``kernels.lif.sampled_steps``), so a run that keeps a trace every s steps
    writes s times less memory than one that keeps them all. ``s == 1`` is the shared contract.
    """
    batch, steps, n = inputs.shape[0], inputs.shape[1], state.v.shape[1]
    sample_every = int(sample_every)
    if sample_every < 1:
        raise ValueError(f"sample_every must be a positive number of steps, got {sample_every}")
    record_states = out is not None
    if out is None:
        out = np.empty((batch, 0, n), dtype=state.v.dtype)
    # Spike records grow by doubling; a trial that fills its records stops, the others go on.
    # They are kept without record_spikes too: the traces are replayed from them.
    capacity = n + max(1024, steps * n // 50)
    records = np.empty((batch, capacity, 2), dtype=np.int64)
    counts = np.zeros(batch, dtype=np.int64)
    positions = np.zeros(batch, dtype=np.int64)
    loop = _lif_parallel if batch > 1 else _lif_serial
    while True:
        loop(
            weights.push_indptr,
            weights.push_indices,
            weights.push_data,
            weights.delays,
            weights.n_exc,
            weights.in_indptr,
            weights.in_indices,
            weights.in_data,
            params,
            inputs,
            input_spikes,
            state.v,
            state.i_exc,
            state.i_inh,
            state.refractory,
            state.ring_exc,
            state.ring_inh,
            state.trace,
            state.step,
            out,
            record_states,
            window,
            sample_every,
            record_spikes,
            records,
            counts,
            positions,
        )
        if np.all(positions == steps):
            break
        grown = np.empty((batch, 2 * records.shape[1], 2), dtype=np.int64)
        grown[:, : records.shape[1]] = records
        records = grown
    state.step += steps
    if not record_spikes:
        return None
    return [records[b, : counts[b]] for b in range(batch)]
