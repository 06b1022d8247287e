"""Numba CPU path for the ESN: the time loop runs inside compiled code.

Three kernels, by the size of the work (nnz of W times the number of sequences):

* a small reservoir (up to ``settings.small_max_work``): plain CSR, one row after
  another, one sequence after another, serial. It compiles in a fraction of the
  time of the other two (one small function per dtype and activation, the same for
  one sequence and a batch); per multiply-add it is several times slower than they
  are, which at this size costs microseconds a step.
* one sequence: SELL-8-sigma in column blocks (``layouts.to_sell``). A slice's 8 row
  sums are the 8 lanes of one vector FMA (``_simd.sell_slice_sums``); the columns are
  cut into blocks whose part of x stays in L1; the rows are then finished in vector
  loops (``_finish_rows``).
* a batch of B sequences: CSR rows over a state held as (n, B), padded to whole
  vectors, so each nonzero is read once per step and multiplies B contiguous values
  held in SIMD registers (``_simd.accumulate_row_lanes_*``); the columns are swept
  in blocks whose part of the state fits in L2, the matrix stored block-major so
  each sweep streams it (``layouts.to_column_blocks``).

Loops that stayed scalar here, each found by measurement (see ``_finish_rows`` and
the comment above ``activation._tanh_in_place``): a start index Numba cannot prove non-negative
(its negative-index wraparound stays in the loop: loop over a view from 0), a
branch on the activation inside the loop (one loop per activation), and a loop
inlined into a ``prange`` body (call a function of its own).

The SELL and batched steps exist parallel over rows and serial, from one inlined
row (or slice) body: a parallel region costs microseconds to start, more than a
whole step of a mid-sized reservoir. The two are separate functions on purpose:
one Python function wrapped twice (with and without ``parallel=True``) shares one
cache entry, and the serial wrapper then loads the parallel machine code. The host
loop takes ``parallel`` and the activation as compile-time constants
(``_compile.call``) and picks the step and the activation while compiling
(``_sell_step``, ``_csr_batch_step``: overloads), so a call compiles the one variant
it runs. Everything is cached on disk (``cache=True``). Array copies are written as
loops: a slice assignment between arrays compiles a shape check with its formatted
error message, which took longer to compile than a small kernel.

Three layers, as in every kernel file: device code (``_*_slice``/``_*_row``/``_*_step``),
host driver (``_*_loop``, the time loop), public functions (``prepare_esn``, ``esn_run``,
``esn_generate``). Measured: see the asv benchmarks (asv_bench/benchmarks/esn.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numba import get_num_threads, njit, prange, types
from numba.extending import overload

from ...config import settings
from .._simd import accumulate_row_lanes_x1, accumulate_row_lanes_x4, sell_slice_sums, vector_lanes
from ..activations import code
from . import dense
from ._compile import FASTMATH, AnyLayout, Constant, announce, call
from .activation import _activate_in_place
from .layouts import cache_line_aligned_zeros, to_column_blocks, to_sell
from .readout import _readout
from .sparse import _row_dot
from .threads import cores_free


# --------------------------------------------------------------------------- device code
@njit(inline="always")
def _csr_step(indptr, indices, data, W_in, bias, u_t, x, x_next, keep, leak, activation):
    """One step of one sequence in plain CSR, row by row (the small-reservoir kernel).

    The row sums first, then the activation and the leak in vector passes over all rows:
    the scalar float64 tanh inside the row loop cost more than the row's sum.
    """
    for row in range(x_next.shape[0]):
        total = bias[row]
        for m in range(u_t.shape[0]):
            total += W_in[row, m] * u_t[m]
        x_next[row] = total + _row_dot(indptr, indices, data, row, x)
    _activate_in_place(x_next, activation)
    for row in range(x_next.shape[0]):
        x_next[row] = keep * x[row] + leak * x_next[row]


@njit(inline="always")
def _sell_block_slice(s, first_block, slice_ptr, columns, values, row_of, x_block, partial):
    """Add slice s of a column block to its rows' partial sums (the first block sets them)."""
    sums = sell_slice_sums(values, columns, slice_ptr[s], slice_ptr[s + 1], x_block)
    for r in range(8):
        row = row_of[s * 8 + r]
        if row >= 0:  # -1 pads the last slice of a row range in a block
            partial[row] = sums[r] if first_block else partial[row] + sums[r]


