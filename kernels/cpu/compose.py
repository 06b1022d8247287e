"""Numba CPU path for composed models: stacked and parallel ESN layers, output feedback.

Every layer of a model advances inside one compiled time loop (all layers per step,
no Python per step), in the order of ``kernels.reference.stack_run``:

    x_l[t] = (1 - a_l) x_l[t-1] + a_l f_l(W_l x_l[t-1] + W_in,l s_l[t] + W_fb,l y[t-1] + b_l)

``prepare_stack`` flattens the layers into two CSR matrices over all N units, so the
kernel is one row loop whatever the number of layers:

* the recurrent matrix (block diagonal) reads the previous state x[t-1] (N,);
* the drive matrix reads ``z = [u[t], y[t-1], x_0[t], ..., x_{L-1}[t]]``: input and
  feedback columns, and each layer's source layer at its column offset. The layers
  are computed in order and read only earlier ones, so the part of z a row reads is
  already this step's. Zeros of a dense ``W_in`` are dropped: the input weights
  between the layers of a deep model are as sparse as their ``input_density``.

The closed loop (``stack_generate``) computes the readout ``y = C [x, u] + c`` at the
end of each step and writes it where the next step reads its feedback: reservoir
step, readout and feedback in one compiled loop.

Three layers, as in every kernel file: device code (``_layer_rows``), host driver
(``_stack_loop``, the time loop), public functions (``prepare_stack``, ``stack_run``,
``stack_generate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

from ..activations import code
from ..reference import prepare_stack as _check_layers
from ._compile import FASTMATH
from .activation import _activate_in_place


# --------------------------------------------------------------------------- device code
@njit(inline="always")
def _row_dot(indptr, indices, data, row, x):
    """Row `row` of a CSR matrix times x. Over views that start at 0, with unsigned
    indices: a loop from indptr[row], or signed indices, keeps Numba's negative-index
    wraparound inside the loop, which measured 1.5-2x slower (and slower than SciPy)."""
    start, stop = indptr[row], indptr[row + 1]
    values, columns = data[start:stop], indices[start:stop]
    total = values.dtype.type(0)
    for k in range(values.shape[0]):
        total += values[k] * x[columns[k]]
    return total


@njit(inline="always")
def _layer_rows(
    first,
    last,
    offset,
    rec_indptr,
    rec_indices,
    rec_data,
    drv_indptr,
    drv_indices,
    drv_data,
    bias,
    x,
    z,
    keep,
    leak,
    activation,
):
    """New states of rows [first, last) into z[offset + row]: drive from z, recurrence from x.

    The sums first, then the activation over the whole layer and the leak in loops of their
    own: those two vectorise (the activation is one call, ``_activate_in_place``), which
    they did not inside the row loop.
    """
    for row in range(first, last):
        z[offset + row] = bias[row] + _row_dot(drv_indptr, drv_indices, drv_data, row, z)
        z[offset + row] += _row_dot(rec_indptr, rec_indices, rec_data, row, x)
    new = z[offset + first : offset + last]
    _activate_in_place(new, activation)
    previous = x[first:last]
    for i in range(new.shape[0]):
        new[i] = keep * previous[i] + leak * new[i]


# --------------------------------------------------------------------------- host driver
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _stack_loop(
    rec_indptr,
    rec_indices,
    rec_data,
    drv_indptr,
    drv_indices,
    drv_data,
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
    x,
):
    """B sequences one after another, T steps each, every layer per step.

    Teacher forcing (``closed`` False): the fed-back values are feedback[b, t].
    Closed loop: the readout's output of step t is fed back at step t + 1, starting from
    last_output[b]; outputs[b, t] receives it and last_output the last one.
    z (n_in + n_fb + N) and x (N) are scratch.
    """
    n_in = inputs.shape[2]
    n_fb = last_output.shape[1]
    n = state.shape[1]
    offset = n_in + n_fb
    for b in range(inputs.shape[0]):
        for i in range(n):
            x[i] = state[b, i]
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
                    offset,
                    rec_indptr,
                    rec_indices,
                    rec_data,
                    drv_indptr,
                    drv_indices,
                    drv_data,
                    bias,
                    x,
                    z,
                    keep[layer],
                    leak[layer],
                    activation[layer],
                )
            out_t = out[b, t]
            for i in range(n):
                x[i] = z[offset + i]
                out_t[i] = x[i]
            if closed:
                y = outputs[b, t]
                for o in range(n_fb):
                    total = intercept[o]
                    for i in range(n):
                        total += coef[o, i] * x[i]
                    for m in range(n_in):
                        total += coef[o, n + m] * u[m]
                    y[o] = total
                    z[n_in + o] = total
        for i in range(n):
            state[b, i] = x[i]
        if closed:
            for m in range(n_fb):
                last_output[b, m] = z[n_in + m]


# --------------------------------------------------------------------------- public functions
@dataclass(frozen=True)
class CpuStackWeights:
    """The layers of a composed model flattened into two CSR matrices (see the module docstring)."""

    recurrent: sp.csr_array  # (N, N), block diagonal
    drive: sp.csr_array  # (N, n_in + n_fb + N)
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
    offset = n_inputs + n_feedback
    rec, drv = [], []
    for index, layer in enumerate(layers):
        r = first_row[index]
        rows, cols, data = _coo(layer.W)
        rec.append((rows + r, cols + r, data))
        column = 0 if layer.source < 0 else offset + first_row[layer.source]
        rows, cols, data = _coo(layer.W_in)
        drv.append((rows + r, cols + column, data))
        if layer.W_fb is not None:
            rows, cols, data = _coo(layer.W_fb)
            drv.append((rows + r, cols + n_inputs, data))

    def csr(parts, columns):
        rows, cols, data = (np.concatenate([p[i] for p in parts]) for i in range(3))
        matrix = sp.csr_array((data.astype(dtype), (rows, cols)), shape=(n, columns))
        matrix.sum_duplicates()
        matrix.sort_indices()
        # unsigned 32-bit indices: no wraparound check on x[index], and a third less to stream than 64-bit
        matrix.indices = matrix.indices.astype(np.uint32)
        matrix.indptr = matrix.indptr.astype(np.int64)
        return matrix

    return CpuStackWeights(
        recurrent=csr(rec, n),
        drive=csr(drv, offset + n),
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
    n = state.shape[1]
    R, D = weights.recurrent, weights.drive
    _stack_loop(
        R.indptr,
        R.indices,
        R.data,
        D.indptr,
        D.indices,
        D.data,
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
        np.zeros(weights.n_inputs + weights.n_feedback + n, dtype),
        np.empty(n, dtype),
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
