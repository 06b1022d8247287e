"""Numba CPU path of the edge-of-stability ESN (``reservoir.models.ES2N``).

    x[t] = beta * f(W @ x[t-1] + W_in @ u[t] + b) + O @ ((1 - beta) * x[t-1])

(with one beta, ``(1 - beta) * O @ x[t-1]``).

W stays sparse (CSR); O is a dense orthogonal (n, n) matrix, so each step costs
``nnz(W) + n * n_in + n * n`` multiply-adds per sequence: O dominates from a few
dozen units up (at 1 % density, a 1000-unit step reads 10 000 weights of W and
1 000 000 of O). Sequences of a batch run in parallel (one sequence serially). The reference is
``kernels.reference.es2n_run``.

Three layers: device code (``_es2n_sequence`` in a serial and a parallel run), host driver (``CpuEs2nWeights``) and
public functions (``prepare_es2n``, ``es2n_run``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..activations import code
from ._compile import FASTMATH, AnyLayout, Constant, announce, call
from .activation import _activate
from .plasticity import CpuSparseDrive, prepare_drive


# --------------------------------------------------------------------------- device code
@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def _es2n_sequence(s, indptr, indices, data, W_in, bias, O, proximity, inputs, state, activation, out):
    """Sequence s of the batch (inlined into both runs)."""
    n = state.shape[1]
    kept = np.empty(n, dtype=state.dtype)  # (1 - beta) * x[t-1], the orthogonal map's input
    for t in range(inputs.shape[1]):
        previous = state[s] if t == 0 else out[s, t - 1]
        current = out[s, t]
        u = inputs[s, t]
        for j in range(n):
            kept[j] = (1.0 - proximity[j]) * previous[j]
        for i in range(n):
            total = bias[i]
            for k in range(indptr[i], indptr[i + 1]):
                total += data[k] * previous[indices[k]]
            for j in range(u.shape[0]):
                total += W_in[i, j] * u[j]
            rotated = 0.0 * total
            row = O[i]
            for j in range(n):
                rotated += row[j] * kept[j]
            current[i] = proximity[i] * _activate(total, activation) + rotated
    if inputs.shape[1] > 0:
        state[s, :] = out[s, inputs.shape[1] - 1]


# One sequence runs serially: a parallel region costs more to start than a short run.
@announce("an ES2N run")
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _es2n_run_serial(indptr, indices, data, W_in, bias, O, proximity, inputs, state, activation, out):
    for s in range(inputs.shape[0]):
        _es2n_sequence(s, indptr, indices, data, W_in, bias, O, proximity, inputs, state, activation, out)


@announce("an ES2N run on a batch")
@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _es2n_run_parallel(indptr, indices, data, W_in, bias, O, proximity, inputs, state, activation, out):
    for s in prange(inputs.shape[0]):
        _es2n_sequence(s, indptr, indices, data, W_in, bias, O, proximity, inputs, state, activation, out)


# --------------------------------------------------------------------------- host driver
@dataclass(frozen=True)
class CpuEs2nWeights:
    drive: CpuSparseDrive
    O: np.ndarray  # (n, n) dense, C-contiguous


# --------------------------------------------------------------------------- public functions
def prepare_es2n(W, W_in, bias, O) -> CpuEs2nWeights:
    """Weights of ES2N: W (n, n) sparse, W_in (n, n_in), bias (n,), O (n, n) dense."""
    drive = prepare_drive(W, W_in, bias)
    return CpuEs2nWeights(drive, np.ascontiguousarray(O, dtype=drive.data.dtype))


def es2n_run(weights: CpuEs2nWeights, proximity, inputs, state, activation, out):
    """Same contract as ``reference.es2n_run`` (with weights from ``prepare_es2n``)."""
    dtype = weights.O.dtype
    call(
        _es2n_run_parallel if inputs.shape[0] > 1 else _es2n_run_serial,
        *weights.drive.arrays(),
        weights.O,
        np.ascontiguousarray(proximity, dtype=dtype),
        np.ascontiguousarray(inputs, dtype=dtype),
        state,
        Constant(code(activation)),
        AnyLayout(out),  # a time chunk of a batch's states is a strided view
    )
    return out