# Rows per chunk of the parallel one-sequence finish: long enough to vectorise, short
# enough that the chunk's arrays stay in L1.
_FINISH_ROWS = 1024


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _finish_rows(W_in, bias, u_t, partial, x, x_next, keep, leak, activation):
    """x_next from the recurrent sums in `partial`: input drive, activation, leak, for
    all rows of the arrays given (the parallel step passes a chunk's rows as views).

    Plain passes over the rows, each vector code: several times faster than one loop
    over rows with the input sum inside.
    """
    for row in range(x_next.shape[0]):
        x_next[row] = bias[row]
    for m in range(u_t.shape[0]):
        u_m = u_t[m]
        for row in range(x_next.shape[0]):
            x_next[row] += W_in[row, m] * u_m
    for row in range(x_next.shape[0]):
        x_next[row] += partial[row]
    _activate_in_place(x_next, activation)
    for row in range(x_next.shape[0]):
        x_next[row] = keep * x[row] + leak * x_next[row]


@njit(inline="always")
def _csr_batch_accumulate(row, block, n_rows, segment_ptr, indices, data, x_block, x_next):
    """Add one column block of one row to x_next[row] (all lanes); block 0 starts from zero.

    The lanes are swept four vector registers at a time, then one, in SIMD code
    (kernels/_simd.py): the batch is padded to a whole number of vectors.
    """
    acc = x_next[row]
    if block == 0:
        acc[:] = 0
    start = segment_ptr[block * n_rows + row]
    stop = segment_ptr[block * n_rows + row + 1]
    lanes = vector_lanes(x_block)
    lane = 0
    while lane + 4 * lanes <= x_block.shape[1]:
        accumulate_row_lanes_x4(data, indices, start, stop, x_block, lane, acc)
        lane += 4 * lanes
    while lane < x_block.shape[1]:
        accumulate_row_lanes_x1(data, indices, start, stop, x_block, lane, acc)
        lane += lanes


@njit(inline="always")
def _csr_batch_finish(row, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation):
    """Input drive, activation and leak for one row of the (padded) batch; out_t (B, n) gets
    the states of the B real sequences.

    Separate contiguous loops over the batch so that each one vectorises; the activation
    is a call (``_activate_in_place``), because inlined here its loop stayed scalar in
    float64 (and then took a third of the step).
    """
    acc = x_next[row]
    for b in range(acc.shape[0]):
        acc[b] += bias[row]
    for m in range(u_t.shape[0]):
        weight = W_in[row, m]
        for b in range(acc.shape[0]):
            acc[b] += weight * u_t[m, b]
    _activate_in_place(acc, activation)
    for b in range(acc.shape[0]):
        acc[b] = keep * x[row, b] + leak * acc[b]
    for b in range(out_t.shape[0]):
        out_t[b, row] = acc[b]


