"""Numba-CUDA path: the kernels of ``cuda_src/*.cu`` written in Python for ``numba.cuda``.

Same algorithms, layouts and launch plans as the CuPy path (``cupy_raw.py``); see
``_gpu_layout.py`` for the layouts (SELL-32-sigma for one sequence, CSR over an
(n, B) state for a batch).

Time loop
---------
Every ESN call is **one persistent kernel launch for all its time steps**: blocks own
fixed row ranges for the whole launch, steps are separated by a grid-wide barrier
(an arrival counter in global memory; the grid never has more blocks than
``max_cooperative_grid_blocks`` says can be co-resident), small reservoirs keep each
block's part of the matrix in shared memory for the whole run (one block: the state
too), large ones stream it from device memory. See ``cupy_raw.py`` for why this was
chosen over a CUDA graph of per-step launches.

The kernels avoid warp shuffles and use only what the CUDA simulator also provides
(``NUMBA_ENABLE_CUDASIM=1``), so that CI runs this very code without a GPU: in the
simulator the occupancy query answers one block, which is the one-block path of the
same kernels. Dynamic shared memory is kept within the 48 KiB that needs no opt-in.

Arrays
------
NumPy arrays are copied to the device; anything with ``__cuda_array_interface__``
(CuPy, Numba device arrays, ...) is used in place, strided views included, and
results go back into the caller's arrays wherever they live.

Three layers, as in every kernel file: device code (``_*`` device functions and
kernels), host driver (``_launch_*``, ``_plan``, transfers), public functions
(``prepare_esn``, ``esn_run``, ``esn_generate``, ``prepare_elm``, ``elm_hidden``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.sparse as sp
from numba import config as numba_config
from numba import cuda, int32

from ..config import settings
from . import _gpu_layout as layout
from .activations import RELU, SIGMOID, TANH, code

SIMULATOR = bool(numba_config.ENABLE_CUDASIM)
#: Dynamic shared memory per block: 48 KiB need no per-function opt-in (which numba.cuda does not
#: expose), less the 8 KiB of the static reduction scratch of the closed-loop kernel.
NUMBA_SHARED_LIMIT = 40 * 1024
#: Threads per block at most (the size of that scratch).
MAX_THREADS = 1024


# --------------------------------------------------------------------------- device code
@functools.cache
def _esn_kernels(dtype: np.dtype):
    """The ESN kernels for one float type (dynamic shared arrays need the type at compile time)."""
    nb_type = numba.from_dtype(dtype)
    ZERO, HALF, ONE = dtype.type(0), dtype.type(0.5), dtype.type(1)  # typed constants keep float32 float32
    ITEMSIZE = dtype.itemsize

    @cuda.jit(device=True)
    def activate(z, activation):
        if activation == TANH:
            return math.tanh(z)
        if activation == SIGMOID:
            return HALF * (ONE + math.tanh(HALF * z))
        if activation == RELU:
            return z if z > ZERO else z - z  # z - z keeps NaN a NaN
        return z

    @cuda.jit(device=True)
    def grid_barrier(arrived, generation):
        """All blocks of the grid reach this point; the counter only grows (zeroed by the host)."""
        cuda.syncthreads()
        if cuda.gridDim.x > 1:
            if cuda.threadIdx.x == 0:
                target = generation * cuda.gridDim.x
                cuda.threadfence()
                cuda.atomic.add(arrived, 0, 1)
                while cuda.atomic.add(arrived, 0, 0) < target:
                    pass
                cuda.threadfence()
            cuda.syncthreads()

    @cuda.jit(device=True)
    def block_range(units):
        per_block = (units + cuda.gridDim.x - 1) // cuda.gridDim.x
        # Conditional expressions rather than min(): Numba's built-in CUDA target fails to
        # compile min() of two integers (seen with numba 0.68 targeting sm_90).
        begin = cuda.blockIdx.x * per_block
        begin = units if begin > units else begin
        end = begin + per_block
        return begin, units if end > units else end, per_block

    @cuda.jit(device=True)
    def shared_offsets(capacity, per_block):
        """Element offsets of columns (int32), ptr (int32) and the free space (floats) in shared memory,
        the layout of block_part in esn.cu."""
        values_bytes = (capacity * ITEMSIZE + 15) // 16 * 16
        columns_bytes = (capacity * 4 + 15) // 16 * 16
        ptr_bytes = ((per_block + 1) * 4 + 15) // 16 * 16
        return (values_bytes // 4, (values_bytes + columns_bytes) // 4,
                (values_bytes + columns_bytes + ptr_bytes) // ITEMSIZE)

    @cuda.jit(device=True)
    def stage_part(ptr, columns, values, begin, end, s_ptr, s_columns, s_values):
        first = ptr[begin]
        for k in range(cuda.threadIdx.x, ptr[end] - first, cuda.blockDim.x):
            s_values[k] = values[first + k]
            s_columns[k] = columns[first + k]
        for unit in range(cuda.threadIdx.x, end - begin + 1, cuda.blockDim.x):
            s_ptr[unit] = ptr[begin + unit] - first
        cuda.syncthreads()

    @cuda.jit(device=True)
    def sell_step(ptr, columns, values, begin, end, row_of, n, w_in, bias, u, src, dst, dst_copy, copy,
                  keep, leak, activation):
        """One step over slices [begin, end): a warp per slice, a lane per row; ptr is local to begin."""
        lane = cuda.threadIdx.x % 32
        warps = cuda.blockDim.x // 32
        for s in range(begin + cuda.threadIdx.x // 32, end, warps):
            local = s - begin
            acc = ZERO
            for k in range(ptr[local] + lane, ptr[local + 1], 32):
                acc += values[k] * src[columns[k]]
            position = s * 32 + lane
            if position < n:
                row = row_of[position]
                pre = acc + bias[row]
                for m in range(u.shape[0]):
                    pre += w_in[row, m] * u[m]
                x = keep * src[row] + leak * activate(pre, activation)
                dst[row] = x
                if copy:
                    dst_copy[row] = x

    @cuda.jit(device=True)
    def sell_run_loop(ptr, columns, values, begin, end, row_of, w_in, bias, inputs, start, states, x_chip,
                      on_chip, keep, leak, activation, arrived):
        n = states.shape[1]
        for t in range(states.shape[0]):
            if on_chip:
                parity = t % 2
                sell_step(ptr, columns, values, begin, end, row_of, n, w_in, bias, inputs[t],
                          x_chip[parity * n:parity * n + n], x_chip[(1 - parity) * n:(1 - parity) * n + n],
                          states[t], True, keep, leak, activation)
            elif t == 0:
                sell_step(ptr, columns, values, begin, end, row_of, n, w_in, bias, inputs[0], start, states[0],
                          states[0], False, keep, leak, activation)
            else:
                sell_step(ptr, columns, values, begin, end, row_of, n, w_in, bias, inputs[t], states[t - 1],
                          states[t], states[t], False, keep, leak, activation)
            grid_barrier(arrived, t + 1)

    @cuda.jit
    def run_sell(slice_ptr, columns, values, row_of, w_in, bias, inputs, start, states, keep, leak, activation,
                 stage, capacity, arrived):
        """One sequence: inputs (T, n_in), start (n,), states (T, n) receives every state."""
        n = states.shape[1]
        begin, end, per_block = block_range(slice_ptr.shape[0] - 1)
        if stage:
            columns_at, ptr_at, free_at = shared_offsets(capacity, per_block)
            s_values = cuda.shared.array(0, nb_type)
            s_columns = cuda.shared.array(0, int32)[columns_at:]
            s_ptr = cuda.shared.array(0, int32)[ptr_at:]
            x_chip = cuda.shared.array(0, nb_type)[free_at:]
            stage_part(slice_ptr, columns, values, begin, end, s_ptr, s_columns, s_values)
            on_chip = stage == 2
            if on_chip:
                for i in range(cuda.threadIdx.x, n, cuda.blockDim.x):
                    x_chip[i] = start[i]
                cuda.syncthreads()
            sell_run_loop(s_ptr, s_columns, s_values, begin, end, row_of, w_in, bias, inputs, start, states,
                          x_chip, on_chip, keep, leak, activation, arrived)
        else:
            sell_run_loop(slice_ptr[begin:], columns, values, begin, end, row_of, w_in, bias, inputs, start,
                          states, start, False, keep, leak, activation, arrived)

    @cuda.jit(device=True)
    def block_sum(value, scratch):
        """Sum over the block (power-of-two size); every thread gets it."""
        tid = cuda.threadIdx.x
        scratch[tid] = value
        cuda.syncthreads()
        stride = cuda.blockDim.x // 2
        while stride > 0:
            if tid < stride:
                scratch[tid] += scratch[tid + stride]
            cuda.syncthreads()
            stride //= 2
        total = scratch[0]
        cuda.syncthreads()
        return total

    @cuda.jit(device=True)
    def generate_loop(ptr, columns, values, begin, end, row_of, w_in, bias, coef, intercept, include_input,
                      x_buffers, u_own, partial, outputs, keep, leak, activation, arrived, scratch):
        n = x_buffers.shape[1]
        n_out = coef.shape[0]
        first = n if begin * 32 > n else begin * 32
        last = n if end * 32 > n else end * 32
        for t in range(outputs.shape[0]):
            parity = t % 2
            u = u_own[parity]
            dst = x_buffers[1 - parity]
            sell_step(ptr, columns, values, begin, end, row_of, n, w_in, bias, u, x_buffers[parity], dst, dst,
                      False, keep, leak, activation)
            cuda.syncthreads()
            for o in range(n_out):
                total = ZERO
                for position in range(first + cuda.threadIdx.x, last, cuda.blockDim.x):
                    row = row_of[position]
                    total += coef[o, row] * dst[row]
                total = block_sum(total, scratch)
                if cuda.threadIdx.x == 0:
                    partial[parity, o, cuda.blockIdx.x] = total
            grid_barrier(arrived, t + 1)
            for o in range(cuda.threadIdx.x, n_out, cuda.blockDim.x):
                y = intercept[o]
                for b in range(cuda.gridDim.x):
                    y += partial[parity, o, b]
                if include_input:
                    for m in range(u.shape[0]):
                        y += coef[o, n + m] * u[m]
                u_own[1 - parity, o] = y
                if cuda.blockIdx.x == 0:
                    outputs[t, o] = y
            cuda.syncthreads()

    @cuda.jit
    def generate_sell(slice_ptr, columns, values, row_of, w_in, bias, coef, intercept, include_input, x_buffers,
                      u_buffers, partial, outputs, keep, leak, activation, stage, capacity, arrived):
        """Closed loop, the algorithm of esn_generate_sell in esn.cu."""
        begin, end, per_block = block_range(slice_ptr.shape[0] - 1)
        u_own = u_buffers[cuda.blockIdx.x]
        scratch = cuda.shared.array(MAX_THREADS, nb_type)
        if stage:
            columns_at, ptr_at, _ = shared_offsets(capacity, per_block)
            s_values = cuda.shared.array(0, nb_type)
            s_columns = cuda.shared.array(0, int32)[columns_at:]
            s_ptr = cuda.shared.array(0, int32)[ptr_at:]
            stage_part(slice_ptr, columns, values, begin, end, s_ptr, s_columns, s_values)
            generate_loop(s_ptr, s_columns, s_values, begin, end, row_of, w_in, bias, coef, intercept,
                          include_input, x_buffers, u_own, partial, outputs, keep, leak, activation, arrived,
                          scratch)
        else:
            generate_loop(slice_ptr[begin:], columns, values, begin, end, row_of, w_in, bias, coef, intercept,
                          include_input, x_buffers, u_own, partial, outputs, keep, leak, activation, arrived,
                          scratch)

    @cuda.jit(device=True)
    def csr_batch_loop(ptr, columns, values, begin, end, w_in, bias, inputs, x_buffers, states, group_log2,
                       keep, leak, activation, arrived):
        group = 1 << group_log2
        sub = cuda.threadIdx.x & (group - 1)
        groups = cuda.blockDim.x >> group_log2
        batch = x_buffers.shape[2]
        for t in range(states.shape[1]):
            src = x_buffers[t % 2]
            dst = x_buffers[(t + 1) % 2]
            for row in range(begin + (cuda.threadIdx.x >> group_log2), end, groups):
                local = row - begin
                for b in range(sub, batch, group):
                    acc = ZERO
                    for k in range(ptr[local], ptr[local + 1]):
                        acc += values[k] * src[columns[k], b]
                    pre = acc + bias[row]
                    for m in range(inputs.shape[2]):
                        pre += w_in[row, m] * inputs[b, t, m]
                    x = keep * src[row, b] + leak * activate(pre, activation)
                    dst[row, b] = x
                    states[b, t, row] = x
            grid_barrier(arrived, t + 1)

    @cuda.jit
    def run_csr_batch(indptr, indices, values, w_in, bias, inputs, x_buffers, states, group_log2, keep, leak,
                      activation, stage, capacity, arrived):
        """B sequences: inputs (B, T, n_in), x_buffers (2, n, B) with the start state in row 0 (the last
        state ends in row T % 2), states (B, T, n) receives every state."""
        begin, end, per_block = block_range(indptr.shape[0] - 1)
        if stage:
            columns_at, ptr_at, _ = shared_offsets(capacity, per_block)
            s_values = cuda.shared.array(0, nb_type)
            s_columns = cuda.shared.array(0, int32)[columns_at:]
            s_ptr = cuda.shared.array(0, int32)[ptr_at:]
            stage_part(indptr, indices, values, begin, end, s_ptr, s_columns, s_values)
            csr_batch_loop(s_ptr, s_columns, s_values, begin, end, w_in, bias, inputs, x_buffers, states,
                           group_log2, keep, leak, activation, arrived)
        else:
            csr_batch_loop(indptr[begin:], indices, values, begin, end, w_in, bias, inputs, x_buffers, states,
                           group_log2, keep, leak, activation, arrived)

    return run_sell, generate_sell, run_csr_batch, activate


@functools.cache
def _elm_kernels(dtype: np.dtype):
    activate = _esn_kernels(dtype)[3]

    @cuda.jit
    def dense(indptr, indices, values, bias, X, H, activation):
        """A thread per (hidden unit, sample): units along x for coalesced writes of H[sample]."""
        unit = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if unit < H.shape[1]:
            for sample in range(cuda.blockIdx.y, H.shape[0], cuda.gridDim.y):
                acc = bias[unit]
                for k in range(indptr[unit], indptr[unit + 1]):
                    acc += values[k] * X[sample, indices[k]]
                H[sample, unit] = activate(acc, activation)

    @cuda.jit
    def sparse(indptr, indices, values, bias, x_ptr, x_features, x_values, H, activation):
        """CSR X, never densified: each entry of a unit's row binary-searches its feature among the
        sample's sorted features (a fixed order of additions: reproducible, unlike atomics)."""
        unit = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if unit < H.shape[1]:
            for sample in range(cuda.blockIdx.y, H.shape[0], cuda.gridDim.y):
                first, last = x_ptr[sample], x_ptr[sample + 1]
                acc = bias[unit]
                for k in range(indptr[unit], indptr[unit + 1]):
                    feature = indices[k]
                    low, high = first, last
                    while low < high:
                        middle = (low + high) // 2
                        if x_features[middle] < feature:
                            low = middle + 1
                        else:
                            high = middle
                    if low < last and x_features[low] == feature:
                        acc += values[k] * x_values[low]
                H[sample, unit] = activate(acc, activation)

    return dense, sparse


