"""Reference path: plain NumPy/SciPy, one time step at a time.

This is the oracle every other path is tested against, so it stays obviously
correct rather than fast. Arithmetic stays in the weights' dtype: NumPy treats the
Python-float leak rate as a weak scalar, so float32 in means float32 throughout.

    x[t] = (1 - a) * x[t-1] + a * f(W @ x[t-1] + W_in @ u[t] + b)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .activations import NUMPY


@dataclass(frozen=True)
class EsnWeights:
    W: sp.csr_array  # (n, n)
    W_in: np.ndarray  # (n, n_in), dense
    bias: np.ndarray  # (n,)


def prepare_esn(W, W_in, bias) -> EsnWeights:
    return EsnWeights(sp.csr_array(W), np.asarray(W_in), np.asarray(bias))


def _step(weights: EsnWeights, u_t, x, leak_rate: float, f):
    """One step for a batch: u_t (B, n_in), x (B, n) -> new x (B, n)."""
    pre = (weights.W @ x.T).T + u_t @ weights.W_in.T + weights.bias
    return (1.0 - leak_rate) * x + leak_rate * f(pre)


def esn_run(weights: EsnWeights, inputs, state, leak_rate: float, activation: str, out):
    """Run B sequences.

    inputs (B, T, n_in); state (B, n), overwritten with the last state;
    out (B, T, n) receives every state. Returns out.
    """
    f = NUMPY[activation]
    x = state.copy()
    for t in range(inputs.shape[1]):
        x = _step(weights, inputs[:, t], x, leak_rate, f)
        out[:, t] = x
    state[...] = x
    return out


def esn_generate(weights: EsnWeights, readout_coef, readout_intercept, include_input: bool,
                 state, first_input, n_steps: int, leak_rate: float, activation: str):
    """Closed loop for one sequence: each output becomes the next input.

    readout y = coef @ [x, u] + intercept (or coef @ x + intercept without the input);
    state (n,) is overwritten; first_input (n_in,). Returns outputs (n_steps, n_out).
    """
    f = NUMPY[activation]
    n = state.shape[0]
    x = state[None].copy()
    u = first_input.copy()
    outputs = np.empty((n_steps, readout_coef.shape[0]), dtype=state.dtype)
    for t in range(n_steps):
        x = _step(weights, u[None], x, leak_rate, f)
        y = readout_coef[:, :n] @ x[0] + readout_intercept
        if include_input:
            y = y + readout_coef[:, n:] @ u
        outputs[t] = y
        u = y.astype(state.dtype)
    state[...] = x[0]
    return outputs


@dataclass(frozen=True)
class ElmWeights:
    W: sp.csr_array  # (n_hidden, n_features)
    bias: np.ndarray  # (n_hidden,)


def prepare_elm(W_hidden, bias) -> ElmWeights:
    return ElmWeights(sp.csr_array(W_hidden), np.asarray(bias))


def elm_hidden(weights: ElmWeights, X, activation: str):
    """Hidden activations f(X @ W_hiddenᵀ + b) for X (samples, features), dense or scipy.sparse."""
    pre = weights.W @ X.T  # sparse @ dense, or sparse @ sparse without densifying X
    pre = pre.toarray() if sp.issparse(pre) else np.asarray(pre)
    return NUMPY[activation](pre.T + weights.bias)


def spmv(W, x):
    return W @ x
