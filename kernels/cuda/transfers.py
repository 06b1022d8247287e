"""Host side of the Numba-CUDA path: arrays to and from the device, wherever the caller keeps them.

NumPy arrays are copied to the device; anything with ``__cuda_array_interface__``
(CuPy, Numba device arrays, ...) is used in place, strided views included, and
results go back into the caller's arrays wherever they live.
"""

from __future__ import annotations

import numpy as np
from numba import config as numba_config
from numba import cuda

from ...config import settings

#: True under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), which runs the kernels as Python.
SIMULATOR = bool(numba_config.ENABLE_CUDASIM)


@cuda.jit
def copy_2d(source, target):
    """target[i, j] = source[i, j] for any strides (transposes are views)."""
    i, j = cuda.grid(2)
    if i < target.shape[0] and j < target.shape[1]:
        target[i, j] = source[i, j]


@cuda.jit
def copy_1d(source, target):
    i = cuda.grid(1)
    if i < target.shape[0]:
        target[i] = source[i]


def is_device(array) -> bool:
    if SIMULATOR:  # the simulator's device arrays have no __cuda_array_interface__
        return hasattr(array, "copy_to_host")
    return cuda.is_cuda_array(array)


def on_device(array, dtype):
    """A device view of a device array (no copy), or a device copy of a host one."""
    if is_device(array):
        view = array if SIMULATOR else cuda.as_cuda_array(array)
        if view.dtype != dtype:
            raise TypeError(f"device array of dtype {view.dtype} given to {np.dtype(dtype).name} weights")
        return view
    return cuda.to_device(np.ascontiguousarray(array, dtype=dtype))


def _grid_2d(rows: int, columns: int, threads: int = 16):
    return (-(-rows // threads), -(-columns // threads)), (threads, threads)


def write_back(target, result) -> None:
    """Copy a device result into the caller's array: host (copy to host) or device (a copy kernel,
    which takes any strides)."""
    if is_device(target):
        view = target if SIMULATOR else cuda.as_cuda_array(target)
        if view.ndim == 1:
            threads = settings.gpu_threads_per_block
            copy_1d[-(-view.shape[0] // threads), threads](result, view)
        else:
            copy_2d[_grid_2d(*view.shape)](result, view)
    else:
        target[...] = result.copy_to_host()


def as_caller_array(X, H):
    """A CuPy input gets a CuPy result (zero copy); other device inputs get the Numba device array."""
    if SIMULATOR:
        return H
    try:
        import cupy as cp
    except ImportError:  # a device input without CuPy is a Numba array
        return H
    return cp.asarray(H) if isinstance(X, cp.ndarray) else H
