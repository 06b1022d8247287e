"""GRU and LSTM step loops over one window, written against an array module ``xp``.

With NumPy these are the reference the compiled loops (``cpu/gated.py``) are tested
against; with CuPy they are the GPU path (one array operation per gate per step).
They run the recurrent half of a layer only: ``Gx`` (B, T, G m) holds the input half
of every gate, bias included, computed for the whole window in one product.

LSTM gates in the order forget, input, candidate, output::

    c_t = f ⊙ c_{t-1} + i ⊙ g     h_t = o ⊙ tanh(c_t)

GRU gates in the order update, reset, candidate; the candidate reads ``r ⊙ h``::

    ĥ = tanh(Gx_h + (r ⊙ h) W_hh)  h_t = z ⊙ h_{t-1} + (1 - z) ⊙ ĥ

The forward loops fill the caches the backward loops need; the backward loops write
dLoss/d(pre-activation) of every gate into ``dG`` (B, T, G m).
"""

from __future__ import annotations


def sigmoid(xp, a):
    # tanh form: no overflow warning for large negative inputs, same derivative s(1 - s)
    return 0.5 * (1.0 + xp.tanh(0.5 * a))


def lstm_forward(xp, Gx, Wh_T, h, c, gates, C, TC, H):
    """Fill gates (B, T, 4m), cell states C, tanh(C) TC and outputs H (B, T, m) from (h, c)."""
    m = h.shape[1]
    for t in range(Gx.shape[1]):
        a = Gx[:, t] + h @ Wh_T
        g_t = gates[:, t]
        g_t[...] = sigmoid(xp, a)
        g_t[:, 2 * m : 3 * m] = xp.tanh(a[:, 2 * m : 3 * m])
        c = g_t[:, :m] * c + g_t[:, m : 2 * m] * g_t[:, 2 * m : 3 * m]
        tc = xp.tanh(c)
        h = g_t[:, 3 * m :] * tc
        C[:, t], TC[:, t], H[:, t] = c, tc, h


def lstm_backward(xp, gates, C, TC, c0, dH, Wh, dG):
    """dG from dLoss/dH (B, T, m); the gradient stops at the window's starting state."""
    B, T, m = dH.shape
    dh_next = xp.zeros((B, m), dtype=dH.dtype)
    dc_next = xp.zeros((B, m), dtype=dH.dtype)
    for t in range(T - 1, -1, -1):
        f, i, g, o = (gates[:, t, k * m : (k + 1) * m] for k in range(4))
        c_prev = C[:, t - 1] if t else c0
        tc = TC[:, t]
        dh = dH[:, t] + dh_next
        dc = dc_next + dh * o * (1.0 - tc * tc)
        dG[:, t, :m] = dc * c_prev * f * (1.0 - f)
        dG[:, t, m : 2 * m] = dc * g * i * (1.0 - i)
        dG[:, t, 2 * m : 3 * m] = dc * i * (1.0 - g * g)
        dG[:, t, 3 * m :] = dh * tc * o * (1.0 - o)
        dc_next = dc * f
        dh_next = dG[:, t] @ Wh


def gru_forward(xp, Gx, Wh_zr_T, Wh_c_T, h, gates, RH, H):
    """Fill gates (B, T, 3m), reset states r ⊙ h RH and outputs H (B, T, m) from h."""
    m = h.shape[1]
    for t in range(Gx.shape[1]):
        zr = sigmoid(xp, Gx[:, t, : 2 * m] + h @ Wh_zr_T)
        rh = zr[:, m:] * h
        candidate = xp.tanh(Gx[:, t, 2 * m :] + rh @ Wh_c_T)
        h = candidate + zr[:, :m] * (h - candidate)
        gates[:, t, : 2 * m] = zr
        gates[:, t, 2 * m :] = candidate
        RH[:, t], H[:, t] = rh, h


def gru_backward(xp, gates, H, h0, dH, Wh_zr, Wh_c, dG):
    """dG from dLoss/dH (B, T, m); the gradient stops at the window's starting state."""
    B, T, m = dH.shape
    dh_next = xp.zeros((B, m), dtype=dH.dtype)
    for t in range(T - 1, -1, -1):
        z, r, candidate = (gates[:, t, k * m : (k + 1) * m] for k in range(3))
        h_prev = H[:, t - 1] if t else h0
        dh = dH[:, t] + dh_next
        d_candidate = dh * (1.0 - z) * (1.0 - candidate * candidate)
        d_rh = d_candidate @ Wh_c
        dG[:, t, :m] = dh * (h_prev - candidate) * z * (1.0 - z)
        dG[:, t, m : 2 * m] = d_rh * h_prev * r * (1.0 - r)
        dG[:, t, 2 * m :] = d_candidate
        dh_next = dh * z + d_rh * r + dG[:, t, : 2 * m] @ Wh_zr