@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _sell_step_parallel(
    block_columns,
    block_slices,
    slice_ptr,
    columns,
    values,
    row_of,
    part_slices,
    part_rows,
    W_in,
    bias,
    u_t,
    x,
    partial,
    x_next,
    keep,
    leak,
    activation,
):
    """One step of one sequence, x (n,) -> x_next (n,), in one parallel region.

    Part p of the layout (``layouts.to_sell``) holds the rows part_rows[p]:part_rows[p + 1]
    in every column block: the thread that takes it sums its rows over all blocks into
    its own range of `partial` and finishes them, and no thread waits for another's
    sums. One region a step: starting and joining one costs microseconds, a step of a
    mid-sized reservoir tens of them.
    """
    sums = partial[0]
    for part in prange(part_rows.shape[0] - 1):
        for block in range(block_columns.shape[0] - 1):
            x_block = x[block_columns[block] : block_columns[block + 1]]
            for s in range(part_slices[block, part], part_slices[block, part + 1]):
                _sell_block_slice(s, block == 0, slice_ptr, columns, values, row_of, x_block, sums)
        last = part_rows[part + 1]
        for first in range(part_rows[part], last, _FINISH_ROWS):
            rows = slice(first, min(first + _FINISH_ROWS, last))
            _finish_rows(W_in[rows], bias[rows], u_t, sums[rows], x[rows], x_next[rows], keep, leak, activation)


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _sell_step_serial(
    block_columns,
    block_slices,
    slice_ptr,
    columns,
    values,
    row_of,
    part_slices,
    part_rows,
    W_in,
    bias,
    u_t,
    x,
    partial,
    x_next,
    keep,
    leak,
    activation,
):
    sums = partial[0]
    for block in range(block_columns.shape[0] - 1):
        x_block = x[block_columns[block] : block_columns[block + 1]]
        for s in range(block_slices[block], block_slices[block + 1]):
            _sell_block_slice(s, block == 0, slice_ptr, columns, values, row_of, x_block, sums)
    _finish_rows(W_in, bias, u_t, sums, x, x_next, keep, leak, activation)


@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _csr_batch_step_parallel(
    block_columns, segment_ptr, indices, data, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation
):
    """One step of B sequences: x (n, B) -> x_next (n, B), one column block at a time."""
    n = x.shape[0]
    for block in range(block_columns.shape[0] - 1):
        x_block = x[block_columns[block] : block_columns[block + 1]]
        for row in prange(n):
            _csr_batch_accumulate(row, block, n, segment_ptr, indices, data, x_block, x_next)
    for row in prange(n):
        _csr_batch_finish(row, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation)


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _csr_batch_step_serial(
    block_columns, segment_ptr, indices, data, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation
):
    n = x.shape[0]
    for block in range(block_columns.shape[0] - 1):
        x_block = x[block_columns[block] : block_columns[block + 1]]
        for row in range(n):
            _csr_batch_accumulate(row, block, n, segment_ptr, indices, data, x_block, x_next)
    for row in range(n):
        _csr_batch_finish(row, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation)


def _sell_step(
    parallel,
    block_columns,
    block_slices,
    slice_ptr,
    columns,
    values,
    row_of,
    part_slices,
    part_rows,
    W_in,
    bias,
    u_t,
    x,
    partial,
    x_next,
    keep,
    leak,
    activation,
):
    """The parallel or the serial one-sequence step; compiled code only, `parallel` a literal."""
    raise NotImplementedError


@overload(_sell_step, prefer_literal=True)
def _sell_step_typed(
    parallel,
    block_columns,
    block_slices,
    slice_ptr,
    columns,
    values,
    row_of,
    part_slices,
    part_rows,
    W_in,
    bias,
    u_t,
    x,
    partial,
    x_next,
    keep,
    leak,
    activation,
):
    # Chosen while compiling: a branch on the constant would still compile both steps.
    if not isinstance(parallel, types.BooleanLiteral):
        return None
    step = _sell_step_parallel if parallel.literal_value else _sell_step_serial

    def chosen(
        parallel,
        block_columns,
        block_slices,
        slice_ptr,
        columns,
        values,
        row_of,
        part_slices,
        part_rows,
        W_in,
        bias,
        u_t,
        x,
        partial,
        x_next,
        keep,
        leak,
        activation,
    ):
        step(
            block_columns,
            block_slices,
            slice_ptr,
            columns,
            values,
            row_of,
            part_slices,
            part_rows,
            W_in,
            bias,
            u_t,
            x,
            partial,
            x_next,
            keep,
            leak,
            activation,
        )

    return chosen


