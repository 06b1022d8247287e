"""Numba CPU path for NVAR: feature windows and the closed-loop forecast.

The monomials are a table of linear-feature indices, one row per monomial, padded
with -1 beyond its order (``monomial_table``), so one compiled loop serves every
order. The forecast keeps its window of past inputs in compiled code and runs the
whole loop there: features, readout and the next input, step after step.

Three layers, as in every kernel file: device code (``_features_at``, the kernels),
host helpers and public functions (``monomial_table``, ``nvar_features``,
``nvar_forecast``), which take the same arguments as ``kernels.reference``'s.
"""

from __future__ import annotations

import itertools

import numpy as np
from numba import njit

from ._compile import FASTMATH


# --------------------------------------------------------------------------- device code
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _features_at(source, newest, strides, delay, monomials, constant, linear, features):
    """Fill `features` for the window of `source` (rows: steps) that ends at row `newest`."""
    n_in = source.shape[1]
    for j in range(delay):
        row = newest - j * strides
        for i in range(n_in):
            linear[j * n_in + i] = source[row, i]
    offset = 0
    if constant:
        features[0] = 1.0
        offset = 1
    for i in range(linear.shape[0]):
        features[offset + i] = linear[i]
    offset += linear.shape[0]
    for m in range(monomials.shape[0]):
        product = linear[monomials[m, 0]]
        for p in range(1, monomials.shape[1]):
            index = monomials[m, p]
            if index < 0:
                break
            product *= linear[index]
        features[offset + m] = product


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _nvar_features(inputs, delay, strides, monomials, constant, out):
    span = (delay - 1) * strides
    linear = np.empty(delay * inputs.shape[2], dtype=inputs.dtype)
    for b in range(inputs.shape[0]):
        for t in range(span, inputs.shape[1]):
            _features_at(inputs[b], t, strides, delay, monomials, constant, linear, out[b, t - span])


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _nvar_forecast(window, coef, intercept, delay, strides, monomials, constant, increment, out):
    n_window, n_in = window.shape[1], window.shape[2]
    n_steps = out.shape[1]
    linear = np.empty(delay * n_in, dtype=window.dtype)
    features = np.empty(coef.shape[1], dtype=window.dtype)
    # The window followed by the predictions: the features of step t read rows up to t.
    history = np.empty((n_window + n_steps, n_in), dtype=window.dtype)
    for b in range(window.shape[0]):
        history[:n_window] = window[b]
        for t in range(n_steps):
            newest = n_window - 1 + t
            _features_at(history, newest, strides, delay, monomials, constant, linear, features)
            for i in range(n_in):
                y = intercept[i]
                for f in range(features.shape[0]):
                    y += coef[i, f] * features[f]
                if increment:
                    y += history[newest, i]
                history[newest + 1, i] = y
                out[b, t, i] = y
        window[b] = history[n_steps : n_steps + n_window]


# --------------------------------------------------------------------------- host
def monomial_table(n_linear: int, orders) -> np.ndarray:
    """Linear-feature indices of every monomial, order after order, each in
    ``itertools.combinations_with_replacement`` order; rows padded with -1."""
    rows = [c for order in orders for c in itertools.combinations_with_replacement(range(n_linear), order)]
    width = max(orders, default=1)
    table = np.full((len(rows), width), -1, dtype=np.int64)
    for r, combo in enumerate(rows):
        table[r, : len(combo)] = combo
    return table


def nvar_features(inputs, delay: int, strides: int, orders, constant: bool, out):
    """As ``kernels.reference.nvar_features``, compiled."""
    table = monomial_table(delay * inputs.shape[2], orders)
    _nvar_features(inputs, delay, strides, table, bool(constant), out)
    return out


def nvar_forecast(window, coef, intercept, delay: int, strides: int, orders, constant: bool, increment: bool, out):
    """As ``kernels.reference.nvar_forecast``, compiled: the whole loop runs in one call."""
    table = monomial_table(delay * window.shape[2], orders)
    coef = np.ascontiguousarray(coef, dtype=window.dtype)
    intercept = np.ascontiguousarray(intercept, dtype=window.dtype)
    _nvar_forecast(window, coef, intercept, delay, strides, table, bool(constant), bool(increment), out)
    return out
