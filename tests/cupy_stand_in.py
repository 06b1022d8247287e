"""A NumPy-backed stand-in for CuPy (and cupyx.scipy.sparse), for tests on machines without a GPU.

Its arrays (``DeviceArray``) are host memory that carry ``__cuda_array_interface__``, so
the package treats them as GPU arrays; ``RawModule`` kernels run nothing and hand every
launch to a callback. A module built with ``enable_cooperative_groups`` launches
cooperatively, and, as the driver does, refuses a cooperative grid larger than the
blocks that fit on the device at once. Used by tests/test_gpu_cupy_abi.py (the CuPy path's launches) and
tests/test_benchmarks.py (asv_bench/gpu_bench.py end to end).
"""

from __future__ import annotations

import importlib.machinery
import re
import types

import numpy as np
import scipy.sparse as sp


class DeviceArray(np.ndarray):
    """The stand-in's GPU array: host memory that says it is on a device, as CuPy arrays do."""

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.ctypes.data, False), "version": 3}


def to_device(array, dtype=None):
    """cupy.asarray: a device array as it is (same dtype), anything else copied to the "device"."""
    if isinstance(array, DeviceArray) and (dtype is None or array.dtype == np.dtype(dtype)):
        return array
    return np.array(array, dtype=dtype).view(DeviceArray)


class DeviceCSR:
    """cupyx.scipy.sparse.csr_matrix in the stand-in: its index and value arrays on the "device"."""

    def __init__(self, matrix, dtype=None):
        self._set(sp.csr_matrix(matrix, dtype=dtype))

    def _set(self, matrix):
        self.shape = matrix.shape
        self.indptr, self.indices, self.data = (to_device(a) for a in (matrix.indptr, matrix.indices, matrix.data))

    def copy(self):
        return DeviceCSR(self._host())

    def sum_duplicates(self):
        host = self._host()
        host.sum_duplicates()
        self._set(host)

    def _host(self):
        return sp.csr_matrix((np.asarray(self.data), np.asarray(self.indices), np.asarray(self.indptr)), self.shape)


