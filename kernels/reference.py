"""Reference path: plain NumPy/SciPy, one time step at a time.

This is the oracle every other path is tested against, so it stays obviously
correct rather than fast. Arithmetic stays in the weights' dtype: NumPy treats the
Python-float leak rate as a weak scalar, so float32 in means float32 throughout.

    x[t] = (1 - a) * x[t-1] + a * f(W @ x[t-1] + W_in @ u[t] + b)

Its functions are the kernel contract (``kernels.contract``) that every path keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .activations import NUMPY


@dataclass(frozen=True)
class ReferenceEsnWeights:
    W: sp.csr_array  # (n, n)
    W_in: np.ndarray  # (n, n_in), dense
    bias: np.ndarray  # (n,)


def prepare_esn(W, W_in, bias) -> ReferenceEsnWeights:
    return ReferenceEsnWeights(sp.csr_array(W), np.asarray(W_in), np.asarray(bias))


def _step(weights: ReferenceEsnWeights, u_t, x, leak_rate: float, f):
    """One step for a batch: u_t (B, n_in), x (B, n) -> new x (B, n)."""
    pre = (weights.W @ x.T).T + u_t @ weights.W_in.T + weights.bias
    return (1.0 - leak_rate) * x + leak_rate * f(pre)


def esn_run(weights: ReferenceEsnWeights, inputs, state, leak_rate: float, activation: str, out):
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


def esn_generate(
    weights: ReferenceEsnWeights,
    readout_coef,
    readout_intercept,
    include_input: bool,
    state,
    first_input,
    n_steps: int,
    leak_rate: float,
    activation: str,
):
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
class ReferenceElmWeights:
    W: sp.csr_array  # (n_hidden, n_features)
    bias: np.ndarray  # (n_hidden,)


def prepare_elm(W_hidden, bias) -> ReferenceElmWeights:
    return ReferenceElmWeights(sp.csr_array(W_hidden), np.asarray(bias))


def elm_hidden(weights: ReferenceElmWeights, X, activation: str):
    """Hidden activations f(X @ W_hiddenᵀ + b) for X (samples, features), dense or scipy.sparse."""
    pre = weights.W @ X.T  # sparse @ dense, or sparse @ sparse without densifying X
    pre = pre.toarray() if sp.issparse(pre) else np.asarray(pre)
    return NUMPY[activation](pre.T + weights.bias)


def spmv(W, x):
    return W @ x


# --------------------------------------------------------------------------- LIF (spiking) networks
@dataclass(frozen=True)
class ReferenceLifWeights:
    push: sp.csr_array  # (n, n): row j lists the targets of neuron j (the transpose of the pull matrix)
    delays: np.ndarray  # (nnz,) int: steps each synapse of `push` takes (0 = this step)
    n_exc: int  # neurons [0, n_exc) are excitatory: their spikes go into i_exc, the others' into i_inh
    W_in: sp.csr_array  # (n, n_in): input current (or input spikes) onto neurons


def prepare_lsm(push, delays, n_exc: int, W_in) -> ReferenceLifWeights:
    return ReferenceLifWeights(sp.csr_array(push), np.asarray(delays), int(n_exc), sp.csr_array(W_in))


def lsm_run(
    weights: ReferenceLifWeights,
    params: tuple,
    inputs,
    input_spikes: bool,
    state,
    out,
    window: int,
    record_spikes: bool,
):
    """Advance B trials over every step of `inputs` (B, T, n_in), one step at a time.

    `params` is ``kernels.lif.LifParams.as_tuple``; `state` (``kernels.lif.LifState``)
    advances in place. `input_spikes`: the inputs are spikes that jump ``i_exc``
    (Poisson encoding) rather than a current. `out` (B, T or ceil(T / window), n)
    receives the traces (``window == 0``) or, added to it, spike counts per window;
    None records no states. Returns, per trial, the spikes as (step, neuron) rows
    (int64, steps counted from the start of `inputs`), or None without `record_spikes`.
    """
    (
        v_rest,
        v_reset,
        v_thresh,
        decay_m,
        gain_exc,
        gain_inh,
        gain_ext,
        decay_exc,
        decay_inh,
        decay_trace,
        refractory_steps,
    ) = params
    n = state.v.shape[1]
    slots = state.ring_exc.shape[1]
    push, delays = weights.push, weights.delays
    records = [[] for _ in range(state.v.shape[0])]
    for t in range(inputs.shape[1]):
        slot = state.step % slots
        for b in range(state.v.shape[0]):
            v, i_exc, i_inh, hold = state.v[b], state.i_exc[b], state.i_inh[b], state.refractory[b]
            drive = weights.W_in @ inputs[b, t] if inputs.shape[2] else np.zeros(n, dtype=v.dtype)
            i_ext = np.zeros_like(v) if input_spikes else drive
            # 1. update (exact), refractory neurons hold
            integrated = v_rest + (v - v_rest) * decay_m + i_exc * gain_exc + i_inh * gain_inh + i_ext * gain_ext
            free = hold == 0
            v[...] = np.where(free, integrated, v)
            hold[...] = np.where(free, hold, hold - 1)
            i_exc *= decay_exc
            i_inh *= decay_inh
            # 2. threshold
            spiked = np.flatnonzero(v > v_thresh)
            # 3. synapses
            if slots == 1 and not input_spikes:  # no delays: straight into the currents, in push order
                for j in spiked:
                    start, stop = push.indptr[j], push.indptr[j + 1]
                    np.add.at(i_exc if j < weights.n_exc else i_inh, push.indices[start:stop], push.data[start:stop])
            else:  # push into the ring, then deliver this step's slot
                for j in spiked:
                    start, stop = push.indptr[j], push.indptr[j + 1]
                    ring = state.ring_exc[b] if j < weights.n_exc else state.ring_inh[b]
                    np.add.at(
                        ring,
                        ((state.step + delays[start:stop]) % slots, push.indices[start:stop]),
                        push.data[start:stop],
                    )
                if input_spikes:  # input spikes arrive with the recurrent ones of this step
                    state.ring_exc[b, slot] += drive
                i_exc += state.ring_exc[b, slot]
                i_inh += state.ring_inh[b, slot]
                state.ring_exc[b, slot] = 0
                state.ring_inh[b, slot] = 0
            # 4. reset
            v[spiked] = v_reset
            hold[spiked] = max(refractory_steps - 1, 0)
            # 5. traces and records
            fired = np.zeros(n, dtype=v.dtype)
            fired[spiked] = 1
            state.trace[b] = state.trace[b] * decay_trace + fired
            records[b].extend((t, j) for j in spiked)
            if out is not None:
                if window:
                    out[b, t // window, spiked] += 1
                else:
                    out[b, t] = state.trace[b]
        state.step += 1
    if not record_spikes:
        return None
    return [np.array(trial, dtype=np.int64).reshape(-1, 2) for trial in records]


# --------------------------------------------------------------------------- batched closed-loop forecasts
def esn_forecast(
    weights: ReferenceEsnWeights,
    readout_coef,
    readout_intercept,
    include_input: bool,
    state,
    first_output,
    exogenous,
    leak_rate: float,
    activation: str,
):
    """Closed loop for B sequences at once, each with its own readout and known exogenous inputs.

    The input of step t of sequence b is ``u = [y, exogenous[b, t]]``: ``y`` (n_out,) is
    the previous output (``first_output[b]`` at t = 0), the exogenous part (n_exog,
    possibly 0) is given. The readout is ``y = coef[b] @ [x, u] + intercept[b]``
    (``coef[b] @ x + intercept[b]`` without ``include_input``).

    readout_coef (B, n_out, n + n_in or n); readout_intercept (B, n_out); state (B, n),
    overwritten with the last states; first_output (B, n_out); exogenous
    (B, n_steps, n_exog). Returns outputs (B, n_steps, n_out).
    """
    f = NUMPY[activation]
    n_out = readout_coef.shape[1]
    batch, n_steps = exogenous.shape[:2]
    x = state.copy()
    y = first_output.astype(state.dtype)
    outputs = np.empty((batch, n_steps, n_out), dtype=state.dtype)
    for t in range(n_steps):
        u = np.concatenate([y, exogenous[:, t]], axis=1)
        x = _step(weights, u, x, leak_rate, f)
        features = np.concatenate([x, u], axis=1) if include_input else x
        y = (np.einsum("bof,bf->bo", readout_coef, features) + readout_intercept).astype(state.dtype)
        outputs[:, t] = y
    state[...] = x
    return outputs
