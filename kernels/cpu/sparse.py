"""Sparse linear algebra on all cores: the CSR matrix-vector product of the power method."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ._compile import FASTMATH


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