@functools.cache
def _lif_kernels(dtype: np.dtype):
    """The LIF kernel for one float type (see cuda_src/lif.cu for the same kernel in CUDA C).

    One launch runs every step of every trial: grid (blocks per trial, trials). A step is
    A) update and threshold of the block's neurons, spikes appended to the step's list
    with an atomic counter; barrier; B) propagation -- "pull": every block sorts the
    list into shared memory and each target binary-searches itself in the spikes' rows,
    adding in the reference's order; "push": warps scatter the spikes' rows with atomics,
    then a second barrier (without delays or input spikes, into the currents directly, as
    the reference does) -- and C) input spikes, delivery of the step's ring slot,
    reset, traces, states. Lists and counters rotate over three buffers, so that
    one barrier per step (pull) separates a step's readers from the next step's writers.
    """
    ZERO, ONE = dtype.type(0), dtype.type(1)
    if SIMULATOR:  # the simulator has no libdevice; NumPy scalars round every operation already
        @cuda.jit(device=True)
        def mul(a, b):
            return a * b

        @cuda.jit(device=True)
        def add(a, b):
            return a + b
    else:
        # Explicitly rounded operations: NVVM would otherwise contract a * b + c into one
        # fused multiply-add, which rounds differently from the reference.
        from numba.cuda import libdevice

        mul_rn, add_rn = ((libdevice.dmul_rn, libdevice.dadd_rn) if dtype == np.float64
                          else (libdevice.fmul_rn, libdevice.fadd_rn))

        @cuda.jit(device=True)
        def mul(a, b):
            return mul_rn(a, b)

        @cuda.jit(device=True)
        def add(a, b):
            return add_rn(a, b)

    @cuda.jit(device=True)
    def trial_barrier(arrived, trial, generation):
        """The blocks of one trial meet (the counter only grows; zeroed by the host)."""
        cuda.syncthreads()
        if cuda.gridDim.x > 1:
            if cuda.threadIdx.x == 0:
                target = generation * cuda.gridDim.x
                cuda.threadfence()
                cuda.atomic.add(arrived, trial, 1)
                while cuda.atomic.add(arrived, trial, 0) < target:
                    pass
                cuda.threadfence()
            cuda.syncthreads()

    @cuda.jit(device=True)
    def input_drive(in_indptr, in_indices, in_data, inputs, b, t, i):
        drive = ZERO
        for k in range(in_indptr[i], in_indptr[i + 1]):
            drive = add(drive, mul(in_data[k], inputs[b, t, in_indices[k]]))
        return drive

    @cuda.jit
    def lif_run(push_indptr, push_indices, push_data, delays, n_exc, in_indptr, in_indices, in_data, inputs,
                steps, has_input, input_spikes, v, i_exc, i_inh, hold, ring_exc, ring_inh, trace, step0, out,
                record_states, window, record_spikes, records, counts, positions, spike_lists, spike_counters,
                arrived, v_rest, v_reset, v_thresh, decay_m, gain_exc, gain_inh, gain_ext, decay_exc, decay_inh,
                decay_trace, hold_after_spike, push_variant, chunk):
        """Trial blockIdx.y from step positions[b]; stops early when its records could overflow
        (positions/counts tell where it stopped: the host grows the records and launches again)."""
        b = cuda.blockIdx.y
        tid = cuda.threadIdx.x
        threads = cuda.blockDim.x
        n = v.shape[1]
        slots = ring_exc.shape[1]
        per_block = (n + cuda.gridDim.x - 1) // cuda.gridDim.x
        begin = cuda.blockIdx.x * per_block
        begin = n if begin > n else begin
        end = begin + per_block
        end = n if end > n else end
        lead = cuda.blockIdx.x == 0 and tid == 0
        sorted_spikes = cuda.shared.array(0, int32)
        current_input = has_input and not input_spikes
        # The reference's rule: without delays or input spikes, spikes add straight into the
        # currents (an empty ring slot added afterwards changes nothing: x + 0 == x).
        direct = slots == 1 and not input_spikes
        t = positions[b]
        count = counts[b]
        generation = 0
        while t < steps:
            if record_spikes and records.shape[1] - count < n:
                break
            slot = (step0 + t) % slots
            which = t % 3
            # A) update (exact integration; refractory neurons hold), decays, threshold
            for i in range(begin + tid, end, threads):
                i_ext = ZERO
                if current_input:
                    i_ext = input_drive(in_indptr, in_indices, in_data, inputs, b, t, i)
                integrated = add(add(add(add(v_rest, mul(v[b, i] - v_rest, decay_m)), mul(i_exc[b, i], gain_exc)),
                                     mul(i_inh[b, i], gain_inh)), mul(i_ext, gain_ext))
                if hold[b, i] == 0:
                    v[b, i] = integrated
                else:
                    hold[b, i] -= 1
                i_exc[b, i] = mul(i_exc[b, i], decay_exc)
                i_inh[b, i] = mul(i_inh[b, i], decay_inh)
                trace[b, i] = mul(trace[b, i], decay_trace)
                if v[b, i] > v_thresh:
                    spike_lists[b, which, cuda.atomic.add(spike_counters, (b, which), 1)] = i
            generation += 1
            trial_barrier(arrived, b, generation)
            spiked = spike_counters[b, which]
            if lead:  # the buffer of step t + 2, last read in step t - 1 (before this barrier)
                spike_counters[b, (t + 2) % 3] = 0
            if record_spikes and cuda.blockIdx.x == 0:  # any order: the host sorts each step's records
                for s in range(tid, spiked, threads):
                    records[b, count + s, 0] = t
                    records[b, count + s, 1] = spike_lists[b, which, s]
            # B) propagation into the ring buffers
            if push_variant:
                lane = tid % 32
                warp = (cuda.blockIdx.x * threads + tid) // 32
                warps = cuda.gridDim.x * threads // 32
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
                generation += 1
                trial_barrier(arrived, b, generation)
            else:
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
                                        i_exc[b, i] = add(i_exc[b, i], push_data[low])
                                    else:
                                        i_inh[b, i] = add(i_inh[b, i], push_data[low])
                                elif j < n_exc:
                                    ring_exc[b, arrival, i] = add(ring_exc[b, arrival, i], push_data[low])
                                else:
                                    ring_inh[b, arrival, i] = add(ring_inh[b, arrival, i], push_data[low])
                                low += 1
                    cuda.syncthreads()
            # C) input spikes, delivery of this step's slot, reset, traces, states
            for i in range(begin + tid, end, threads):
                if has_input and input_spikes:
                    ring_exc[b, slot, i] = add(ring_exc[b, slot, i],
                                               input_drive(in_indptr, in_indices, in_data, inputs, b, t, i))
                i_exc[b, i] = add(i_exc[b, i], ring_exc[b, slot, i])
                i_inh[b, i] = add(i_inh[b, i], ring_inh[b, slot, i])
                ring_exc[b, slot, i] = ZERO
                ring_inh[b, slot, i] = ZERO
                if v[b, i] > v_thresh:
                    v[b, i] = v_reset
                    hold[b, i] = hold_after_spike
                    trace[b, i] = add(trace[b, i], ONE)
                    if record_states and window > 0:
                        out[b, t // window, i] += ONE
                if record_states and window == 0:
                    out[b, t, i] = trace[b, i]
            if record_spikes:
                count += spiked
            t += 1
        if lead:
            positions[b] = t
            counts[b] = count

    return lif_run


@cuda.jit
def _copy_2d(source, target):
    """target[i, j] = source[i, j] for any strides (transposes are views)."""
    i, j = cuda.grid(2)
    if i < target.shape[0] and j < target.shape[1]:
        target[i, j] = source[i, j]


@cuda.jit
def _copy_1d(source, target):
    i = cuda.grid(1)
    if i < target.shape[0]:
        target[i] = source[i]


# --------------------------------------------------------------------------- host driver
def _is_device(array) -> bool:
    if SIMULATOR:  # the simulator's device arrays have no __cuda_array_interface__
        return hasattr(array, "copy_to_host")
    return cuda.is_cuda_array(array)


def _device(array, dtype):
    """A device view of a device array (no copy), or a device copy of a host one."""
    if _is_device(array):
        view = array if SIMULATOR else cuda.as_cuda_array(array)
        if view.dtype != dtype:
            raise TypeError(f"device array of dtype {view.dtype} given to {np.dtype(dtype).name} weights")
        return view
    return cuda.to_device(np.ascontiguousarray(array, dtype=dtype))


def _grid_2d(rows: int, columns: int, threads: int = 16):
    return (-(-rows // threads), -(-columns // threads)), (threads, threads)


def _write_back(target, result) -> None:
    """Copy a device result into the caller's array: host (copy to host) or device (a copy kernel,
    which takes any strides)."""
    if _is_device(target):
        view = target if SIMULATOR else cuda.as_cuda_array(target)
        if view.ndim == 1:
            threads = settings.gpu_threads_per_block
            _copy_1d[-(-view.shape[0] // threads), threads](result, view)
        else:
            _copy_2d[_grid_2d(*view.shape)](result, view)
    else:
        target[...] = result.copy_to_host()


def _max_blocks(kernel, args, threads: int):
    if SIMULATOR:  # the simulator runs blocks one after another: a grid barrier needs a single block
        return lambda shared_bytes: 1
    compiled = kernel.compile(tuple(numba.typeof(a) for a in args))
    return lambda shared_bytes: compiled.max_cooperative_grid_blocks(threads, shared_bytes)


def _shared_limit() -> int:
    return NUMBA_SHARED_LIMIT if settings.gpu_shared_bytes is None else min(settings.gpu_shared_bytes,
                                                                             NUMBA_SHARED_LIMIT)


def _launch_persistent(kernel, ptr_host, itemsize, args, state_bytes=0) -> layout.GridPlan:
    """Plan the grid (see layout.plan_grid) and launch `kernel` with (*args, stage, capacity, arrived)."""
    threads = settings.gpu_threads_per_block
    arrived = cuda.to_device(np.zeros(1, dtype=np.uint32))
    probe = (*args, np.int32(0), np.int32(0), arrived)
    plan = layout.plan_grid(ptr_host, itemsize, max_blocks=_max_blocks(kernel, probe, threads),
                            shared_limit=_shared_limit(), min_entries_per_block=settings.gpu_min_entries_per_block,
                            single_block_max_entries=settings.gpu_single_block_max_entries,
                            state_bytes=state_bytes)
    kernel[plan.blocks, threads, 0, plan.shared_bytes](*args, np.int32(plan.stage), np.int32(plan.capacity),
                                                       arrived)
    return plan


def _generate_blocks(kernel, ptr_host, itemsize, args) -> layout.GridPlan:
    threads = settings.gpu_threads_per_block
    return layout.plan_grid(ptr_host, itemsize, max_blocks=_max_blocks(kernel, args, threads),
                            shared_limit=_shared_limit(), min_entries_per_block=settings.gpu_min_entries_per_block,
                            single_block_max_entries=settings.gpu_single_block_max_entries)


# --------------------------------------------------------------------------- public functions
@dataclass
class EsnWeights:
    """The matrix on the host (layouts built from it on first use), the rest on the device."""

    W: sp.csr_array
    W_in: object
    bias: object
    _sell: tuple | None = field(default=None, repr=False)
    _csr: tuple | None = field(default=None, repr=False)

    @property
    def dtype(self) -> np.dtype:
        return self.W.dtype

    def sell(self):
        if self._sell is None:
            sell = layout.sell32(self.W)
            self._sell = (tuple(cuda.to_device(a) for a in (sell.slice_ptr, sell.columns, sell.values,
                                                            sell.row_of)), sell.slice_ptr)
        return self._sell

    def csr(self):
        if self._csr is None:
            arrays = layout.csr32(self.W)
            self._csr = (tuple(cuda.to_device(a) for a in arrays), arrays[0])
        return self._csr


def prepare_esn(W, W_in, bias) -> EsnWeights:
    W = sp.csr_array(W)
    W.sort_indices()
    dtype = W.dtype
    return EsnWeights(W, cuda.to_device(np.ascontiguousarray(W_in, dtype=dtype)),
                      cuda.to_device(np.ascontiguousarray(bias, dtype=dtype)))


def esn_run(weights: EsnWeights, inputs, state, leak_rate: float, activation: str, out):
    """Same contract as ``reference.esn_run``; arrays may live on the host or the device."""
    dtype = weights.dtype
    keep, leak, act = layout.esn_scalars(weights.dtype, leak_rate, activation)
    batch, steps, _ = inputs.shape
    n = weights.W.shape[0]
    run_sell, _, run_csr_batch, _ = _esn_kernels(dtype)
    u = _device(inputs, dtype)
    start = _device(state, dtype)
    on_device = _is_device(out)
    states = _device(out, dtype) if on_device else cuda.device_array((batch, steps, n), dtype)
    if batch == 1:
        (slice_ptr, columns, values, row_of), ptr_host = weights.sell()
        _launch_persistent(run_sell, ptr_host, dtype.itemsize,
                           (slice_ptr, columns, values, row_of, weights.W_in, weights.bias, u[0], start[0],
                            states[0], keep, leak, act), state_bytes=2 * n * dtype.itemsize)
        last = states[0, steps - 1:]
    else:
        (indptr, indices, data), ptr_host = weights.csr()
        x_buffers = cuda.device_array((2, n, batch), dtype)
        _write_back(x_buffers[0], start.T)
        _launch_persistent(run_csr_batch, ptr_host, dtype.itemsize,
                           (indptr, indices, data, weights.W_in, weights.bias, u, x_buffers, states,
                            np.int32(layout.next_power_of_two_log2(batch)), keep, leak, act))
        last = x_buffers[steps % 2].T
    if not on_device:
        _write_back(out, states)
    _write_back(state, last)
    return out


def esn_generate(weights: EsnWeights, readout_coef, readout_intercept, include_input: bool,
                 state, first_input, n_steps: int, leak_rate: float, activation: str):
    """Same contract as ``reference.esn_generate``; outputs live where `state` lives."""
    dtype = weights.dtype
    keep, leak, act = layout.esn_scalars(weights.dtype, leak_rate, activation)
    n = weights.W.shape[0]
    n_in = weights.W_in.shape[1]
    _, generate_sell, _, _ = _esn_kernels(dtype)
    (slice_ptr, columns, values, row_of), ptr_host = weights.sell()
    coef = _device(readout_coef, dtype)
    intercept = _device(readout_intercept, dtype)
    n_out = coef.shape[0]
    x_buffers = cuda.device_array((2, n), dtype)
    _write_back(x_buffers[0], _device(state, dtype))
    outputs = cuda.device_array((n_steps, n_out), dtype)
    arrived = cuda.to_device(np.zeros(1, dtype=np.uint32))
    first = np.ascontiguousarray(first_input.copy_to_host() if _is_device(first_input) else first_input, dtype)

    def arguments(blocks, plan_stage, capacity):
        u_buffers = np.zeros((blocks, 2, n_in), dtype=dtype)
        u_buffers[:, 0] = first
        return (slice_ptr, columns, values, row_of, weights.W_in, weights.bias, coef, intercept,
                np.bool_(include_input), x_buffers, cuda.to_device(u_buffers),
                cuda.device_array((2, n_out, blocks), dtype), outputs, keep, leak, act, np.int32(plan_stage),
                np.int32(capacity), arrived)

    plan = _generate_blocks(generate_sell, ptr_host, dtype.itemsize, arguments(1, 0, 0))
    threads = settings.gpu_threads_per_block
    generate_sell[plan.blocks, threads, 0, plan.shared_bytes](*arguments(plan.blocks, plan.stage, plan.capacity))
    _write_back(state, x_buffers[n_steps % 2])
    return _as_caller_array(state, outputs) if _is_device(state) else outputs.copy_to_host()


@dataclass
class ElmWeights:
    W: sp.csr_array
    csr: tuple  # device (indptr, indices, data), for dense and sparse inputs alike
    bias: object


def prepare_elm(W_hidden, bias) -> ElmWeights:
    W = sp.csr_array(W_hidden)
    W.sort_indices()
    return ElmWeights(W, tuple(cuda.to_device(a) for a in layout.csr32(W)),
                      cuda.to_device(np.ascontiguousarray(bias, dtype=W.dtype)))


def elm_hidden(weights: ElmWeights, X, activation: str):
    """Same contract as ``reference.elm_hidden``: X dense (host or device) or scipy.sparse (read as CSR,
    never densified). Returns a device array for device X, else NumPy."""
    dtype = weights.W.dtype
    dense, sparse = _elm_kernels(dtype)
    act = np.int32(code(activation))
    n_samples, n_hidden = X.shape[0], weights.W.shape[0]
    on_device = _is_device(X)
    H = cuda.device_array((n_samples, n_hidden), dtype)
    threads = settings.gpu_threads_per_block
    grid = (-(-n_hidden // threads), max(1, min(n_samples, 65535)))
    if sp.issparse(X):
        X = sp.csr_array(X, dtype=dtype)
        if not X.has_canonical_format:  # the kernel binary-searches sorted, unique features per sample
            X = X.copy()
            X.sum_duplicates()
        sparse[grid, threads](*weights.csr, weights.bias, cuda.to_device(X.indptr.astype(np.int32)),
                              cuda.to_device(X.indices.astype(np.int32)), cuda.to_device(X.data), H, act)
    else:
        dense[grid, threads](*weights.csr, weights.bias, _device(X, dtype), H, act)
    return _as_caller_array(X, H) if on_device else H.copy_to_host()


def _as_caller_array(X, H):
    """A CuPy input gets a CuPy result (zero copy); other device inputs get the Numba device array."""
    if SIMULATOR:
        return H
    try:
        import cupy as cp
    except ImportError:  # a device input without CuPy is a Numba array
        return H
    return cp.asarray(H) if isinstance(X, cp.ndarray) else H


# --------------------------------------------------------------------------- LIF (spiking) networks
def prepare_lsm(push, delays, n_exc: int, W_in) -> layout.LifWeights:
    """Push rows sorted by target and W_in in pull layout, on the device."""
    lif = layout.lif_layout(push, delays, n_exc, W_in)

    def on_device(array):  # a zero-length array still needs a device buffer
        return cuda.to_device(array if array.shape[0] else np.zeros(1, dtype=array.dtype))
    return layout.LifWeights(lif, tuple(on_device(a) for a in (lif.push_indptr, lif.push_indices, lif.push_data,
                                                         lif.delays)),
                      tuple(on_device(a) for a in (lif.in_indptr, lif.in_indices, lif.in_data)))


def _lif_plan(kernel, args, batch: int, n: int):
    """(blocks per trial, threads, shared bytes) of the LIF kernel."""
    threads = settings.gpu_lif_threads_per_block
    chunk = max(1, min(settings.gpu_lif_spike_chunk, n))
    shared_bytes = 4 * chunk
    if SIMULATOR:  # one block per trial: the simulator runs blocks one after another
        return 1, threads, chunk, shared_bytes
    compiled = kernel.compile(tuple(numba.typeof(a) for a in args))
    threads = max(32, min(threads, compiled.max_threads_per_block) // 32 * 32)
    max_blocks = compiled.max_cooperative_grid_blocks(threads, shared_bytes)
    blocks = layout.plan_lif_blocks(n, batch, max_blocks,
                                    single_block_max_neurons=settings.gpu_lif_single_block_max_neurons,
                                    neurons_per_block=settings.gpu_lif_neurons_per_block)
    return blocks, threads, chunk, shared_bytes


def lsm_run(weights: layout.LifWeights, params: tuple, inputs, input_spikes: bool, state, out, window: int,
            record_spikes: bool):
    """Same contract as ``reference.lsm_run``: advance every trial over all of `inputs`.

    `state` (``kernels.lif.LifState``) may hold NumPy arrays (copied to the device and
    back) or device arrays (advanced in place); `inputs` and `out` likewise. The whole
    call is one kernel launch, again only when a trial's spike records fill up.
    """
    dtype = weights.dtype
    push_variant = layout.is_push_propagation(settings.gpu_lif_propagation)
    lif_run = _lif_kernels(dtype)
    batch, steps = inputs.shape[0], inputs.shape[1]
    n = weights.layout.n
    has_input = weights.has_input and inputs.shape[2] > 0
    u = _device(inputs, dtype) if has_input else cuda.to_device(np.zeros((1, 1, 1), dtype))
    names = ("v", "i_exc", "i_inh", "refractory", "ring_exc", "ring_inh", "trace")
    arrays = {name: _device(getattr(state, name), np.int32 if name == "refractory" else dtype) for name in names}
    record_states = out is not None
    if not record_states:
        states = cuda.to_device(np.zeros((1, 1, 1), dtype))
    elif window == 0 and not _is_device(out):  # traces overwrite every element: nothing to copy in
        states = cuda.device_array(out.shape, dtype)
    else:  # counts are added to what `out` holds
        states = _device(out, dtype)
    capacity = layout.lif_record_capacity(n, steps) if record_spikes else 1
    records = cuda.device_array((batch, capacity, 2), np.int32)
    counts = cuda.to_device(np.zeros(batch, dtype=np.int64))
    positions = cuda.to_device(np.zeros(batch, dtype=np.int64))
    (v_rest, v_reset, v_thresh, decay_m, gain_exc, gain_inh, gain_ext, decay_exc, decay_inh, decay_trace,
     refractory_steps) = params
    scalars = tuple(dtype.type(x) for x in (v_rest, v_reset, v_thresh, decay_m, gain_exc, gain_inh, gain_ext,
                                            decay_exc, decay_inh, decay_trace))
    hold_after_spike = np.int32(max(int(refractory_steps) - 1, 0))

    def arguments(records, chunk):
        return (*weights.push, np.int32(weights.layout.n_exc), *weights.inputs, u, np.int64(steps),
                np.bool_(has_input), np.bool_(input_spikes), arrays["v"], arrays["i_exc"], arrays["i_inh"],
                arrays["refractory"], arrays["ring_exc"], arrays["ring_inh"], arrays["trace"],
                np.int64(state.step), states, np.bool_(record_states), np.int64(window), np.bool_(record_spikes),
                records, counts, positions, cuda.to_device(np.zeros((batch, 3, n), np.int32)),
                cuda.to_device(np.zeros((batch, 3), np.int32)), cuda.to_device(np.zeros(batch, np.uint32)),
                *scalars, hold_after_spike, np.bool_(push_variant), np.int32(chunk))

    blocks, threads, chunk, shared_bytes = _lif_plan(lif_run, arguments(records, 1), batch, n)
    while True:
        lif_run[(blocks, batch), threads, 0, shared_bytes](*arguments(records, chunk))
        reached = positions.copy_to_host()
        if np.all(reached == steps):
            break
        # A trial stopped with its records nearly full: double them and go on from where it stopped.
        grown = np.empty((batch, 2 * records.shape[1], 2), dtype=np.int32)
        grown[:, :records.shape[1]] = records.copy_to_host()
        records = cuda.to_device(grown)
    for name in names:
        if not _is_device(getattr(state, name)):
            _write_back(getattr(state, name), arrays[name])
    if record_states and not _is_device(out):
        _write_back(out, states)
    state.step += steps
    if not record_spikes:
        return None
    spike_counts = counts.copy_to_host()
    host = records.copy_to_host()
    return [layout.spikes_in_step_order(host[b, :spike_counts[b]]) for b in range(batch)]
