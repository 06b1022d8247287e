"""Device functions shared by the Numba-CUDA kernels: typed constants, rounding, activations,
block ranges, shared-memory staging and block reductions.

They are written once for every float type: Numba compiles a device function for the
types it is called with, so the host driver's choice of dtype (the weights' dtype)
picks float32 or float64 code. Constants therefore take their type from a value of
the kernel's float type (:func:`cast_like`): a Python float literal would make a
float32 kernel compute in float64.

The functions avoid warp shuffles and use only what the CUDA simulator also
provides (``NUMBA_ENABLE_CUDASIM=1``), so that CI runs this very code without a GPU.
Under the simulator the overloads below are not registered and the plain Python
definitions run, on NumPy scalars that round every operation already.
"""

from __future__ import annotations

import math

from numba import cuda, float32, float64, types
from numba.extending import overload

from ..activations import RELU, SIGMOID, TANH
from .transfers import SIMULATOR


def cast_like(value, sample):
    """`value` in the float type of `sample` (float32 stays float32)."""
    return type(sample)(value)


def mul_rn(a, b):
    """a * b rounded on its own: never contracted with an addition into a fused multiply-add."""
    return a * b


def add_rn(a, b):
    """a + b rounded on its own (see :func:`mul_rn`)."""
    return a + b


if not SIMULATOR:
    from numba.cuda import libdevice

    @overload(cast_like, target="cuda")
    def _cast_like(value, sample):
        if sample == types.float32:
            return lambda value, sample: float32(value)
        return lambda value, sample: float64(value)

    # NVVM would otherwise contract a * b + c into one fused multiply-add, which rounds
    # differently from the reference (the LIF kernel matches it bit for bit).
    @overload(mul_rn, target="cuda")
    def _mul_rn(a, b):
        if a == types.float32:
            return lambda a, b: libdevice.fmul_rn(a, b)
        return lambda a, b: libdevice.dmul_rn(a, b)

    @overload(add_rn, target="cuda")
    def _add_rn(a, b):
        if a == types.float32:
            return lambda a, b: libdevice.fadd_rn(a, b)
        return lambda a, b: libdevice.dadd_rn(a, b)


@cuda.jit(device=True)
def activate(z, activation):
    """f(z) for an activation code of ``kernels.activations``, in z's float type."""
    if activation == TANH:
        return math.tanh(z)
    if activation == SIGMOID:
        half = cast_like(0.5, z)
        return half * (cast_like(1, z) + math.tanh(half * z))
    if activation == RELU:
        return z if z > cast_like(0, z) else z - z  # z - z keeps NaN a NaN
    return z


@cuda.jit(device=True)
def block_range(units):
    """(begin, end, per_block): this block's equal share of `units` along the grid's x."""
    per_block = (units + cuda.gridDim.x - 1) // cuda.gridDim.x
    # Conditional expressions rather than min(): Numba's built-in CUDA target fails to
    # compile min() of two integers (seen with numba 0.68 targeting sm_90).
    begin = cuda.blockIdx.x * per_block
    begin = units if begin > units else begin
    end = begin + per_block
    return begin, units if end > units else end, per_block


@cuda.jit(device=True)
def shared_offsets(capacity, per_block, itemsize):
    """Element offsets of columns (int32), ptr (int32) and the free space (floats of `itemsize`
    bytes) in dynamic shared memory, after `capacity` values: the layout of block_part in esn.cu."""
    values_bytes = (capacity * itemsize + 15) // 16 * 16
    columns_bytes = (capacity * 4 + 15) // 16 * 16
    ptr_bytes = ((per_block + 1) * 4 + 15) // 16 * 16
    return (
        values_bytes // 4,
        (values_bytes + columns_bytes) // 4,
        (values_bytes + columns_bytes + ptr_bytes) // itemsize,
    )


@cuda.jit(device=True)
def stage_part(ptr, columns, values, begin, end, s_ptr, s_columns, s_values):
    """Copy units [begin, end) of a CSR-like matrix into shared memory, with offsets local to `begin`."""
    first = ptr[begin]
    for k in range(cuda.threadIdx.x, ptr[end] - first, cuda.blockDim.x):
        s_values[k] = values[first + k]
        s_columns[k] = columns[first + k]
    for unit in range(cuda.threadIdx.x, end - begin + 1, cuda.blockDim.x):
        s_ptr[unit] = ptr[begin + unit] - first
    cuda.syncthreads()


@cuda.jit(device=True)
def block_sum(value, scratch):
    """Sum of `value` over the block (a power-of-two size, at most len(scratch)); every thread gets it."""
    tid = cuda.threadIdx.x
    scratch[tid] = value
    cuda.syncthreads()
    stride = cuda.blockDim.x // 2
    while stride > 0:
        if tid < stride:
            scratch[tid] += scratch[tid + stride]
        cuda.syncthreads()
        stride //= 2
    total = scratch[0]
    cuda.syncthreads()
    return total
