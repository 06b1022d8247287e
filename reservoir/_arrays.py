"""Where arrays live: NumPy on the host, CuPy on a GPU.

The models keep their work where the caller's arrays are: CuPy inputs to a GPU
backend give CuPy states, and nothing crosses to the host unless the caller asks
(``.get()``) or the states stream into a StateStore. CuPy is imported only when a
device array is actually seen.
"""

from __future__ import annotations

import numpy as np


def is_device(array) -> bool:
    """True for GPU arrays (CuPy, or anything else with ``__cuda_array_interface__``)."""
    return hasattr(array, "__cuda_array_interface__")


def _cupy():
    try:
        import cupy
    except ImportError:
        raise TypeError(
            "a GPU array was given, but CuPy is not installed: pip install 'reservoir-engine[cuda]'"
        ) from None
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
