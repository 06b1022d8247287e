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


# --------------------------------------------------------------------------- online readouts (RLS, LMS, FORCE)
# The learning rules of ReservoirPy 0.4.2's RLS and LMS nodes, one sample at a time,
# with the readout as coef (n_targets, n_features) and intercept (n_targets,):
#
#   RLS   k = P x ; P <- (P - k kᵀ / (λ + xᵀk)) / λ ; e = coef x + b - y
#         coef <- coef - e (P x)ᵀ ; S <- λ S + 1 ; b <- b - e / S
#   LMS   e = coef x + b - y ; coef <- coef - η e xᵀ ; b <- b - η e
#
# (the gain uses the updated P; the intercept is a running mean of the errors, not
# part of P). The prediction recorded for the sample is coef x + b with the updated
# coef and the intercept from before the update, as ReservoirPy returns it.

RLS, LMS = 0, 1  # learning-rule codes of the fused ESN loop


def rls_train(X, Y, coef, intercept, P, count: float, forgetting: float, fit_intercept: bool, out):
    """RLS over the rows of X (T, n_features) with targets Y (T, n_targets).

    coef (n_targets, n_features), intercept (n_targets,) and P (n_features,
    n_features) are updated in place; `count` is the forgetting-weighted number of
    samples seen (S). out (T, n_targets) receives the online predictions. Returns
    the new count.
    """
    for t in range(X.shape[0]):
        count = _rls_sample(X[t], Y[t], coef, intercept, P, count, forgetting, fit_intercept, out[t])
    return count


def _rls_sample(x, y, coef, intercept, P, count, forgetting, fit_intercept, out):
    Px = P @ x
    P[...] = (P - np.outer(Px, Px) / (forgetting + x @ Px)) / forgetting
    gain = P @ x
    error = coef @ x + intercept - y
    coef -= np.outer(error, gain)
    count = forgetting * count + 1.0
    out[...] = coef @ x + intercept
    if fit_intercept:
        intercept[...] = (count * intercept - error) / count
    return count


def lms_train(X, Y, coef, intercept, learning_rate: float, fit_intercept: bool, out):
    """LMS over the rows of X (T, n_features) with targets Y (T, n_targets).

    coef and intercept are updated in place; out (T, n_targets) receives the online
    predictions.
    """
    for t in range(X.shape[0]):
        _lms_sample(X[t], Y[t], coef, intercept, learning_rate, fit_intercept, out[t])
    return out


def _lms_sample(x, y, coef, intercept, learning_rate, fit_intercept, out):
    error = coef @ x + intercept - y
    coef -= learning_rate * np.outer(error, x)
    out[...] = coef @ x + intercept
    if fit_intercept:
        intercept -= learning_rate * error


@dataclass(frozen=True)
class ReferenceOnlineEsnWeights:
    W: sp.csr_array  # (n, n)
    W_in: np.ndarray  # (n, n_in)
    W_fb: np.ndarray  # (n, n_out): output feedback, zeros for none
    bias: np.ndarray  # (n,)


def prepare_online_esn(W, W_in, W_fb, bias) -> ReferenceOnlineEsnWeights:
    return ReferenceOnlineEsnWeights(sp.csr_array(W), np.asarray(W_in), np.asarray(W_fb), np.asarray(bias))


