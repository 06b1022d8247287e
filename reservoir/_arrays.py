"""Where arrays live: NumPy on the host, CuPy on a GPU.

The models keep their work where the caller's arrays are: CuPy inputs to a GPU
backend give CuPy states, and nothing crosses to the host unless the caller asks
(``.get()``) or the states stream into a StateStore. CuPy is imported only when a
device array is actually seen.
"""

from __future__ import annotations

import numpy as np

from . import _validation as check


def is_device(array) -> bool:
    """True for GPU arrays (CuPy, or anything else with ``__cuda_array_interface__``)."""
    return hasattr(array, "__cuda_array_interface__")


def _cupy():
    try:
        import cupy
    except ImportError:
        raise TypeError("a GPU array was given, but CuPy is not installed: "
                        "pip install 'reservoir-engine[cuda]'") from None
    return cupy


def device_namespace():
    """The GPU array namespace (CuPy)."""
    return _cupy()


def namespace(array):
    """``cupy`` for a GPU array, ``numpy`` otherwise."""
    return _cupy() if is_device(array) else np


def to_host(array):
    """A NumPy array (a copy from the GPU for a device array; `array` itself otherwise)."""
    return _cupy().asnumpy(array) if is_device(array) else array


def like(array, device: bool):
    """`array` on the GPU (CuPy) when `device`, else on the host, copying only when it must move."""
    return _cupy().asarray(array) if device else to_host(array)


def device_sequences(u, dtype, name: str = "u", n_features: int | None = None):
    """``_validation.sequences`` for a GPU array: (B, T, features) CuPy array of `dtype`, was_batched.

    The same shapes and messages; the finiteness check runs on the GPU and only a
    failing input is copied to the host to name the bad step.
    """
    cupy = _cupy()
    array = cupy.asarray(u)
    if array.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {array.dtype}")
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim not in (1, 2, 3):
        raise ValueError(f"{name} must have shape (T,), (T, features) or (B, T, features); got {array.shape}")
    batched = array.ndim == 3
    array = array[None, :, None] if array.ndim == 1 else array[None] if array.ndim == 2 else array
    if array.shape[1] == 0:
        raise ValueError(f"{name} has no time steps")
    if array.shape[2] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={tuple(u.shape)}) while a minimum of 1 is required.")
    if n_features is not None and array.shape[2] != n_features:
        raise ValueError(f"{name} has {array.shape[2]} features per step, expected {n_features}")
    array = cupy.ascontiguousarray(array, dtype=dtype)
    if not bool(cupy.isfinite(array).all()):
        check.finite_sequences(cupy.asnumpy(array), name)
    return array, batched


def device_features(X, dtype, name: str = "X", n_features: int | None = None):
    """A 2-D CuPy array of `dtype` (the GPU counterpart of ``elm.check_features`` for dense X)."""
    cupy = _cupy()
    X = cupy.asarray(X)
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} has shape {X.shape}: it needs at least one sample and one feature")
    X = cupy.ascontiguousarray(X, dtype=dtype)
    if not bool(cupy.isfinite(X).all()):
        raise ValueError(f"{name} contains NaN or infinity")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the model was fitted on {n_features}")
    return X
