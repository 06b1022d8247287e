"""Numba CPU path for the ELM hidden layer, h = f(W_hidden @ x + b) for every sample.

W_hidden is held in CSC (one column per input feature), and each sample pushes its
nonzero features into the hidden units they feed: a sparse X is read as CSR, never
densified. For a dense X and a hidden layer dense enough, a BLAS product with the
densified weights does the sum instead (``CpuElmWeights.dense_transposed``). Samples
are independent: every kernel is parallel over samples.

Three layers, as in every kernel file: device code (the ``_elm_*`` kernels, the
activation from ``activation.py``), host driver and public functions
(``prepare_elm``, ``elm_hidden``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ...config import settings
from ..activations import code
from ._compile import FASTMATH, Constant, announce, call
from .activation import _activate, _activate_in_place


# --------------------------------------------------------------------------- device code
@announce("an ELM hidden layer")
@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _elm_dense(column_ptr, rows, values, bias, X, activation, H):
    """H[s] = f(W @ X[s] + b), pushing each nonzero input feature into the hidden units it feeds
    (W in CSC: column j lists the hidden units of feature j)."""
    for sample in prange(X.shape[0]):
        h = H[sample]
        for i in range(h.shape[0]):
            h[i] = bias[i]
        for feature in range(X.shape[1]):
            value = X[sample, feature]
            if value != 0:
                for k in range(column_ptr[feature], column_ptr[feature + 1]):
                    h[rows[k]] += values[k] * value
        _activate_in_place(h, activation)


@announce("an ELM hidden layer on sparse input")
@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _elm_sparse(column_ptr, rows, values, bias, X_ptr, X_features, X_values, activation, H):
    """Same for X in CSR: only the stored nonzeros of each sample are read."""
    for sample in prange(H.shape[0]):
        h = H[sample]
        for i in range(h.shape[0]):
            h[i] = bias[i]
        for entry in range(X_ptr[sample], X_ptr[sample + 1]):
            feature = X_features[entry]
            value = X_values[entry]
            for k in range(column_ptr[feature], column_ptr[feature + 1]):
                h[rows[k]] += values[k] * value
        _activate_in_place(h, activation)


@announce("an ELM hidden layer")
@njit(parallel=True, fastmath=FASTMATH, error_model="numpy", cache=True)
def _elm_bias_activate(bias, activation, product, H):
    """H[s] = f(product[s] + b) in float64, rounded to H's dtype (after the BLAS product)."""
    for sample in prange(H.shape[0]):
        for i in range(H.shape[1]):
            H[sample, i] = _activate(product[sample, i] + bias[i], activation)


# --------------------------------------------------------------------------- public functions
@dataclass
class CpuElmWeights:
    """Hidden weights in CSC (one column per input feature) for the push kernel; for a dense
    X and a hidden layer dense enough, also as a dense (features, hidden) array for BLAS."""

    csc: sp.csc_array
    bias: np.ndarray
    _dense: np.ndarray | None = field(default=None, repr=False)
    _columns: tuple | None = field(default=None, repr=False)

    def columns(self) -> tuple:
        """(column pointers, row indices, values) of the CSC matrix as the push kernels read them."""
        if self._columns is None:
            W = self.csc
            self._columns = (W.indptr.astype(np.int64), W.indices.astype(np.int64), W.data)
        return self._columns

    def dense_transposed(self) -> np.ndarray | None:
        """W_hidden.T as a dense array when a matrix product beats the sparse push, else None.

        A BLAS product does n_features * n_hidden multiply-adds per sample at tens of
        GFLOP/s; the push does one scattered add per nonzero at about 1 per ns. From
        about 5 % density the product wins; a 1 % layer keeps the push
        (``settings.elm_blas_min_density``).
        """
        W = self.csc
        if (
            W.nnz < settings.elm_blas_min_density * W.shape[0] * W.shape[1]
            or W.shape[0] * W.shape[1] > settings.elm_blas_max_entries
        ):
            return None
        if self._dense is None:
            self._dense = np.ascontiguousarray(W.toarray().T, dtype=np.float64)
        return self._dense


def prepare_elm(W_hidden, bias) -> CpuElmWeights:
    csc = sp.csc_array(W_hidden)
    csc.sort_indices()
    return CpuElmWeights(csc, np.ascontiguousarray(bias, dtype=csc.dtype))


def elm_hidden(weights: CpuElmWeights, X, activation: str) -> np.ndarray:
    """Same contract as ``reference.elm_hidden``; a sparse X is read as CSR, never densified."""
    W = weights.csc
    H = np.empty((X.shape[0], W.shape[0]), dtype=W.dtype)
    act = Constant(code(activation))
    if sp.issparse(X):
        X = sp.csr_array(X)
        call(
            _elm_sparse,
            *weights.columns(),
            weights.bias,
            X.indptr.astype(np.int64),
            X.indices.astype(np.int64),
            X.data.astype(W.dtype, copy=False),
            act,
            H,
        )
        return H
    dense = weights.dense_transposed()
    if dense is not None:
        # In float64 whatever the layer's dtype: BLAS rounds differently for different
        # numbers of rows, and a sample's activations must not depend on its batch
        # (scikit-learn's subset-invariance check); rounded once, at the end.
        product = np.asarray(X, dtype=np.float64) @ dense
        call(_elm_bias_activate, weights.bias, act, product, H)
        return H
    call(_elm_dense, *weights.columns(), weights.bias, np.ascontiguousarray(X, dtype=W.dtype), act, H)
    return H