def _csr_batch_step(
    parallel, block_columns, segment_ptr, indices, data, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation
):
    """The parallel or the serial batched step; compiled code only, `parallel` a literal."""
    raise NotImplementedError


@overload(_csr_batch_step, prefer_literal=True)
def _csr_batch_step_typed(
    parallel, block_columns, segment_ptr, indices, data, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation
):
    if not isinstance(parallel, types.BooleanLiteral):
        return None
    step = _csr_batch_step_parallel if parallel.literal_value else _csr_batch_step_serial

    def chosen(
        parallel, block_columns, segment_ptr, indices, data, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation
    ):
        step(block_columns, segment_ptr, indices, data, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation)

    return chosen


# --------------------------------------------------------------------------- host drivers
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _csr_loop(indptr, indices, data, W_in, bias, inputs, state, keep, leak, activation, out, scratch):
    """inputs (B, T, n_in), state (B, n) advanced in place, out (B, T, n), any strides: the
    sequences one after another.

    The step reads and writes two contiguous buffers (`scratch`, (2, n), allocated by the
    caller: an np.empty here adds a tenth to the compilation), and each new state is copied
    out: read from a strided view of `out`, the random x[column] loads cost several times more.
    """
    x = scratch[0]
    x_next = scratch[1]
    for b in range(inputs.shape[0]):
        for row in range(x.shape[0]):
            x[row] = state[b, row]
        for t in range(inputs.shape[1]):
            _csr_step(indptr, indices, data, W_in, bias, inputs[b, t], x, x_next, keep, leak, activation)
            x, x_next = x_next, x
            out_t = out[b, t]
            for row in range(x.shape[0]):
                out_t[row] = x[row]
        for row in range(x.shape[0]):
            state[b, row] = x[row]


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _csr_generate_loop(
    indptr, indices, data, W_in, bias, x, u, coef, intercept, include_input, keep, leak, activation, outputs
):
    x_next = np.empty_like(x)
    for t in range(outputs.shape[0]):
        _csr_step(indptr, indices, data, W_in, bias, u, x, x_next, keep, leak, activation)
        x, x_next = x_next, x
        _readout(x, u, coef, intercept, include_input, outputs[t])
    return x


@announce("a one-sequence ESN step")
@njit(cache=True)
def _sell_loop(parallel, sell, W_in, bias, inputs, x, partial, keep, leak, activation, out):
    """inputs (T, n_in); out (T, n): each row of out is the next step's source state.
    `parallel` a literal, `sell` the tuple of layouts.to_sell, `partial` scratch for the
    row sums (``_partial_sums``)."""
    # unpacked here: a star-args call drops the literals
    block_columns, block_slices, slice_ptr, columns, values, row_of, part_slices, part_rows = sell
    previous = x
    for t in range(inputs.shape[0]):
        _sell_step(
            parallel,
            block_columns,
            block_slices,
            slice_ptr,
            columns,
            values,
            row_of,
            part_slices,
            part_rows,
            W_in,
            bias,
            inputs[t],
            previous,
            partial,
            out[t],
            keep,
            leak,
            activation,
        )
        previous = out[t]
    for row in range(x.shape[0]):
        x[row] = previous[row]


@announce("a batched ESN step")
@njit(cache=True)
def _csr_batch_loop(
    parallel, block_columns, segment_ptr, indices, data, W_in, bias, inputs, x, x_next, keep, leak, activation, out
):
    """inputs (T, n_in, B); x and x_next (n, B), the current state and scratch; out (B, T, n).
    Returns the one of the two buffers that holds the last state."""
    for t in range(inputs.shape[0]):
        _csr_batch_step(
            parallel,
            block_columns,
            segment_ptr,
            indices,
            data,
            W_in,
            bias,
            inputs[t],
            x,
            x_next,
            out[:, t],
            keep,
            leak,
            activation,
        )
        x, x_next = x_next, x
    return x


