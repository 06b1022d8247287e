"""Numba CPU path: the time loop runs inside compiled code.

Layouts, chosen for what the memory system likes (measured on a 2-core EPYC,
n = 10,000 at 1 %, float32; SciPy's CSR matvec takes 0.86 ms there):

* one sequence: SELL-8-sigma in column blocks. Rows are sorted by length and cut
  into slices of 8; a slice stores its entries column-major, so its 8 row sums are
  the 8 lanes of one vector FMA (``_simd.sell_slice_sums``) and padding stays small.
  The columns are cut into blocks whose part of x stays in L1, with uint16 indices
  local to the block (see ``_to_sell``); the rows are then finished in vector loops
  (``_finish_rows``). About 0.38 ms per step on one core and 0.25 ms on two, against
  0.86 ms for SciPy's matvec alone.
* a batch of B sequences: CSR rows over a state held as (n, B), padded to whole
  vectors, so each nonzero is read once per step and multiplies B contiguous values
  held in SIMD registers (``_simd.accumulate_row_lanes_*``); the columns are swept
  in blocks whose part of the state fits in L2, the matrix stored block-major so
  each sweep streams it (``EsnWeights.batched``).

Compiled with NumPy's error model: Python's zero-division check on the rational
tanh's division kept loops calling it from vectorising. Three more things kept loops
scalar here (each measured, see ``_finish_rows``): a start index Numba cannot prove
non-negative (its negative-index wraparound stays in the loop: loop over a view from
0), a branch on the activation inside the loop (one loop per activation), and a loop
inlined into a ``prange`` body (call a function of its own).

Every step kernel is compiled twice, parallel over rows and serial, from one inlined
row (or slice) body: a parallel region costs microseconds to start, more than a whole
step of a small reservoir. Everything is cached on disk (``cache=True``), so only the
first run on a machine pays for compilation. The two variants are separate functions
on purpose: one Python function wrapped twice (with and without ``parallel=True``)
shares one cache entry, and the serial wrapper then loads the parallel machine code
(tested: both ran on threads 0 and 1).

Three layers, as in every kernel file: device code (``_*_slice``/``_*_row``/``_*_step``), host driver
(``_*_loop``, the time loop), public functions (``prepare_esn``, ``esn_run``, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numba import njit, prange, types
from numba.extending import overload

from ...config import settings
from .._simd import accumulate_row_lanes_x1, accumulate_row_lanes_x4, power_of_two, sell_slice_sums, vector_lanes
from ..activations import RELU, SIGMOID, TANH, code

# Reassociation lets LLVM vectorise the sums; no 'nnan'/'ninf': NaN must stay NaN.
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


# --------------------------------------------------------------------------- device code
# float32 tanh as a rational function (the minimax fit used by Eigen's fast tanh;
# max error 3.4e-7 on a 2e6-point grid over [-12, 12]). Plain arithmetic, so the
# loops that call it vectorise; libm's tanhf does not and costs more than the matvec
# in a batched step.
_TANH_CLAMP = np.float32(7.90531110763549805)
_TANH_P = tuple(np.float32(c) for c in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                       5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                                       -2.76076847742355e-16))
_TANH_Q = tuple(np.float32(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                       1.19825839466702e-06))
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = _TANH_P
_Q0, _Q1, _Q2, _Q3 = _TANH_Q

# float64 tanh in plain arithmetic too (libm's tanh is a call per element: 26 us a step
# at n = 1,000 against 5.7 us in float32). Below |z| = 0.625 the rational form of
# Moshier's Cephes library (its coefficients), z + z^3 P(z^2) / Q(z^2); above it
# (1 - t) / (1 + t) with t = exp(-2|z|): Cody-Waite reduction by ln 2, a degree-13
# Taylor polynomial on |r| <= ln(2) / 2, and 2^k from the exponent bits. At most 2 ulp
# from np.tanh on 4e6 points over [-25, 25]; one division for both branches.
_TANH64_P = (-9.64399179425052238628e-01, -9.92877231001918586564e+01, -1.61468768441708447952e+03)
_TANH64_Q = (1.12811678491632931402e+02, 2.23548839060100448583e+03, 4.84406305325125486048e+03)
_TP0, _TP1, _TP2 = _TANH64_P
_TQ0, _TQ1, _TQ2 = _TANH64_Q
_LOG2_E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # ln 2 = HI + LO, HI exact in k * HI
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = (1.0 / math.factorial(i)
                                                                            for i in range(14))
_TANH64_SATURATES = 19.5  # exp(-39) < 2**-55: (1 - t) / (1 + t) rounds to 1.0 from here on


def _tanh(z):
    return np.tanh(z)


@overload(_tanh, inline="always")
def _tanh_typed(z):
    if isinstance(z, types.Float) and z.bitwidth == 32:
        def rational_tanh(z):
            z = min(max(z, -_TANH_CLAMP), _TANH_CLAMP)
            z2 = z * z
            p = z * (_P0 + z2 * (_P1 + z2 * (_P2 + z2 * (_P3 + z2 * (_P4 + z2 * (_P5 + z2 * _P6))))))
            q = _Q0 + z2 * (_Q1 + z2 * (_Q2 + z2 * _Q3))
            return p / q
        return rational_tanh
    if isinstance(z, types.Float) and z.bitwidth == 64:
        def arithmetic_tanh(z):
            # Both branches are computed and one is taken by multiplying with 0.0 or 1.0 (exact,
            # as both are finite): a conditional expression here made Numba warn about its SSA
            # form. Each branch sees a clamped |z|, and np.minimum carries a NaN through.
            a = abs(z)
            near = np.float64(a < 0.625)
            s = np.minimum(a, 0.625)  # the rational branch's |z|
            s2 = s * s
            y = -2.0 * np.minimum(a, _TANH64_SATURATES)  # the exponential branch's -2|z|
            k = np.floor(y * _LOG2_E + 0.5)
            r = (y - k * _LN2_HI) - k * _LN2_LO
            e = ((((((_E13 * r + _E12) * r + _E11) * r + _E10) * r + _E9) * r + _E8) * r + _E7) * r + _E6
            e = (((((e * r + _E5) * r + _E4) * r + _E3) * r + _E2) * r + _E1) * r + _E0
            t = e * power_of_two(np.int32(k))  # exp(y); an int32 k converts in vector registers
            num = near * (s * s2 * ((_TP0 * s2 + _TP1) * s2 + _TP2)) + (1.0 - near) * (1.0 - t)
            den = near * (((s2 + _TQ0) * s2 + _TQ1) * s2 + _TQ2) + (1.0 - near) * (1.0 + t)
            return math.copysign(near * s + num / den, z)  # tanh(|z|) with z's sign
        return arithmetic_tanh
    return lambda z: np.tanh(z)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@overload(_sigmoid, inline="always")
def _sigmoid_typed(z):
    # Constants of the argument's own type: a float64 literal would promote the whole
    # activation (and the leaky update after it) to float64.
    half = np.float32(0.5) if isinstance(z, types.Float) and z.bitwidth == 32 else 0.5
    one = half + half

    def logistic(z):
        return half * (one + _tanh(half * z))
    return logistic


@njit(inline="always")
def _activate(z, activation):
    if activation == TANH:
        return _tanh(z)
    if activation == SIGMOID:
        return _sigmoid(z)
    if activation == RELU:
        return z if z > 0 else z - z
    return z  # IDENTITY


@njit(inline="always")
def _sell_block_slice(s, first_block, slice_ptr, columns, values, row_of, x_block, partial):
    """Add slice s of a column block to its rows' partial sums (the first block sets them)."""
    sums = sell_slice_sums(values, columns, slice_ptr[s], slice_ptr[s + 1], x_block)
    for r in range(8):
        row = row_of[s * 8 + r]
        if row >= 0:  # -1 pads the last slice of a block
            partial[row] = sums[r] if first_block else partial[row] + sums[r]


