"""A stack of gated layers with a linear output layer: parameters, forward, backward, losses.

Parameters are a flat list ``[W_1, b_1, ..., W_L, b_L, W_out, b_out]``; the output is
``y_t = W_out h_t + b_out`` on the last layer's state. Two losses: mean squared error
over every valid step (many-to-many) and mean softmax cross-entropy of the output at
each sequence's last step (many-to-one). Windows of a batch are padded to the longest;
``lengths`` says how many steps of each are real.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "MANY_TO_MANY",
    "MANY_TO_ONE",
    "initial_parameters",
    "zero_state",
    "network_forward",
    "network_backward",
    "regression_loss",
    "classification_loss",
    "loss_and_gradients",
]

MANY_TO_MANY = "many-to-many"
MANY_TO_ONE = "many-to-one"


def initial_parameters(cell, n_features: int, hidden: int, n_layers: int, n_outputs: int, rng) -> list:
    """Keras' defaults: Glorot-uniform input weights, orthogonal recurrent weights per gate, the
    cell's initial biases, Glorot-uniform output weights, zero output bias. float64 NumPy arrays."""
    params = []
    for layer in range(n_layers):
        n = n_features if layer == 0 else hidden
        W = np.empty((cell.n_gates * hidden, n + hidden))
        limit = math.sqrt(6.0 / (n + hidden))
        W[:, :n] = rng.uniform(-limit, limit, (cell.n_gates * hidden, n))
        for gate in range(cell.n_gates):
            q, r = np.linalg.qr(rng.standard_normal((hidden, hidden)))
            W[gate * hidden : (gate + 1) * hidden, n:] = q * np.sign(np.diag(r))  # Haar-uniform orthogonal
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
    sequence (padding after it is ignored), and the caches for ``network_backward``
    (None entries unless `keep`).
    """
    n_layers = (len(params) - 2) // 2
    rows = xp.arange(X.shape[0])
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


def log_softmax(xp, logits):
    """Row-wise log of the softmax, shifted by the row maximum (no overflow)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def classification_loss(xp, H, W_out, b_out, labels, lengths):
    """Mean cross-entropy of the softmax of the outputs at each sequence's last valid step;
    returns (loss, dW_out, db_out, dH)."""
    B = H.shape[0]
    rows = xp.arange(B)
    last = xp.asarray(lengths) - 1
    h_last = H[rows, last]
    log_probability = log_softmax(xp, h_last @ W_out.T + b_out)
    labels = xp.asarray(labels)
    loss = -log_probability[rows, labels].mean()
    d_logits = xp.exp(log_probability)
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