@announce("a one-sequence ESN step")
@njit(cache=True)
def _sell_generate_loop(
    parallel, sell, W_in, bias, x, partial, u, coef, intercept, include_input, keep, leak, activation, outputs
):
    block_columns, block_slices, slice_ptr, columns, values, row_of, part_slices, part_rows = sell
    x_next = np.empty_like(x)
    for t in range(outputs.shape[0]):
        _sell_step(
            parallel,
            block_columns,
            block_slices,
            slice_ptr,
            columns,
            values,
            row_of,
            part_slices,
            part_rows,
            W_in,
            bias,
            u,
            x,
            partial,
            x_next,
            keep,
            leak,
            activation,
        )
        x, x_next = x_next, x
        _readout(x, u, coef, intercept, include_input, outputs[t])
    return x


# --------------------------------------------------------------------------- public functions
@dataclass
class CpuEsnWeights:
    """Weights in the layouts this path reads; the SELL and column-block copies are built on first use."""

    W: sp.csr_array
    W_in: np.ndarray
    bias: np.ndarray
    _unsigned_indices: np.ndarray | None = field(default=None, repr=False)
    _sell: tuple | None = field(default=None, repr=False)
    _batched: tuple | None = field(default=None, repr=False)  # (block width, layout) of the last batch width

    @property
    def nnz(self) -> int:
        return self.W.nnz

    def csr(self) -> tuple:
        """(indptr, indices, data) of W, as the small-reservoir kernel reads them: the
        indices unsigned (``sparse._row_dot``), copied once."""
        if self._unsigned_indices is None:
            self._unsigned_indices = self.W.indices.astype(np.uint32)
        return self.W.indptr, self._unsigned_indices, self.W.data

    def sell(self):
        if self._sell is None:
            self._sell = to_sell(self.W, settings.sell_slice_rows, get_num_threads())
        return self._sell

    def batched(self, batch: int):
        """(block_columns, segment_ptr, indices, data): the layout of the batched step for a
        state of `batch` lanes (``layouts.to_column_blocks``).

        The columns are cut into blocks whose slice of the (n, B) state fits in
        ``settings.batch_state_block_bytes`` (half of a core's L2), and each block is
        swept over all rows before the next, so the random state rows a nonzero pulls
        come from L2 instead of L3. Built for the last batch width asked for.
        """
        width = max(1, settings.batch_state_block_bytes // (batch * self.W.data.itemsize))
        if self._batched is None or self._batched[0] != width:
            self._batched = (width, to_column_blocks(self.W, width))
        return self._batched[1]


def prepare_esn(W, W_in, bias, recurrent_kernel: str = "auto") -> CpuEsnWeights | dense.DenseEsnWeights:
    """`recurrent_kernel`: "auto" (dense kernels from ``settings.dense_min_density``), "sparse", "dense"."""
    if dense.use_dense(W, recurrent_kernel):
        return dense.prepare_dense_esn(W, W_in, bias)
    W = sp.csr_array(W)
    W.sort_indices()
    dtype = W.dtype
    return CpuEsnWeights(W, np.ascontiguousarray(W_in, dtype=dtype), np.ascontiguousarray(bias, dtype=dtype))


def _small(work: int) -> bool:
    return work <= settings.small_max_work


def _parallel(work: int, dtype) -> Constant:
    """Both cores from ``settings.parallel_min_work`` multiply-adds a step (float64 steps
    from ``settings.parallel_min_work_float64``), while other processes leave them free
    (``threads.cores_free``)."""
    threshold = settings.parallel_min_work_float64 if np.dtype(dtype).itemsize == 8 else settings.parallel_min_work
    return Constant(work >= threshold and cores_free())


def _partial_sums(x) -> np.ndarray:
    """Scratch for the one-sequence step's row sums, (1, n): every thread writes its own rows."""
    return np.empty((1, x.shape[-1]), dtype=x.dtype)


def esn_run(weights: CpuEsnWeights, inputs, state, leak_rate: float, activation: str, out):
    """Same contract as ``reference.esn_run``."""
    if isinstance(weights, dense.DenseEsnWeights):
        return dense.esn_run(weights, inputs, state, leak_rate, activation, out)
    dtype = weights.W.dtype.type
    keep, leak, act = dtype(1.0 - leak_rate), dtype(leak_rate), Constant(code(activation))
    batch = inputs.shape[0]
    if _small(weights.nnz * batch):
        # One specialisation for one sequence and a batch, whole or a time chunk of it.
        x = np.ascontiguousarray(state)
        call(
            _csr_loop,
            *weights.csr(),
            weights.W_in,
            weights.bias,
            np.ascontiguousarray(inputs),
            x,
            keep,
            leak,
            act,
            AnyLayout(out),
            np.empty((2, x.shape[1]), dtype=x.dtype),
        )
        state[...] = x
    elif batch == 1:
        x = np.ascontiguousarray(state[0])
        parallel = _parallel(weights.nnz, weights.W.dtype)
        call(
            _sell_loop,
            parallel,
            weights.sell(),
            weights.W_in,
            weights.bias,
            inputs[0],
            x,
            _partial_sums(x),
            keep,
            leak,
            act,
            out[0],
        )
        state[0] = x
    else:
        # Batch innermost and padded to whole SIMD vectors; the padding lanes run on zero input.
        lanes = -(-batch // vector_lanes(state)) * vector_lanes(state)
        x = cache_line_aligned_zeros((state.shape[1], lanes), state.dtype)
        x[:, :batch] = state.T
        inputs_by_step = np.zeros((inputs.shape[1], inputs.shape[2], lanes), dtype=inputs.dtype)  # (T, n_in, lanes)
        inputs_by_step[..., :batch] = inputs.transpose(1, 2, 0)
        x = call(
            _csr_batch_loop,
            _parallel(weights.nnz * batch, weights.W.dtype),
            *weights.batched(lanes),
            weights.W_in,
            weights.bias,
            inputs_by_step,
            x,
            cache_line_aligned_zeros(x.shape, x.dtype),
            keep,
            leak,
            act,
            AnyLayout(out),
        )  # a time chunk of a batch is strided: one specialisation for both
        state[...] = x[:, :batch].T
    return out


def esn_generate(
    weights: CpuEsnWeights,
    readout_coef,
    readout_intercept,
    include_input: bool,
    state,
    first_input,
    n_steps: int,
    leak_rate: float,
    activation: str,
):
    """Same contract as ``reference.esn_generate``."""
    if isinstance(weights, dense.DenseEsnWeights):
        args = (readout_coef, readout_intercept, include_input, state, first_input, n_steps, leak_rate, activation)
        return dense.esn_generate(weights, *args)
    dtype = weights.W.dtype
    keep, leak, act = dtype.type(1.0 - leak_rate), dtype.type(leak_rate), Constant(code(activation))
    outputs = np.empty((n_steps, readout_coef.shape[0]), dtype=dtype)
    readout = (
        np.ascontiguousarray(readout_coef, dtype=dtype),
        np.ascontiguousarray(readout_intercept, dtype=dtype),
        Constant(bool(include_input)),
    )
    u = np.array(first_input, dtype=dtype)
    if _small(weights.nnz):
        x = call(
            _csr_generate_loop,
            *weights.csr(),
            weights.W_in,
            weights.bias,
            state.copy(),
            u,
            *readout,
            keep,
            leak,
            act,
            outputs,
        )
    else:
        parallel = _parallel(weights.nnz, weights.W.dtype)
        x = state.copy()
        x = call(
            _sell_generate_loop,
            parallel,
            weights.sell(),
            weights.W_in,
            weights.bias,
            x,
            _partial_sums(x),
            u,
            *readout,
            keep,
            leak,
            act,
            outputs,
        )
    state[...] = x
    return outputs
