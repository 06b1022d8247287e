"""Numba step loops of the GRU and LSTM readouts: forward and backward through one window.

The same arithmetic as the array-module loops in ``kernels/gated.py`` (the reference
they are tested against), one (batch row, unit) at a time so that nothing is
allocated per step but the recurrent product. They use the project's typed tanh and
logistic: float32 stays float32 (a rational tanh that vectorises; libm's tanh cost
more than the whole step), float64 uses np.tanh. ``one`` is 1 in the arrays' dtype,
so that float32 arithmetic is not promoted. Compiled on first call and cached on disk.

Arguments are C-contiguous; ``h`` and ``c`` are updated in place (the caller passes
copies when it keeps the starting state).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import _sigmoid, _tanh

__all__ = ["lstm_forward", "lstm_backward", "gru_forward", "gru_backward"]


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
