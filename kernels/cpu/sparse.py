"""Sparse rows for the compiled kernels: one CSR row times a vector (``_row_dot``, inlined
into the ESN and composed-model steps), and the CSR matrix-vector product of the power
method on all cores."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ._compile import FASTMATH


@njit(inline="always")
def _row_dot(indptr, indices, data, row, z):
    """Row `row` of a CSR matrix times z. Over views that start at 0, with unsigned
    indices: a loop from indptr[row], or signed indices, keeps Numba's negative-index
    wraparound inside the loop, which measured 1.5-3x slower (and slower than SciPy)."""
    start, stop = indptr[row], indptr[row + 1]
    values, columns = data[start:stop], indices[start:stop]
    total = values.dtype.type(0)
    for k in range(values.shape[0]):
        total += values[k] * z[columns[k]]
    return total


@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _csr_matvec(indptr, indices, data, x, y):
    for row in prange(y.shape[0]):
        total = 0.0  # float64 accumulator: y starts uninitialised, and this sum feeds a norm
        for k in range(indptr[row], indptr[row + 1]):
            total += data[k] * x[indices[k]]
        y[row] = total


def spmv(W: sp.csr_array, x: np.ndarray) -> np.ndarray:
    """W @ x on all cores (used by the power method on large matrices)."""
    y = np.empty(W.shape[0], dtype=np.result_type(W.dtype, x.dtype))
    _csr_matvec(W.indptr, W.indices, W.data, x, y)
    return y
