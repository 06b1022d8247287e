"""Numba kernel that fills a CSR matrix with random sorted column indices and values.

Every row draws from its own counter-based random stream (SplitMix64 seeded by the
matrix seed and the row index), so the result depends only on the seed: not on the
number of threads, nor on the order in which rows are filled. Work and memory are
O(nnz); nothing of size n_rows x n_cols is ever allocated.

The row functions are plain Python registered with Numba (``register_jitable``):
a small matrix (``settings.random_fill_compile_min_nnz``) is filled by running them
as Python, which takes less time than compiling them; a larger one by the compiled
kernel, compiled once for every dtype and distribution (values are drawn in float64
and rounded to the matrix's dtype by a copy, as a store into it would round them),
and in parallel only for a matrix large enough to pay for a parallel region and its
longer compilation. All three paths give the same matrix bit for bit.
"""

import math

import numpy as np
from numba import njit, prange
from numba.extending import register_jitable

from ..config import settings
from ._compile_notes import announce

DISTRIBUTIONS = {"normal": 0, "uniform": 1, "bernoulli": 2}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@register_jitable
def _splitmix64(state):
    """Advance a SplitMix64 state; return (new_state, 64 random bits)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return state, z ^ (z >> np.uint64(31))


@register_jitable
def _uniform01(state):
    """A double in [0, 1) from the top 53 bits."""
    state, bits = _splitmix64(state)
    return state, np.float64(bits >> np.uint64(11)) * _TO_UNIT


@register_jitable
def _below(state, bound):
    """An integer in [0, bound): 53-bit fixed point times bound (bias < bound / 2**53)."""
    state, u = _uniform01(state)
    return state, np.int64(u * bound)


@register_jitable
def _value(state, distribution):
    if distribution == 0:  # standard normal, Box-Muller
        state, u1 = _uniform01(state)
        state, u2 = _uniform01(state)
        return state, math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
    if distribution == 1:  # uniform in [-1, 1)
        state, u = _uniform01(state)
        return state, 2.0 * u - 1.0
    state, bits = _splitmix64(state)  # +1 / -1 with equal probability
    return state, 1.0 if (bits >> np.uint64(63)) == np.uint64(0) else -1.0


@register_jitable
def _sift_down(values, root, end):
    """Restore the max-heap below `root` in values[:end]."""
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and values[child + 1] > values[child]:
            child += 1
        if values[root] >= values[child]:
            return
        values[root], values[child] = values[child], values[root]
        root = child


@register_jitable
def _heapsort(values):
    """Sort in place, O(k log k): written out because NumPy's sort compiles for seconds in Numba."""
    k = values.shape[0]
    for root in range(k // 2 - 1, -1, -1):
        _sift_down(values, root, k)
    for end in range(k - 1, 0, -1):
        values[0], values[end] = values[end], values[0]
        _sift_down(values, 0, end)


@register_jitable
def _distinct_sorted(state, out, n_cols):
    """Fill `out` with len(out) distinct sorted integers drawn uniformly from [0, n_cols)."""
    k = out.shape[0]
    if 16 * k >= n_cols:
        # Dense rows: selection sampling (Knuth's algorithm S), sorted by construction.
        chosen = 0
        for column in range(n_cols):
            if chosen == k:
                break
            state, u = _uniform01(state)
            if (n_cols - column) * u < k - chosen:
                out[chosen] = column
                chosen += 1
        return state
    # Sparse rows: draw, sort, drop repeats, redraw the missing ones (few repeats: k << n_cols).
    unique = 0
    while unique < k:
        for j in range(unique, k):
            state, column = _below(state, n_cols)
            out[j] = column
        _heapsort(out)
        unique = 1
        for j in range(1, k):
            if out[j] != out[unique - 1]:
                out[unique] = out[j]
                unique += 1
    return state


@register_jitable
def _fill_row(row, indptr, indices, data, n_cols, seed, distribution):
    start = indptr[row]
    stop = indptr[row + 1]
    if stop == start:
        return
    state = np.uint64(seed) ^ (np.uint64(row) * _MIX2)
    state, _ = _splitmix64(state)  # decorrelate neighbouring rows
    state = _distinct_sorted(state, indices[start:stop], n_cols)  # indices hold n_cols: sorted in place
    for j in range(start, stop):
        state, value = _value(state, distribution)
        data[j] = value


@announce("random sparse matrices")
@njit(cache=True)
def _fill_rows_serial(indptr, indices, data, n_cols, seed, distribution):
    for row in range(indptr.shape[0] - 1):
        _fill_row(row, indptr, indices, data, n_cols, seed, distribution)


@announce("large random sparse matrices")
@njit(parallel=True, cache=True)
def _fill_rows_parallel(indptr, indices, data, n_cols, seed, distribution):
    for row in prange(indptr.shape[0] - 1):
        _fill_row(row, indptr, indices, data, n_cols, seed, distribution)


def fill_random_rows(indptr, indices, data, n_cols, seed, distribution):
    """Fill indices/data row by row; indptr (n_rows + 1) already holds the row offsets.

    `data` float32 or float64; `distribution` a code of ``DISTRIBUTIONS``.
    """
    if data.size < settings.random_fill_compile_min_nnz:
        # The same functions run as Python (register_jitable): a few ms here, where
        # compiling them would take a first script seconds.
        with np.errstate(over="ignore"):  # the generator's uint64 arithmetic wraps on purpose
            for row in range(indptr.shape[0] - 1):
                _fill_row(row, indptr, indices, data, n_cols, np.uint64(seed), distribution)
        return
    values = data if data.dtype == np.float64 else np.empty(data.shape, dtype=np.float64)
    # Two functions, not one wrapped twice: a Python function's cache entry is shared by its wrappers.
    kernel = _fill_rows_parallel if data.size >= settings.parallel_min_work else _fill_rows_serial
    kernel(indptr, indices, values, np.int64(n_cols), np.uint64(seed), np.int64(distribution))
    if values is not data:
        data[...] = values
