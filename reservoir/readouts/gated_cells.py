"""GRU and LSTM layers: forward and backward over one window of a minibatch.

Every gate is a feed-forward layer on ``[x_t, h_{t-1}]`` with an ``m x (n + m)``
weight matrix and an ``m`` bias. A layer stacks its gate matrices row-wise into one
``(G m, n + m)`` matrix ``W`` and one ``(G m,)`` bias ``b``. The input half of every
gate, ``W[:, :n] x_t + b``, is one matrix product over the whole window (B sequences x
T steps); only the recurrent half runs step by step, in the kernels: Numba on the CPU
(``reservoir.kernels.cpu.gated``), the array-module loops of ``reservoir.kernels.gated``
otherwise (CuPy arrays, or NumPy with ``USE_NUMBA`` off: the reference).

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
"""

from __future__ import annotations

import numpy as np

from ..kernels import gated as array_loops

__all__ = ["LSTMCell", "GRUCell", "CELLS", "USE_NUMBA"]

#: Run the CPU step loops in Numba (tests switch it off to compare with the array-module loops).
USE_NUMBA = True


def _compiled_loops(xp):
    """The Numba step loops for NumPy arrays when USE_NUMBA, else None (compiled or loaded on first use)."""
    if not USE_NUMBA or xp is not np:
        return None
    from ..kernels.cpu import gated as compiled

    return compiled


def _previous_states(xp, h0, H):
    """(B T, m): the state each step started from (h0, then H shifted by one step)."""
    B, T, m = H.shape
    return xp.concatenate([h0[:, None], H[:, :-1]], axis=1).reshape(B * T, m)


class LSTMCell:
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
        compiled = _compiled_loops(xp)
        if compiled is not None:
            # copies (C order): the loop updates h and c in place, and one layout means one compilation
            compiled.lstm_forward(Gx, np.ascontiguousarray(W[:, n:].T), np.array(h0), np.array(c0), gates, C, TC, H)
        else:
            array_loops.lstm_forward(xp, Gx, W[:, n:].T, h0, c0, gates, C, TC, H)
        cache = (A, h0, c0, gates, C, TC, H) if keep else None
        return H, (H, C), cache

    @staticmethod
    def backward(xp, W, cache, dH, need_input_gradient: bool):
        """(dW, db, dA) from dLoss/dH (B, T, m); dA is None unless asked (a lower layer needs it)."""
        A, h0, c0, gates, C, TC, H = cache
        B, T, n = A.shape
        m = W.shape[1] - n
        dG = xp.empty((B, T, 4 * m), dtype=A.dtype)
        compiled = _compiled_loops(xp)
        if compiled is not None:
            compiled.lstm_backward(
                gates,
                C,
                TC,
                np.ascontiguousarray(c0),
                np.ascontiguousarray(dH),
                np.ascontiguousarray(W[:, n:]),
                dG,
                W.dtype.type(1),
            )
        else:
            array_loops.lstm_backward(xp, gates, C, TC, c0, dH, W[:, n:], dG)
        dG2 = dG.reshape(B * T, 4 * m)
        dW = xp.empty_like(W)
        dW[:, :n] = dG2.T @ A.reshape(B * T, n)
        dW[:, n:] = dG2.T @ _previous_states(xp, h0, H)
        dA = (dG2 @ W[:, :n]).reshape(B, T, n) if need_input_gradient else None
        return dW, dG2.sum(axis=0), dA


class GRUCell:
    """GRU layer: forward and backward over one window (see the module docstring)."""

    name = "gru"
    n_gates = 3
    gate_names = ("update", "reset", "candidate")
    n_states = 1

    @staticmethod
    def initial_bias(m: int) -> np.ndarray:
        bias = np.zeros(3 * m)
        # Update gate leaning to keep the state (z = σ(1) = 0.73), the GRU's counterpart of the LSTM's
        # forget bias 1: with z = 0.5 a carried state and its gradient halve at every step, so that a
        # GRU starts with no more memory than the reservoir and cannot learn to recall a cue 30 steps back.
        bias[:m] = 1.0
        return bias

    @staticmethod
    def forward(xp, W, b, A, state, keep: bool):
        """Run over A (B, T, n) from state (h0,); return H (B, T, m), per-step states, cache."""
        B, T, n = A.shape
        m = W.shape[1] - n
        (h0,) = state
        Gx = (A.reshape(B * T, n) @ W[:, :n].T + b).reshape(B, T, 3 * m)
        gates = xp.empty((B, T, 3 * m), dtype=A.dtype)
        RH, H = (xp.empty((B, T, m), dtype=A.dtype) for _ in range(2))
        compiled = _compiled_loops(xp)
        if compiled is not None:
            compiled.gru_forward(
                Gx,
                np.ascontiguousarray(W[: 2 * m, n:].T),
                np.ascontiguousarray(W[2 * m :, n:].T),
                np.array(h0),
                gates,
                RH,
                H,
            )
        else:
            array_loops.gru_forward(xp, Gx, W[: 2 * m, n:].T, W[2 * m :, n:].T, h0, gates, RH, H)
        cache = (A, h0, gates, RH, H) if keep else None
        return H, (H,), cache

    @staticmethod
    def backward(xp, W, cache, dH, need_input_gradient: bool):
        """(dW, db, dA) from dLoss/dH (B, T, m); dA is None unless asked (a lower layer needs it)."""
        A, h0, gates, RH, H = cache
        B, T, n = A.shape
        m = W.shape[1] - n
        dG = xp.empty((B, T, 3 * m), dtype=A.dtype)
        compiled = _compiled_loops(xp)
        if compiled is not None:
            compiled.gru_backward(
                gates,
                H,
                np.ascontiguousarray(h0),
                np.ascontiguousarray(dH),
                np.ascontiguousarray(W[: 2 * m, n:]),
                np.ascontiguousarray(W[2 * m :, n:]),
                dG,
                W.dtype.type(1),
            )
        else:
            array_loops.gru_backward(xp, gates, H, h0, dH, W[: 2 * m, n:], W[2 * m :, n:], dG)
        dG2 = dG.reshape(B * T, 3 * m)
        dW = xp.empty_like(W)
        dW[:, :n] = dG2.T @ A.reshape(B * T, n)
        dW[: 2 * m, n:] = dG2[:, : 2 * m].T @ _previous_states(xp, h0, H)
        dW[2 * m :, n:] = dG2[:, 2 * m :].T @ RH.reshape(B * T, m)
        dA = (dG2 @ W[:, :n]).reshape(B, T, n) if need_input_gradient else None
        return dW, dG2.sum(axis=0), dA


CELLS = {"lstm": LSTMCell, "gru": GRUCell}
