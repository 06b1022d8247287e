"""Numba CPU path for the ESN on a fully connected (dense) recurrent matrix.

From a density of about ``settings.dense_min_density`` up, reading W as a dense
array beats the sparse kernels of ``esn.py``: a dense matrix-vector product
(one sequence) or matrix-matrix product (a batch, (B, n) x (n, n)) per step is a
BLAS call made from inside the compiled time loop (``np.dot`` with an output
array, which Numba lowers to gemv / gemm), so the loop never returns to Python.
The rest of the step (input drive, bias, activation, leak) is plain vector code.

``prepare_esn`` / ``esn_run`` / ``esn_generate`` of ``esn.py`` hand a matrix over
to this module (``use_dense``) and keep the contract of ``reference.esn_run``.
The crossover was measured with ``asv_bench/dense_crossover.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

from ...config import settings
from ..activations import code
from ._compile import FASTMATH, AnyLayout, Constant, call
from .activation import _activate_in_place
from .readout import _readout

logger = logging.getLogger("reservoir")

#: Values of the ``recurrent_kernel`` choice.
RECURRENT_KERNELS = ("auto", "sparse", "dense")


@dataclass
class DenseEsnWeights:
    """W kept as CSR (the kernel contract) and as C-contiguous dense arrays: W for one
    sequence, Wᵀ for the batched product."""

    W: sp.csr_array  # (n, n)
    W_in: np.ndarray  # (n, n_in)
    bias: np.ndarray  # (n,)
    dense: np.ndarray  # (n, n), W as a dense array
    dense_T: np.ndarray  # (n, n), W transposed: a batch's states times it is X @ Wᵀ

    @property
    def nnz(self) -> int:
        return self.W.nnz


def use_dense(W, recurrent_kernel: str = "auto") -> bool:
    """Whether the dense kernels run W: forced by `recurrent_kernel`, or ("auto", logged at
    INFO on "reservoir") by its density reaching ``settings.dense_min_density`` for a
    matrix of more than ``settings.small_max_work`` nonzeros: a smaller one keeps the
    small-reservoir kernel, which compiles in a fraction of the time (its steps take
    microseconds either way)."""
    if recurrent_kernel not in RECURRENT_KERNELS:
        raise ValueError(f"recurrent_kernel must be one of {RECURRENT_KERNELS}, got {recurrent_kernel!r}")
    if recurrent_kernel != "auto":
        return recurrent_kernel == "dense"
    nnz = W.nnz if sp.issparse(W) else np.count_nonzero(W)
    if nnz <= settings.small_max_work:
        return False
    density = nnz / float(W.shape[0] * W.shape[1])
    if density >= settings.dense_min_density:
        logger.info("dense recurrent kernel: density %.3g >= %.3g", density, settings.dense_min_density)
        return True
    return False


def prepare_dense_esn(W, W_in, bias) -> DenseEsnWeights:
    W = sp.csr_array(W)
    dense = np.ascontiguousarray(W.toarray())
    dtype = dense.dtype
    return DenseEsnWeights(
        W,
        np.ascontiguousarray(W_in, dtype=dtype),
        np.ascontiguousarray(bias, dtype=dtype),
        dense,
        np.ascontiguousarray(dense.T),
    )


# --------------------------------------------------------------------------- device code
@njit(inline="always")
def _finish(W_in, bias, u_t, x, pre, keep, leak, activation):
    """x = keep * x + leak * f(pre + W_in @ u_t + bias), pre (n,) holding W @ x."""
    for m in range(u_t.shape[0]):
        u_m = u_t[m]
        for row in range(pre.shape[0]):
            pre[row] += W_in[row, m] * u_m
    for row in range(pre.shape[0]):
        pre[row] += bias[row]
    _activate_in_place(pre, activation)
    for row in range(x.shape[0]):
        x[row] = keep * x[row] + leak * pre[row]


# --------------------------------------------------------------------------- host drivers
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _dense_loop(W, W_in, bias, inputs, x, keep, leak, activation, out):
    """One sequence: inputs (T, n_in), x (n,) advanced in place, out (T, n); a gemv per step."""
    pre = np.empty_like(x)
    for t in range(inputs.shape[0]):
        np.dot(W, x, pre)
        _finish(W_in, bias, inputs[t], x, pre, keep, leak, activation)
        out_t = out[t]
        for row in range(x.shape[0]):
            out_t[row] = x[row]


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _dense_batch_loop(W_T, W_in, bias, inputs, X, keep, leak, activation, out):
    """B sequences: inputs (B, T, n_in), X (B, n) advanced in place, out (B, T, n); one gemm
    (B, n) x (n, n) per step."""
    pre = np.empty_like(X)
    for t in range(inputs.shape[1]):
        np.dot(X, W_T, pre)
        for b in range(X.shape[0]):
            x = X[b]
            _finish(W_in, bias, inputs[b, t], x, pre[b], keep, leak, activation)
            out_t = out[b, t]
            for row in range(x.shape[0]):
                out_t[row] = x[row]


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _dense_generate_loop(W, W_in, bias, x, u, coef, intercept, include_input, keep, leak, activation, outputs):
    """Closed loop: y = coef @ [x, u] + intercept becomes the next input."""
    pre = np.empty_like(x)
    for t in range(outputs.shape[0]):
        np.dot(W, x, pre)
        _finish(W_in, bias, u, x, pre, keep, leak, activation)
        _readout(x, u, coef, intercept, include_input, outputs[t])


# --------------------------------------------------------------------------- public functions
def esn_run(weights: DenseEsnWeights, inputs, state, leak_rate: float, activation: str, out):
    """Same contract as ``reference.esn_run``."""
    dtype = weights.W.dtype.type
    keep, leak, act = dtype(1.0 - leak_rate), dtype(leak_rate), Constant(code(activation))
    inputs = np.ascontiguousarray(inputs, dtype=weights.W.dtype)
    x = np.ascontiguousarray(state, dtype=weights.W.dtype).copy()
    if inputs.shape[0] == 1:
        call(
            _dense_loop, weights.dense, weights.W_in, weights.bias, inputs[0], x[0], keep, leak, act, AnyLayout(out[0])
        )
    else:
        call(_dense_batch_loop, weights.dense_T, weights.W_in, weights.bias, inputs, x, keep, leak, act, AnyLayout(out))
    state[...] = x
    return out


def esn_generate(
    weights: DenseEsnWeights,
    readout_coef,
    readout_intercept,
    include_input: bool,
    state,
    first_input,
    n_steps: int,
    leak_rate: float,
    activation: str,
):
    """Same contract as ``reference.esn_generate``."""
    dtype = weights.W.dtype
    keep, leak, act = dtype.type(1.0 - leak_rate), dtype.type(leak_rate), Constant(code(activation))
    outputs = np.empty((n_steps, readout_coef.shape[0]), dtype=dtype)
    x = np.array(state, dtype=dtype)
    call(
        _dense_generate_loop,
        weights.dense,
        weights.W_in,
        weights.bias,
        x,
        np.array(first_input, dtype=dtype),
        np.ascontiguousarray(readout_coef, dtype=dtype),
        np.ascontiguousarray(readout_intercept, dtype=dtype),
        Constant(bool(include_input)),
        keep,
        leak,
        act,
        outputs,
    )
    state[...] = x
    return outputs