def online_esn_run(
    weights: ReferenceOnlineEsnWeights,
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
    """An ESN with output feedback whose linear readout learns while it runs (FORCE).

    For every step t and sequence b of inputs (B, T, n_in):

        x[t] = (1 - a) x[t-1] + a f(W x[t-1] + W_in u[t] + W_fb y[t-1] + b)
        z[t] = [x[t], u[t]] (include_input) or x[t] ;  y[t] = coef z[t] + intercept

    With `learn`, the readout takes an RLS (`rule` RLS) or LMS step on (z[t],
    targets[b, t]) every `update_every` steps, one sequence after another, and y[t] is
    the prediction that step records. `feedback` (B, n_out) holds y[t-1] and is
    overwritten with the last output; `state` (B, n) likewise. `phase` counts the
    steps since the last update. out (B, T, n_out) receives y; states_out (B, T, n),
    if not None, the states. Returns (count, phase).
    """
    f = NUMPY[activation]
    x = state.copy()
    for t in range(inputs.shape[1]):
        pre = (weights.W @ x.T).T + inputs[:, t] @ weights.W_in.T + feedback @ weights.W_fb.T + weights.bias
        x = (1.0 - leak_rate) * x + leak_rate * f(pre)
        update = learn and phase % update_every == 0
        for b in range(x.shape[0]):
            z = np.concatenate([x[b], inputs[b, t]]) if include_input else x[b]
            if not update:
                out[b, t] = coef @ z + intercept
            elif rule == RLS:
                count = _rls_sample(z, targets[b, t], coef, intercept, P, count, forgetting, fit_intercept, out[b, t])
            else:
                _lms_sample(z, targets[b, t], coef, intercept, learning_rate, fit_intercept, out[b, t])
        phase += 1
        feedback[...] = out[:, t]
        if states_out is not None:
            states_out[:, t] = x
    state[...] = x
    return count, phase


# --------------------------------------------------------------------------- composition: stacks and output feedback
# Several ESN layers advanced together, one step at a time, every layer per step:
#
#     x_l[t] = (1 - a_l) x_l[t-1] + a_l f_l(W_l x_l[t-1] + W_in,l s_l[t] + W_fb,l y[t-1] + b_l)
#
# where the source s_l[t] is the external input u[t] or the new state x_k[t] of an
# earlier layer k < l (a stack feeds each layer the one before; parallel layers all
# read u), and y[t-1] is the fed-back output of the step before: given (the teacher,
# in training) or the readout's own output (closed loop):
#
#     y[t] = C [x_0[t], ..., x_{L-1}[t], u[t]] + c
#
# The state of the whole model is the concatenation [x_0, ..., x_{L-1}] (N = Σ n_l).
@dataclass(frozen=True)
class StackLayer:
    """One layer of a composed model, as every path's ``prepare_stack`` takes it."""

    W: sp.csr_array  # (n, n) recurrent
    W_in: np.ndarray | sp.csr_array  # (n, width of the source)
    W_fb: np.ndarray | None  # (n, n_feedback) feedback weights, or None: this layer gets no feedback
    bias: np.ndarray  # (n,)
    leak_rate: float
    activation: str
    source: int  # -1: the external input u; k >= 0: the new state of layer k (k before this layer)


def prepare_stack(layers, n_inputs: int, n_feedback: int):
    """Check the layers' shapes and sources; the reference path keeps them as given."""
    layers = tuple(layers)
    widths = []
    for index, layer in enumerate(layers):
        n = layer.W.shape[0]
        if not -1 <= layer.source < index:
            raise ValueError(f"layer {index} reads layer {layer.source}: a layer reads u (-1) or an earlier layer")
        source_width = n_inputs if layer.source < 0 else widths[layer.source]
        if layer.W_in.shape != (n, source_width):
            raise ValueError(f"layer {index}: W_in has shape {layer.W_in.shape}, expected ({n}, {source_width})")
        if layer.W_fb is not None and layer.W_fb.shape != (n, n_feedback):
            raise ValueError(f"layer {index}: W_fb has shape {layer.W_fb.shape}, expected ({n}, {n_feedback})")
        widths.append(n)
    return layers


def _stack_step(layers, u_t, y_previous, x_previous):
    """One step of every layer for one sequence: u_t (n_in,), y_previous (n_fb,), x_previous
    list of (n_l,) -> list of the new states."""
    new = []
    for layer, x in zip(layers, x_previous):
        source = u_t if layer.source < 0 else new[layer.source]
        pre = layer.W @ x + layer.W_in @ source + layer.bias
        if layer.W_fb is not None:
            pre = pre + layer.W_fb @ y_previous
        new.append((1.0 - layer.leak_rate) * x + layer.leak_rate * NUMPY[layer.activation](pre))
    return new


def _split(layers, x):
    bounds = np.cumsum([0] + [layer.W.shape[0] for layer in layers])
    return [x[bounds[i] : bounds[i + 1]] for i in range(len(layers))]


def stack_run(layers, inputs, state, feedback, out):
    """Run B sequences through the layers, the fed-back values given (teacher forcing).

    inputs (B, T, n_in); state (B, N) overwritten with the last state; feedback
    (B, T, n_fb): the value fed back at each step (y[t-1]; width 0 without feedback);
    out (B, T, N) receives every state. Returns out.
    """
    for b in range(inputs.shape[0]):
        x = _split(layers, state[b].copy())
        for t in range(inputs.shape[1]):
            x = _stack_step(layers, inputs[b, t], feedback[b, t], x)
            out[b, t] = np.concatenate(x)
        state[b] = out[b, -1]
    return out


def stack_generate(layers, inputs, state, last_output, coef, intercept, out, outputs):
    """Closed loop for B sequences: each step's readout output is fed back at the next step.

    inputs (B, T, n_in); state (B, N) and last_output (B, n_fb) (the output fed back at the
    first step) are overwritten with the last ones; coef (n_fb, N + n_in), intercept
    (n_fb,): y[t] = coef @ [x[t], u[t]] + intercept; out (B, T, N) receives the states,
    outputs (B, T, n_fb) the outputs. Returns outputs.
    """
    n = state.shape[1]
    for b in range(inputs.shape[0]):
        x = _split(layers, state[b].copy())
        y = last_output[b].copy()
        for t in range(inputs.shape[1]):
            x = _stack_step(layers, inputs[b, t], y, x)
            out[b, t] = np.concatenate(x)
            y = (coef[:, :n] @ out[b, t] + coef[:, n:] @ inputs[b, t] + intercept).astype(state.dtype)
            outputs[b, t] = y
        state[b] = out[b, -1]
        last_output[b] = y
    return outputs


# --------------------------------------------------------------------------- NVAR
# Next-generation reservoir computing (Gauthier et al. 2021): features of a window of
# delayed inputs. The linear part at step t is [u[t], u[t-s], ..., u[t-(k-1)s]] (k = delay,
# s = strides), flattened input by input; the nonlinear part is the product of every
# combination with replacement of linear components, in itertools' order, for each order
# in `orders`; an optional constant 1 comes first. Windows are whole: the first feature
# row belongs to step (k-1)s.


def nvar_features(inputs, delay: int, strides: int, orders, constant: bool, out):
    """Features of every whole window of B sequences.

    inputs (B, T, n_in); out (B, T - (delay-1)*strides, n_features) is filled and returned.
    """
    import itertools

    span = (delay - 1) * strides
    n_linear = delay * inputs.shape[2]
    for b in range(inputs.shape[0]):
        for row, t in enumerate(range(span, inputs.shape[1])):
            linear = np.concatenate([inputs[b, t - j * strides] for j in range(delay)])
            values = [np.ones(1, dtype=inputs.dtype)] if constant else []
            values.append(linear)
            for order in orders:
                combos = itertools.combinations_with_replacement(range(n_linear), order)
                values.append(np.array([np.prod(linear[list(c)]) for c in combos], dtype=inputs.dtype))
            out[b, row] = np.concatenate(values)
    return out


def nvar_forecast(window, coef, intercept, delay: int, strides: int, orders, constant: bool, increment: bool, out):
    """Closed loop: each prediction becomes the next input.

    window (B, (delay-1)*strides + 1, n_in): the last inputs, oldest first; coef
    (n_in, n_features), intercept (n_in,): the readout ``y = coef @ features + intercept``.
    The next input is ``u[t] + y`` with ``increment`` (the readout predicts u[t+1] - u[t]),
    else ``y``. out (B, n_steps, n_in) receives the predictions; window is advanced in place.
    """
    n_steps = out.shape[1]
    coef, intercept = np.asarray(coef, dtype=window.dtype), np.asarray(intercept, dtype=window.dtype)
    for b in range(window.shape[0]):
        history = list(window[b])
        for t in range(n_steps):
            recent = np.asarray(history[-window.shape[1] :])[None]
            features = np.empty((1, 1, coef.shape[1]), dtype=window.dtype)
            nvar_features(recent, delay, strides, orders, constant, features)
            y = coef @ features[0, 0] + intercept
            following = history[-1] + y if increment else y
            out[b, t] = following
            history.append(out[b, t].copy())
        window[b] = np.asarray(history[-window.shape[1] :])


# --------------------------------------------------------------------------- intrinsic plasticity and ES2N
# Kernels of reservoir.models.plasticity (IPReservoir) and reservoir.models.es2n (ES2N),
# compiled in kernels/cpu/plasticity.py and kernels/cpu/es2n.py. ``prepare_ip`` holds
# W, W_in and bias as ``prepare_esn`` does; ``prepare_es2n`` adds the dense orthogonal O.
#
# IP reservoir (Schrauwen et al. 2008), a leaky integral r and the adapted output x:
#     r[t] = (1 - lr) * r[t-1] + lr * (W @ x[t-1] + W_in @ u[t] + b)
#     x[t] = f(gain * r[t] + offset)
# and, while training, per unit, with the gain's old value on the right:
#     tanh (Gaussian target N(mu, sigma^2)):
#         d_offset = -(-mu / s2 + (x / s2) * (2 s2 + 1 - x^2 + mu x)),  s2 = sigma^2
#     sigmoid (exponential target of mean mu):
#         d_offset = 1 - (2 + 1 / mu) * x + x^2 / mu
#     d_gain = 1 / gain + d_offset * r
#     gain += eta * d_gain ;  offset += eta * d_offset
#
# ES2N (Ceni & Gallicchio 2024), proximity beta per unit:
#     x[t] = beta * f(W @ x[t-1] + W_in @ u[t] + b) + O @ ((1 - beta) * x[t-1])
# (for one beta, (1 - beta) * O @ x[t-1]; per unit, the (1 - beta) weighs each unit's
# state entering the orthogonal map, as ReservoirPy's ES2N computes it).


def prepare_ip(W, W_in, bias) -> ReferenceEsnWeights:
    return prepare_esn(W, W_in, bias)


@dataclass(frozen=True)
class ReferenceEs2nWeights:
    drive: ReferenceEsnWeights  # W, W_in, bias
    O: np.ndarray  # (n, n) dense orthogonal


def prepare_es2n(W, W_in, bias, O) -> ReferenceEs2nWeights:
    return ReferenceEs2nWeights(prepare_esn(W, W_in, bias), np.asarray(O))


def _ip_step(weights: ReferenceEsnWeights, u_t, internal, x, gain, offset, leak_rate: float, f):
    """One IP step for a batch: u_t (B, n_in), internal and x (B, n) -> new (internal, x)."""
    pre = (weights.W @ x.T).T + u_t @ weights.W_in.T + weights.bias
    internal = (1.0 - leak_rate) * internal + leak_rate * pre
    return internal, f(gain * internal + offset)


def ip_run(weights: ReferenceEsnWeights, gain, offset, inputs, internal, state, leak_rate: float, activation: str, out):
    """Run B sequences of an IP reservoir with fixed gain and offset (n,).

    inputs (B, T, n_in); internal and state (B, n), overwritten with the last ones;
    out (B, T, n) receives every x. Returns out.
    """
    f = NUMPY[activation]
    r, x = internal.copy(), state.copy()
    for t in range(inputs.shape[1]):
        r, x = _ip_step(weights, inputs[:, t], r, x, gain, offset, leak_rate, f)
        out[:, t] = x
    internal[...] = r
    state[...] = x
    return out


def ip_fit(
    weights: ReferenceEsnWeights,
    gain,
    offset,
    inputs,
    internal,
    state,
    leak_rate: float,
    activation: str,
    mu: float,
    sigma: float,
    learning_rate: float,
    epochs: int,
    warmup: int,
):
    """Adapt gain and offset (n,) in place by the IP rule of `activation` ("tanh" or "sigmoid").

    The B sequences of `inputs` (B, T, n_in) are one stream, in order and `epochs`
    times, the state carrying over from each to the next; the first `warmup` steps of
    every sequence run without adapting. internal and state (n,) start the stream and
    are overwritten with its last values. Returns (gain, offset).
    """
    f = NUMPY[activation]
    s2 = sigma * sigma
    r, x = internal[None].copy(), state[None].copy()
    for _ in range(epochs):
        for sequence in inputs:
            for t in range(sequence.shape[0]):
                r, x = _ip_step(weights, sequence[t : t + 1], r, x, gain, offset, leak_rate, f)
                if t < warmup:
                    continue
                y = x[0]
                if activation == "tanh":
                    d_offset = -(-(mu / s2) + (y / s2) * (2 * s2 + 1 - y**2 + mu * y))
                else:
                    d_offset = 1 - (2 + 1 / mu) * y + y**2 / mu
                d_gain = 1 / gain + d_offset * r[0]
                gain += learning_rate * d_gain
                offset += learning_rate * d_offset
    internal[...] = r[0]
    state[...] = x[0]
    return gain, offset


def es2n_run(weights: ReferenceEs2nWeights, proximity, inputs, state, activation: str, out):
    """Run B sequences of ES2N with proximity (n,).

    inputs (B, T, n_in); state (B, n), overwritten with the last state; out (B, T, n)
    receives every state. Returns out.
    """
    f = NUMPY[activation]
    drive, O = weights.drive, weights.O
    x = state.copy()
    for t in range(inputs.shape[1]):
        pre = (drive.W @ x.T).T + inputs[:, t] @ drive.W_in.T + drive.bias
        x = proximity * f(pre) + ((1.0 - proximity) * x) @ O.T
        out[:, t] = x
    state[...] = x
    return out


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


# --------------------------------------------------------------------------- time-delayed ESN connections
# An ESN whose connection j -> i carries a delay of d_ij >= 1 steps (d = 1 everywhere: the
# plain ESN above):
#
#     x[t] = (1 - a) x[t-1] + a f(Σ_j W_ij x_j[t - d_ij] + W_in u[t] + b)
#
# The state of a sequence is its history, (D, n) with D = max d, newest first:
# history[k] = x[t-1-k]. Here W is split into one matrix per delay value, W = Σ_d W_d,
# and the sum is Σ_d W_d @ history[d - 1]. Compiled in kernels/cpu/delays.py.


@dataclass(frozen=True)
class ReferenceDelayedEsnWeights:
    by_delay: tuple  # ((d, W_d csr), ...): the nonzeros of W of delay d
    W_in: np.ndarray  # (n, n_in)
    bias: np.ndarray  # (n,)
    depth: int  # D, the largest delay


def prepare_delayed_esn(W, W_in, bias, delays) -> ReferenceDelayedEsnWeights:
    """`delays` (nnz,) ints >= 1, one per nonzero of W in its CSR storage order."""
    W = sp.csr_array(W)
    delays = np.asarray(delays)
    rows = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    by_delay = tuple(
        (int(d), sp.csr_array((W.data[delays == d], (rows[delays == d], W.indices[delays == d])), shape=W.shape))
        for d in np.unique(delays)
    )
    return ReferenceDelayedEsnWeights(by_delay, np.asarray(W_in), np.asarray(bias), int(delays.max(initial=1)))


def delayed_esn_run(weights: ReferenceDelayedEsnWeights, inputs, history, leak_rate: float, activation: str, out):
    """Run B sequences with delayed connections.

    inputs (B, T, n_in); history (B, D, n), newest first, overwritten with the last D
    states; out (B, T, n) receives every state. Returns out.
    """
    f = NUMPY[activation]
    h = history.copy()
    for t in range(inputs.shape[1]):
        pre = inputs[:, t] @ weights.W_in.T + weights.bias
        for d, W_d in weights.by_delay:
            pre = pre + (W_d @ h[:, d - 1].T).T
        x = (1.0 - leak_rate) * h[:, 0] + leak_rate * f(pre)
        h = np.concatenate([x[:, None], h[:, :-1]], axis=1)
        out[:, t] = x
    history[...] = h
    return out
