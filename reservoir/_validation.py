"""Argument checks shared by the public API: each raises before any long work starts."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from . import _arrays

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from error
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def positive_float(value, name: str) -> float:
    value = real(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def non_negative_float(value, name: str) -> float:
    value = real(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def density(value, name: str = "density") -> float:
    value = real(value, name)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value}")
    return value


def leak_rate(value) -> float:
    value = real(value, "leak_rate")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"leak_rate must be in (0, 1], got {value}")
    return value


def square_matrix(W, name: str):
    if not sp.issparse(W):
        W = np.asarray(W)
        if W.ndim != 2:
            raise ValueError(f"{name} must be a 2-D matrix, got {W.ndim} dimensions")
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"{name} must be square, got shape {W.shape}")
    return W


def finite_sequences(u: np.ndarray, name: str = "u") -> None:
    """Raise ValueError naming the first (sequence, time step) that holds NaN or Inf.

    ``u`` has shape (B, T, features).
    """
    bad = ~np.isfinite(u)
    if bad.any():
        sequence, step, feature = (int(i) for i in np.argwhere(bad)[0])
        where = f"time step {step}" if u.shape[0] == 1 else f"sequence {sequence}, time step {step}"
        value = "NaN" if np.isnan(u[sequence, step, feature]) else f"{u[sequence, step, feature]}"
        raise ValueError(f"{name} contains {value} at {where} (feature {feature})")


def sequences(u, dtype: np.dtype, name: str = "u", n_features: int | None = None):
    """Bring inputs to shape (B, T, features) and `dtype`; return (array, was_batched).

    1-D is (T,) with one feature, 2-D is (T, features), 3-D is (B, T, features).
    A GPU (CuPy) array stays on the GPU: the same checks run there, and only a
    failing input is copied to the host to name the bad step.
    """
    device = _arrays.is_device(u)
    if sp.issparse(u):
        raise TypeError(f"{name} must be a dense array, got a sparse matrix")
    xp = _arrays.namespace(u)
    try:
        array = xp.asarray(u)
    except ValueError:  # NumPy's "inhomogeneous shape": a list of sequences of different lengths
        if isinstance(u, (list, tuple)) and len({np.shape(item) for item in u}) > 1:
            raise ValueError(
                f"{name} is a list of sequences of different shapes "
                f"{sorted({np.shape(item) for item in u})}: a batch needs equal lengths; run them "
                "one at a time (or pad them)"
            ) from None
        raise
    if array.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {array.dtype}")
    if array.dtype.kind == "O":  # numbers held as objects convert; anything else raises TypeError
        array = array.astype(np.float64)
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim not in (1, 2, 3):
        raise ValueError(f"{name} must have shape (T,), (T, features) or (B, T, features); got {array.shape}")
    batched = array.ndim == 3
    array = array[None, :, None] if array.ndim == 1 else array[None] if array.ndim == 2 else array
    if array.shape[1] == 0:
        raise ValueError(f"{name} has no time steps")
    if array.shape[2] == 0:  # scikit-learn's wording for an empty feature axis
        raise ValueError(f"{name} has 0 feature(s) (shape={tuple(np.shape(u))}) while a minimum of 1 is required.")
    if n_features is not None and array.shape[2] != n_features:
        raise ValueError(f"{name} has {array.shape[2]} features per step, expected {n_features}")
    array = xp.ascontiguousarray(array, dtype=dtype)
    if not device:
        finite_sequences(array, name)
    elif not bool(xp.isfinite(array).all()):
        finite_sequences(_arrays.to_host(array), name)
    return array, batched


def features(X, dtype, name: str = "X", n_features: int | None = None):
    """X as a 2-D float array of `dtype`: NumPy, a CSR matrix (kept sparse) or CuPy (kept on the GPU).

    ValueError for NaN/Inf, strings, an empty axis or a width other than `n_features`.
    """
    if sp.issparse(X):
        X = sp.csr_array(X)
        if X.dtype.kind not in "fiub":
            raise ValueError(f"{name} must hold numbers, got dtype {X.dtype}")
        X = X.astype(dtype, copy=False)
        values = X.data
    else:
        xp = _arrays.namespace(X)
        try:
            X = xp.asarray(X)
            if X.dtype.kind not in "fiub":
                X = X.astype(dtype)  # numbers held as objects or strings convert, or raise below
            X = xp.ascontiguousarray(X, dtype=dtype) if _arrays.is_device(X) else np.asarray(X, dtype=dtype)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{name} must hold numbers: {error}") from None
        values = X
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} has shape {X.shape}: it needs at least one sample and one feature")
    if not bool(_arrays.namespace(values).isfinite(values).all()):
        raise ValueError(f"{name} contains NaN or infinity")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the model was fitted on {n_features}")
    return X
