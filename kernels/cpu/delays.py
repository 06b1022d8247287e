"""Numba CPU path for the ESN with time-delayed connections (``ESN(delays=...)``).

    x[t] = (1 - a) x[t-1] + a f(Σ_j W_ij x_j[t - d_ij] + W_in u[t] + b),   d_ij >= 1

Each sequence keeps its last D = max d states in a ring buffer (D, n); the CSR
matrix carries one delay per nonzero, and a nonzero reads the ring slot of its
delay. The new state is computed into a scratch row first, because the slot it
replaces holds x[t-D], which the connections of delay D still read in this step.
The time loop runs in compiled code; the sequences of a batch one after another.
Contract: ``reference.prepare_delayed_esn`` / ``reference.delayed_esn_run``
(history newest first; the ring's order is restored on return).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

from ..activations import code
from ._compile import FASTMATH, AnyLayout, Constant, call
from .activation import _activate


@dataclass
class CpuDelayedEsnWeights:
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    delays: np.ndarray  # (nnz,) int32, >= 1
    W_in: np.ndarray
    bias: np.ndarray
    depth: int


def prepare_delayed_esn(W, W_in, bias, delays) -> CpuDelayedEsnWeights:
    """`delays` (nnz,) ints >= 1, one per nonzero of W in its CSR storage order."""
    W = sp.csr_array(W)
    dtype = W.dtype
    delays = np.ascontiguousarray(delays, dtype=np.int32)
    return CpuDelayedEsnWeights(
        W.indptr.astype(np.int64),
        W.indices.astype(np.int64),
        np.ascontiguousarray(W.data),
        delays,
        np.ascontiguousarray(W_in, dtype=dtype),
        np.ascontiguousarray(bias, dtype=dtype),
        int(delays.max(initial=1)),
    )


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _delayed_loop(indptr, indices, data, delays, W_in, bias, inputs, ring, head, keep, leak, activation, out):
    """inputs (B, T, n_in); ring (B, D, n) with slot head[b] = x[t-1], advanced in place;
    out (B, T, n)."""
    depth = ring.shape[1]
    n = ring.shape[2]
    x_new = np.empty(n, dtype=ring.dtype)
    for b in range(inputs.shape[0]):
        h = head[b]
        for t in range(inputs.shape[1]):
            u_t = inputs[b, t]
            for row in range(n):
                total = bias[row]
                for m in range(u_t.shape[0]):
                    total += W_in[row, m] * u_t[m]
                for k in range(indptr[row], indptr[row + 1]):
                    slot = (h - delays[k] + 1 + depth) % depth
                    total += data[k] * ring[b, slot, indices[k]]
                x_new[row] = keep * ring[b, h, row] + leak * _activate(total, activation)
            h = (h + 1) % depth
            for row in range(n):
                ring[b, h, row] = x_new[row]
                out[b, t, row] = x_new[row]
        head[b] = h


def delayed_esn_run(weights: CpuDelayedEsnWeights, inputs, history, leak_rate: float, activation: str, out):
    """Same contract as ``reference.delayed_esn_run``: history (B, D, n) newest first."""
    dtype = weights.data.dtype.type
    depth = history.shape[1]
    if depth < weights.depth:
        raise ValueError(f"history holds {depth} states; the delays need {weights.depth}")
    # ring slot (head - k) % D holds history[k]; head starts at 0
    order = (-np.arange(depth)) % depth
    ring = np.empty_like(history)
    ring[:, order] = history
    head = np.zeros(history.shape[0], dtype=np.int64)
    call(
        _delayed_loop,
        weights.indptr,
        weights.indices,
        weights.data,
        weights.delays,
        weights.W_in,
        weights.bias,
        np.ascontiguousarray(inputs, dtype=weights.data.dtype),
        ring,
        head,
        dtype(1.0 - leak_rate),
        dtype(leak_rate),
        Constant(code(activation)),
        AnyLayout(out),
    )
    for b in range(history.shape[0]):
        history[b] = ring[b, (head[b] - np.arange(depth)) % depth]
    return out
