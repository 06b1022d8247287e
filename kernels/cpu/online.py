"""Numba CPU path for the online readouts: RLS and LMS, alone and inside an ESN's time loop.

The learning rules are those of ``reference.rls_train`` / ``reference.lms_train``
(ReservoirPy 0.4.2's RLS and LMS). One RLS sample costs two passes over P
(n_features² values): the first computes ``P x``, the second applies the rank-1
update row by row and, while a row of the updated P is in registers, accumulates
that row's share of the gain ``P_new x``. The gain is therefore the product with
the *updated* P, as the reference (and ReservoirPy) compute it, without the third
pass over P that a separate matrix-vector product would take. Over a stream whose
samples are all known (``rls_train``) the first pass is folded into the previous
sample's second: the sweep that updates a row of P also sums that row against the
next sample, which is that sample's ``P x``. P is then read and written once per
sample, where NumPy's ``gemv`` + ``ger`` + ``gemv`` read it three times and write it
once (the same sums as separate passes, to rounding).
In the ESN loop the next state depends on this step's output, so there the two
passes stay.

``online_esn_run`` fuses the reservoir step (plain CSR, with output feedback) and
the readout's update into one compiled time loop: FORCE learning (Sussillo & Abbott
2009) and online training of a readout on a running reservoir, one Python call per
run rather than per step.

The passes over P run over rows in parallel once P is large enough
(``PARALLEL_MIN_ENTRIES``); ``parallel`` is a compile-time constant
(``_compile.call``), so a small readout compiles no parallel region. Sums are
accumulated in float64 (also for float32 arrays, whose
values are rounded once when stored).

Three layers: device code (``_rls_*``/``_lms_*``/``_esn_feedback_step``), host
driver (``_rls_loop``, ``_lms_loop``, ``_online_esn_loop``: the time loops), public
functions (``rls_train``, ``lms_train``, ``prepare_online_esn``, ``online_esn_run``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ..activations import code
from ..reference import LMS, RLS
from ._compile import FASTMATH, Constant, call
from .activation import _activate
from .threads import cores_free

__all__ = ["CpuOnlineEsnWeights", "rls_train", "lms_train", "prepare_online_esn", "online_esn_run"]


# --------------------------------------------------------------------------- device code
@njit(inline="always")
def _dot_row(M, i, x):
    total = 0.0  # float64 accumulator: float32 readouts keep the digits RLS's cancellations need
    for j in range(x.shape[0]):
        total += M[i, j] * x[j]
    return total


@njit(inline="always")
def _dot(a, b):
    total = 0.0
    for j in range(a.shape[0]):
        total += a[j] * b[j]
    return total


@njit(inline="always")
def _update_row(P, i, Px, scale, inv_forgetting, x, gain):
    """Row i of P <- (P - Px Pxᵀ / denominator) / forgetting; gain[i] = (new row) · x."""
    total = 0.0
    a = Px[i] * scale
    for j in range(x.shape[0]):
        value = (P[i, j] - a * Px[j]) * inv_forgetting
        P[i, j] = value
        total += value * x[j]
    gain[i] = total


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _rls_p_serial(P, x, Px, forgetting, gain):
    for i in range(x.shape[0]):
        Px[i] = _dot_row(P, i, x)
    denominator = forgetting + _dot(x, Px)
    scale, inv_forgetting = 1.0 / denominator, 1.0 / forgetting
    for i in range(x.shape[0]):
        _update_row(P, i, Px, scale, inv_forgetting, x, gain)


@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _rls_p_parallel(P, x, Px, forgetting, gain):
    for i in prange(x.shape[0]):
        Px[i] = _dot_row(P, i, x)
    denominator = forgetting + _dot(x, Px)
    scale, inv_forgetting = 1.0 / denominator, 1.0 / forgetting
    for i in prange(x.shape[0]):
        _update_row(P, i, Px, scale, inv_forgetting, x, gain)


@njit(inline="always")
def _update_row_and_next(P, i, Px, scale, inv_forgetting, x, x_next, gain, Px_next):
    """_update_row, and Px_next[i] = (new row) · x_next in the same sweep of the row."""
    total = 0.0
    ahead = 0.0
    a = Px[i] * scale
    for j in range(x.shape[0]):
        value = (P[i, j] - a * Px[j]) * inv_forgetting
        P[i, j] = value
        total += value * x[j]
        ahead += value * x_next[j]
    gain[i] = total
    Px_next[i] = ahead


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _rls_stream_pass_serial(P, x, x_next, Px, forgetting, gain, Px_next):
    scale, inv_forgetting = 1.0 / (forgetting + _dot(x, Px)), 1.0 / forgetting
    for i in range(x.shape[0]):
        _update_row_and_next(P, i, Px, scale, inv_forgetting, x, x_next, gain, Px_next)


@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _rls_stream_pass_parallel(P, x, x_next, Px, forgetting, gain, Px_next):
    scale, inv_forgetting = 1.0 / (forgetting + _dot(x, Px)), 1.0 / forgetting
    for i in prange(x.shape[0]):
        _update_row_and_next(P, i, Px, scale, inv_forgetting, x, x_next, gain, Px_next)


@njit(inline="always")
def _readout_error(coef, intercept, x, y, error):
    for o in range(coef.shape[0]):
        error[o] = _dot_row(coef, o, x) + intercept[o] - y[o]


@njit(inline="always")
def _finish_sample(coef, intercept, x, step, error, fit_intercept, intercept_step, out):
    """coef -= error stepᵀ; out = coef x + intercept (before its update); intercept -= intercept_step error."""
    for o in range(coef.shape[0]):
        e = error[o]
        for i in range(x.shape[0]):
            coef[o, i] -= e * step[i]
        out[o] = _dot_row(coef, o, x) + intercept[o]
        if fit_intercept:
            intercept[o] -= intercept_step * e


@njit(inline="always")
def _rls_sample(x, y, coef, intercept, P, count, forgetting, fit_intercept, out, Px, gain, error, parallel):
    if parallel:
        _rls_p_parallel(P, x, Px, forgetting, gain)
    else:
        _rls_p_serial(P, x, Px, forgetting, gain)
    _readout_error(coef, intercept, x, y, error)
    count = forgetting * count + 1.0
    # (S b - e) / S of the reference is b - e / S up to rounding; the latter keeps one form for both rules
    _finish_sample(coef, intercept, x, gain, error, fit_intercept, 1.0 / count, out)
    return count


@njit(inline="always")
def _lms_sample(x, y, coef, intercept, learning_rate, fit_intercept, out, step, error):
    _readout_error(coef, intercept, x, y, error)
    for i in range(x.shape[0]):
        step[i] = learning_rate * x[i]
    _finish_sample(coef, intercept, x, step, error, fit_intercept, learning_rate, out)


@njit(inline="always")
def _esn_feedback_step(indptr, indices, data, W_in, W_fb, bias, u_t, y_prev, x, x_next, keep, leak, activation):
    """x_next = keep x + leak f(W x + W_in u_t + W_fb y_prev + bias), plain CSR row by row."""
    for row in range(x_next.shape[0]):
        total = bias[row]
        for m in range(u_t.shape[0]):
            total += W_in[row, m] * u_t[m]
        for o in range(y_prev.shape[0]):
            total += W_fb[row, o] * y_prev[o]
        for k in range(indptr[row], indptr[row + 1]):
            total += data[k] * x[indices[k]]
        x_next[row] = keep * x[row] + leak * _activate(total, activation)


# --------------------------------------------------------------------------- host driver
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _rls_loop(X, Y, coef, intercept, P, count, forgetting, fit_intercept, out, parallel):
    n_features, n_targets = X.shape[1], Y.shape[1]
    Px = np.empty(n_features, dtype=P.dtype)
    Px_next = np.empty(n_features, dtype=P.dtype)
    gain = np.empty(n_features, dtype=P.dtype)
    error = np.empty(n_targets, dtype=P.dtype)
    for i in range(n_features):
        Px[i] = _dot_row(P, i, X[0])
    for t in range(X.shape[0]):
        # the next sample is known: its P x is summed in the same pass as this sample's update
        x_next = X[t + 1] if t + 1 < X.shape[0] else X[t]
        if parallel:
            _rls_stream_pass_parallel(P, X[t], x_next, Px, forgetting, gain, Px_next)
        else:
            _rls_stream_pass_serial(P, X[t], x_next, Px, forgetting, gain, Px_next)
        _readout_error(coef, intercept, X[t], Y[t], error)
        count = forgetting * count + 1.0
        _finish_sample(coef, intercept, X[t], gain, error, fit_intercept, 1.0 / count, out[t])
        Px, Px_next = Px_next, Px
    return count


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _lms_loop(X, Y, coef, intercept, learning_rate, fit_intercept, out):
    step = np.empty(X.shape[1], dtype=coef.dtype)
    error = np.empty(Y.shape[1], dtype=coef.dtype)
    for t in range(X.shape[0]):
        _lms_sample(X[t], Y[t], coef, intercept, learning_rate, fit_intercept, out[t], step, error)


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _online_esn_loop(
    indptr,
    indices,
    data,
    W_in,
    W_fb,
    bias,
    inputs,
    targets,
    state,
    feedback,
    keep,
    leak,
    activation,
    include_input,
    rule,
    learn,
    coef,
    intercept,
    P,
    count,
    forgetting,
    learning_rate,
    fit_intercept,
    update_every,
    phase,
    out,
    states_out,
    record_states,
    parallel,
):
    batch, steps, n_in = inputs.shape
    n = state.shape[1]
    n_features = coef.shape[1]
    x_next = np.empty(n, dtype=state.dtype)
    z = np.empty(n_features, dtype=state.dtype)
    Px = np.empty(n_features, dtype=state.dtype)
    gain = np.empty(n_features, dtype=state.dtype)
    error = np.empty(coef.shape[0], dtype=state.dtype)
    for t in range(steps):
        update = learn and phase % update_every == 0
        for b in range(batch):
            x = state[b]
            _esn_feedback_step(
                indptr, indices, data, W_in, W_fb, bias, inputs[b, t], feedback[b], x, x_next, keep, leak, activation
            )
            for i in range(n):
                x[i] = x_next[i]
                z[i] = x_next[i]
            if include_input:
                for m in range(n_in):
                    z[n + m] = inputs[b, t, m]
            if record_states:
                for i in range(n):
                    states_out[b, t, i] = x[i]
            y_t = out[b, t]
            if not update:
                for o in range(coef.shape[0]):
                    y_t[o] = _dot_row(coef, o, z) + intercept[o]
            elif rule == RLS:
                count = _rls_sample(
                    z,
                    targets[b, t],
                    coef,
                    intercept,
                    P,
                    count,
                    forgetting,
                    fit_intercept,
                    y_t,
                    Px,
                    gain,
                    error,
                    parallel,
                )
            else:
                _lms_sample(z, targets[b, t], coef, intercept, learning_rate, fit_intercept, y_t, gain, error)
            for o in range(coef.shape[0]):
                feedback[b, o] = y_t[o]
        phase += 1
    return count, phase


# --------------------------------------------------------------------------- public functions
#: Entries of P from which its passes run in parallel. One parallel region per sample (two
#: in the ESN loop) pays off only for a large P, and on a loaded machine a region whose
#: threads wait for a core cost far more than it saves: measured on the shared 2-core
#: box (2026-12-04), 500 features took 12.6 ms per sample on 2 threads against 0.32 ms on
#: one, 2000 features 32 ms against 11 ms.
PARALLEL_MIN_ENTRIES = 2048 * 2048


def _parallel(n_features: int) -> Constant:
    return Constant(n_features * n_features >= PARALLEL_MIN_ENTRIES and cores_free())


def rls_train(X, Y, coef, intercept, P, count: float, forgetting: float, fit_intercept: bool, out):
    """Same contract as ``reference.rls_train``; every array C-contiguous of one float dtype."""
    return call(
        _rls_loop,
        X,
        Y,
        coef,
        intercept,
        P,
        float(count),
        P.dtype.type(forgetting),
        bool(fit_intercept),
        out,
        _parallel(X.shape[1]),
    )


def lms_train(X, Y, coef, intercept, learning_rate: float, fit_intercept: bool, out):
    """Same contract as ``reference.lms_train``; every array C-contiguous of one float dtype."""
    call(_lms_loop, X, Y, coef, intercept, coef.dtype.type(learning_rate), bool(fit_intercept), out)
    return out


@dataclass(frozen=True)
class CpuOnlineEsnWeights:
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    W_in: np.ndarray  # (n, n_in)
    W_fb: np.ndarray  # (n, n_out)
    bias: np.ndarray  # (n,)


def prepare_online_esn(W, W_in, W_fb, bias) -> CpuOnlineEsnWeights:
    W = sp.csr_array(W)
    dtype = W.dtype
    return CpuOnlineEsnWeights(
        W.indptr.astype(np.int64),
        W.indices.astype(np.int64),
        np.ascontiguousarray(W.data),
        np.ascontiguousarray(W_in, dtype=dtype),
        np.ascontiguousarray(W_fb, dtype=dtype),
        np.ascontiguousarray(bias, dtype=dtype),
    )


def online_esn_run(
    weights: CpuOnlineEsnWeights,
    inputs,
    targets,
    state,
    feedback,
    leak_rate: float,
    activation: str,
    include_input: bool,
    rule: int,
    learn: bool,
    coef,
    intercept,
    P,
    count: float,
    forgetting: float,
    learning_rate: float,
    fit_intercept: bool,
    update_every: int,
    phase: int,
    out,
    states_out,
):
    """Same contract as ``reference.online_esn_run``; arrays C-contiguous in the weights' dtype.

    `P` may be a (0, 0) array for LMS, `targets` a (B, T, 0) one without `learn`.
    """
    dtype = weights.data.dtype.type
    record = states_out is not None
    if rule not in (RLS, LMS):
        raise ValueError(f"unknown learning rule code {rule}")
    count, phase = call(
        _online_esn_loop,
        weights.indptr,
        weights.indices,
        weights.data,
        weights.W_in,
        weights.W_fb,
        weights.bias,
        inputs,
        targets,
        state,
        feedback,
        dtype(1.0 - leak_rate),
        dtype(leak_rate),
        Constant(code(activation)),
        bool(include_input),
        int(rule),
        bool(learn),
        coef,
        intercept,
        P,
        float(count),
        dtype(forgetting),
        dtype(learning_rate),
        bool(fit_intercept),
        int(update_every),
        int(phase),
        out,
        states_out if record else np.empty((1, 1, 1), dtype=state.dtype),
        record,
        _parallel(coef.shape[1] if rule == RLS and learn else 0),
    )
    return count, phase
