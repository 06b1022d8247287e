"""The grid-wide barrier of the persistent Numba-CUDA kernels, and how they are launched.

A persistent kernel runs every time step in one launch; its blocks meet at a barrier
between steps. That is safe only when every block of the grid is resident on the GPU
at once: a block spinning at the barrier would otherwise wait for one that never
starts. :func:`grid_sync` is cooperative groups' grid sync
(``cuda.cg.this_grid().sync()``); a kernel that calls it is launched by Numba with
``cuLaunchCooperativeKernel``, which makes the whole grid resident or refuses the
launch. :func:`launch_cooperative` checks the grid against
``max_cooperative_grid_blocks`` first and turns a refusal into
:class:`~.._gpu_layout.GridNotCoResidentError`, which says why.

Where the barrier is not a grid sync, and why:

* one block along x: ``cuda.syncthreads()`` is the whole barrier (and cheaper);
* the LIF kernel with one block per trial (:data:`block_sync`): trials are
  independent, so the launch is an ordinary one and may hold more trials than fit on
  the GPU at once. Numba launches *every* kernel whose code contains a grid sync
  cooperatively, so that variant is compiled without one;
* the CUDA simulator runs one block at a time, so its grids are one block (its grid
  sync is a block barrier); the multi-block barrier runs on a GPU only
  (tests/test_gpu.py).
"""

from __future__ import annotations

import numba
from numba import cuda
from numba.cuda.cudadrv.driver import CudaAPIError

from .. import _gpu_layout as layout
from .transfers import SIMULATOR

#: cudaErrorCooperativeLaunchTooLarge: more blocks than can be co-resident.
COOPERATIVE_LAUNCH_TOO_LARGE = 720


@cuda.jit(device=True)
def grid_sync():
    """Every thread of the grid reaches this point and sees the writes made before it.

    The blocks along x share one piece of work (the LIF kernel's y dimension holds
    independent trials, which meet here too when launched cooperatively)."""
    if cuda.gridDim.x == 1:
        cuda.syncthreads()
    else:
        cuda.cg.this_grid().sync()


@cuda.jit(device=True)
def block_sync():
    """The barrier of a grid whose blocks never wait for each other: one block per trial."""
    cuda.syncthreads()


def _signature(args):
    return tuple(numba.typeof(a) for a in args)


def co_resident_blocks(kernel, args, threads: int):
    """A function of the dynamic shared memory per block: the most blocks of `kernel`
    (compiled for `args`) that can be resident at once."""
    if SIMULATOR:  # the simulator runs blocks one after another: a grid barrier needs a single block
        return lambda shared_bytes: 1
    compiled = kernel.compile(_signature(args))
    return lambda shared_bytes: compiled.max_cooperative_grid_blocks(threads, shared_bytes)


def launch_cooperative(kernel, name: str, grid, threads: int, shared_bytes: int, args) -> None:
    """Launch a kernel that calls :func:`grid_sync` (Numba launches it cooperatively), after
    checking that `grid` can be co-resident; a refusal becomes GridNotCoResidentError."""
    blocks = 1
    for size in grid if isinstance(grid, tuple) else (grid,):
        blocks *= size
    if not SIMULATOR:
        compiled = kernel.compile(_signature(args))
        device = cuda.get_current_device()
        if blocks > 1 and not getattr(device, "COOPERATIVE_LAUNCH", 1):
            raise layout.GridNotCoResidentError(
                f"{name}: this GPU does not support cooperative launches, which "
                "the multi-block persistent kernels need; use backend='numba'"
            )
        layout.check_co_resident(
            name, blocks, compiled.max_cooperative_grid_blocks(threads, shared_bytes), threads, shared_bytes
        )
    try:
        kernel[grid, threads, 0, shared_bytes](*args)
    except CudaAPIError as error:
        if error.code == COOPERATIVE_LAUNCH_TOO_LARGE:
            raise layout.refused_launch(name, blocks, threads, shared_bytes, error) from error
        raise
