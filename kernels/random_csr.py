"""Numba kernel that fills a CSR matrix with random sorted column indices and values.

Every row draws from its own counter-based random stream (SplitMix64 seeded by the
matrix seed and the row index), so the result depends only on the seed: not on the
number of threads, nor on the order in which rows are filled. Work and memory are
O(nnz); nothing of size n_rows x n_cols is ever allocated.
"""

import numpy as np
from numba import njit, prange

DISTRIBUTIONS = {"normal": 0, "uniform": 1, "bernoulli": 2}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(inline="always")
def _splitmix64(state):
    """Advance a SplitMix64 state; return (new_state, 64 random bits)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return state, z ^ (z >> np.uint64(31))


@njit(inline="always")
def _uniform01(state):
    """A double in [0, 1) from the top 53 bits."""
    state, bits = _splitmix64(state)
    return state, np.float64(bits >> np.uint64(11)) * _TO_UNIT


@njit(inline="always")
def _below(state, bound):
    """An integer in [0, bound): 53-bit fixed point times bound (bias < bound / 2**53)."""
    state, u = _uniform01(state)
    return state, np.int64(u * bound)


@njit(inline="always")
def _value(state, distribution):
    if distribution == 0:  # standard normal, Box-Muller
        state, u1 = _uniform01(state)
        state, u2 = _uniform01(state)
        return state, np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)
    if distribution == 1:  # uniform in [-1, 1)
        state, u = _uniform01(state)
        return state, 2.0 * u - 1.0
    state, bits = _splitmix64(state)  # +1 / -1 with equal probability
    return state, 1.0 if (bits >> np.uint64(63)) == np.uint64(0) else -1.0


@njit(inline="always")
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
        out.sort()
        unique = 1
        for j in range(1, k):
            if out[j] != out[unique - 1]:
                out[unique] = out[j]
                unique += 1
    return state


@njit(parallel=True, cache=True)
def fill_random_rows(indptr, indices, data, n_cols, seed, distribution):
    """Fill indices/data row by row; indptr (n_rows + 1) already holds the row offsets."""
    n_rows = indptr.shape[0] - 1
    for row in prange(n_rows):
        start = indptr[row]
        stop = indptr[row + 1]
        if stop == start:
            continue
        state = np.uint64(seed) ^ (np.uint64(row) * _MIX2)
        state, _ = _splitmix64(state)  # decorrelate neighbouring rows
        columns = np.empty(stop - start, np.int64)
        state = _distinct_sorted(state, columns, n_cols)
        for j in range(stop - start):
            indices[start + j] = columns[j]
            state, value = _value(state, distribution)
            data[start + j] = value
