"""Numba CPU path for composed models: stacked and parallel ESN layers, output feedback.

Every layer of a model advances inside one compiled time loop (all layers per step,
no Python per step), in the order of ``kernels.reference.stack_run``:

    x_l[t] = (1 - a_l) x_l[t-1] + a_l f_l(W_l x_l[t-1] + W_in,l s_l[t] + W_fb,l y[t-1] + b_l)

``prepare_stack`` flattens the layers into one CSR matrix of N rows (all units) over
the working vector

    z = [u[t], y[t-1], x_0[t], ..., x_{L-1}[t], x_0[t-1], ..., x_{L-1}[t-1]]

so a row's whole pre-activation is one sparse dot product, whatever the number of
layers: its input or feedback columns, its source layer's new states, its own
layer's previous states. The layers are computed in order and read only earlier
ones, so the part of z a row reads is already this step's. Zeros of a dense
``W_in`` are dropped: the input weights between the layers of a deep model are as
sparse as their ``input_density``.

The closed loop (``stack_generate``) computes the readout ``y = C [x, u] + c`` at the
end of each step and writes it where the next step reads its feedback: reservoir
step, readout and feedback in one compiled loop.

Three layers, as in every kernel file: device code (``_layer_rows``; the row sum is ``sparse._row_dot``),
host driver (``_stack_loop``, the time loop), public functions (``prepare_stack``,
``stack_run``, ``stack_generate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

from ..activations import code
from ..reference import prepare_stack as _check_layers
from ._compile import FASTMATH, announce
from .activation import _activate_in_place
from .readout import _readout_into
from .sparse import _row_dot


# --------------------------------------------------------------------------- device code
@njit(inline="always")
def _layer_rows(first, last, new, previous, indptr, indices, data, bias, z, keep, leak, activation):
    """New states of rows [first, last) into z[new + row] (the previous ones at z[previous + row]).

    The sums first, then the activation over the whole layer and the leak in loops of their
    own: those two vectorise (the activation is one call, ``_activate_in_place``), which
    they did not inside the row loop.
    """
    for row in range(first, last):
        z[new + row] = bias[row] + _row_dot(indptr, indices, data, row, z)
    states = z[new + first : new + last]
    _activate_in_place(states, activation)
    before = z[previous + first : previous + last]
    for i in range(states.shape[0]):
        states[i] = keep * before[i] + leak * states[i]


# --------------------------------------------------------------------------- host driver
@announce("a composed model's step (stacked layers, feedback)")
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _stack_loop(
    indptr,
    indices,
    data,
    bias,
    layer_rows,
    keep,
    leak,
    activation,
    inputs,
    state,
    feedback,
    closed,
    coef,
    intercept,
    last_output,
    out,
    outputs,
    z,
):
    """B sequences one after another, T steps each, every layer per step.

    Teacher forcing (``closed`` False): the fed-back values are feedback[b, t].
    Closed loop: the readout's output of step t is fed back at step t + 1, starting from
    last_output[b]; outputs[b, t] receives it and last_output the last one.
    z (n_in + n_fb + 2 N) is scratch, laid out as in the module docstring.
    """
    n_in = inputs.shape[2]
    n_fb = last_output.shape[1]
    n = state.shape[1]
    new = n_in + n_fb
    previous = new + n
    for b in range(inputs.shape[0]):
        for i in range(n):
            z[previous + i] = state[b, i]
        for m in range(n_fb):
            z[n_in + m] = last_output[b, m]
        for t in range(inputs.shape[1]):
            u = inputs[b, t]
            for m in range(n_in):
                z[m] = u[m]
            if not closed:
                for m in range(n_fb):
                    z[n_in + m] = feedback[b, t, m]
            for layer in range(layer_rows.shape[0] - 1):
                _layer_rows(
                    layer_rows[layer],
                    layer_rows[layer + 1],
                    new,
                    previous,
                    indptr,
                    indices,
                    data,
                    bias,
                    z,
                    keep[layer],
                    leak[layer],
                    activation[layer],
                )
            out_t = out[b, t]
            for i in range(n):
                z[previous + i] = z[new + i]
                out_t[i] = z[new + i]
            if closed:
                y = outputs[b, t]
                _readout_into(out_t, u, coef, intercept, True, y)
                for o in range(n_fb):
                    z[n_in + o] = y[o]
        for i in range(n):
            state[b, i] = z[previous + i]
        if closed:
            for m in range(n_fb):
                last_output[b, m] = z[n_in + m]


# --------------------------------------------------------------------------- public functions
@dataclass(frozen=True)
class CpuStackWeights:
    """The layers of a composed model flattened into one CSR matrix (see the module docstring)."""

    matrix: sp.csr_array  # (N, n_in + n_fb + 2 N): input, feedback, new-state and previous-state columns
    bias: np.ndarray  # (N,)
    layer_rows: np.ndarray  # (L + 1,) first row of each layer
    keep: np.ndarray  # (L,) 1 - leak rate
    leak: np.ndarray  # (L,)
    activation: np.ndarray  # (L,) activation codes
    n_inputs: int
    n_feedback: int


def _coo(matrix):
    matrix = sp.coo_array(matrix)  # drops the zeros of a dense matrix
    return matrix.row, matrix.col, matrix.data


def prepare_stack(layers, n_inputs: int, n_feedback: int) -> CpuStackWeights:
    layers = _check_layers(layers, n_inputs, n_feedback)
    dtype = layers[0].W.dtype
    sizes = [layer.W.shape[0] for layer in layers]
    first_row = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(first_row[-1])
    new, previous = n_inputs + n_feedback, n_inputs + n_feedback + n
    parts = []
    for index, layer in enumerate(layers):
        r = first_row[index]
        rows, cols, values = _coo(layer.W)
        parts.append((rows + r, cols + previous + r, values))
        column = 0 if layer.source < 0 else new + first_row[layer.source]
        rows, cols, values = _coo(layer.W_in)
        parts.append((rows + r, cols + column, values))
        if layer.W_fb is not None:
            rows, cols, values = _coo(layer.W_fb)
            parts.append((rows + r, cols + n_inputs, values))
    rows, cols, values = (np.concatenate([part[i] for part in parts]) for i in range(3))
    matrix = sp.csr_array((values.astype(dtype), (rows, cols)), shape=(n, previous + n))
    matrix.sum_duplicates()
    matrix.sort_indices()
    # unsigned 32-bit indices: no wraparound check on z[index], and a third less to stream than 64-bit
    matrix.indices = matrix.indices.astype(np.uint32)
    matrix.indptr = matrix.indptr.astype(np.int64)
    return CpuStackWeights(
        matrix=matrix,
        bias=np.concatenate([np.asarray(layer.bias, dtype=dtype) for layer in layers]),
        layer_rows=first_row,
        keep=np.array([1.0 - layer.leak_rate for layer in layers], dtype=dtype),
        leak=np.array([layer.leak_rate for layer in layers], dtype=dtype),
        activation=np.array([code(layer.activation) for layer in layers], dtype=np.int64),
        n_inputs=int(n_inputs),
        n_feedback=int(n_feedback),
    )


def _loop(weights: CpuStackWeights, inputs, state, feedback, closed, coef, intercept, last_output, out, outputs):
    dtype = weights.bias.dtype
    contiguous = [np.ascontiguousarray(a, dtype=dtype) for a in (inputs, state, feedback, coef, intercept)]
    inputs_c, state_c, feedback_c, coef_c, intercept_c = contiguous
    last_c = np.ascontiguousarray(last_output, dtype=dtype)
    out_c = out if out.flags.c_contiguous and out.dtype == dtype else np.empty(out.shape, dtype=dtype)
    outputs_c = outputs if outputs.flags.c_contiguous and outputs.dtype == dtype else np.empty(outputs.shape, dtype)
    matrix = weights.matrix
    _stack_loop(
        matrix.indptr,
        matrix.indices,
        matrix.data,
        weights.bias,
        weights.layer_rows,
        weights.keep,
        weights.leak,
        weights.activation,
        inputs_c,
        state_c,
        feedback_c,
        closed,
        coef_c,
        intercept_c,
        last_c,
        out_c,
        outputs_c,
        np.zeros(matrix.shape[1], dtype),
    )
    state[...] = state_c
    if out_c is not out:
        out[...] = out_c
    if closed:
        last_output[...] = last_c
        if outputs_c is not outputs:
            outputs[...] = outputs_c


def stack_run(weights: CpuStackWeights, inputs, state, feedback, out):
    """Same contract as ``reference.stack_run``."""
    dtype = weights.bias.dtype
    n_fb = weights.n_feedback
    _loop(
        weights,
        inputs,
        state,
        feedback,
        False,
        np.zeros((n_fb, state.shape[1] + inputs.shape[2]), dtype),
        np.zeros(n_fb, dtype),
        np.zeros((1, n_fb), dtype),
        out,
        np.zeros((1, 1, n_fb), dtype),
    )
    return out


def stack_generate(weights: CpuStackWeights, inputs, state, last_output, coef, intercept, out, outputs):
    """Same contract as ``reference.stack_generate``."""
    feedback = np.zeros((1, 1, weights.n_feedback), dtype=weights.bias.dtype)
    _loop(weights, inputs, state, feedback, True, coef, intercept, last_output, out, outputs)
    return outputs