def stand_in_modules(
    on_launch=lambda name, dtype, grid, block, args, shared_mem, cooperative=False: None,
    blocks_per_sm: int = 2,
    cooperative_limit: int | None = None,
    compute_capability: str = "90",
    cluster_limit: int = 16,
) -> dict:
    """sys.modules entries for cupy, cupyx, cupyx.scipy and cupyx.scipy.sparse.

    ``on_launch(kernel name, T's dtype, grid, block, args, shared_mem, cooperative=...)``
    is called for every launch of a ``RawModule`` kernel. The occupancy calculator
    answers `blocks_per_sm` (4 multiprocessors); a cooperative launch of more than
    `cooperative_limit` blocks (default: what the occupancy calculator allows) raises
    the driver's CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE. The device has `compute_capability`
    and runs kernels compiled with ``__cluster_dims__`` (named ``*_cluster<size>``) in clusters of
    up to `cluster_limit` blocks, refusing larger ones with CUDA_ERROR_INVALID_CLUSTER_SIZE.
    """
    multiprocessors = 4
    limit = blocks_per_sm * multiprocessors if cooperative_limit is None else cooperative_limit
    cp = types.ModuleType("cupy")
    cp.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    cp.ndarray = DeviceArray
    for name in ("float32", "float64", "int32", "int64", "uint32", "isfinite"):
        setattr(cp, name, getattr(np, name))
    cp.asarray = to_device
    cp.ascontiguousarray = lambda array, dtype=None: (
        to_device(array, dtype)
        if to_device(array, dtype).flags.c_contiguous
        else np.ascontiguousarray(array, dtype=dtype).view(DeviceArray)
    )
    cp.zeros = cp.empty = lambda shape, dtype=float: np.zeros(shape, dtype).view(DeviceArray)  # no garbage
    cp.empty_like = lambda array: np.zeros_like(array).view(DeviceArray)
    cp.asnumpy = lambda array: np.array(array).view(np.ndarray)
    cp.copyto = np.copyto
    cp.random = types.SimpleNamespace(
        random=lambda size, dtype=float: np.random.default_rng(0).random(size, dtype).view(DeviceArray)
    )

    class CUDADriverError(Exception):
        pass

    opt_in_limit = 227 * 1024
    # The kernels' static __shared__ arrays, in elements of T (esn.cu: esn_generate_sell's scratch).
    static_shared = {"esn_generate_sell": 32}

    class RawKernel:
        max_threads_per_block = 1024
        max_dynamic_shared_size_bytes = 48 * 1024

        def __init__(self, expression, enable_cooperative_groups):
            self.name, ctype = re.fullmatch(r"(\w+)<(\w+)>", expression).groups()
            self.dtype = np.dtype({"float": np.float32, "double": np.float64}[ctype])
            self.kernel = types.SimpleNamespace(ptr=0)
            self.enable_cooperative_groups = enable_cooperative_groups
            self.attributes = {"shared_size_bytes": static_shared.get(self.name, 0) * self.dtype.itemsize}

        def __call__(self, grid, block, args, *, shared_mem=0):
            blocks = int(np.prod(grid))
            if shared_mem + self.attributes["shared_size_bytes"] > opt_in_limit:  # as the driver refuses it
                raise CUDADriverError("CUDA_ERROR_INVALID_VALUE: more shared memory than a block may have")
            if self.enable_cooperative_groups and blocks > limit:
                raise CUDADriverError("CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE: too many blocks in cooperative launch")
            cluster = re.search(r"_cluster(\d+)$", self.name)
            if cluster and int(cluster.group(1)) > cluster_limit:
                raise CUDADriverError("CUDA_ERROR_INVALID_CLUSTER_SIZE: invalid cluster size")
            on_launch(self.name, self.dtype, grid, block, args, shared_mem, cooperative=self.enable_cooperative_groups)

    class RawModule:
        def __init__(self, code, options, name_expressions, enable_cooperative_groups=False):
            assert '#include "' not in code  # NVRTC gets one string
            self.expressions = set(name_expressions)
            self.enable_cooperative_groups = enable_cooperative_groups

        def get_function(self, expression):
            assert expression in self.expressions, f"{expression} was not instantiated"
            return RawKernel(expression, self.enable_cooperative_groups)

    properties = {"name": b"CPU stand-in", "multiProcessorCount": 4, "l2CacheSize": 2**20, "totalGlobalMem": 2**30}
    device = types.SimpleNamespace(
        id=0,
        compute_capability=compute_capability,
        attributes={
            "MultiProcessorCount": multiprocessors,
            "MaxSharedMemoryPerBlockOptin": opt_in_limit,
            "CooperativeLaunch": 1,
        },
        synchronize=lambda: None,
    )
    cp.RawModule = RawModule
    cp.cuda = types.SimpleNamespace(
        Device=lambda: device,
        driver=types.SimpleNamespace(
            occupancyMaxActiveBlocksPerMultiprocessor=lambda *args: blocks_per_sm,
            funcSetAttribute=lambda function, attribute, value: None,
            CUDADriverError=CUDADriverError,
        ),
        runtime=types.SimpleNamespace(
            getDeviceProperties=lambda index: properties, runtimeGetVersion=lambda: 0, driverGetVersion=lambda: 0
        ),
    )
    cupyx = types.ModuleType("cupyx")
    cupyx.__spec__ = importlib.machinery.ModuleSpec("cupyx", None)
    cupyx_scipy = types.ModuleType("cupyx.scipy")
    cupyx_sparse = types.ModuleType("cupyx.scipy.sparse")
    cupyx_sparse.issparse = lambda x: isinstance(x, DeviceCSR)
    cupyx_sparse.csr_matrix = DeviceCSR
    cupyx.scipy, cupyx_scipy.sparse = cupyx_scipy, cupyx_sparse
    return {"cupy": cp, "cupyx": cupyx, "cupyx.scipy": cupyx_scipy, "cupyx.scipy.sparse": cupyx_sparse}
