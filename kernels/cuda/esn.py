"""Echo-state network kernels of the Numba-CUDA path (``esn.cu`` holds the same kernels in CUDA C).

    x[t] = (1 - a) * x[t-1] + a * f(W @ x[t-1] + W_in @ u[t] + b)

Every call is **one persistent kernel launch for all its time steps**: blocks own
fixed row ranges for the whole launch, steps are separated by the grid barrier
(``barrier.grid_sync``, launched cooperatively), small reservoirs keep each block's
part of the matrix in shared memory for the whole run (one block: the state too),
large ones stream it from device memory. See ``cupy_raw.py`` for why this was chosen
over a CUDA graph of per-step launches, and ``_gpu_layout.py`` for the layouts
(SELL-32-sigma for one sequence, CSR over an (n, B) state for a batch; warps share a
SELL slice when a block has fewer slices than warps). Dynamic shared memory is kept
within the 48 KiB that needs no opt-in. The thread-block-cluster kernel of mid-size
reservoirs exists on the CuPy path only: numba.cuda launches no clusters.

Three layers: device functions and kernels, host driver (``_launch_persistent``,
``_plan``), public functions (``prepare_esn``, ``esn_run``, ``esn_generate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numba import cuda, int32

from ...config import settings
from .. import _gpu_layout as layout
from .barrier import co_resident_blocks, grid_sync, launch_cooperative
from .device import activate, block_range, block_sum, cast_like, shared_offsets, stage_part
from .transfers import as_caller_array, is_device, on_device, write_back

#: Threads per block at most (the size of the closed-loop kernel's static reduction scratch).
MAX_THREADS = layout.MAX_THREADS_PER_BLOCK
#: Dynamic shared memory per block: 48 KiB need no per-function opt-in (which numba.cuda does not
#: expose), shared with the closed-loop kernel's static scratch of MAX_THREADS float64 (8 KiB).
NUMBA_SHARED_LIMIT = layout.dynamic_shared_limit(48 * 1024, MAX_THREADS * 8)


# --------------------------------------------------------------------------- device code
@cuda.jit(device=True)
def sell_step(
    ptr,
    columns,
    values,
    begin,
    end,
    row_of,
    n,
    w_in,
    bias,
    u,
    src,
    dst,
    dst_copy,
    copy,
    keep,
    leak,
    activation,
    warps_per_slice,
    scratch,
):
    """One step over SELL slices [begin, end) (ptr local to begin); every thread of the block calls it.

    The algorithm of sell_step in sell.cuh: `warps_per_slice` warps share a slice, piece p
    reading its entries p, p + warps_per_slice, ... four at a time into four accumulators
    (four independent load chains per lane), the pieces' sums meeting in `scratch`
    (blockDim.x values) and piece 0 finishing the row. numba.cuda has no cache-hinted
    loads, so the matrix is read with plain loads here (ld.global.cs in sell.cuh).
    """
    lane = cuda.threadIdx.x % 32
    warp = cuda.threadIdx.x // 32
    groups = cuda.blockDim.x // 32 // warps_per_slice
    group = warp // warps_per_slice
    piece = warp - group * warps_per_slice
    stride = 32 * warps_per_slice
    zero = cast_like(0, keep)
    for first in range(begin, end, groups):  # the same bound for the whole block: every thread syncs
        s = first + group
        total = zero
        if s < end:
            local = s - begin
            stop = ptr[local + 1]
            k = ptr[local] + 32 * piece + lane
            acc0 = zero
            acc1 = zero
            acc2 = zero
            acc3 = zero
            while k + 3 * stride < stop:
                c0 = columns[k]
                c1 = columns[k + stride]
                c2 = columns[k + 2 * stride]
                c3 = columns[k + 3 * stride]
                acc0 += values[k] * src[c0]
                acc1 += values[k + stride] * src[c1]
                acc2 += values[k + 2 * stride] * src[c2]
                acc3 += values[k + 3 * stride] * src[c3]
                k += 4 * stride
            while k < stop:
                acc0 += values[k] * src[columns[k]]
                k += stride
            total = (acc0 + acc1) + (acc2 + acc3)
        if warps_per_slice > 1:
            scratch[cuda.threadIdx.x] = total
            cuda.syncthreads()
            if piece == 0:
                for p in range(1, warps_per_slice):
                    total += scratch[cuda.threadIdx.x + 32 * p]
        position = s * 32 + lane
        if piece == 0 and s < end and position < n:
            row = row_of[position]
            pre = total + bias[row]
            for m in range(u.shape[0]):
                pre += w_in[row, m] * u[m]
            x = keep * src[row] + leak * activate(pre, activation)
            dst[row] = x
            if copy:
                dst_copy[row] = x
        if warps_per_slice > 1:
            cuda.syncthreads()  # scratch is written again by the next pass


@cuda.jit(device=True)
def sell_run_loop(
    ptr,
    columns,
    values,
    begin,
    end,
    row_of,
    w_in,
    bias,
    inputs,
    start,
    states,
    x_chip,
    on_chip,
    keep,
    leak,
    activation,
    warps_per_slice,
    scratch,
):
    """Every step of one sequence: the state in shared memory (`on_chip`) or in `states` itself."""
    n = states.shape[1]
    for t in range(states.shape[0]):
        if on_chip:
            parity = t % 2
            src = x_chip[parity * n : parity * n + n]
            dst = x_chip[(1 - parity) * n : (1 - parity) * n + n]
        else:
            src = start if t == 0 else states[t - 1]
            dst = states[t]
        sell_step(
            ptr,
            columns,
            values,
            begin,
            end,
            row_of,
            n,
            w_in,
            bias,
            inputs[t],
            src,
            dst,
            states[t],
            on_chip,
            keep,
            leak,
            activation,
            warps_per_slice,
            scratch,
        )
        grid_sync()


@cuda.jit
def run_sell(
    slice_ptr,
    columns,
    values,
    row_of,
    w_in,
    bias,
    inputs,
    start,
    states,
    keep,
    leak,
    activation,
    warps_per_slice,
    stage,
    capacity,
):
    """One sequence: inputs (T, n_in), start (n,), states (T, n) receives every state. Dynamic
    shared memory: the staged part, the on-chip state (stage 2), then the slice scratch."""
    n = states.shape[1]
    begin, end, per_block = block_range(slice_ptr.shape[0] - 1)
    if stage:
        columns_at, ptr_at, free_at = shared_offsets(capacity, per_block, values.itemsize)
        s_values = cuda.shared.array(0, values.dtype)
        s_columns = cuda.shared.array(0, int32)[columns_at:]
        s_ptr = cuda.shared.array(0, int32)[ptr_at:]
        x_chip = cuda.shared.array(0, states.dtype)[free_at:]
        on_chip = stage == 2
        state_size = (2 * n * states.itemsize + 15) // 16 * 16 // states.itemsize if on_chip else 0
        scratch = cuda.shared.array(0, states.dtype)[free_at + state_size :]
        stage_part(slice_ptr, columns, values, begin, end, s_ptr, s_columns, s_values)
        if on_chip:
            for i in range(cuda.threadIdx.x, n, cuda.blockDim.x):
                x_chip[i] = start[i]
            cuda.syncthreads()
        sell_run_loop(
            s_ptr,
            s_columns,
            s_values,
            begin,
            end,
            row_of,
            w_in,
            bias,
            inputs,
            start,
            states,
            x_chip,
            on_chip,
            keep,
            leak,
            activation,
            warps_per_slice,
            scratch,
        )
    else:
        sell_run_loop(
            slice_ptr[begin:],
            columns,
            values,
            begin,
            end,
            row_of,
            w_in,
            bias,
            inputs,
            start,
            states,
            start,
            False,
            keep,
            leak,
            activation,
            warps_per_slice,
            cuda.shared.array(0, states.dtype),
        )


@cuda.jit(device=True)
def generate_loop(
    ptr,
    columns,
    values,
    begin,
    end,
    row_of,
    w_in,
    bias,
    coef,
    intercept,
    include_input,
    x_buffers,
    u_own,
    partial,
    outputs,
    keep,
    leak,
    activation,
    warps_per_slice,
    scratch,
):
    n = x_buffers.shape[1]
    n_out = coef.shape[0]
    first = n if begin * 32 > n else begin * 32
    last = n if end * 32 > n else end * 32
    for t in range(outputs.shape[0]):
        parity = t % 2
        u = u_own[parity]
        dst = x_buffers[1 - parity]
        # scratch serves the slices' pieces and then the block sums, one after the other.
        sell_step(
            ptr,
            columns,
            values,
            begin,
            end,
            row_of,
            n,
            w_in,
            bias,
            u,
            x_buffers[parity],
            dst,
            dst,
            False,
            keep,
            leak,
            activation,
            warps_per_slice,
            scratch,
        )
        cuda.syncthreads()
        for o in range(n_out):
            total = cast_like(0, keep)
            for position in range(first + cuda.threadIdx.x, last, cuda.blockDim.x):
                row = row_of[position]
                total += coef[o, row] * dst[row]
            total = block_sum(total, scratch)
            if cuda.threadIdx.x == 0:
                partial[parity, o, cuda.blockIdx.x] = total
        grid_sync()
        # Every block sums the partials in the same order: all agree on the next input
        # without a second barrier.
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
def generate_sell(
    slice_ptr,
    columns,
    values,
    row_of,
    w_in,
    bias,
    coef,
    intercept,
    include_input,
    x_buffers,
    u_buffers,
    partial,
    outputs,
    keep,
    leak,
    activation,
    warps_per_slice,
    stage,
    capacity,
):
    """Closed loop, the algorithm of esn_generate_sell in esn.cu."""
    begin, end, per_block = block_range(slice_ptr.shape[0] - 1)
    u_own = u_buffers[cuda.blockIdx.x]
    scratch = cuda.shared.array(MAX_THREADS, outputs.dtype)
    if stage:
        columns_at, ptr_at, _ = shared_offsets(capacity, per_block, values.itemsize)
        s_values = cuda.shared.array(0, values.dtype)
        s_columns = cuda.shared.array(0, int32)[columns_at:]
        s_ptr = cuda.shared.array(0, int32)[ptr_at:]
        stage_part(slice_ptr, columns, values, begin, end, s_ptr, s_columns, s_values)
        generate_loop(
            s_ptr,
            s_columns,
            s_values,
            begin,
            end,
            row_of,
            w_in,
            bias,
            coef,
            intercept,
            include_input,
            x_buffers,
            u_own,
            partial,
            outputs,
            keep,
            leak,
            activation,
            warps_per_slice,
            scratch,
        )
    else:
        generate_loop(
            slice_ptr[begin:],
            columns,
            values,
            begin,
            end,
            row_of,
            w_in,
            bias,
            coef,
            intercept,
            include_input,
            x_buffers,
            u_own,
            partial,
            outputs,
            keep,
            leak,
            activation,
            warps_per_slice,
            scratch,
        )


@cuda.jit(device=True)
def csr_batch_loop(
    ptr, columns, values, begin, end, w_in, bias, inputs, x_buffers, states, group_log2, keep, leak, activation
):
    """Every step of B sequences over CSR rows [begin, end): 2**group_log2 lanes share a row."""
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
                acc = cast_like(0, keep)
                for k in range(ptr[local], ptr[local + 1]):
                    acc += values[k] * src[columns[k], b]
                pre = acc + bias[row]
                for m in range(inputs.shape[2]):
                    pre += w_in[row, m] * inputs[b, t, m]
                x = keep * src[row, b] + leak * activate(pre, activation)
                dst[row, b] = x
                states[b, t, row] = x
        grid_sync()


@cuda.jit
def run_csr_batch(
    indptr, indices, values, w_in, bias, inputs, x_buffers, states, group_log2, keep, leak, activation, stage, capacity
):
    """B sequences: inputs (B, T, n_in), x_buffers (2, n, B) with the start state in row 0 (the last
    state ends in row T % 2), states (B, T, n) receives every state."""
    begin, end, per_block = block_range(indptr.shape[0] - 1)
    if stage:
        columns_at, ptr_at, _ = shared_offsets(capacity, per_block, values.itemsize)
        s_values = cuda.shared.array(0, values.dtype)
        s_columns = cuda.shared.array(0, int32)[columns_at:]
        s_ptr = cuda.shared.array(0, int32)[ptr_at:]
        stage_part(indptr, indices, values, begin, end, s_ptr, s_columns, s_values)
        csr_batch_loop(
            s_ptr,
            s_columns,
            s_values,
            begin,
            end,
            w_in,
            bias,
            inputs,
            x_buffers,
            states,
            group_log2,
            keep,
            leak,
            activation,
        )
    else:
        csr_batch_loop(
            indptr[begin:],
            indices,
            values,
            begin,
            end,
            w_in,
            bias,
            inputs,
            x_buffers,
            states,
            group_log2,
            keep,
            leak,
            activation,
        )


# --------------------------------------------------------------------------- host driver
def _shared_limit() -> int:
    return layout.dynamic_shared_limit(NUMBA_SHARED_LIMIT, 0, settings.gpu_shared_bytes)


def _threads() -> int:
    return layout.checked_threads_per_block(settings.gpu_threads_per_block)


def _plan(kernel, ptr_host, itemsize, probe_args, state_bytes=0, scratch_bytes=0) -> layout.GridPlan:
    """Blocks and staging (see layout.plan_grid), within the co-resident blocks of `kernel`."""
    threads = _threads()
    return layout.plan_grid(
        ptr_host,
        itemsize,
        max_blocks=co_resident_blocks(kernel, probe_args, threads),
        shared_limit=_shared_limit(),
        min_entries_per_block=settings.gpu_min_entries_per_block,
        single_block_max_entries=settings.gpu_single_block_max_entries,
        state_bytes=state_bytes,
        scratch_bytes=scratch_bytes,
    )


def _warps_per_slice(ptr_host, blocks: int) -> np.int32:
    return np.int32(layout.planned_warps_per_slice(ptr_host, blocks, _threads(), settings.gpu_sell_warps_per_slice))


def _launch_persistent(kernel, name, ptr_host, itemsize, args, state_bytes=0, sell=False) -> layout.GridPlan:
    """Plan the grid and launch `kernel` cooperatively with (*args, stage, capacity); a SELL
    kernel gets its warps per slice before them and room for its slice scratch."""
    scratch_bytes = _threads() * itemsize if sell else 0
    extra = (np.int32(1),) if sell else ()
    plan = _plan(kernel, ptr_host, itemsize, (*args, *extra, np.int32(0), np.int32(0)), state_bytes, scratch_bytes)
    extra = (_warps_per_slice(ptr_host, plan.blocks),) if sell else ()
    launch_cooperative(
        kernel,
        name,
        plan.blocks,
        _threads(),
        plan.shared_bytes,
        (*args, *extra, np.int32(plan.stage), np.int32(plan.capacity)),
    )
    return plan


# --------------------------------------------------------------------------- public functions
@dataclass
class NumbaCudaEsnWeights:
    """The matrix on the host (layouts built from it on first use), the rest on the device
    (an ``EsnWeights`` of ``kernels.contract``)."""

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
            self._sell = (
                tuple(cuda.to_device(a) for a in (sell.slice_ptr, sell.columns, sell.values, sell.row_of)),
                sell.slice_ptr,
            )
        return self._sell

    def csr(self):
        if self._csr is None:
            arrays = layout.csr32(self.W)
            self._csr = (tuple(cuda.to_device(a) for a in arrays), arrays[0])
        return self._csr


def prepare_esn(W, W_in, bias) -> NumbaCudaEsnWeights:
    W = sp.csr_array(W)
    W.sort_indices()
    dtype = W.dtype
    return NumbaCudaEsnWeights(
        W,
        cuda.to_device(np.ascontiguousarray(W_in, dtype=dtype)),
        cuda.to_device(np.ascontiguousarray(bias, dtype=dtype)),
    )


def esn_run(weights: NumbaCudaEsnWeights, inputs, state, leak_rate: float, activation: str, out):
    """Same contract as ``reference.esn_run``; arrays may live on the host or the device."""
    dtype = weights.dtype
    keep, leak, act = layout.esn_scalars(weights.dtype, leak_rate, activation)
    batch, steps, _ = inputs.shape
    n = weights.W.shape[0]
    u = on_device(inputs, dtype)
    start = on_device(state, dtype)
    device_out = is_device(out)
    states = on_device(out, dtype) if device_out else cuda.device_array((batch, steps, n), dtype)
    if batch == 1:
        (slice_ptr, columns, values, row_of), ptr_host = weights.sell()
        _launch_persistent(
            run_sell,
            "run_sell",
            ptr_host,
            dtype.itemsize,
            (
                slice_ptr,
                columns,
                values,
                row_of,
                weights.W_in,
                weights.bias,
                u[0],
                start[0],
                states[0],
                keep,
                leak,
                act,
            ),
            state_bytes=2 * n * dtype.itemsize,
            sell=True,
        )
        last = states[0, steps - 1 :]
    else:
        (indptr, indices, data), ptr_host = weights.csr()
        x_buffers = cuda.device_array((2, n, batch), dtype)
        write_back(x_buffers[0], start.T)
        _launch_persistent(
            run_csr_batch,
            "run_csr_batch",
            ptr_host,
            dtype.itemsize,
            (
                indptr,
                indices,
                data,
                weights.W_in,
                weights.bias,
                u,
                x_buffers,
                states,
                np.int32(layout.next_power_of_two_log2(batch)),
                keep,
                leak,
                act,
            ),
        )
        last = x_buffers[steps % 2].T
    if not device_out:
        write_back(out, states)
    write_back(state, last)
    return out


def esn_generate(
    weights: NumbaCudaEsnWeights,
    readout_coef,
    readout_intercept,
    include_input: bool,
    state,
    first_input,
    n_steps: int,
    leak_rate: float,
    activation: str,
):
    """Same contract as ``reference.esn_generate``; outputs live where `state` lives."""
    dtype = weights.dtype
    keep, leak, act = layout.esn_scalars(weights.dtype, leak_rate, activation)
    n = weights.W.shape[0]
    n_in = weights.W_in.shape[1]
    (slice_ptr, columns, values, row_of), ptr_host = weights.sell()
    coef = on_device(readout_coef, dtype)
    intercept = on_device(readout_intercept, dtype)
    n_out = coef.shape[0]
    x_buffers = cuda.device_array((2, n), dtype)
    write_back(x_buffers[0], on_device(state, dtype))
    outputs = cuda.device_array((n_steps, n_out), dtype)
    first = np.ascontiguousarray(first_input.copy_to_host() if is_device(first_input) else first_input, dtype)

    def arguments(blocks, warps_per_slice, plan_stage, capacity):
        u_buffers = np.zeros((blocks, 2, n_in), dtype=dtype)
        u_buffers[:, 0] = first
        return (
            slice_ptr,
            columns,
            values,
            row_of,
            weights.W_in,
            weights.bias,
            coef,
            intercept,
            np.bool_(include_input),
            x_buffers,
            cuda.to_device(u_buffers),
            cuda.device_array((2, n_out, blocks), dtype),
            outputs,
            keep,
            leak,
            act,
            np.int32(warps_per_slice),
            np.int32(plan_stage),
            np.int32(capacity),
        )

    # The slices' scratch is the kernel's static block-sum scratch: no dynamic room for it.
    plan = _plan(generate_sell, ptr_host, dtype.itemsize, arguments(1, 1, 0, 0))
    launch_cooperative(
        generate_sell,
        "generate_sell",
        plan.blocks,
        _threads(),
        plan.shared_bytes,
        arguments(plan.blocks, _warps_per_slice(ptr_host, plan.blocks), plan.stage, plan.capacity),
    )
    write_back(state, x_buffers[n_steps % 2])
    return as_caller_array(state, outputs) if is_device(state) else outputs.copy_to_host()
