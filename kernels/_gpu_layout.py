"""Host-side pieces shared by the two GPU paths (``cuda/``: Numba-CUDA, ``cupy_raw.py``: CUDA C).

Both paths run the same algorithms on the same layouts, so their timings compare
kernels, not data structures:

* :func:`sell32` -- SELL-32-sigma for one sequence: rows sorted by length (longest
  first, sigma = n), slices of 32 rows, each slice stored column-major so that a
  warp reads entry j of its 32 rows with one coalesced load and each lane owns a row;
* :func:`csr32` -- CSR with 32-bit offsets and indices, for B sequences over an
  (n, B) state and for the ELM;
* :func:`lif_layout` -- the LIF network's push rows sorted by target (the pull
  variant binary-searches them) and its input matrix in pull layout;
* :func:`lif_settings` / :func:`plan_lif_blocks` -- the LIF kernels' settings checked,
  and how a trial is split over blocks; the LIF host helpers both paths share
  (:class:`GpuLifWeights`, :func:`spikes_in_step_order`);
* :func:`plan_grid` -- how many co-resident blocks a persistent kernel gets and
  whether each block's part of the matrix is staged in shared memory;
* :func:`check_co_resident` / :func:`refused_launch` -- the error both paths give
  when a cooperative grid cannot be resident on the GPU all at once.

Nothing here imports a GPU package: it is plain NumPy/Numba on the host, and the
``.cu`` compile test reads :data:`CUDA_KERNELS` without CuPy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from .activations import code

#: Rows per SELL slice: one warp, one lane per row.
SELL_ROWS = 32

#: Kernel templates of each CUDA C source, instantiated for float and double
#: (``cupy.RawModule(name_expressions=...)``; the nvcc compile test uses the same list).
CUDA_KERNELS = {
    "esn.cu": ("esn_run_sell", "esn_generate_sell", "esn_run_csr_batch"),
    "elm.cu": ("elm_dense", "elm_sparse"),
    "lif.cu": ("lif_run",),
}
CUDA_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


CUDA_SOURCES = Path(__file__).parent / "cuda_src"


def cuda_source_text(source: str) -> str:
    """A ``cuda_src`` file with its local ``#include "x.cuh"`` lines expanded in place.

    NVRTC gets one string (no include path to set up), and CuPy's disk cache, keyed on
    that string, sees a change to a header too.
    """
    return re.sub(
        r'^#include "([\w.]+\.cuh)".*$',
        lambda match: (CUDA_SOURCES / match.group(1)).read_text(),
        (CUDA_SOURCES / source).read_text(),
        flags=re.MULTILINE,
    )


def esn_scalars(dtype, leak_rate: float, activation: str):
    """The ESN kernels' scalar arguments, (1 - a, a, activation code), typed as both GPU paths pass them."""
    cast = np.dtype(dtype).type
    return cast(1.0 - leak_rate), cast(leak_rate), np.int32(code(activation))


def name_expressions(source: str) -> list[str]:
    """``kernel<type>`` for every kernel of `source` and both float types."""
    return [f"{kernel}<{ctype}>" for kernel in CUDA_KERNELS[source] for ctype in CUDA_TYPES.values()]


def _int32_offsets(count: int, what: str) -> None:
    if count >= 2**31:
        raise ValueError(f"{what} has {count} entries; the GPU kernels use 32-bit offsets (at most 2**31 - 1)")


@dataclass(frozen=True)
class Sell:
    slice_ptr: np.ndarray  # int32 (n_slices + 1,): first entry of each slice
    columns: np.ndarray  # int32; padding entries point at column 0
    values: np.ndarray  # padding entries are 0
    row_of: np.ndarray  # int32 (n,): the row at each sorted position
    n_slices: int


