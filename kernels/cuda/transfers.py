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
from .. import _gpu_layout as layout

#: True under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), which runs the kernels as Python.
SIMULATOR = bool(numba_config.ENABLE_CUDASIM)


@cuda.jit
def copy_2d(source, target):
    """target[i, j] = source[i, j] for any strides (transposes are views).

    A 1-D grid-stride loop over the flat index, j fastest: consecutive threads touch
    consecutive elements of C-ordered arrays (coalesced), and no axis of the array
    lands on the grid's y dimension, whose 65,535 blocks would cap it."""
    columns = target.shape[1]
    size = target.shape[0] * columns
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for flat in range(start, size, stride):
        i = flat // columns
        j = flat - i * columns
        target[i, j] = source[i, j]


@cuda.jit
def copy_1d(source, target):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, target.shape[0], stride):
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


def copy_launch(size: int) -> tuple[int, int]:
    """(blocks, threads) of the copy kernels for `size` elements: a 1-D grid along x."""
    threads = layout.checked_threads_per_block(settings.gpu_threads_per_block)
    return layout.copy_blocks(size, threads), threads


def write_back(target, result) -> None:
    """Copy a device result into the caller's array: host (copy to host) or device (a copy kernel,
    which takes any strides)."""
    if is_device(target):
        view = target if SIMULATOR else cuda.as_cuda_array(target)
        blocks, threads = copy_launch(view.size)
        (copy_1d if view.ndim == 1 else copy_2d)[blocks, threads](result, view)
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
