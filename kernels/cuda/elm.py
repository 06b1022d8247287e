"""Extreme learning machine hidden layer of the Numba-CUDA path (``elm.cu`` holds the same kernels in CUDA C).

    H = f(X @ W_hiddenᵀ + b),  W_hidden sparse (n_hidden, n_features)

A thread per (hidden unit, sample), units along x for coalesced writes of H[sample].
The kernels have no barrier: ordinary launches, of any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import cuda

from ...config import settings
from .. import _gpu_layout as layout
from ..activations import code
from .device import activate
from .transfers import as_caller_array, is_device, on_device


# --------------------------------------------------------------------------- device code
@cuda.jit(device=True)
def dense_row(indptr, indices, values, bias, x, unit, activation):
    """f(W_hidden[unit] @ x + bias[unit]) for one dense sample x."""
    acc = bias[unit]
    for k in range(indptr[unit], indptr[unit + 1]):
        acc += values[k] * x[indices[k]]
    return activate(acc, activation)


@cuda.jit(device=True)
def sparse_row(indptr, indices, values, bias, x_features, x_values, first, last, unit, activation):
    """The same for a CSR sample (its sorted features [first, last)): each entry of the unit's row
    binary-searches its feature (a fixed order of additions: reproducible, unlike atomics)."""
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
    return activate(acc, activation)


@cuda.jit
def elm_dense(indptr, indices, values, bias, X, H, activation):
    unit = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if unit < H.shape[1]:
        for sample in range(cuda.blockIdx.y, H.shape[0], cuda.gridDim.y):
            H[sample, unit] = dense_row(indptr, indices, values, bias, X[sample], unit, activation)


@cuda.jit
def elm_sparse(indptr, indices, values, bias, x_ptr, x_features, x_values, H, activation):
    """CSR X, never densified."""
    unit = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if unit < H.shape[1]:
        for sample in range(cuda.blockIdx.y, H.shape[0], cuda.gridDim.y):
            H[sample, unit] = sparse_row(
                indptr, indices, values, bias, x_features, x_values, x_ptr[sample], x_ptr[sample + 1], unit, activation
            )


# --------------------------------------------------------------------------- public functions
@dataclass
class NumbaCudaElmWeights:
    W: sp.csr_array
    csr: tuple  # device (indptr, indices, data), for dense and sparse inputs alike
    bias: object


def prepare_elm(W_hidden, bias) -> NumbaCudaElmWeights:
    W = sp.csr_array(W_hidden)
    W.sort_indices()
    return NumbaCudaElmWeights(
        W, tuple(cuda.to_device(a) for a in layout.csr32(W)), cuda.to_device(np.ascontiguousarray(bias, dtype=W.dtype))
    )


def elm_hidden(weights: NumbaCudaElmWeights, X, activation: str):
    """Same contract as ``reference.elm_hidden``: X dense (host or device) or scipy.sparse (read as CSR,
    never densified). Returns a device array for device X, else NumPy."""
    dtype = weights.W.dtype
    act = np.int32(code(activation))
    n_samples, n_hidden = X.shape[0], weights.W.shape[0]
    device_input = is_device(X)
    H = cuda.device_array((n_samples, n_hidden), dtype)
    threads = layout.checked_threads_per_block(settings.gpu_threads_per_block)
    grid = (-(-n_hidden // threads), max(1, min(n_samples, 65535)))
    if sp.issparse(X):
        X = sp.csr_array(X, dtype=dtype)
        if not X.has_canonical_format:  # the kernel binary-searches sorted, unique features per sample
            X = X.copy()
            X.sum_duplicates()
        elm_sparse[grid, threads](
            *weights.csr,
            weights.bias,
            cuda.to_device(X.indptr.astype(np.int32)),
            cuda.to_device(X.indices.astype(np.int32)),
            cuda.to_device(X.data),
            H,
            act,
        )
    else:
        elm_dense[grid, threads](*weights.csr, weights.bias, on_device(X, dtype), H, act)
    return as_caller_array(X, H) if device_input else H.copy_to_host()