def sell32(W: sp.csr_array) -> Sell:
    """SELL-32-sigma copy of a CSR matrix (duplicates kept: the kernels add them up)."""
    n = W.shape[0]
    lengths = np.diff(W.indptr).astype(np.int64)
    row_of = np.argsort(-lengths, kind="stable")
    n_slices = -(-n // SELL_ROWS)
    padded = np.zeros(n_slices * SELL_ROWS, dtype=np.int64)
    padded[:n] = lengths[row_of]
    widths = padded.reshape(n_slices, SELL_ROWS).max(axis=1)
    slice_ptr = np.zeros(n_slices + 1, dtype=np.int64)
    np.cumsum(widths * SELL_ROWS, out=slice_ptr[1:])
    _int32_offsets(int(slice_ptr[-1]), "the SELL-32 layout")
    columns = np.zeros(slice_ptr[-1], dtype=np.int32)
    values = np.zeros(slice_ptr[-1], dtype=W.dtype)
    _fill_sell32(W.indptr.astype(np.int64), W.indices, W.data, row_of, slice_ptr, columns, values)
    return Sell(slice_ptr.astype(np.int32), columns, values, row_of.astype(np.int32), n_slices)


@njit(parallel=True, cache=True)
def _fill_sell32(indptr, indices, data, row_of, slice_ptr, columns, values):
    for position in prange(row_of.shape[0]):
        row = row_of[position]
        base = slice_ptr[position // 32] + position % 32
        for j in range(indptr[row + 1] - indptr[row]):
            columns[base + 32 * j] = indices[indptr[row] + j]
            values[base + 32 * j] = data[indptr[row] + j]


def csr32(W: sp.csr_array):
    """(indptr, indices, data) with int32 offsets and indices."""
    _int32_offsets(W.nnz, "the matrix")
    return W.indptr.astype(np.int32), W.indices.astype(np.int32), np.ascontiguousarray(W.data)


def next_power_of_two_log2(value: int, cap: int = 32) -> int:
    """log2 of the smallest power of two >= value, at most log2(cap)."""
    return min(int(np.ceil(np.log2(max(1, value)))), int(np.log2(cap)))


def _align16(nbytes: int) -> int:
    return (nbytes + 15) // 16 * 16


@dataclass(frozen=True)
class GridPlan:
    """Launch shape of a persistent kernel (see the ``.cu`` sources for the shared-memory layout)."""

    blocks: int
    #: 0: the matrix streams from device memory; 1: each block's part of it is copied to
    #: shared memory at the start; 2: as 1, and the state lives in shared memory (one block)
    stage: int
    capacity: int  # entries of the largest block part (0 when not staged)
    shared_bytes: int  # dynamic shared memory per block


#: CUDA's limits on a launch: threads per block, and blocks along y and z of a grid
#: (x may hold 2**31 - 1).
MAX_THREADS_PER_BLOCK = 1024
MAX_GRID_Y = 65535


def checked_threads_per_block(threads, setting: str = "settings.gpu_threads_per_block", *, power_of_two=True) -> int:
    """`threads` as an int, or a ValueError naming `setting` and why the kernels cannot use it.

    The kernels give each warp a slice (SELL) or a row group: below 32 threads the slice
    loop never advances (``blockDim.x >> 5`` warps is 0); a partial warp makes the full-mask
    ``__shfl_xor_sync(0xffffffff)`` undefined and skips rows; the block sums halve the block
    (``block_sum``), which needs a power of two.
    """
    value = int(threads)
    if value != threads or value < 32 or value > MAX_THREADS_PER_BLOCK or value % 32:
        raise ValueError(
            f"{setting} = {threads!r}: the GPU kernels need a multiple of 32 (a whole warp) from 32 to "
            f"{MAX_THREADS_PER_BLOCK} threads per block"
        )
    if power_of_two and value & (value - 1):
        raise ValueError(
            f"{setting} = {threads!r}: the GPU kernels' block sums halve the block, which needs a power of "
            "two (32, 64, 128, 256, 512 or 1024)"
        )
    return value


def dynamic_shared_limit(device_limit: int, static_bytes: int, cap: int | None = None) -> int:
    """Dynamic shared memory a block of a kernel may ask for.

    `device_limit` is the most shared memory one block may have (the opt-in limit,
    e.g. 232,448 bytes on sm_90), which the kernel's own static ``__shared__`` arrays
    (`static_bytes`) share with the dynamic allocation: asking for the whole limit on
    top of them is refused by the driver. `cap` (``settings.gpu_shared_bytes``) lowers it.
    """
    free = max(0, int(device_limit) - int(static_bytes))
    return free if cap is None else max(0, min(int(cap), free))


def copy_blocks(size: int, threads: int) -> int:
    """Blocks of a 1-D grid-stride copy of `size` elements: every element of any array
    reached along x, which has no 65,535-block limit (y and z do)."""
    return max(1, min(-(-int(size) // threads), 2**31 - 1))


class GridNotCoResidentError(RuntimeError):
    """A persistent kernel's grid cannot have all its blocks resident on the GPU at once.

    The persistent kernels separate time steps with a grid-wide barrier, which is only
    safe when every block runs at the same time; they are launched cooperatively, and
    the GPU refuses such a launch rather than run it partly.
    """


def _co_residency_advice(kernel: str, blocks: int, threads: int, shared_bytes: int) -> str:
    return (
        f"{kernel}: a grid of {blocks} blocks of {threads} threads ({shared_bytes} bytes of shared memory "
        "each) cannot be resident on this GPU all at once, and the kernel's grid-wide barrier between time "
        "steps needs every block running together. Lower settings.gpu_threads_per_block or "
        "settings.gpu_shared_bytes, raise settings.gpu_min_entries_per_block (fewer blocks), or run where "
        "the GPU's multiprocessors are not limited (e.g. by MPS)"
    )


def check_co_resident(kernel: str, blocks: int, max_blocks: int, threads: int, shared_bytes: int) -> None:
    """Raise :class:`GridNotCoResidentError` before launching more blocks than can be co-resident."""
    if blocks > max_blocks:
        raise GridNotCoResidentError(
            f"{_co_residency_advice(kernel, blocks, threads, shared_bytes)}; at most {max_blocks} blocks fit"
        )


def refused_launch(kernel: str, blocks: int, threads: int, shared_bytes: int, error: Exception):
    """The error for a cooperative launch the driver refused (`error`), naming why."""
    return GridNotCoResidentError(
        f"{_co_residency_advice(kernel, blocks, threads, shared_bytes)} "
        f"(the driver refused the cooperative launch: {error})"
    )


def _staged_bytes(ptr: np.ndarray, units: int, blocks: int, itemsize: int) -> tuple[int, int]:
    """(largest part in entries, shared bytes for it) when `units` are cut into `blocks` equal ranges."""
    per_block = -(-units // blocks)
    starts = np.arange(0, units, per_block)
    stops = np.minimum(starts + per_block, units)
    capacity = int((ptr[stops] - ptr[starts]).max()) if units else 0
    return capacity, _align16(capacity * itemsize) + _align16(capacity * 4) + _align16((per_block + 1) * 4)


def plan_grid(
    ptr: np.ndarray,
    itemsize: int,
    *,
    max_blocks,
    shared_limit: int,
    min_entries_per_block: int,
    single_block_max_entries: int,
    state_bytes: int = 0,
) -> GridPlan:
    """Blocks and staging for a persistent kernel over `ptr` (per-unit offsets: slices or rows).

    * Small matrices (at most `single_block_max_entries` entries) whose entries and
      `state_bytes` (the on-chip state, two buffers) fit in `shared_limit` run in one
      block: a step ends with ``__syncthreads`` rather than a grid barrier.
    * Otherwise about `min_entries_per_block` entries per block (fewer blocks wait at
      the barrier faster), at most ``max_blocks(shared_bytes)`` co-resident blocks, and
      staged when each block's part fits in shared memory.
    """
    units = len(ptr) - 1
    entries = int(ptr[-1])
    if entries <= single_block_max_entries:
        capacity, nbytes = _staged_bytes(ptr, units, 1, itemsize)
        if nbytes + state_bytes <= shared_limit:
            return GridPlan(1, 2 if state_bytes else 1, capacity, nbytes + state_bytes)
    blocks = max(1, min(units, -(-entries // max(1, min_entries_per_block)), max_blocks(0)))
    while True:
        capacity, nbytes = _staged_bytes(ptr, units, blocks, itemsize)
        stage = nbytes <= shared_limit
        shared = nbytes if stage else 0
        fits = max_blocks(shared)
        if blocks <= fits:
            return GridPlan(blocks, int(stage), capacity if stage else 0, shared)
        blocks = max(1, fits)


# --------------------------------------------------------------------------- LIF (spiking) networks
@dataclass(frozen=True)
class LifLayout:
    """Host arrays of a LIF network as the GPU kernels read them (int32 offsets and indices)."""

    push_indptr: np.ndarray  # (n + 1,) row j: the targets of neuron j, ascending
    push_indices: np.ndarray
    push_data: np.ndarray
    delays: np.ndarray  # int32, aligned with push_indices
    in_indptr: np.ndarray  # W_in in pull layout: row i lists neuron i's input channels, ascending
    in_indices: np.ndarray
    in_data: np.ndarray
    n: int
    n_exc: int


def lif_layout(push, delays, n_exc: int, W_in) -> LifLayout:
    """Sort each push row by target, stably (duplicate synapses keep their order and delays).

    Sorted rows let a target find itself in a spiking neuron's row by binary search; a
    stable sort keeps the order in which the reference adds duplicates of one synapse.
    Input rows are sorted by channel: each neuron sums its channels in ascending
    order, as the CPU kernel and the reference's matvec on a canonical W_in do.
    """
    push = sp.csr_array(push)
    n = push.shape[0]
    delays = np.asarray(delays).astype(np.int64)
    if delays.shape != (push.nnz,):
        raise ValueError(f"delays has shape {delays.shape}; the push matrix has {push.nnz} synapses")
    rows = np.repeat(np.arange(n), np.diff(push.indptr))
    order = np.lexsort((push.indices, rows))  # stable: ties keep their storage order
    _int32_offsets(push.nnz, "the recurrent matrix")
    W_in = sp.csr_array(W_in, dtype=push.dtype).copy()
    W_in.sort_indices()
    _int32_offsets(W_in.nnz, "the input matrix")
    return LifLayout(
        push.indptr.astype(np.int32),
        push.indices[order].astype(np.int32),
        np.ascontiguousarray(push.data[order]),
        delays[order].astype(np.int32),
        W_in.indptr.astype(np.int32),
        W_in.indices.astype(np.int32),
        np.ascontiguousarray(W_in.data),
        n,
        int(n_exc),
    )


@dataclass(frozen=True)
class LifSettings:
    """``settings.gpu_lif_*``, checked."""

    push: bool  # gpu_lif_propagation == "push"
    threads: int
    single_block_max_neurons: int
    neurons_per_block: int


def _whole_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer, float)) and int(value) == value


def lif_settings(settings) -> LifSettings:
    """The LIF kernels' settings, or a ValueError naming the one they cannot use and why.

    Checked before anything is launched or compiled: a bad value would otherwise
    surface as a wrong grid (or none) on the GPU.
    """
    push = is_push_propagation(settings.gpu_lif_propagation)
    threads = checked_threads_per_block(
        settings.gpu_lif_threads_per_block, "settings.gpu_lif_threads_per_block", power_of_two=False
    )
    single = settings.gpu_lif_single_block_max_neurons
    if not _whole_number(single) or single < 0:
        raise ValueError(
            f"settings.gpu_lif_single_block_max_neurons = {single!r}: a number of neurons, 0 or more "
            "(0 splits every trial over blocks)"
        )
    per_block = settings.gpu_lif_neurons_per_block
    if not _whole_number(per_block) or per_block < SELL_ROWS or per_block % SELL_ROWS:
        raise ValueError(
            f"settings.gpu_lif_neurons_per_block = {per_block!r}: a positive multiple of 32, so that every "
            "block's neurons start at a warp boundary (aligned, coalesced loads of their state)"
        )
    return LifSettings(push, threads, int(single), int(per_block))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class LifBlocks:
    """How each trial's neurons are split: `blocks` ranges of `neurons_per_block` (the last shorter)."""

    blocks: int
    neurons_per_block: int


def plan_lif_blocks(
    n: int, batch: int, max_blocks: int, *, single_block_max_neurons: int, neurons_per_block: int
) -> LifBlocks:
    """Blocks per trial: one (``__syncthreads`` between phases, an ordinary launch) up to
    `single_block_max_neurons`, else ranges of `neurons_per_block` (a multiple of 32) as
    long as all blocks of all trials are co-resident (`max_blocks`), which the
    cooperative launch of the grid barrier needs; beyond that, fewer and larger ranges
    (still multiples of 32); never fewer than one."""
    n = max(1, int(n))
    if n <= single_block_max_neurons:
        return LifBlocks(1, n)
    fit = max(1, int(max_blocks) // max(1, int(batch)))
    per_block = int(neurons_per_block)
    if _ceil_div(n, per_block) > fit:
        per_block = -(-_ceil_div(n, fit) // SELL_ROWS) * SELL_ROWS
    blocks = _ceil_div(n, per_block)
    return LifBlocks(1, n) if blocks == 1 else LifBlocks(blocks, per_block)


def lif_record_capacity(n: int, steps: int) -> int:
    """Initial spike records per trial (the CPU kernel's guess); the run stops and grows them when full."""
    return n + max(1024, steps * n // 50)


def is_push_propagation(propagation: str) -> bool:
    """``settings.gpu_lif_propagation`` checked: True for push (atomics), False for pull."""
    if propagation not in ("pull", "push"):
        raise ValueError(f"settings.gpu_lif_propagation must be 'pull' or 'push', got {propagation!r}")
    return propagation == "push"


def spikes_in_step_order(records: np.ndarray) -> np.ndarray:
    """(step, neuron) int64 rows by step, then neuron (the kernels write a step's spikes in any order)."""
    records = records.astype(np.int64)
    return records[np.lexsort((records[:, 1], records[:, 0]))]


@dataclass
class GpuLifWeights:
    """A LIF network's matrices on the device, as either GPU path uploads them."""

    layout: LifLayout
    push: tuple  # device (indptr, indices, data, delays)
    inputs: tuple  # device (indptr, indices, data) of W_in, rows = neurons

    @property
    def dtype(self) -> np.dtype:
        return self.layout.push_data.dtype

    @property
    def has_input(self) -> bool:
        return self.layout.in_data.shape[0] > 0
