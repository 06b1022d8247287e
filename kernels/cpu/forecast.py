"""Numba CPU path for batched closed-loop forecasts: the time loop runs inside compiled code.

Many series forecast at once (``reference.esn_forecast`` is the contract): each of
the B sequences has its own readout (a global readout is the same one repeated) and
its own exogenous inputs, known for the horizon. Every step, every sequence takes
one reservoir step in plain CSR (the small-reservoir step of ``esn``), then its
readout; the output becomes the fed-back part of the next input.

Three layers, as in every kernel file: device code (``readout._readout_into``), host driver
(``_forecast_loop``), public function (``esn_forecast``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..activations import code
from ._compile import FASTMATH, Constant, call
from .esn import CpuEsnWeights, _csr_step
from .readout import _readout_into


# --------------------------------------------------------------------------- device code
# --------------------------------------------------------------------------- host driver
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _forecast_loop(
    indptr, indices, data, W_in, bias, state, first_output, exogenous, coef, intercept, include_input, keep, leak,
    activation, outputs, scratch,
):  # fmt: skip
    """state (B, n) advanced in place; outputs (B, n_steps, n_out); scratch (2, n + n_in)."""
    n = state.shape[1]
    n_out = first_output.shape[1]
    n_exog = exogenous.shape[2]
    for b in range(state.shape[0]):
        x = scratch[0, :n]
        x_next = scratch[1, :n]
        u = scratch[0, n : n + n_out + n_exog]
        for i in range(n):
            x[i] = state[b, i]
        for m in range(n_out):
            u[m] = first_output[b, m]
        for t in range(exogenous.shape[1]):
            for m in range(n_exog):
                u[n_out + m] = exogenous[b, t, m]
            _csr_step(indptr, indices, data, W_in, bias, u, x, x_next, keep, leak, activation)
            x, x_next = x_next, x
            _readout_into(x, u, coef[b], intercept[b], include_input, outputs[b, t])
            for m in range(n_out):
                u[m] = outputs[b, t, m]
        for i in range(n):
            state[b, i] = x[i]


# --------------------------------------------------------------------------- public function
def esn_forecast(
    weights: CpuEsnWeights,
    readout_coef,
    readout_intercept,
    include_input: bool,
    state,
    first_output,
    exogenous,
    leak_rate: float,
    activation: str,
):
    """Same contract as ``reference.esn_forecast``."""
    dtype = weights.W.dtype
    keep, leak, act = dtype.type(1.0 - leak_rate), dtype.type(leak_rate), Constant(code(activation))
    batch, n_steps, n_exog = exogenous.shape
    n_out = readout_coef.shape[1]
    n = state.shape[1]
    outputs = np.empty((batch, n_steps, n_out), dtype=dtype)
    x = np.ascontiguousarray(state, dtype=dtype)
    call(
        _forecast_loop,
        *weights.csr(),
        weights.W_in,
        weights.bias,
        x,
        np.ascontiguousarray(first_output, dtype=dtype),
        np.ascontiguousarray(exogenous, dtype=dtype),
        np.ascontiguousarray(readout_coef, dtype=dtype),
        np.ascontiguousarray(readout_intercept, dtype=dtype),
        Constant(bool(include_input)),
        keep,
        leak,
        act,
        outputs,
        np.zeros((2, n + n_out + n_exog), dtype=dtype),
    )
    state[...] = x
    return outputs