# Rows per parallel chunk of the one-sequence finish: a few chunks per thread, each
# long enough to vectorise and short enough that its arrays stay in L1.
_FINISH_ROWS = 1024


@njit(fastmath=_FASTMATH, error_model="numpy", cache=True)
def _activate_in_place(z, activation):
    """z[:] = f(z) for a 1-D array, one loop per activation so that each vectorises
    (n = 10,000 float32 tanh, one core: 0.0030 ms against 0.0045 with the choice
    inside one loop).

    A function of its own, never inlined, and its loops start at index 0: inlined into
    a parallel loop's body, or run from a start Numba cannot prove non-negative (its
    negative-index wraparound then stays in the loop), loops like these stayed scalar.
    """
    if activation == TANH:
        for i in range(z.shape[0]):
            z[i] = _tanh(z[i])
    elif activation == SIGMOID:
        for i in range(z.shape[0]):
            z[i] = _sigmoid(z[i])
    elif activation == RELU:
        for i in range(z.shape[0]):
            z[i] = _activate(z[i], RELU)


@njit(fastmath=_FASTMATH, error_model="numpy", cache=True)
def _finish_rows(W_in, bias, u_t, partial, x, x_next, keep, leak, activation):
    """x_next from the recurrent sums in `partial`: input drive, activation, leak, for
    all rows of the arrays given (the parallel step passes a chunk's rows as views).

    Plain passes over the rows, each vector code: n = 10,000, one input, one core,
    0.009 ms a step against 0.04 as one loop over rows with the input sum inside.
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
    float64 (n = 10,000, B = 32, one core: tanh took 3.1 ms of an 8.3 ms step).
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


@njit(parallel=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
def _sell_step_parallel(block_columns, block_slices, slice_ptr, columns, values, row_of, W_in, bias, u_t, x,
                        partial, x_next, keep, leak, activation):
    """One step of one sequence, x (n,) -> x_next (n,), one column block of the matrix at a time."""
    for block in range(block_columns.shape[0] - 1):
        x_block = x[block_columns[block]:block_columns[block + 1]]
        for s in prange(block_slices[block], block_slices[block + 1]):
            _sell_block_slice(s, block == 0, slice_ptr, columns, values, row_of, x_block, partial)
    for chunk in prange(-(-x.shape[0] // _FINISH_ROWS)):
        rows = slice(chunk * _FINISH_ROWS, (chunk + 1) * _FINISH_ROWS)
        _finish_rows(W_in[rows], bias[rows], u_t, partial[rows], x[rows], x_next[rows], keep, leak, activation)


@njit(fastmath=_FASTMATH, error_model="numpy", cache=True)
def _sell_step_serial(block_columns, block_slices, slice_ptr, columns, values, row_of, W_in, bias, u_t, x,
                      partial, x_next, keep, leak, activation):
    for block in range(block_columns.shape[0] - 1):
        x_block = x[block_columns[block]:block_columns[block + 1]]
        for s in range(block_slices[block], block_slices[block + 1]):
            _sell_block_slice(s, block == 0, slice_ptr, columns, values, row_of, x_block, partial)
    _finish_rows(W_in, bias, u_t, partial, x, x_next, keep, leak, activation)


@njit(inline="always")
def _sell_step(parallel, sell, W_in, bias, u_t, x, partial, x_next, keep, leak, activation):
    """`sell` is the tuple of EsnWeights.sell()."""
    if parallel:
        _sell_step_parallel(*sell, W_in, bias, u_t, x, partial, x_next, keep, leak, activation)
    else:
        _sell_step_serial(*sell, W_in, bias, u_t, x, partial, x_next, keep, leak, activation)


@njit(parallel=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
def _csr_batch_step_parallel(block_columns, segment_ptr, indices, data, W_in, bias, u_t, x, x_next, out_t, keep, leak,
                             activation):
    """One step of B sequences: x (n, B) -> x_next (n, B), one column block at a time."""
    n = x.shape[0]
    for block in range(block_columns.shape[0] - 1):
        x_block = x[block_columns[block]:block_columns[block + 1]]
        for row in prange(n):
            _csr_batch_accumulate(row, block, n, segment_ptr, indices, data, x_block, x_next)
    for row in prange(n):
        _csr_batch_finish(row, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation)


@njit(fastmath=_FASTMATH, error_model="numpy", cache=True)
def _csr_batch_step_serial(block_columns, segment_ptr, indices, data, W_in, bias, u_t, x, x_next, out_t, keep, leak,
                           activation):
    n = x.shape[0]
    for block in range(block_columns.shape[0] - 1):
        x_block = x[block_columns[block]:block_columns[block + 1]]
        for row in range(n):
            _csr_batch_accumulate(row, block, n, segment_ptr, indices, data, x_block, x_next)
    for row in range(n):
        _csr_batch_finish(row, W_in, bias, u_t, x, x_next, out_t, keep, leak, activation)


@njit(parallel=True, cache=True)
def _column_block_starts(indptr, indices, block_columns, n_blocks):
    """starts[b, row]: first entry of `row` whose column is in block b (columns sorted per row);
    starts[n_blocks, row] is the row's end."""
    n = indptr.shape[0] - 1
    starts = np.empty((n_blocks + 1, n), dtype=np.int64)
    for row in prange(n):
        k = indptr[row]
        for block in range(n_blocks):
            starts[block, row] = k
            limit = (block + 1) * block_columns
            while k < indptr[row + 1] and indices[k] < limit:
                k += 1
        starts[n_blocks, row] = indptr[row + 1]
    return starts


