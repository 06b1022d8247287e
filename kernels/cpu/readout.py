"""The linear readout of the closed loops (``esn_generate``, the dense and batched forecasts)."""

from __future__ import annotations

from numba import njit


@njit(inline="always")
def _readout_into(x, u, coef, intercept, include_input, output):
    """output = coef @ [x, u] + intercept (u only with include_input)."""
    n = x.shape[0]
    for o in range(coef.shape[0]):
        total = intercept[o]
        for i in range(n):
            total += coef[o, i] * x[i]
        if include_input:
            for m in range(u.shape[0]):
                total += coef[o, n + m] * u[m]
        output[o] = total


@njit(inline="always")
def _readout(x, u, coef, intercept, include_input, output):
    """``_readout_into``, then the output becomes the next input (closed loop)."""
    _readout_into(x, u, coef, intercept, include_input, output)
    for m in range(u.shape[0]):
        u[m] = output[m]
