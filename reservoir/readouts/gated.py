"""Gated recurrent readouts: GRU and LSTM layers trained by truncated BPTT on reservoir states.

A linear readout maps the present state to the output. A gated readout runs a small
recurrent network over the states, so it can hold what the reservoir's fading memory
has lost, and can pool a whole sequence into one label.

Cells (DESIGN.md)
-----------------
Every gate is a feed-forward layer on ``[x_t, h_{t-1}]`` with an ``m x (n + m)``
weight matrix and an ``m`` bias. A layer stacks its gate matrices row-wise into one
``(G m, n + m)`` matrix ``W`` and one ``(G m,)`` bias ``b`` (``gate_weights()`` splits
them again).

LSTM, G = 4, gates in the order forget, input, candidate, output::

    f = σ(W_f [x, h] + b_f)     i = σ(W_i [x, h] + b_i)
    g = tanh(W_g [x, h] + b_g)  o = σ(W_o [x, h] + b_o)
    c_t = f ⊙ c_{t-1} + i ⊙ g   h_t = o ⊙ tanh(c_t)

GRU, G = 3, gates in the order update, reset, candidate; the candidate sees the reset
state ``r ⊙ h`` through its ``m x (n + m)`` matrix (Cho et al. 2014, Keras'
``reset_after=False``), and ``z`` is the share of the old state that is kept (the
PyTorch and Keras convention)::

    z = σ(W_z [x, h] + b_z)     r = σ(W_r [x, h] + b_r)
    ĥ = tanh(W_h [x, r ⊙ h] + b_h)
    h_t = z ⊙ h_{t-1} + (1 - z) ⊙ ĥ

A linear layer ``y_t = W_out h_t + b_out`` on the last layer's state gives the output.

Training (the choices where the issue was silent)
-------------------------------------------------
* Windows. An epoch cuts every training sequence into consecutive windows of
  ``window`` steps, starting at a random offset (boundaries move between epochs;
  every step is trained on once per epoch). A long series is split into about
  ``batch_size`` chains of consecutive windows, one per lane of the minibatch: a lane
  carries its state from one window to the next (the gradient stops at the window
  boundary: truncated BPTT), and a chain that starts mid-series first runs forward
  over the ``window`` steps before it (no gradient) to warm its state up. Many short
  sequences make many short chains. Windows are padded to the longest in the batch;
  padded steps are masked out of the loss and never feed a carried state.
* Sequence classification takes the output at each sequence's last step. The
  gradient flows through its last ``window`` steps; the steps before them only warm
  the state up (``window=None``: full BPTT).
* Loss: mean squared error over valid steps and outputs (``torch.nn.MSELoss``); mean
  softmax cross-entropy per sequence. Adam as ``torch.optim.Adam`` (L2 ``weight_decay``
  on the weight matrices only), clipping of the global gradient norm
  (``clip_grad_norm_``). Initialisation as Keras: Glorot-uniform input weights,
  orthogonal recurrent weights, zero biases, forget bias 1; the output bias starts at
  the mean of the training targets.
* Early stopping on a validation split (the last ``validation_fraction`` of every
  sequence's steps, or of each class's sequences), keeping the best epoch's
  parameters (Keras' ``restore_best_weights=True``, scikit-learn's MLP).
* ``predict`` runs every sequence from a zero state (stateless, like ``Ridge``).

Computation
-----------
The input half of every gate, ``W[:, :n] x_t + b``, is one matrix product over a
whole window (B sequences x T steps); only the recurrent half runs step by step.
The math is written once against an array module ``xp``: NumPy on the CPU, CuPy when
the data are CuPy arrays (cupy is never imported unless the caller already has);
the parameters live on the device of the training data. States read from storage
(StateStore runs, h5py datasets) are read one minibatch of windows at a time, as
contiguous time slices in file order, and trained on with NumPy. On the CPU the two
step loops (forward and backward through time) run in Numba.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .. import _validation as check

__all__ = ["GRUReadout", "LSTMReadout"]

#: Run the CPU step loops in Numba (tests switch it off to compare with the NumPy loops).
USE_NUMBA = True
#: Below this many multiply-adds per window batch (lanes x steps x (features + hidden) x gate
#: rows) the CPU path runs BLAS on one thread, for the duration of the call. Measured on a
#: 2-core machine shared with other work: a (640 x 48)ᵀ(640 x 50) product took 2.5 ms on two
#: OpenBLAS threads and 0.17 ms on one; a whole LSTM step on 200-unit states 124 ms and 12 ms;
#: on 2,000-unit states (530 million multiply-adds) 52 ms and 49 ms. Two idle cores gain at
#: most 2x on the largest products, a busy one loses up to 10x, so the bar is high.
SINGLE_THREAD_BELOW = 1_000_000_000

MANY_TO_MANY = "many-to-many"
MANY_TO_ONE = "many-to-one"


# ============================================================================ array module
def array_namespace(*arrays):
    """The array module of `arrays`: cupy when one of them is a CuPy array, else numpy.

    cupy is only looked up if it is already imported (a CuPy array implies it is), so
    the CPU path never imports it.
    """
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    return np


def _to_host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)


def _sigmoid(xp, a):
    # tanh form: no overflow warning for large negative inputs, same derivative s(1 - s)
    return 0.5 * (1.0 + xp.tanh(0.5 * a))


# ============================================================================ step loops (xp)
# The recurrent part of a layer over one window. Gx (B, T, G m) holds the input half
# of every gate (bias included); the loops fill the caches the backward pass needs.
def _lstm_forward_xp(xp, Gx, Wh_T, h, c, gates, C, TC, H):
    m = h.shape[1]
    for t in range(Gx.shape[1]):
        a = Gx[:, t] + h @ Wh_T
        g_t = gates[:, t]
        g_t[...] = _sigmoid(xp, a)
        g_t[:, 2 * m:3 * m] = xp.tanh(a[:, 2 * m:3 * m])
        c = g_t[:, :m] * c + g_t[:, m:2 * m] * g_t[:, 2 * m:3 * m]
        tc = xp.tanh(c)
        h = g_t[:, 3 * m:] * tc
        C[:, t], TC[:, t], H[:, t] = c, tc, h


def _lstm_backward_xp(xp, gates, C, TC, c0, dH, Wh, dG):
    B, T, m = dH.shape
    dh_next = xp.zeros((B, m), dtype=dH.dtype)
    dc_next = xp.zeros((B, m), dtype=dH.dtype)
    for t in range(T - 1, -1, -1):
        f, i, g, o = (gates[:, t, k * m:(k + 1) * m] for k in range(4))
        c_prev = C[:, t - 1] if t else c0
        tc = TC[:, t]
        dh = dH[:, t] + dh_next
        dc = dc_next + dh * o * (1.0 - tc * tc)
        dG[:, t, :m] = dc * c_prev * f * (1.0 - f)
        dG[:, t, m:2 * m] = dc * g * i * (1.0 - i)
        dG[:, t, 2 * m:3 * m] = dc * i * (1.0 - g * g)
        dG[:, t, 3 * m:] = dh * tc * o * (1.0 - o)
        dc_next = dc * f
        dh_next = dG[:, t] @ Wh


def _gru_forward_xp(xp, Gx, Wh_zr_T, Wh_c_T, h, gates, RH, H):
    m = h.shape[1]
    for t in range(Gx.shape[1]):
        zr = _sigmoid(xp, Gx[:, t, :2 * m] + h @ Wh_zr_T)
        rh = zr[:, m:] * h
        candidate = xp.tanh(Gx[:, t, 2 * m:] + rh @ Wh_c_T)
        h = candidate + zr[:, :m] * (h - candidate)
        gates[:, t, :2 * m] = zr
        gates[:, t, 2 * m:] = candidate
        RH[:, t], H[:, t] = rh, h


def _gru_backward_xp(xp, gates, H, h0, dH, Wh_zr, Wh_c, dG):
    B, T, m = dH.shape
    dh_next = xp.zeros((B, m), dtype=dH.dtype)
    for t in range(T - 1, -1, -1):
        z, r, candidate = (gates[:, t, k * m:(k + 1) * m] for k in range(3))
        h_prev = H[:, t - 1] if t else h0
        dh = dH[:, t] + dh_next
        d_candidate = dh * (1.0 - z) * (1.0 - candidate * candidate)
        d_rh = d_candidate @ Wh_c
        dG[:, t, :m] = dh * (h_prev - candidate) * z * (1.0 - z)
        dG[:, t, m:2 * m] = d_rh * h_prev * r * (1.0 - r)
        dG[:, t, 2 * m:] = d_candidate
        dh_next = dh * z + d_rh * r + dG[:, t, :2 * m] @ Wh_zr


# ============================================================================ step loops (Numba)
_numba_loops = None


def _compiled_loops():
    """The Numba versions of the four step loops, compiled (or loaded from cache) on first use.

    Same arithmetic as the xp loops, one (batch row, unit) at a time so that nothing is
    allocated per step but the recurrent product. They use the project's typed tanh and
    logistic (``reservoir.kernels.cpu``): float32 stays float32 (a rational tanh that
    vectorises; libm's tanh cost more than the whole step), float64 uses np.tanh.
    """
    global _numba_loops
    if _numba_loops is not None:
        return _numba_loops
    from numba import njit

    from ..kernels.cpu import _sigmoid, _tanh

    @njit(cache=True)
    def lstm_forward(Gx, Wh_T, h, c, gates, C, TC, H):
        B, T, _ = Gx.shape
        m = h.shape[1]
        for t in range(T):
            a = np.dot(h, Wh_T)
            for b in range(B):
                for j in range(m):
                    f = _sigmoid(Gx[b, t, j] + a[b, j])
                    i = _sigmoid(Gx[b, t, m + j] + a[b, m + j])
                    g = _tanh(Gx[b, t, 2 * m + j] + a[b, 2 * m + j])
                    o = _sigmoid(Gx[b, t, 3 * m + j] + a[b, 3 * m + j])
                    cell = f * c[b, j] + i * g
                    tc = _tanh(cell)
                    gates[b, t, j] = f
                    gates[b, t, m + j] = i
                    gates[b, t, 2 * m + j] = g
                    gates[b, t, 3 * m + j] = o
                    c[b, j] = cell
                    h[b, j] = o * tc
                    C[b, t, j] = cell
                    TC[b, t, j] = tc
                    H[b, t, j] = o * tc

    @njit(cache=True)
    def lstm_backward(gates, C, TC, c0, dH, Wh, dG, one):
        B, T, m = dH.shape
        dh_next = np.zeros((B, m), dtype=dH.dtype)
        dc_next = np.zeros((B, m), dtype=dH.dtype)
        d_gates = np.empty((B, 4 * m), dtype=dH.dtype)
        for t in range(T - 1, -1, -1):
            for b in range(B):
                for j in range(m):
                    f = gates[b, t, j]
                    i = gates[b, t, m + j]
                    g = gates[b, t, 2 * m + j]
                    o = gates[b, t, 3 * m + j]
                    c_prev = C[b, t - 1, j] if t > 0 else c0[b, j]
                    tc = TC[b, t, j]
                    dh = dH[b, t, j] + dh_next[b, j]
                    dc = dc_next[b, j] + dh * o * (one - tc * tc)
                    d_gates[b, j] = dc * c_prev * f * (one - f)
                    d_gates[b, m + j] = dc * g * i * (one - i)
                    d_gates[b, 2 * m + j] = dc * i * (one - g * g)
                    d_gates[b, 3 * m + j] = dh * tc * o * (one - o)
                    dc_next[b, j] = dc * f
            dG[:, t, :] = d_gates
            dh_next = np.dot(d_gates, Wh)

    @njit(cache=True)
    def gru_forward(Gx, Wh_zr_T, Wh_c_T, h, gates, RH, H):
        B, T, _ = Gx.shape
        m = h.shape[1]
        rh = np.empty_like(h)
        for t in range(T):
            a = np.dot(h, Wh_zr_T)
            for b in range(B):
                for j in range(m):
                    z = _sigmoid(Gx[b, t, j] + a[b, j])
                    r = _sigmoid(Gx[b, t, m + j] + a[b, m + j])
                    gates[b, t, j] = z
                    gates[b, t, m + j] = r
                    rh[b, j] = r * h[b, j]
                    RH[b, t, j] = r * h[b, j]
            a_c = np.dot(rh, Wh_c_T)
            for b in range(B):
                for j in range(m):
                    candidate = _tanh(Gx[b, t, 2 * m + j] + a_c[b, j])
                    gates[b, t, 2 * m + j] = candidate
                    h[b, j] = candidate + gates[b, t, j] * (h[b, j] - candidate)
                    H[b, t, j] = h[b, j]

    @njit(cache=True)
    def gru_backward(gates, H, h0, dH, Wh_zr, Wh_c, dG, one):
        B, T, m = dH.shape
        dh_next = np.zeros((B, m), dtype=dH.dtype)
        dh = np.empty((B, m), dtype=dH.dtype)
        d_candidate = np.empty((B, m), dtype=dH.dtype)
        d_zr = np.empty((B, 2 * m), dtype=dH.dtype)
        for t in range(T - 1, -1, -1):
            for b in range(B):
                for j in range(m):
                    z = gates[b, t, j]
                    candidate = gates[b, t, 2 * m + j]
                    dh[b, j] = dH[b, t, j] + dh_next[b, j]
                    d_candidate[b, j] = dh[b, j] * (one - z) * (one - candidate * candidate)
            d_rh = np.dot(d_candidate, Wh_c)
            for b in range(B):
                for j in range(m):
                    z = gates[b, t, j]
                    r = gates[b, t, m + j]
                    candidate = gates[b, t, 2 * m + j]
                    h_prev = H[b, t - 1, j] if t > 0 else h0[b, j]
                    d_zr[b, j] = dh[b, j] * (h_prev - candidate) * z * (one - z)
                    d_zr[b, m + j] = d_rh[b, j] * h_prev * r * (one - r)
                    dG[b, t, j] = d_zr[b, j]
                    dG[b, t, m + j] = d_zr[b, m + j]
                    dG[b, t, 2 * m + j] = d_candidate[b, j]
                    dh_next[b, j] = dh[b, j] * z + d_rh[b, j] * r
            dh_next += np.dot(d_zr, Wh_zr)

    _numba_loops = {"lstm_forward": lstm_forward, "lstm_backward": lstm_backward,
                    "gru_forward": gru_forward, "gru_backward": gru_backward}
    return _numba_loops


def _use_numba(xp) -> bool:
    return USE_NUMBA and xp is np


def _blas_threads(xp, multiply_adds: int):
    """A context that keeps BLAS on one thread for small products on the CPU (see SINGLE_THREAD_BELOW)."""
    import contextlib

    if xp is not np or multiply_adds >= SINGLE_THREAD_BELOW:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    return threadpool_limits(limits=1, user_api="blas")


# ============================================================================ cells
class _LSTMCell:
    """LSTM layer: forward and backward over one window (see the module docstring)."""

    name = "lstm"
    n_gates = 4
    gate_names = ("forget", "input", "candidate", "output")
    n_states = 2  # h and c

    @staticmethod
    def initial_bias(m: int) -> np.ndarray:
        bias = np.zeros(4 * m)
        bias[:m] = 1.0  # forget gate open at the start: gradients reach further back (Jozefowicz et al. 2015)
        return bias

    @staticmethod
    def forward(xp, W, b, A, state, keep: bool):
        """Run over A (B, T, n) from state (h0, c0); return H (B, T, m), per-step states, cache."""
        B, T, n = A.shape
        m = W.shape[1] - n
        h0, c0 = state
        Gx = (A.reshape(B * T, n) @ W[:, :n].T + b).reshape(B, T, 4 * m)
        gates = xp.empty((B, T, 4 * m), dtype=A.dtype)
        C, TC, H = (xp.empty((B, T, m), dtype=A.dtype) for _ in range(3))
        if _use_numba(xp):
            # copies (C order): the loop updates h and c in place, and one layout means one compilation
            _compiled_loops()["lstm_forward"](Gx, np.ascontiguousarray(W[:, n:].T), np.array(h0), np.array(c0),
                                             gates, C, TC, H)
        else:
            _lstm_forward_xp(xp, Gx, W[:, n:].T, h0, c0, gates, C, TC, H)
        cache = (A, h0, c0, gates, C, TC, H) if keep else None
        return H, (H, C), cache

    @staticmethod
    def backward(xp, W, cache, dH, need_input_gradient: bool):
        A, h0, c0, gates, C, TC, H = cache
        B, T, n = A.shape
        m = W.shape[1] - n
        dG = xp.empty((B, T, 4 * m), dtype=A.dtype)
        if _use_numba(xp):
            _compiled_loops()["lstm_backward"](gates, C, TC, np.ascontiguousarray(c0), np.ascontiguousarray(dH),
                                              np.ascontiguousarray(W[:, n:]), dG, W.dtype.type(1))
        else:
            _lstm_backward_xp(xp, gates, C, TC, c0, dH, W[:, n:], dG)
        dG2 = dG.reshape(B * T, 4 * m)
        H_prev = xp.concatenate([h0[:, None], H[:, :-1]], axis=1).reshape(B * T, m)
        dW = xp.empty_like(W)
        dW[:, :n] = dG2.T @ A.reshape(B * T, n)
        dW[:, n:] = dG2.T @ H_prev
        dA = (dG2 @ W[:, :n]).reshape(B, T, n) if need_input_gradient else None
        return dW, dG2.sum(axis=0), dA


class _GRUCell:
    """GRU layer: forward and backward over one window (see the module docstring)."""

    name = "gru"
    n_gates = 3
    gate_names = ("update", "reset", "candidate")
    n_states = 1

    @staticmethod
    def initial_bias(m: int) -> np.ndarray:
        return np.zeros(3 * m)

    @staticmethod
    def forward(xp, W, b, A, state, keep: bool):
        B, T, n = A.shape
        m = W.shape[1] - n
        (h0,) = state
        Gx = (A.reshape(B * T, n) @ W[:, :n].T + b).reshape(B, T, 3 * m)
        gates = xp.empty((B, T, 3 * m), dtype=A.dtype)
        RH, H = (xp.empty((B, T, m), dtype=A.dtype) for _ in range(2))
        if _use_numba(xp):
            _compiled_loops()["gru_forward"](Gx, np.ascontiguousarray(W[:2 * m, n:].T),
                                            np.ascontiguousarray(W[2 * m:, n:].T), np.array(h0), gates, RH, H)
        else:
            _gru_forward_xp(xp, Gx, W[:2 * m, n:].T, W[2 * m:, n:].T, h0, gates, RH, H)
        cache = (A, h0, gates, RH, H) if keep else None
        return H, (H,), cache

    @staticmethod
    def backward(xp, W, cache, dH, need_input_gradient: bool):
        A, h0, gates, RH, H = cache
        B, T, n = A.shape
        m = W.shape[1] - n
        dG = xp.empty((B, T, 3 * m), dtype=A.dtype)
        if _use_numba(xp):
            _compiled_loops()["gru_backward"](gates, H, np.ascontiguousarray(h0), np.ascontiguousarray(dH),
                                             np.ascontiguousarray(W[:2 * m, n:]),
                                             np.ascontiguousarray(W[2 * m:, n:]), dG, W.dtype.type(1))
        else:
            _gru_backward_xp(xp, gates, H, h0, dH, W[:2 * m, n:], W[2 * m:, n:], dG)
        dG2 = dG.reshape(B * T, 3 * m)
        H_prev = xp.concatenate([h0[:, None], H[:, :-1]], axis=1).reshape(B * T, m)
        dW = xp.empty_like(W)
        dW[:, :n] = dG2.T @ A.reshape(B * T, n)
        dW[:2 * m, n:] = dG2[:, :2 * m].T @ H_prev
        dW[2 * m:, n:] = dG2[:, 2 * m:].T @ RH.reshape(B * T, m)
        dA = (dG2 @ W[:, :n]).reshape(B, T, n) if need_input_gradient else None
        return dW, dG2.sum(axis=0), dA


CELLS = {"lstm": _LSTMCell, "gru": _GRUCell}


# ============================================================================ network
# Parameters are a flat list: [W_1, b_1, ..., W_L, b_L, W_out, b_out].
def initial_parameters(cell, n_features: int, hidden: int, n_layers: int, n_outputs: int, rng) -> list:
    """Keras' defaults: Glorot-uniform input weights, orthogonal recurrent weights per gate, zero
    biases (LSTM forget gate 1), Glorot-uniform output weights. float64 NumPy arrays."""
    params = []
    for layer in range(n_layers):
        n = n_features if layer == 0 else hidden
        W = np.empty((cell.n_gates * hidden, n + hidden))
        limit = math.sqrt(6.0 / (n + hidden))
        W[:, :n] = rng.uniform(-limit, limit, (cell.n_gates * hidden, n))
        for gate in range(cell.n_gates):
            q, r = np.linalg.qr(rng.standard_normal((hidden, hidden)))
            W[gate * hidden:(gate + 1) * hidden, n:] = q * np.sign(np.diag(r))  # Haar-uniform orthogonal
        params += [W, cell.initial_bias(hidden)]
    limit = math.sqrt(6.0 / (hidden + n_outputs))
    params += [rng.uniform(-limit, limit, (n_outputs, hidden)), np.zeros(n_outputs)]
    return params


def zero_state(cell, xp, n_layers: int, batch: int, hidden: int, dtype) -> list:
    """The state of every layer: a tuple of (batch, hidden) arrays (h, and c for an LSTM)."""
    return [tuple(xp.zeros((batch, hidden), dtype=dtype) for _ in range(cell.n_states)) for _ in range(n_layers)]


def network_forward(cell, xp, params, X, state, lengths, keep: bool):
    """Run every layer over a window batch X (B, T, n).

    Returns the last layer's H (B, T, m), the state after step ``lengths[b] - 1`` of every
    sequence (padding after it is ignored), and the caches for ``network_backward``.
    """
    n_layers = (len(params) - 2) // 2
    B = X.shape[0]
    rows = xp.arange(B)
    last = xp.asarray(lengths) - 1
    A, caches, final = X, [], []
    for layer in range(n_layers):
        A, per_step, cache = cell.forward(xp, params[2 * layer], params[2 * layer + 1], A, state[layer], keep)
        caches.append(cache)
        final.append(tuple(S[rows, last] for S in per_step))
    return A, final, caches


def network_backward(cell, xp, params, caches, dH) -> list:
    """Gradients of every parameter but the output layer's, from dLoss/dH of the last layer."""
    n_layers = len(caches)
    grads = [None] * (2 * n_layers)
    for layer in range(n_layers - 1, -1, -1):
        dW, db, dH = cell.backward(xp, params[2 * layer], caches[layer], dH, need_input_gradient=layer > 0)
        grads[2 * layer], grads[2 * layer + 1] = dW, db
    return grads


def _step_mask(xp, lengths, steps: int, dtype):
    return (xp.arange(steps)[None, :] < xp.asarray(lengths)[:, None]).astype(dtype)


def regression_loss(xp, H, W_out, b_out, Y, lengths):
    """Mean squared error over the valid steps (and outputs); returns (loss, dW_out, db_out, dH)."""
    B, T, m = H.shape
    mask = _step_mask(xp, lengths, T, H.dtype)
    difference = ((H.reshape(B * T, m) @ W_out.T + b_out).reshape(B, T, -1) - Y) * mask[..., None]
    count = float(np.sum(lengths)) * Y.shape[2]
    loss = (difference * difference).sum() / count
    d_out = (2.0 / count) * difference.reshape(B * T, -1)
    return loss, d_out.T @ H.reshape(B * T, m), d_out.sum(axis=0), (d_out @ W_out).reshape(B, T, m)


def classification_loss(xp, H, W_out, b_out, labels, lengths):
    """Mean cross-entropy of the softmax of the outputs at each sequence's last valid step."""
    B = H.shape[0]
    rows = xp.arange(B)
    last = xp.asarray(lengths) - 1
    h_last = H[rows, last]
    logits = h_last @ W_out.T + b_out
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    labels = xp.asarray(labels)
    loss = -(shifted[rows, labels] - log_norm[:, 0]).mean()
    d_logits = xp.exp(shifted - log_norm)
    d_logits[rows, labels] -= 1.0
    d_logits /= B
    dH = xp.zeros_like(H)
    dH[rows, last] = d_logits @ W_out
    return loss, d_logits.T @ h_last, d_logits.sum(axis=0), dH


def loss_and_gradients(cell, xp, params, X, lengths, state, target, mode: str):
    """Loss of one window batch and its gradient with respect to every parameter.

    ``target`` is (B, T, n_out) per-step targets (many-to-many) or (B,) class indices
    (many-to-one). The gradient stops at ``state`` (truncated BPTT). Returns
    (loss, gradients in the order of ``params``, final state).
    """
    H, final, caches = network_forward(cell, xp, params, X, state, lengths, keep=True)
    loss_function = regression_loss if mode == MANY_TO_MANY else classification_loss
    loss, dW_out, db_out, dH = loss_function(xp, H, params[-2], params[-1], target, lengths)
    return loss, network_backward(cell, xp, params, caches, dH) + [dW_out, db_out], final


class Adam:
    """Adam (Kingma & Ba 2015) as in ``torch.optim.Adam``: bias-corrected moments, L2
    ``weight_decay`` added to the gradient (here of the weight matrices only, not the biases)."""

    def __init__(self, xp, params, learning_rate: float, weight_decay: float = 0.0, betas=(0.9, 0.999),
                 eps: float = 1e-8):
        self.learning_rate, self.weight_decay, self.betas, self.eps = learning_rate, weight_decay, betas, eps
        self.first = [xp.zeros_like(p) for p in params]
        self.second = [xp.zeros_like(p) for p in params]
        self.steps = 0
        self.xp = xp

    def step(self, params, grads) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        step_size = self.learning_rate / (1.0 - beta1 ** self.steps)
        second_correction = math.sqrt(1.0 - beta2 ** self.steps)
        for p, g, first, second in zip(params, grads, self.first, self.second):
            if self.weight_decay and p.ndim == 2:
                g = g + self.weight_decay * p
            first *= beta1
            first += (1.0 - beta1) * g
            second *= beta2
            second += (1.0 - beta2) * (g * g)
            p -= step_size * first / (self.xp.sqrt(second) / second_correction + self.eps)


def clip_by_global_norm(xp, grads, max_norm: float | None) -> None:
    """Scale all gradients in place so that their joint L2 norm is at most `max_norm`
    (``torch.nn.utils.clip_grad_norm_``); computed on the device, without a host sync."""
    if max_norm is None:
        return
    norm = xp.sqrt(sum((g * g).sum() for g in grads))
    scale = xp.minimum(1.0, max_norm / (norm + 1e-6)).astype(grads[0].dtype)
    for g in grads:
        g *= scale


# ============================================================================ data
def _is_resident(obj) -> bool:
    """An in-memory array (NumPy or CuPy) rather than something read by slices (h5py, TimeRange)."""
    return isinstance(obj, np.ndarray) or type(obj).__module__.split(".")[0] == "cupy"


class _Row:
    """Sequence ``b`` of a (B, T, N) dataset, read by time slices (``data[b, start:stop]``)."""

    def __init__(self, data, b: int):
        self.data, self.b = data, b
        self.shape = tuple(data.shape[1:])

    def __getitem__(self, index):
        return self.data[self.b, index]


def _width(part) -> int:
    return 1 if len(part.shape) == 1 else int(part.shape[1])


def _resident_sequences(array, dtype, name: str):
    """A NumPy/CuPy array (T,), (T, n) or (B, T, n) as a list of (T, n) arrays of `dtype`; NaN raises."""
    if isinstance(array, np.ndarray) or not _is_resident(array):
        batch, batched = check.sequences(array, dtype, name)
        return list(batch), batched
    xp = array_namespace(array)  # CuPy: the same checks, on the device
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim not in (1, 2, 3) or array.shape[-2 if array.ndim > 1 else 0] == 0:
        raise ValueError(f"{name} must have shape (T,), (T, features) or (B, T, features) with T >= 1; "
                         f"got {array.shape}")
    batch = xp.ascontiguousarray(array.reshape((1,) * (3 - array.ndim) + array.shape if array.ndim > 1
                                               else (1, -1, 1)), dtype=dtype)
    if not bool(xp.isfinite(batch).all()):
        check.finite_sequences(_to_host(batch), name)
    return list(batch), array.ndim == 3


def _sequence_parts(X, name: str, dtype):
    """Split what holds sequences into per-sequence 2-D parts.

    Returns ([(part, run, row)], structure): `part` is sliceable by time, `run` the
    StateStore run it came from (or None) and `row` its sequence index in a batched run;
    structure is "single", "batch" or "list" (how predictions are shaped back).
    """
    from ..storage import Run, TimeRange

    if isinstance(X, Run):
        states = X.time_range()  # the committed steps only
        if X.batched:
            return [(states[b], X, b) for b in range(states.shape[0])], "batch"
        return [(states, X, None)], "single"
    if isinstance(X, (list, tuple)):
        if not X:
            raise ValueError(f"{name} is an empty list")
        if np.ndim(X[0]) == 0 and not isinstance(X[0], Run):
            X = np.asarray(X)  # a plain list of numbers: one univariate sequence
        else:
            parts = []
            for index, item in enumerate(X):
                parts += _sequence_parts(item, f"{name}[{index}]", dtype)[0]
            return parts, "list"
    if _is_resident(X) or not (hasattr(X, "shape") and hasattr(X, "__getitem__")):
        sequences, batched = _resident_sequences(X, dtype, name)
        return [(s, None, None) for s in sequences], "batch" if batched else "single"
    ndim = len(X.shape)  # an h5py dataset, a TimeRange or another array-like read by slices
    if ndim == 2:
        return [(X, None, None)], "single"
    if ndim == 3:
        rows = [X[b] if isinstance(X, TimeRange) else _Row(X, b) for b in range(X.shape[0])]
        return [(row, None, None) for row in rows], "batch"
    raise ValueError(f"{name} must be (T, features) or (B, T, features) when read from storage; got shape {X.shape}")


def _run_part(run, row, key: str, name: str):
    """Targets or inputs stored beside a run's states, as a lazy time range of the committed steps."""
    from ..storage import TimeRange

    dataset = getattr(run, key)
    if dataset is None:
        raise ValueError(f"{name}: run {run.name!r} of {run.path} has no {key}; pass them explicitly")
    values = TimeRange(dataset, 0, run.steps_done)
    return values if row is None else values[row]


def _aligned_parts(values, items, structure: str, key: str, name: str, dtype):
    """Per-step values (targets or inputs) aligned with the sequences `items`.

    ``values`` None takes them from the runs the sequences came from. Otherwise it
    follows X: one sequence takes (T,) or (T, k); a batch (B, T) or (B, T, k); a list a
    list of per-sequence arrays (or one array with a leading sequence axis). Returns
    (parts, per_step_scalars).
    """
    if values is None:
        if any(run is None for _, run, _ in items):
            raise ValueError(f"{name} is required: X holds arrays, not StateStore runs with {key}")
        return [_run_part(run, row, key, name) for _, run, row in items], False
    if isinstance(values, (list, tuple)) and values and np.ndim(values[0]) > 0:
        if len(values) != len(items):
            raise ValueError(f"{name} has {len(values)} sequences but X has {len(items)}")
        parts = [_sequence_parts(v, f"{name}[{i}]", dtype)[0] for i, v in enumerate(values)]
        if any(len(p) != 1 for p in parts):
            raise ValueError(f"every item of {name} must be one sequence: (T,) or (T, k)")
        return [p[0][0] for p in parts], all(np.ndim(v) == 1 for v in values)
    resident = _is_resident(values) or not hasattr(values, "shape")
    if resident and not _is_resident(values):
        values = np.asarray(values)
    ndim = len(values.shape)
    if structure == "single":
        if ndim not in (1, 2):
            raise ValueError(f"{name} must be (T,) or (T, k) for one sequence; got shape {values.shape}")
        parts = [part for part, _, _ in _sequence_parts(values, name, dtype)[0]]
        return parts, ndim == 1
    if ndim not in (2, 3):
        raise ValueError(f"{name} must be (B, T) or (B, T, k) for a batch of sequences; got shape {values.shape}")
    if values.shape[0] != len(items):
        raise ValueError(f"{name} has {values.shape[0]} sequences but X has {len(items)}")
    if resident:
        values = values[..., None] if ndim == 2 else values
        return [part for part, _, _ in _sequence_parts(values, name, dtype)[0]], ndim == 2
    return [_Row(values, b) for b in range(values.shape[0])], ndim == 2


def _rows_of_one_array(arrays):
    """The (B, T, n) C-contiguous array whose rows 0..B-1 `arrays` are, in order (then the flat
    view needs no copy), or None."""
    base = arrays[0].base
    if base is None or getattr(base, "ndim", 0) != 3 or base.shape[0] != len(arrays):
        return None
    if not base.flags.c_contiguous or any(a.base is not base or a.shape != base.shape[1:] for a in arrays):
        return None
    pointer = (lambda a: a.data.ptr) if hasattr(base.data, "ptr") else (lambda a: a.__array_interface__["data"][0])
    row_bytes = base.strides[0]
    if all(pointer(a) == pointer(base) + i * row_bytes for i, a in enumerate(arrays)):
        return base
    return None


class _Resident:
    """Sequences held in memory (NumPy or CuPy): one flat (total steps, n) array, windows gathered."""

    def __init__(self, xp, features: list, targets: list | None, dtype):
        self.xp = xp
        self.lengths = np.array([f.shape[0] for f in features], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.features = self._flat(features, dtype)
        self.targets = None if targets is None else self._flat(targets, dtype)
        self.n_features = int(self.features.shape[1])

    def _flat(self, arrays, dtype):
        xp = self.xp
        arrays = [xp.asarray(a, dtype=dtype).reshape(a.shape[0], -1) for a in arrays]
        if len(arrays) == 1:
            return arrays[0]
        batch = _rows_of_one_array(arrays)
        return batch.reshape(-1, batch.shape[-1]) if batch is not None else xp.concatenate(arrays)

    def read(self, requests, targets: bool):
        """Window batch (B, W, n) for requests [(sequence, start, stop)], padded after each
        window's end by repeating its last step (padding is masked out downstream)."""
        xp = self.xp
        sequence, start, stop = (np.array(column, dtype=np.int64) for column in zip(*requests))
        lengths = stop - start
        width = int(lengths.max())
        steps = np.minimum(np.arange(width)[None, :], lengths[:, None] - 1)
        index = xp.asarray((self.offsets[sequence] + start)[:, None] + steps).ravel()
        X = xp.take(self.features, index, axis=0).reshape(len(requests), width, -1)
        Y = xp.take(self.targets, index, axis=0).reshape(len(requests), width, -1) if targets else None
        return X, Y

    def target_sum(self, sequence: int, start: int, stop: int):
        offset = int(self.offsets[sequence])
        return _to_host(self.targets[offset + start:offset + stop].sum(axis=0)).astype(np.float64)


class _Stored:
    """Sequences read window by window from storage (h5py datasets, TimeRanges, any sliceable)."""

    xp = np

    def __init__(self, features: list, targets: list | None, names: list, dtype):
        self.parts = features  # per sequence: a list of parts whose columns are concatenated
        self.targets = targets
        self.names = names
        self.dtype = dtype
        self.lengths = np.array([parts[0].shape[0] for parts in features], dtype=np.int64)
        self.n_features = sum(_width(p) for p in features[0])

    def _read(self, part, sequence: int, start: int, stop: int) -> np.ndarray:
        block = np.asarray(part[start:stop], dtype=self.dtype)
        if block.ndim == 1:
            block = block[:, None]
        if not np.all(np.isfinite(block)):
            step = start + int(np.argwhere(~np.isfinite(block))[0][0])
            raise ValueError(f"{self.names[sequence]} contains NaN or Inf at time step {step}")
        return block

    def read(self, requests, targets: bool):
        lengths = [stop - start for _, start, stop in requests]
        width = max(lengths)
        X = np.zeros((len(requests), width, self.n_features), dtype=self.dtype)
        Y = np.zeros((len(requests), width, _width(self.targets[0])), dtype=self.dtype) if targets else None
        # In file order: contiguous hyperslabs, sequence by sequence, time ascending.
        for i in sorted(range(len(requests)), key=lambda i: requests[i]):
            sequence, start, stop = requests[i]
            column = 0
            for part in self.parts[sequence]:
                block = self._read(part, sequence, start, stop)
                X[i, :stop - start, column:column + block.shape[1]] = block
                column += block.shape[1]
            if targets:
                Y[i, :stop - start] = self._read(self.targets[sequence], sequence, start, stop)
        return X, Y

    def target_sum(self, sequence: int, start: int, stop: int):
        total = 0.0
        for first in range(start, stop, 4096):
            total = total + self._read(self.targets[sequence], sequence, first, min(first + 4096, stop)).astype(
                np.float64).sum(axis=0)
        return total


def _build_data(items, input_parts, target_parts, dtype, name: str = "X"):
    """_Resident when every part is an in-memory array, else _Stored; checks lengths and widths."""
    n_sequences = len(items)
    features = [[part] + ([input_parts[s]] if input_parts is not None else []) for s, (part, _, _) in
                enumerate(items)]
    for s in range(n_sequences):
        length = features[s][0].shape[0]
        if length == 0:
            raise ValueError(f"{name}: sequence {s} has no time steps")
        for label, part in (("inputs", input_parts and input_parts[s]), ("y", target_parts and target_parts[s])):
            if part is not None and part.shape[0] != length:
                raise ValueError(f"{label} and {name} disagree on the number of time steps of sequence {s}: "
                                 f"{part.shape[0]} != {length}")
    widths = {tuple(_width(p) for p in parts) for parts in features}
    if len(widths) != 1:
        raise ValueError(f"all sequences of {name} must have the same number of features; got {sorted(widths)}")
    if target_parts is not None and len({_width(p) for p in target_parts}) != 1:
        raise ValueError("all target sequences must have the same number of outputs")
    every_part = [p for parts in features for p in parts] + list(target_parts or [])
    if all(_is_resident(p) for p in every_part):
        xp = array_namespace(*every_part)
        flat = [parts[0] if len(parts) == 1 else xp.concatenate([xp.asarray(p) for p in parts], axis=1)
                for parts in features]
        return _Resident(xp, flat, target_parts, dtype)
    names = []
    for s, (_, run, row) in enumerate(items):
        where = f"run {run.name!r} of {run.path}" if run is not None else f"{name}"
        names.append(f"{where}, sequence {s if row is None else row}")
    return _Stored(features, target_parts, names, dtype)


# ============================================================================ schedules
@dataclass
class Chain:
    """Consecutive windows of one sequence, processed in order by one lane with the state carried.

    ``burn_in`` (start, stop): steps run forward (no gradient) from a zero state to give
    the first window its starting state; None starts the first window from zeros.
    """

    sequence: int
    windows: list
    burn_in: tuple | None = None


def training_chains(lengths, window: int | None, n_lanes: int, rng) -> list:
    """One epoch of many-to-many windows, as about `n_lanes` chains of equal length, shuffled.

    Each sequence's span [0, L) is cut at a random offset into consecutive windows, so
    that the window boundaries move from epoch to epoch and every step is trained on
    once per epoch. A long series is split into several chains (one per lane); a chain
    that starts mid-series warms its state up over the `window` steps before it.
    """
    per_sequence = []
    for sequence, length in enumerate(lengths):
        length = int(length)
        if length == 0:
            continue
        if window is None or length <= window:
            windows = [(0, length)]
        else:
            first = int(rng.integers(1, window + 1))
            windows = [(0, first)] + [(start, min(start + window, length)) for start in range(first, length, window)]
        per_sequence.append((sequence, windows))
    total = sum(len(windows) for _, windows in per_sequence)
    per_chain = max(1, math.ceil(total / n_lanes))
    chains = []
    for sequence, windows in per_sequence:
        for first in range(0, len(windows), per_chain):
            piece = windows[first:first + per_chain]
            start = piece[0][0]
            burn_in = None if start == 0 else (0 if window is None else max(0, start - window), start)
            chains.append(Chain(sequence, piece, burn_in))
    return [chains[i] for i in rng.permutation(len(chains))]


def consecutive_chains(spans, window: int | None, chunk: int) -> list:
    """Chains that run each (sequence, start, stop) span in windows of `chunk` steps, warmed
    up over the `window` steps before `start` (or all of them when window is None)."""
    chains = []
    for sequence, start, stop in spans:
        if stop <= start:
            continue
        step = chunk
        burn_in = None if start == 0 else (0 if window is None else max(0, start - window), start)
        chains.append(Chain(sequence, [(a, min(a + step, stop)) for a in range(start, stop, step)], burn_in))
    return chains


def lane_plan(chains, n_lanes: int) -> list:
    """Deal the chains to lanes in turn; lanes sorted longest first, so that the lanes still
    busy at any step are always a prefix."""
    lanes = [chains[i::n_lanes] for i in range(min(n_lanes, len(chains)))]
    lanes.sort(key=lambda lane: -sum(len(chain.windows) for chain in lane))
    return lanes


def lane_steps(lanes):
    """Per minibatch: [(chain, window index)] for each busy lane, in lane order."""
    queues = [[(chain, k) for chain in lane for k in range(len(chain.windows))] for lane in lanes]
    for step in range(len(queues[0]) if queues else 0):
        yield [queue[step] for queue in queues if len(queue) > step]


# ============================================================================ estimators
def _one_value_per_entry(y) -> bool:
    """True when y is a flat list or 1-D array of scalars (labels), not per-step targets."""
    if y is None:
        return False
    if isinstance(y, (list, tuple)):
        return len(y) > 0 and all(np.ndim(v) == 0 for v in y)
    return len(np.shape(y)) == 1


class _GatedReadout(BaseEstimator):
    """Shared implementation of GRUReadout and LSTMReadout (see their docstrings)."""

    _cell_name = None

    def __init__(self, hidden=32, *, n_layers=1, epochs=50, learning_rate=1e-3, window=64, batch_size=32,
                 weight_decay=0.0, clip=1.0, validation_fraction=0.1, patience=5, input_to_readout=False,
                 seed=None, dtype="float32"):
        self.hidden = hidden
        self.n_layers = n_layers
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.window = window
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.clip = clip
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.input_to_readout = input_to_readout
        self.seed = seed
        self.dtype = dtype

    # ------------------------------------------------------------------ parameters
    @property
    def _cell(self):
        return CELLS[self._cell_name]

    @property
    def _inference_chunk(self) -> int:
        """Steps per window when running without gradients: the result does not depend on it
        (the state is carried), only the memory does."""
        return self._window or 1024

    def _checked_parameters(self) -> dict:
        fraction = check.real(self.validation_fraction, "validation_fraction")
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {fraction}")
        if not isinstance(self.input_to_readout, (bool, np.bool_)):
            raise TypeError(f"input_to_readout must be True or False, got {self.input_to_readout!r}")
        seed = self.seed
        if seed is not None and not isinstance(seed, np.random.SeedSequence):
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
                raise TypeError(f"seed must be None or a non-negative integer, got {seed!r}")
            if seed < 0:
                raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        return {
            "hidden": check.positive_int(self.hidden, "hidden"),
            "n_layers": check.positive_int(self.n_layers, "n_layers"),
            "epochs": check.positive_int(self.epochs, "epochs"),
            "learning_rate": check.positive_float(self.learning_rate, "learning_rate"),
            "window": None if self.window is None else check.positive_int(self.window, "window"),
            "batch_size": check.positive_int(self.batch_size, "batch_size"),
            "weight_decay": check.non_negative_float(self.weight_decay, "weight_decay"),
            "clip": None if self.clip is None else check.positive_float(self.clip, "clip"),
            "validation_fraction": fraction,
            "patience": check.positive_int(self.patience, "patience"),
            "dtype": check.float_dtype(self.dtype),
        }

    # ------------------------------------------------------------------ data
    def _data(self, X, y, inputs, dtype, input_to_readout: bool, *, fitting: bool):
        """(data, items, structure, mode, labels, per_step_scalars) from what fit/predict were given."""
        items, structure = _sequence_parts(X, "X", dtype)
        if inputs is not None and not input_to_readout:
            raise ValueError("inputs= is only used with input_to_readout=True")
        input_parts = None
        if input_to_readout:
            input_parts, _ = _aligned_parts(inputs, items, structure, "inputs", "inputs", dtype)
        if not fitting:
            return _build_data(items, input_parts, None, dtype), items, structure
        if structure != "single" and _one_value_per_entry(y):
            if len(y) != len(items):
                raise ValueError(f"y has {len(y)} labels but X has {len(items)} sequences: give one label per "
                                 "sequence (classification), or per-step targets (B, T[, k]) or a list of them")
            return _build_data(items, input_parts, None, dtype), items, structure, MANY_TO_ONE, y, False
        target_parts, scalars = _aligned_parts(y, items, structure, "targets", "y", dtype)
        return _build_data(items, input_parts, target_parts, dtype), items, structure, MANY_TO_MANY, None, scalars

    # ------------------------------------------------------------------ lanes
    def _run_lanes(self, data, chains, n_lanes: int, visit) -> None:
        """Run `chains` in `n_lanes` parallel lanes; `visit(requests, items, state)` handles one
        window batch and returns the state after it (carried to the lane's next window)."""
        xp, cell = data.xp, self._cell
        lanes = lane_plan(chains, n_lanes)
        state = zero_state(cell, xp, self._n_layers, len(lanes), self._hidden, self._dtype)
        steps = max((b - a for chain in chains for a, b in chain.windows), default=0)
        work = len(lanes) * steps * (data.n_features + self._hidden) * cell.n_gates * self._hidden
        with _blas_threads(xp, work):
            self._run_lane_steps(data, lanes, state, visit)

    def _run_lane_steps(self, data, lanes, state, visit) -> None:
        for items in lane_steps(lanes):
            batch = len(items)
            starting = [(i, chain) for i, (chain, k) in enumerate(items) if k == 0]
            if starting:
                self._start_states(data, state, starting)
            requests = [(chain.sequence,) + tuple(chain.windows[k]) for chain, k in items]
            final = visit(requests, items, [tuple(S[:batch] for S in layer) for layer in state])
            for layer, layer_final in zip(state, final):
                for S, value in zip(layer, layer_final):
                    S[:batch] = value

    def _start_states(self, data, state, starting) -> None:
        """Zero state, or the state warmed up over the chain's burn-in span, for lanes starting a chain."""
        xp = data.xp
        def warmed(chain):
            return chain.burn_in is not None and chain.burn_in[0] < chain.burn_in[1]

        zero_rows = [i for i, chain in starting if not warmed(chain)]
        if zero_rows:
            rows = xp.asarray(np.array(zero_rows))
            for layer in state:
                for S in layer:
                    S[rows] = 0
        warm = [(i, chain) for i, chain in starting if warmed(chain)]
        if warm:
            warmed = self._burn_in(data, [(chain.sequence,) + tuple(chain.burn_in) for _, chain in warm])
            rows = xp.asarray(np.array([i for i, _ in warm]))
            for layer, layer_warm in zip(state, warmed):
                for S, value in zip(layer, layer_warm):
                    S[rows] = value

    def _burn_in(self, data, spans):
        """States after running each (sequence, start, stop) span forward from zeros (no gradient)."""
        xp, cell = data.xp, self._cell
        state = zero_state(cell, xp, self._n_layers, len(spans), self._hidden, self._dtype)
        chunk = self._inference_chunk
        position = [start for _, start, _ in spans]
        while True:
            active = [r for r, (_, _, stop) in enumerate(spans) if position[r] < stop]
            if not active:
                return state
            requests = [(spans[r][0], position[r], min(position[r] + chunk, spans[r][2])) for r in active]
            X, _ = data.read(requests, targets=False)
            rows = xp.asarray(np.array(active))
            lengths = np.array([stop - start for _, start, stop in requests])
            _, final, _ = network_forward(cell, xp, self.parameters_, X,
                                          [tuple(S[rows] for S in layer) for layer in state], lengths, keep=False)
            for layer, layer_final in zip(state, final):
                for S, value in zip(layer, layer_final):
                    S[rows] = value
            for r, (_, _, stop) in zip(active, requests):
                position[r] = stop

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, inputs=None):
        """Train the readout on reservoir states.

        Parameters
        ----------
        X : states
            One sequence (T, N); a batch (B, T, N); a list of (T_i, N) sequences; a
            ``StateStore`` run (``reservoir.storage.Run``, its committed steps), a run's
            ``time_range()``, an h5py dataset; or a list of those. NumPy or CuPy arrays
            are held in memory (on their device); everything else is read window by window.
        y : targets
            Many-to-many (forecasting): per-step targets shaped like X, (T,) or (T, k) per
            sequence, (B, T[, k]) for a batch, a list for a list; None takes them from the
            runs' ``targets``. Many-to-one (classification): one label per sequence.
        inputs : optional
            With ``input_to_readout=True``: the raw inputs, shaped like X (None takes the
            runs' ``inputs``); they are appended to the states at every step.
        """
        config = self._checked_parameters()
        dtype = config["dtype"]
        data, items, structure, mode, labels, scalars = self._data(X, y, inputs, dtype, bool(self.input_to_readout),
                                                                   fitting=True)
        # what predict() uses, fixed at fit (set_params after fit changes nothing until the next fit)
        self._dtype, self._hidden, self._n_layers = dtype, config["hidden"], config["n_layers"]
        self._window, self._lanes = config["window"], config["batch_size"]
        self._input_to_readout = bool(self.input_to_readout)
        xp = data.xp
        init_seed, order_seed = _seed_sequence(self.seed).spawn(2)
        order_rng = np.random.default_rng(order_seed)
        for stale in ("parameters_", "classes_"):  # a failed fit leaves the readout unfitted
            self.__dict__.pop(stale, None)
        codes = train_lengths = None
        if mode == MANY_TO_ONE:
            codes = self._encode_labels(labels)
            n_outputs = len(self.classes_)
            train, validation = self._split_sequences(codes, config["validation_fraction"], order_rng)
        else:
            n_outputs = data.targets.shape[1] if isinstance(data, _Resident) else _width(data.targets[0])
            train_lengths = self._training_lengths(data.lengths, config["validation_fraction"])
        self.mode_ = mode
        self.n_features_in_ = int(items[0][0].shape[1]) if len(items[0][0].shape) > 1 else 1
        self.n_outputs_ = n_outputs
        self._per_step_scalars = scalars
        params = initial_parameters(self._cell, data.n_features, config["hidden"], config["n_layers"], n_outputs,
                                    np.random.default_rng(init_seed))
        params = [xp.asarray(p, dtype=dtype) for p in params]
        if mode == MANY_TO_MANY:  # start the output at the targets' mean: no epochs spent learning the offset
            total = sum(data.target_sum(s, 0, int(length)) for s, length in enumerate(train_lengths))
            params[-1][...] = xp.asarray(total / train_lengths.sum(), dtype=dtype)
        started = time.perf_counter()
        if mode == MANY_TO_MANY:
            def epoch_chains():
                return training_chains(train_lengths, config["window"], config["batch_size"], order_rng)

            spans = [(s, int(train_lengths[s]), int(length)) for s, length in enumerate(data.lengths)]

            def validation_loss():
                return self._regression_loss(data, spans)
        else:
            def epoch_chains():
                return [self._classification_chain(int(s), int(data.lengths[s])) for s in order_rng.permutation(train)]

            def validation_loss():
                return self._classification_loss(data, validation, codes)

        self._train(data, params, codes, config, epoch_chains, validation_loss)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _train(self, data, params, codes, config, epoch_chains, validation_loss) -> None:
        """The epochs: train on every window once, then early stopping on the validation loss."""
        self.parameters_ = params
        optimizer = Adam(data.xp, params, config["learning_rate"], config["weight_decay"])
        self.loss_curve_, self.validation_loss_curve_ = [], []
        best, best_params, waited = math.inf, None, 0
        self.best_epoch_ = None
        for epoch in range(config["epochs"]):
            loss = self._train_epoch(data, epoch_chains(), codes, optimizer, config)
            self.loss_curve_.append(loss)
            if not math.isfinite(loss):
                if best_params is None:
                    del self.parameters_
                    raise ValueError(f"training diverged (loss {loss}) in epoch {epoch + 1}: lower learning_rate "
                                     "or clip")
                break
            if config["validation_fraction"] == 0:
                continue
            self.validation_loss_curve_.append(validation_loss())
            if self.validation_loss_curve_[-1] < best:
                best, waited, self.best_epoch_ = self.validation_loss_curve_[-1], 0, epoch
                best_params = [p.copy() for p in self.parameters_]
            else:
                waited += 1
                if waited >= config["patience"]:
                    break
        if best_params is not None:  # the best epoch's parameters are kept (Keras' restore_best_weights)
            self.parameters_ = best_params
        self.best_validation_loss_ = best if best_params is not None else None
        self.n_iter_ = len(self.loss_curve_)

    @staticmethod
    def _training_lengths(lengths, fraction: float) -> np.ndarray:
        """Steps of each sequence trained on; the last `fraction` of each is held out for validation."""
        held_out = np.rint(lengths * fraction).astype(np.int64)
        if fraction > 0 and held_out.sum() == 0:
            raise ValueError(f"validation_fraction={fraction} leaves no validation steps in sequences of "
                             f"{lengths.max()} steps; use 0 to train without validation")
        if np.any(held_out >= lengths):
            raise ValueError(f"validation_fraction={fraction} leaves no training steps")
        return lengths - held_out

    def _encode_labels(self, labels) -> np.ndarray:
        from sklearn.utils.multiclass import check_classification_targets

        labels = _to_host(labels) if _is_resident(labels) else np.asarray(labels)
        check_classification_targets(labels)
        self.classes_, codes = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"classification needs sequences of at least 2 classes; y has one: "
                             f"{self.classes_.tolist()}")
        return codes.astype(np.int64)

    @staticmethod
    def _split_sequences(codes, fraction: float, rng):
        """(training, validation) sequence indices: `fraction` of each class held out at random."""
        if fraction == 0:
            return np.arange(len(codes)), np.array([], dtype=np.int64)
        held_out = []
        for label in np.unique(codes):
            members = np.flatnonzero(codes == label)
            count = min(int(round(fraction * len(members))), len(members) - 1)
            held_out.extend(rng.permutation(members)[:count].tolist())
        if not held_out:
            raise ValueError(f"validation_fraction={fraction} holds out no sequence of {len(codes)}; "
                             "use 0 to train without validation")
        held_out = np.sort(np.array(held_out, dtype=np.int64))
        return np.setdiff1d(np.arange(len(codes)), held_out), held_out

    def _classification_chain(self, sequence: int, length: int) -> Chain:
        """The gradient flows through the last `window` steps; the steps before them only warm the state up."""
        if self._window is None or length <= self._window:
            return Chain(sequence, [(0, length)])
        return Chain(sequence, [(length - self._window, length)], (0, length - self._window))

    def _train_epoch(self, data, chains, codes, optimizer, config) -> float:
        xp, cell, params = data.xp, self._cell, self.parameters_
        total, weight = xp.zeros((), dtype=np.float64), 0

        def visit(requests, items, state):
            nonlocal total, weight
            X, Y = data.read(requests, targets=codes is None)
            lengths = np.array([stop - start for _, start, stop in requests])
            target = Y if codes is None else codes[[sequence for sequence, _, _ in requests]]
            loss, grads, final = loss_and_gradients(cell, xp, params, X, lengths, state, target, self.mode_)
            clip_by_global_norm(xp, grads, config["clip"])
            optimizer.step(params, grads)
            samples = int(lengths.sum()) * Y.shape[2] if codes is None else len(requests)
            total = total + loss * samples
            weight += samples
            return final

        self._run_lanes(data, chains, config["batch_size"], visit)
        return float(total) / weight

    def _regression_loss(self, data, spans) -> float:
        """Mean squared error over the (sequence, start, stop) spans, each warmed up over the window before it."""
        xp, cell, params = data.xp, self._cell, self.parameters_
        total, count = 0.0, 0

        def visit(requests, items, state):
            nonlocal total, count
            X, Y = data.read(requests, targets=True)
            lengths = np.array([stop - start for _, start, stop in requests])
            H, final, _ = network_forward(cell, xp, params, X, state, lengths, keep=False)
            loss, _, _, _ = regression_loss(xp, H, params[-2], params[-1], Y, lengths)
            samples = int(lengths.sum()) * Y.shape[2]
            total += float(loss) * samples
            count += samples
            return final

        self._run_lanes(data, consecutive_chains(spans, self._window, self._inference_chunk), self._lanes, visit)
        return total / count

    def _sequence_outputs(self, data, sequences):
        """Last-step outputs (n, n_outputs) of whole sequences run from a zero state."""
        xp, cell, params = data.xp, self._cell, self.parameters_
        chains = consecutive_chains([(int(s), 0, int(data.lengths[s])) for s in sequences], self._window,
                                    self._inference_chunk)
        outputs = xp.empty((len(data.lengths), params[-1].shape[0]), dtype=self._dtype)

        def visit(requests, items, state):
            X, _ = data.read(requests, targets=False)
            lengths = np.array([stop - start for _, start, stop in requests])
            _, final, _ = network_forward(cell, xp, params, X, state, lengths, keep=False)
            ending = [i for i, (chain, k) in enumerate(items) if k == len(chain.windows) - 1]
            if ending:
                rows = xp.asarray(np.array(ending))
                h_last = final[-1][0][rows]
                sequences_ending = xp.asarray(np.array([items[i][0].sequence for i in ending]))
                outputs[sequences_ending] = h_last @ params[-2].T + params[-1]
            return final

        self._run_lanes(data, chains, self._lanes, visit)
        return outputs[xp.asarray(np.asarray(sequences, dtype=np.int64))]

    def _classification_loss(self, data, sequences, codes) -> float:
        xp = data.xp
        logits = self._sequence_outputs(data, sequences)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probability = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        labels = xp.asarray(codes[np.asarray(sequences)])
        return float(-log_probability[xp.arange(len(sequences)), labels].mean())

    # ------------------------------------------------------------------ predict
    def _check_fitted(self):
        if not hasattr(self, "parameters_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def _predict_data(self, X, inputs):
        self._check_fitted()
        data, items, structure = self._data(X, None, inputs, self._dtype, self._input_to_readout, fitting=False)
        width = int(items[0][0].shape[1]) if len(items[0][0].shape) > 1 else 1
        if width != self.n_features_in_:
            raise ValueError(f"X has {width} features per step, but this readout was fitted on {self.n_features_in_}")
        if data.n_features != self.parameters_[0].shape[1] - self._hidden:
            raise ValueError(f"inputs have {data.n_features - width} features per step, the readout was fitted on "
                             f"{self.parameters_[0].shape[1] - self._hidden - width}")
        if array_namespace(self.parameters_[0]) is not data.xp:
            data = self._moved(data)
        return data, structure

    def _moved(self, data):
        """The data on the parameters' device (a model fitted on CuPy arrays predicting NumPy ones, or a store)."""
        xp = array_namespace(self.parameters_[0])
        if isinstance(data, _Resident):
            moved = _Resident.__new__(_Resident)
            moved.__dict__.update(data.__dict__)
            moved.xp, moved.features = xp, xp.asarray(_to_host(data.features))
            return moved
        reader = data.read

        class _OnDevice:
            lengths, n_features = data.lengths, data.n_features

            @staticmethod
            def read(requests, targets):
                X, Y = reader(requests, targets)
                return xp.asarray(X), None if Y is None else xp.asarray(Y)

        _OnDevice.xp = xp
        return _OnDevice()

    def predict(self, X, *, inputs=None):
        """Outputs for states X (the forms ``fit`` takes), each sequence run from a zero state.

        Many-to-many: per-step outputs shaped like the training targets ((T,) or (T, k) per
        sequence; a batch stacked, a list as a list), on the device of X. Many-to-one: the
        predicted label of every sequence.
        """
        data, structure = self._predict_data(X, inputs)
        if self.mode_ == MANY_TO_ONE:
            probabilities = self._probabilities(data)
            return self.classes_[np.argmax(_to_host(probabilities), axis=1)]
        xp, cell, params = data.xp, self._cell, self.parameters_
        outputs = [xp.empty((int(length), params[-1].shape[0]), dtype=self._dtype) for length in data.lengths]

        def visit(requests, items, state):
            X_window, _ = data.read(requests, targets=False)
            lengths = np.array([stop - start for _, start, stop in requests])
            H, final, _ = network_forward(cell, xp, params, X_window, state, lengths, keep=False)
            B, T, m = H.shape
            P = (H.reshape(B * T, m) @ params[-2].T + params[-1]).reshape(B, T, -1)
            for i, (sequence, start, stop) in enumerate(requests):
                outputs[sequence][start:stop] = P[i, :stop - start]
            return final

        chains = consecutive_chains([(s, 0, int(length)) for s, length in enumerate(data.lengths)], self._window,
                                    self._inference_chunk)
        self._run_lanes(data, chains, self._lanes, visit)
        if self._per_step_scalars:
            outputs = [o[:, 0] for o in outputs]
        if structure == "single":
            return outputs[0]
        if structure == "batch":
            return xp.stack(outputs)
        return outputs

    def _probabilities(self, data):
        xp = data.xp
        logits = self._sequence_outputs(data, np.arange(len(data.lengths)))
        shifted = xp.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict_proba(self, X, *, inputs=None):
        """Class probabilities (n_sequences, n_classes), columns in the order of ``classes_`` (many-to-one)."""
        data, _ = self._predict_data(X, inputs)
        if self.mode_ != MANY_TO_ONE:
            raise AttributeError("predict_proba is for sequence classification (many-to-one): this readout was fitted "
                                 "many-to-many (per-step targets)")
        return self._probabilities(data)

    def score(self, X, y, *, inputs=None) -> float:
        """Many-to-many: coefficient of determination R² over every step (outputs averaged, as
        scikit-learn's regressors). Many-to-one: accuracy."""
        from sklearn.metrics import accuracy_score, r2_score

        prediction = self.predict(X, inputs=inputs)
        if self.mode_ == MANY_TO_ONE:
            return float(accuracy_score(_to_host(y) if _is_resident(y) else np.asarray(y), prediction))
        if isinstance(prediction, list):
            truth = np.concatenate([_to_host(v) if _is_resident(v) else np.asarray(v) for v in y])
            prediction = np.concatenate([_to_host(p) for p in prediction])
        else:
            truth, prediction = (_to_host(y) if _is_resident(y) else np.asarray(y)), _to_host(prediction)
        k = self.n_outputs_
        return float(r2_score(truth.reshape(-1, k), prediction.reshape(-1, k)))

    # ------------------------------------------------------------------ inspection
    def gate_weights(self) -> list:
        """Per layer, a dict gate name -> (W (m, n + m), b (m,)) as NumPy arrays, plus "output"
        -> (W_out (n_outputs, m), b_out) in the last entry's place of the list."""
        self._check_fitted()
        m, cell = self._hidden, self._cell
        layers = []
        for layer in range(self._n_layers):
            W, b = (_to_host(p) for p in self.parameters_[2 * layer:2 * layer + 2])
            layers.append({name: (W[k * m:(k + 1) * m], b[k * m:(k + 1) * m]) for k, name in
                           enumerate(cell.gate_names)})
        layers.append({"output": (_to_host(self.parameters_[-2]), _to_host(self.parameters_[-1]))})
        return layers


def _seed_sequence(seed) -> np.random.SeedSequence:
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden : int, default 32
        Units per recurrent layer (``m``).
    n_layers : int, default 1
        Stacked recurrent layers; the output layer reads the last one.
    epochs : int, default 50
        Passes over the training data (each training step is in exactly one window per epoch).
    learning_rate : float, default 1e-3
        Adam's step size.
    window : int or None, default 64
        Truncated BPTT length: gradients flow through at most this many steps. Long
        series are cut into windows whose state is carried from one to the next; a
        sequence to classify is run forward to its last `window` steps, through which
        the gradient flows. None: whole sequences (full BPTT).
    batch_size : int, default 32
        Windows per minibatch (parallel lanes).
    weight_decay : float, default 0
        L2 penalty on the weight matrices (not the biases), added to the gradient as in
        ``torch.optim.Adam``.
    clip : float or None, default 1.0
        Largest global L2 norm of the gradient (``clip_grad_norm_``); None: no clipping.
    validation_fraction : float in [0, 1), default 0.1
        Held out for early stopping: the last fraction of every sequence's steps
        (many-to-many, each validation span warmed up over the `window` steps before
        it), or that fraction of the sequences of each class (many-to-one). 0: no
        validation, all epochs run.
    patience : int, default 5
        Epochs without a lower validation loss before training stops; the parameters of
        the best epoch are kept.
    input_to_readout : bool, default False
        Append the raw input to the states at every step (``inputs=`` in fit/predict, or
        the runs' stored inputs), as ReservoirPy's ESN feeds its readout.
    seed : int or None
        Seeds the initial weights and the window order: the same seed gives the same
        parameters.
    dtype : {"float32", "float64"}
        Parameters and arithmetic.

    Modes
    -----
    Many-to-many (forecasting): ``fit(states, y)`` with per-step targets; mean squared
    error over every step; ``predict`` gives per-step outputs, ``score`` R².
    Many-to-one (sequence classification): ``fit(sequences, labels)`` with one label per
    sequence (a list, a batch, runs); softmax cross-entropy on the output at each
    sequence's last step; ``predict``, ``predict_proba``, ``score`` (accuracy).

    Attributes
    ----------
    parameters_ : list of arrays
        ``[W_1, b_1, ..., W_L, b_L, W_out, b_out]`` on the device the data were on; see
        ``gate_weights()`` for them gate by gate.
    mode_ : "many-to-many" or "many-to-one"
    classes_ : labels, in the order of ``predict_proba``'s columns (many-to-one)
    loss_curve_, validation_loss_curve_ : losses per epoch
    best_epoch_, best_validation_loss_ : the epoch whose parameters were kept
    n_iter_ : epochs run
    fit_seconds_ : training time of the last fit
"""


class GRUReadout(_GatedReadout):
    __doc__ = """GRU readout on reservoir states, trained by truncated BPTT with Adam.

    Update and reset gates; the candidate reads ``[x_t, r ⊙ h_{t-1}]``;
    ``h_t = z ⊙ h_{t-1} + (1 - z) ⊙ ĥ_t`` (module docstring).
    """ + _PARAMETERS_DOC
    _cell_name = "gru"


class LSTMReadout(_GatedReadout):
    __doc__ = """LSTM readout on reservoir states, trained by truncated BPTT with Adam.

    Forget (bias initialised to 1), input, candidate and output gates and a cell state
    (module docstring).
    """ + _PARAMETERS_DOC
    _cell_name = "lstm"