@njit(parallel=True, cache=True)
def _fill_column_blocks(starts, indices, data, block_columns, segment_ptr, local_indices, block_data):
    """Copy CSR entries into block-major segments: segment (b, row), the entries
    starts[b, row]:starts[b + 1, row], goes to segment_ptr[b * n + row] with columns
    local to block b."""
    n = starts.shape[1]
    for row in prange(n):
        for block in range(starts.shape[0] - 1):
            position = segment_ptr[block * n + row]
            for k in range(starts[block, row], starts[block + 1, row]):
                local_indices[position] = indices[k] - block_columns[block]
                block_data[position] = data[k]
                position += 1


# --------------------------------------------------------------------------- host drivers
@njit(cache=True)
def _sell_loop(parallel, sell, W_in, bias, inputs, x, keep, leak, activation, out):
    """inputs (T, n_in); out (T, n): each row of out is the next step's source state."""
    partial = np.empty_like(x)
    previous = x
    for t in range(inputs.shape[0]):
        _sell_step(parallel, sell, W_in, bias, inputs[t], previous, partial, out[t], keep, leak, activation)
        previous = out[t]
    x[:] = previous


@njit(cache=True)
def _csr_batch_loop(parallel, block_columns, segment_ptr, indices, data, W_in, bias, inputs, x, x_next, keep, leak,
                    activation, out):
    """inputs (T, n_in, B); x and x_next (n, B), the current state and scratch; out (B, T, n).
    Returns the one of the two buffers that holds the last state."""
    for t in range(inputs.shape[0]):
        if parallel:
            _csr_batch_step_parallel(block_columns, segment_ptr, indices, data, W_in, bias, inputs[t], x, x_next,
                                     out[:, t], keep, leak, activation)
        else:
            _csr_batch_step_serial(block_columns, segment_ptr, indices, data, W_in, bias, inputs[t], x, x_next,
                                   out[:, t], keep, leak, activation)
        x, x_next = x_next, x
    return x


