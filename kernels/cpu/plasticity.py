"""Numba CPU path of the intrinsic-plasticity reservoir (``reservoir.models.IPReservoir``).

The math is that of ``kernels.reference`` (its "intrinsic plasticity and ES2N"
section): a leaky integral ``r`` of the sparse drive and the adapted output
``x = f(gain * r + offset)``. Training adapts gain and offset after every step, so
its stream is sequential (sequence after sequence, epoch after epoch) and the whole
of it, epochs included, is one compiled call. Running with fixed gain and offset is
parallel over the sequences of a batch (serial for one sequence). Each step reads the CSR rows once: the drive
of unit i, its integral, its output and (training) its gain and offset update are
one pass, since unit i's update reads only unit i's values.

Three layers, as in every kernel file: device code (the ``_ip_*`` kernels), host
driver (``CpuSparseDrive``, the CSR arrays as the kernels read them) and public
functions (``prepare_ip``, ``ip_run``, ``ip_fit``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ..activations import TANH, code
from ._compile import FASTMATH, AnyLayout, Constant, announce, call
from .activation import _activate


# --------------------------------------------------------------------------- device code
@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def _ip_sequence(s, indptr, indices, data, W_in, bias, gain, offset, inputs, internal, state, leak, activation, out):
    """Sequence s: out[s, t] = f(gain * r + offset), r the leaky integral (inlined into both runs)."""
    n = state.shape[1]
    keep = 1.0 - leak
    r = internal[s]
    for t in range(inputs.shape[1]):
        previous = state[s] if t == 0 else out[s, t - 1]
        current = out[s, t]
        u = inputs[s, t]
        for i in range(n):
            total = bias[i]
            for k in range(indptr[i], indptr[i + 1]):
                total += data[k] * previous[indices[k]]
            for j in range(u.shape[0]):
                total += W_in[i, j] * u[j]
            r[i] = keep * r[i] + leak * total
            current[i] = _activate(gain[i] * r[i] + offset[i], activation)
    if inputs.shape[1] > 0:
        state[s, :] = out[s, inputs.shape[1] - 1]


# A parallel region costs tens of microseconds to start (far more on a loaded machine),
# more than a whole short run of one sequence: one sequence runs serially.
@announce("an intrinsic-plasticity reservoir run")
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _ip_run_serial(indptr, indices, data, W_in, bias, gain, offset, inputs, internal, state, leak, activation, out):
    for s in range(inputs.shape[0]):
        _ip_sequence(s, indptr, indices, data, W_in, bias, gain, offset, inputs, internal, state, leak, activation, out)


@announce("an intrinsic-plasticity reservoir run on a batch")
@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _ip_run_parallel(indptr, indices, data, W_in, bias, gain, offset, inputs, internal, state, leak, activation, out):
    for s in prange(inputs.shape[0]):
        _ip_sequence(s, indptr, indices, data, W_in, bias, gain, offset, inputs, internal, state, leak, activation, out)


@announce("intrinsic-plasticity training")
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _ip_fit(
    indptr, indices, data, W_in, bias, gain, offset, inputs, r, x, leak, activation, mu, sigma, eta, epochs, warmup
):
    """The IP rule over every sequence in order, `epochs` times; r and x (n,) carry over."""
    n = x.shape[0]
    keep = 1.0 - leak
    s2 = sigma * sigma
    x_new = np.empty_like(x)
    for _ in range(epochs):
        for s in range(inputs.shape[0]):
            for t in range(inputs.shape[1]):
                u = inputs[s, t]
                learn = t >= warmup
                for i in range(n):
                    total = bias[i]
                    for k in range(indptr[i], indptr[i + 1]):
                        total += data[k] * x[indices[k]]
                    for j in range(u.shape[0]):
                        total += W_in[i, j] * u[j]
                    ri = keep * r[i] + leak * total
                    r[i] = ri
                    y = _activate(gain[i] * ri + offset[i], activation)
                    x_new[i] = y
                    if learn:
                        if activation == TANH:  # Gaussian target N(mu, sigma^2)
                            d_offset = -(-(mu / s2) + (y / s2) * (2.0 * s2 + 1.0 - y * y + mu * y))
                        else:  # sigmoid: exponential target of mean mu
                            d_offset = 1.0 - (2.0 + 1.0 / mu) * y + y * y / mu
                        d_gain = 1.0 / gain[i] + d_offset * ri
                        gain[i] += eta * d_gain
                        offset[i] += eta * d_offset
                for i in range(n):
                    x[i] = x_new[i]


# --------------------------------------------------------------------------- host driver
@dataclass(frozen=True)
class CpuSparseDrive:
    """The drive ``W @ x + W_in @ u + b`` as the kernels read it: CSR arrays, dense W_in, bias."""

    W: sp.csr_array  # (n, n), kept for readers of the prepared weights
    indptr: np.ndarray  # int64
    indices: np.ndarray  # int64
    data: np.ndarray
    W_in: np.ndarray  # (n, n_in), C-contiguous
    bias: np.ndarray  # (n,)

    def arrays(self) -> tuple:
        return self.indptr, self.indices, self.data, self.W_in, self.bias


def prepare_drive(W, W_in, bias) -> CpuSparseDrive:
    W = sp.csr_array(W)
    W.sort_indices()
    dtype = W.dtype
    return CpuSparseDrive(
        W,
        W.indptr.astype(np.int64),
        W.indices.astype(np.int64),
        np.ascontiguousarray(W.data),
        np.ascontiguousarray(W_in, dtype=dtype),
        np.ascontiguousarray(bias, dtype=dtype),
    )


# --------------------------------------------------------------------------- public functions
def prepare_ip(W, W_in, bias) -> CpuSparseDrive:
    """Weights of an IP reservoir: W (n, n) sparse, W_in (n, n_in), bias (n,)."""
    return prepare_drive(W, W_in, bias)


def ip_run(weights: CpuSparseDrive, gain, offset, inputs, internal, state, leak_rate, activation, out):
    """Same contract as ``reference.ip_run``."""
    dtype = weights.data.dtype
    call(
        _ip_run_parallel if inputs.shape[0] > 1 else _ip_run_serial,
        *weights.arrays(),
        np.ascontiguousarray(gain, dtype=dtype),
        np.ascontiguousarray(offset, dtype=dtype),
        np.ascontiguousarray(inputs, dtype=dtype),
        internal,
        state,
        float(leak_rate),
        Constant(code(activation)),
        AnyLayout(out),  # a time chunk of a batch's states is a strided view
    )
    return out


def ip_fit(
    weights: CpuSparseDrive,
    gain,
    offset,
    inputs,
    internal,
    state,
    leak_rate,
    activation,
    mu,
    sigma,
    learning_rate,
    epochs,
    warmup,
):
    """Same contract as ``reference.ip_fit``: gain and offset adapt in place."""
    dtype = weights.data.dtype
    call(
        _ip_fit,
        *weights.arrays(),
        gain,
        offset,
        np.ascontiguousarray(inputs, dtype=dtype),
        internal,
        state,
        float(leak_rate),
        Constant(code(activation)),
        float(mu),
        float(sigma),
        float(learning_rate),
        int(epochs),
        int(warmup),
    )
    return gain, offset