@njit(cache=True)
def _sell_generate_loop(parallel, sell, W_in, bias, x, u, coef, intercept, include_input, keep, leak, activation,
                        outputs):
    n = x.shape[0]
    x_next = np.empty_like(x)
    partial = np.empty_like(x)
    for t in range(outputs.shape[0]):
        _sell_step(parallel, sell, W_in, bias, u, x, partial, x_next, keep, leak, activation)
        x, x_next = x_next, x
        for o in range(coef.shape[0]):
            total = intercept[o]
            for i in range(n):
                total += coef[o, i] * x[i]
            if include_input:
                for m in range(u.shape[0]):
                    total += coef[o, n + m] * u[m]
            outputs[t, o] = total
        for m in range(u.shape[0]):
            u[m] = outputs[t, m]
    return x


@njit(parallel=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
def _elm_dense(column_ptr, rows, values, bias, X, activation, H):
    """H[s] = f(W @ X[s] + b), pushing each nonzero input feature into the hidden units it feeds
    (W in CSC: column j lists the hidden units of feature j)."""
    for sample in prange(X.shape[0]):
        h = H[sample]
        h[:] = bias
        for feature in range(X.shape[1]):
            value = X[sample, feature]
            if value != 0:
                for k in range(column_ptr[feature], column_ptr[feature + 1]):
                    h[rows[k]] += values[k] * value
        _activate_in_place(h, activation)


@njit(parallel=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
def _elm_sparse(column_ptr, rows, values, bias, X_ptr, X_features, X_values, activation, H):
    """Same for X in CSR: only the stored nonzeros of each sample are read."""
    for sample in prange(H.shape[0]):
        h = H[sample]
        h[:] = bias
        for entry in range(X_ptr[sample], X_ptr[sample + 1]):
            feature = X_features[entry]
            value = X_values[entry]
            for k in range(column_ptr[feature], column_ptr[feature + 1]):
                h[rows[k]] += values[k] * value
        _activate_in_place(h, activation)


@njit(parallel=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
def _elm_bias_activate(bias, activation, product, H):
    """H[s] = f(product[s] + b) in float64, rounded to H's dtype (after the BLAS product)."""
    for sample in prange(H.shape[0]):
        for i in range(H.shape[1]):
            H[sample, i] = _activate(product[sample, i] + bias[i], activation)


@njit(parallel=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
def _csr_matvec(indptr, indices, data, x, y):
    for row in prange(y.shape[0]):
        total = 0.0  # float64 accumulator: y starts uninitialised, and this sum feeds a norm
        for k in range(indptr[row], indptr[row + 1]):
            total += data[k] * x[indices[k]]
        y[row] = total


# --------------------------------------------------------------------------- public functions
@dataclass
class EsnWeights:
    """Weights in the layouts this path reads; the SELL and column-block copies are built on first use."""

    W: sp.csr_array
    W_in: np.ndarray
    bias: np.ndarray
    _sell: tuple | None = field(default=None, repr=False)
    _batched: tuple | None = field(default=None, repr=False)  # (block width, layout) of the last batch width

    @property
    def nnz(self) -> int:
        return self.W.nnz

    def sell(self):
        if self._sell is None:
            self._sell = _to_sell(self.W, settings.sell_slice_rows)
        return self._sell

    def batched(self, batch: int):
        """(block_columns, segment_ptr, indices, data): the layout of the batched step for a
        state of `batch` lanes.

        The columns are cut into blocks whose slice of the (n, B) state fits in
        ``settings.batch_state_block_bytes`` (half of a core's L2 here), and each block is
        swept over all rows before the next, so the random state rows a nonzero pulls
        come from L2 instead of L3. The matrix is stored block-major, as one CSR per
        column block with columns local to it (uint16 while a block has at most 65,536),
        so each sweep also streams its entries contiguously: with row-major CSR and
        per-block offsets, a sweep read a short piece of every row, and once the matrix
        no longer fitted in L3 (n = 20,000 at 1 %, B = 32) that was 2.5x slower than
        no blocks at all. Built for the last batch width asked for.
        """
        W = self.W
        n_rows, n_columns = W.shape
        width = max(1, settings.batch_state_block_bytes // (batch * W.data.itemsize))
        if self._batched is None or self._batched[0] != width:
            block_columns, starts = _column_blocks(W, width)
            n_blocks = len(block_columns) - 1
            segment_ptr = np.zeros(n_blocks * n_rows + 1, dtype=np.int64)
            np.cumsum(np.diff(starts, axis=0).ravel(), out=segment_ptr[1:])
            indices = np.empty(W.nnz, dtype=_column_dtype(min(width, n_columns)))
            data = np.empty_like(W.data)
            _fill_column_blocks(starts, W.indices, W.data, block_columns, segment_ptr, indices, data)
            self._batched = (width, (block_columns, segment_ptr, indices, data))
        return self._batched[1]


def _column_blocks(W: sp.csr_array, width: int):
    """W's columns cut into blocks of `width` (the last one shorter, none empty):
    (block_columns, starts), block b covering columns block_columns[b]:block_columns[b + 1]
    and starts[b, row] the first entry of `row` in it (starts[-1] the rows' ends)."""
    n_blocks = -(-W.shape[1] // width)
    starts = _column_block_starts(W.indptr.astype(np.int64), W.indices, width, n_blocks)
    return np.minimum(np.arange(n_blocks + 1, dtype=np.int64) * width, W.shape[1]), starts


def _column_dtype(n_columns: int):
    return np.uint16 if n_columns <= np.iinfo(np.uint16).max + 1 else np.uint32


def _to_sell(W: sp.csr_array, slice_rows: int):
    """Column-blocked SELL-8-sigma (sigma = n), the layout of the one-sequence step.

    The columns are cut into blocks whose part of x fits in half of L1
    (``settings.sell_block_bytes``): the random reads x[column] of a block then hit
    L1 instead of L2 (n = 10,000 float32: 0.42 ms a step on one core against 0.49 ms
    unblocked). Each block is its own SELL matrix: rows sorted by their length in
    the block (longest first), slices of 8 rows, entries of a slice column-major and
    padded with zero weights, column indices local to the block (uint16 while a block
    has at most 65,536 columns). The slices are dealt longest, shortest, second
    longest, ... so that the contiguous ranges a parallel loop hands each thread
    carry equal work.

    Returns (block_columns, block_slices, slice_ptr, columns, values, row_of):
    block b covers columns block_columns[b]:block_columns[b + 1] and slices
    block_slices[b]:block_slices[b + 1]; slice s holds the rows row_of[8 s: 8 s + 8]
    (-1 for padding) and the entries slice_ptr[s]:slice_ptr[s + 1].
    """
    if slice_rows != 8:
        raise ValueError("the SELL kernel is written for slices of 8 rows")
    n_rows, n_columns = W.shape
    itemsize = W.data.dtype.itemsize
    n_blocks = -(-n_columns * itemsize // settings.sell_block_bytes)
    # A block needs enough entries per row to amortise its slice overhead and a pass over x.
    n_blocks = int(max(1, min(n_blocks, W.nnz // (8 * max(n_rows, 1)))))
    width = -(-n_columns // n_blocks)
    block_columns, starts = _column_blocks(W, width)
    n_blocks = len(block_columns) - 1
    blocks = []
    for block in range(n_blocks):
        lengths = starts[block + 1] - starts[block]
        order = np.argsort(-lengths, kind="stable")
        n_slices = -(-n_rows // slice_rows)
        rows = np.full(n_slices * slice_rows, -1, dtype=np.int64)
        rows[:n_rows] = order
        deal = np.empty(n_slices, dtype=np.int64)  # longest, shortest, second longest, ...
        deal[0::2] = np.arange((n_slices + 1) // 2)
        deal[1::2] = np.arange(n_slices - 1, (n_slices + 1) // 2 - 1, -1)
        rows = rows.reshape(n_slices, slice_rows)[deal]
        padded_lengths = np.where(rows >= 0, lengths[np.maximum(rows, 0)], 0)
        blocks.append((rows.ravel(), padded_lengths.max(axis=1)))
    widths = np.concatenate([block_widths for _, block_widths in blocks])
    slice_ptr = np.zeros(widths.size + 1, dtype=np.int64)
    np.cumsum(widths * slice_rows, out=slice_ptr[1:])
    block_slices = np.zeros(n_blocks + 1, dtype=np.int64)
    np.cumsum([block_widths.size for _, block_widths in blocks], out=block_slices[1:])
    row_of = np.concatenate([rows for rows, _ in blocks])
    columns = np.zeros(slice_ptr[-1], dtype=_column_dtype(width))
    values = np.zeros(slice_ptr[-1], dtype=W.data.dtype)
    for block in range(n_blocks):
        _fill_sell(starts[block], starts[block + 1], W.indices, W.data, block_columns[block], row_of,
                   block_slices[block], block_slices[block + 1], slice_ptr, columns, values)
    return block_columns, block_slices, slice_ptr, columns, values, row_of


@njit(parallel=True, cache=True)
def _fill_sell(row_start, row_stop, indices, data, first_column, row_of, first_slice, last_slice, slice_ptr,
               columns, values):
    """Copy one column block's entries (row i: row_start[i]:row_stop[i] of the CSR) into its slices."""
    for s in prange(first_slice, last_slice):
        width = (slice_ptr[s + 1] - slice_ptr[s]) // 8
        for r in range(8):
            row = row_of[s * 8 + r]
            start = row_start[row] if row >= 0 else 0
            length = row_stop[row] - start if row >= 0 else 0
            last = 0
            for j in range(width):
                slot = slice_ptr[s] + j * 8 + r
                if j < length:
                    last = indices[start + j] - first_column
                    columns[slot] = last
                    values[slot] = data[start + j]
                else:  # padding: weight 0 on a column already being read
                    columns[slot] = last


def prepare_esn(W, W_in, bias) -> EsnWeights:
    W = sp.csr_array(W)
    W.sort_indices()
    dtype = W.dtype
    return EsnWeights(W, np.ascontiguousarray(W_in, dtype=dtype), np.ascontiguousarray(bias, dtype=dtype))


def _parallel(work: int) -> bool:
    return work >= settings.parallel_min_work


def _cache_line_aligned_zeros(shape, dtype, line_bytes: int = 64) -> np.ndarray:
    """Zeros whose data starts on a cache line.

    For the batched state, whose rows are gathered as whole vectors. NumPy and Numba
    promise 16- or 32-byte alignment only (measured: one buffer on a line, the other
    32 bytes off); off a line, every other 32-byte load splits across two lines and a
    128-byte row touches three. Gathers alone, n = 10,000, B = 32, one core: 3.3 ns
    per nonzero aligned against 4.2-4.7 at 16 bytes off.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    buffer = np.zeros(count * dtype.itemsize + line_bytes, dtype=np.uint8)
    start = -buffer.ctypes.data % line_bytes
    return buffer[start:start + count * dtype.itemsize].view(dtype).reshape(shape)


def esn_run(weights: EsnWeights, inputs, state, leak_rate: float, activation: str, out):
    """Same contract as ``reference.esn_run``."""
    dtype = weights.W.dtype.type
    keep, leak, act = dtype(1.0 - leak_rate), dtype(leak_rate), code(activation)
    batch = inputs.shape[0]
    if batch == 1:
        x = np.ascontiguousarray(state[0])
        _sell_loop(_parallel(weights.nnz), weights.sell(), weights.W_in, weights.bias, inputs[0], x,
                   keep, leak, act, out[0])
        state[0] = x
    else:
        # Batch innermost and padded to whole SIMD vectors; the padding lanes run on zero input.
        lanes = -(-batch // vector_lanes(state)) * vector_lanes(state)
        x = _cache_line_aligned_zeros((state.shape[1], lanes), state.dtype)
        x[:, :batch] = state.T
        inputs_by_step = np.zeros((inputs.shape[1], inputs.shape[2], lanes), dtype=inputs.dtype)  # (T, n_in, lanes)
        inputs_by_step[..., :batch] = inputs.transpose(1, 2, 0)
        x = _csr_batch_loop(_parallel(weights.nnz * batch), *weights.batched(lanes), weights.W_in, weights.bias,
                            inputs_by_step, x, _cache_line_aligned_zeros(x.shape, x.dtype), keep, leak, act, out)
        state[...] = x[:, :batch].T
    return out


def esn_generate(weights: EsnWeights, readout_coef, readout_intercept, include_input: bool,
                 state, first_input, n_steps: int, leak_rate: float, activation: str):
    """Same contract as ``reference.esn_generate``."""
    dtype = weights.W.dtype
    keep, leak, act = dtype.type(1.0 - leak_rate), dtype.type(leak_rate), code(activation)
    outputs = np.empty((n_steps, readout_coef.shape[0]), dtype=dtype)
    x = _sell_generate_loop(_parallel(weights.nnz), weights.sell(), weights.W_in, weights.bias, state.copy(),
                            np.array(first_input, dtype=dtype), np.ascontiguousarray(readout_coef, dtype=dtype),
                            np.ascontiguousarray(readout_intercept, dtype=dtype), bool(include_input),
                            keep, leak, act, outputs)
    state[...] = x
    return outputs


@dataclass
class ElmWeights:
    """Hidden weights in CSC (one column per input feature) for the push kernel; for a dense
    X and a hidden layer dense enough, also as a dense (features, hidden) array for BLAS."""

    csc: sp.csc_array
    bias: np.ndarray
    _dense: np.ndarray | None = field(default=None, repr=False)
    _columns: tuple | None = field(default=None, repr=False)

    def columns(self) -> tuple:
        """(column pointers, row indices, values) of the CSC matrix as the push kernels read them."""
        if self._columns is None:
            W = self.csc
            self._columns = (W.indptr.astype(np.int64), W.indices.astype(np.int64), W.data)
        return self._columns

    def dense_transposed(self) -> np.ndarray | None:
        """W_hidden.T as a dense array when a matrix product beats the sparse push, else None.

        A BLAS product does n_features * n_hidden multiply-adds per sample at tens of
        GFLOP/s; the push does one scattered add per nonzero at about 1 per ns. From
        about 5 % density the product wins (digits, 64 features, fan_in 16, 600 units:
        2 ms instead of 17 ms for 1,347 samples); a 1 % layer keeps the push.
        """
        W = self.csc
        if W.nnz < settings.elm_blas_min_density * W.shape[0] * W.shape[1] \
                or W.shape[0] * W.shape[1] > settings.elm_blas_max_entries:
            return None
        if self._dense is None:
            self._dense = np.ascontiguousarray(W.toarray().T, dtype=np.float64)
        return self._dense


def prepare_elm(W_hidden, bias) -> ElmWeights:
    csc = sp.csc_array(W_hidden)
    csc.sort_indices()
    return ElmWeights(csc, np.ascontiguousarray(bias, dtype=csc.dtype))


def elm_hidden(weights: ElmWeights, X, activation: str) -> np.ndarray:
    """Same contract as ``reference.elm_hidden``; a sparse X is read as CSR, never densified."""
    W = weights.csc
    H = np.empty((X.shape[0], W.shape[0]), dtype=W.dtype)
    if sp.issparse(X):
        X = sp.csr_array(X)
        _elm_sparse(*weights.columns(), weights.bias, X.indptr.astype(np.int64), X.indices.astype(np.int64),
                    X.data.astype(W.dtype, copy=False), code(activation), H)
        return H
    dense = weights.dense_transposed()
    if dense is not None:
        # In float64 whatever the layer's dtype: BLAS rounds differently for different
        # numbers of rows, and a sample's activations must not depend on its batch
        # (scikit-learn's subset-invariance check); rounded once, at the end.
        product = np.asarray(X, dtype=np.float64) @ dense
        _elm_bias_activate(weights.bias, code(activation), product, H)
        return H
    _elm_dense(*weights.columns(), weights.bias, np.ascontiguousarray(X, dtype=W.dtype), code(activation), H)
    return H


def spmv(W: sp.csr_array, x: np.ndarray) -> np.ndarray:
    """W @ x on all cores (used by the power method on large matrices)."""
    y = np.empty(W.shape[0], dtype=np.result_type(W.dtype, x.dtype))
    _csr_matvec(W.indptr, W.indices, W.data, x, y)
    return y
