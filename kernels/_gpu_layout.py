"""Host-side pieces shared by the two GPU paths (``cuda/``: Numba-CUDA, ``cupy_raw.py``: CUDA C).

Both paths run the same algorithms on the same layouts, so their timings compare
kernels, not data structures:

* :func:`sell32` -- SELL-32-sigma for one sequence: rows sorted by length (longest
  first, sigma = n), slices of 32 rows, each slice stored column-major so that a
  warp reads entry j of its 32 rows with one coalesced load and each lane owns a row;
  :func:`sell_warps_per_slice` -- how many warps share a slice, and
  :func:`sell_work` -- which entries each thread of a SELL kernel reads (the layout
  tests walk it);
* :func:`plan_sell_clusters` -- the thread-block-cluster launches of one sequence on
  sm_90 (:class:`ClusterPlan`), between the single block and the grid barrier;
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
from dataclasses import dataclass, field
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
    "esn_cluster.cu": ("esn_run_sell_cluster8", "esn_run_sell_cluster16"),
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
    height: int = SELL_ROWS  # rows per slice (the kernels: 32, a warp)


def sell32(W: sp.csr_array, height: int = SELL_ROWS) -> Sell:
    """SELL-C-sigma copy of a CSR matrix, C = `height` (the kernels take 32; duplicates kept:
    the kernels add them up)."""
    n = W.shape[0]
    lengths = np.diff(W.indptr).astype(np.int64)
    row_of = np.argsort(-lengths, kind="stable")
    n_slices = -(-n // height)
    padded = np.zeros(n_slices * height, dtype=np.int64)
    padded[:n] = lengths[row_of]
    widths = padded.reshape(n_slices, height).max(axis=1)
    slice_ptr = np.zeros(n_slices + 1, dtype=np.int64)
    np.cumsum(widths * height, out=slice_ptr[1:])
    _int32_offsets(int(slice_ptr[-1]), "the SELL-32 layout")
    columns = np.zeros(slice_ptr[-1], dtype=np.int32)
    values = np.zeros(slice_ptr[-1], dtype=W.dtype)
    _fill_sell32(W.indptr.astype(np.int64), W.indices, W.data, row_of, slice_ptr, columns, values, height)
    return Sell(slice_ptr.astype(np.int32), columns, values, row_of.astype(np.int32), n_slices, height)


@njit(parallel=True, cache=True)
def _fill_sell32(indptr, indices, data, row_of, slice_ptr, columns, values, height):
    for position in prange(row_of.shape[0]):
        row = row_of[position]
        base = slice_ptr[position // height] + position % height
        for j in range(indptr[row + 1] - indptr[row]):
            columns[base + height * j] = indices[indptr[row] + j]
            values[base + height * j] = data[indptr[row] + j]


#: Entries a lane should have per warp sharing a slice: four passes of the four load chains.
SELL_MIN_ENTRIES_PER_PIECE = 16


def sell_warps_per_slice(slices_per_block: int, warps: int, mean_width: float) -> int:
    """Warps that share a SELL slice in a block of `warps` warps owning `slices_per_block` slices.

    One warp per slice leaves warps idle when a block owns fewer slices than it has warps
    (n = 100,000 on an H100: 3,125 slices over 1,056 co-resident blocks of 8 warps gives 3
    slices, so 5 of 8 warps idle). A step of the block takes about
    ceil(slices * w / warps) / w slice-widths with w warps a slice, so w is the power of two
    dividing `warps` that minimises it, the smallest on a tie (each extra warp costs a
    reduction through shared memory), and no larger than leaves each warp
    SELL_MIN_ENTRIES_PER_PIECE entries a lane of a slice `mean_width` entries wide.
    """
    best, best_time = 1, float("inf")
    w = 1
    while w <= warps:
        if w == 1 or mean_width / w >= SELL_MIN_ENTRIES_PER_PIECE:
            time = -(-max(1, slices_per_block) * w // warps) / w
            if time < best_time - 1e-12:
                best, best_time = w, time
        w *= 2
    return best


def checked_warps_per_slice(value, warps: int, setting: str = "settings.gpu_sell_warps_per_slice") -> int:
    """A warps-per-slice override as an int, or a ValueError saying why the kernels cannot use it."""
    wanted = int(value)
    if wanted != value or wanted < 1 or wanted & (wanted - 1) or warps % wanted:
        raise ValueError(
            f"{setting} = {value!r}: the SELL kernels need a power of two that divides the block's {warps} warps"
        )
    return wanted


def planned_warps_per_slice(slice_ptr: np.ndarray, blocks: int, threads: int, override=None) -> int:
    """:func:`sell_warps_per_slice` for a SELL matrix cut into `blocks` equal ranges of slices
    (`override`, settings.gpu_sell_warps_per_slice, wins when set)."""
    warps = threads // 32
    if override is not None:
        return checked_warps_per_slice(override, warps)
    n_slices = len(slice_ptr) - 1
    mean_width = int(slice_ptr[-1]) / max(1, n_slices * SELL_ROWS)
    return sell_warps_per_slice(-(-n_slices // max(1, blocks)), warps, mean_width)


def sell_work(slice_ptr: np.ndarray, n: int, blocks: int, warps: int, warps_per_slice: int, height: int = SELL_ROWS):
    """What each thread of ``sell_step`` (sell.cuh, and cuda/esn.py) does in one step, walked in
    Python: a list of (block, warp, lane, slice, entries read, position finished or -1).

    The loops are the kernels': a block's equal range of slices, `warps // warps_per_slice`
    slices at a time, piece p of a slice reading entries p, p + warps_per_slice, ... of its
    lane's row four at a time and then one at a time, piece 0 finishing the row.
    """
    n_slices = len(slice_ptr) - 1
    per_block = -(-n_slices // blocks)
    groups = warps // warps_per_slice
    stride = height * warps_per_slice
    work = []
    for block in range(blocks):
        begin = min(n_slices, block * per_block)
        end_unit = min(n_slices, begin + per_block)
        for first in range(begin, end_unit, groups):
            for warp in range(warps):
                group, piece = divmod(warp, warps_per_slice)
                s = first + group
                if s >= end_unit:
                    continue
                for lane in range(height):
                    k, end = int(slice_ptr[s]) + height * piece + lane, int(slice_ptr[s + 1])
                    read = []
                    while k + 3 * stride < end:
                        read += [k, k + stride, k + 2 * stride, k + 3 * stride]
                        k += 4 * stride
                    while k < end:
                        read.append(k)
                        k += stride
                    position = s * height + lane
                    finished = position if piece == 0 and position < n else -1
                    work.append((block, warp, lane, s, read, finished))
    return work


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
    scratch_bytes: int = 0,
) -> GridPlan:
    """Blocks and staging for a persistent kernel over `ptr` (per-unit offsets: slices or rows).

    * Small matrices (at most `single_block_max_entries` entries) whose entries and
      `state_bytes` (the on-chip state, two buffers) fit in `shared_limit` run in one
      block: a step ends with ``__syncthreads`` rather than a grid barrier.
    * Otherwise about `min_entries_per_block` entries per block (fewer blocks wait at
      the barrier faster), at most ``max_blocks(shared_bytes)`` co-resident blocks, and
      staged when each block's part fits in shared memory.

    `scratch_bytes` (the SELL kernels' per-block reduction scratch) come after the rest,
    staged or not.
    """
    units = len(ptr) - 1
    entries = int(ptr[-1])
    if entries <= single_block_max_entries:
        capacity, nbytes = _staged_bytes(ptr, units, 1, itemsize)
        total = nbytes + (_align16(state_bytes) + scratch_bytes if scratch_bytes else state_bytes)
        if total <= shared_limit:
            return GridPlan(1, 2 if state_bytes else 1, capacity, total)
    blocks = max(1, min(units, -(-entries // max(1, min_entries_per_block)), max_blocks(scratch_bytes)))
    while True:
        capacity, nbytes = _staged_bytes(ptr, units, blocks, itemsize)
        stage = nbytes + scratch_bytes <= shared_limit
        shared = (nbytes if stage else 0) + scratch_bytes
        fits = max_blocks(shared)
        if blocks <= fits:
            return GridPlan(blocks, int(stage), capacity if stage else 0, shared)
        blocks = max(1, fits)


# --------------------------------------------------------------------------- thread-block clusters
#: Cluster sizes the one-sequence cluster kernels are compiled for (esn_cluster.cu): 8 is
#: the portable size of sm_90, 16 needs the kernel's opt-in to a non-portable size.
CLUSTER_SIZES = (16, 8)
#: The first compute capability with thread-block clusters (Hopper).
CLUSTER_MIN_COMPUTE_CAPABILITY = (9, 0)


@dataclass(frozen=True)
class ClusterPlan:
    """One sequence in one cluster: `blocks` blocks, each with its part of the matrix, a copy of
    the state (two buffers) and the reduction scratch in `shared_bytes` of shared memory. The
    slices are taken in `order` (:func:`balanced_slice_order`; :func:`reorder_slices` builds it)."""

    blocks: int
    capacity: int  # entries of the largest block part
    shared_bytes: int
    order: np.ndarray = field(repr=False, compare=False, default=None)

    @property
    def kernel(self) -> str:
        return f"esn_run_sell_cluster{self.blocks}"


class ClusterLaunchError(RuntimeError):
    """The GPU refused every cluster launch planned for a one-sequence ESN run."""


def plan_sell_clusters(
    slice_ptr: np.ndarray,
    n: int,
    itemsize: int,
    *,
    compute_capability: tuple[int, int],
    max_cluster_blocks: int,
    shared_limit: int,
    single_block_max_entries: int,
    scratch_bytes: int,
) -> list[ClusterPlan]:
    """The cluster launches that can run one sequence, preferred first; empty for another path.

    The path of one sequence is chosen from its size and the device:

    * one block when the whole matrix is at most `single_block_max_entries` entries and
      fits in one block's shared memory with the state (``plan_grid``, stage 2): none here;
    * a cluster of c blocks (c in CLUSTER_SIZES, at most `max_cluster_blocks`, i.e.
      ``settings.gpu_cluster_blocks``; 0 turns clusters off) on a GPU of compute
      capability 9.0 or later when each block's part of the matrix is at most
      `single_block_max_entries` entries and fits in `shared_limit` beside a copy of the
      whole state (2 n values) and the scratch. Larger clusters first: a block's share of
      the gathers shrinks as 1/c while the stores of its new values to the other blocks
      stay n per step whatever c is. The caller tries them in order, the next when the
      GPU refuses one (16 blocks is not a portable cluster size);
    * otherwise (larger n, older GPUs): none, and the grid-barrier kernels of ``plan_grid``.
    """
    entries = int(slice_ptr[-1])
    n_slices = len(slice_ptr) - 1
    state_bytes = _align16(2 * n * itemsize)
    if tuple(compute_capability) < CLUSTER_MIN_COMPUTE_CAPABILITY or n_slices == 0:
        return []
    capacity, nbytes = _staged_bytes(slice_ptr, n_slices, 1, itemsize)
    if entries <= single_block_max_entries and nbytes + state_bytes + scratch_bytes <= shared_limit:
        return []  # one block, no barrier across blocks at all
    plans = []
    widths = np.diff(slice_ptr)
    for blocks in CLUSTER_SIZES:
        if blocks > max_cluster_blocks or blocks > n_slices:
            continue
        order = balanced_slice_order(widths, blocks)
        ptr = np.concatenate([[0], np.cumsum(widths[order])])
        capacity, nbytes = _staged_bytes(ptr, n_slices, blocks, itemsize)
        shared = nbytes + state_bytes + scratch_bytes
        if capacity <= single_block_max_entries and shared <= shared_limit:
            plans.append(ClusterPlan(blocks, capacity, shared, order))
    return plans


def balanced_slice_order(widths: np.ndarray, blocks: int) -> np.ndarray:
    """An order of SELL slices whose equal-count block ranges (``block_part``) hold about equal
    entries.

    Rows sorted longest first put the widest slices in the first block: at n = 4,096 and 1 %
    the first of 8 blocks would hold 27 % more entries than the mean, and a cluster steps at
    the pace of its slowest block. Each slice, widest first, goes to the block with the fewest
    entries that still has room for a slice (block b holds the b-th range of ``ceil(slices /
    blocks)``). The last slice may be partial (positions past n, which the kernels skip by
    position), so it keeps the last place.
    """
    widths = np.asarray(widths, dtype=np.int64)
    units = len(widths)
    per_block = -(-units // blocks)
    room = [max(0, min(units, (b + 1) * per_block) - min(units, b * per_block)) for b in range(blocks)]
    last_block = (units - 1) // per_block
    lists: list[list[int]] = [[] for _ in range(blocks)]
    totals = [0] * blocks
    room[last_block] -= 1  # the last slice, placed at the end below
    totals[last_block] += int(widths[-1])
    for s in np.argsort(-widths[:-1], kind="stable"):
        b = min((b for b in range(blocks) if room[b] > 0), key=lambda b: (totals[b], b))
        lists[b].append(int(s))
        room[b] -= 1
        totals[b] += int(widths[s])
    lists[last_block].append(units - 1)
    return np.array([s for block in lists for s in block], dtype=np.int64)


def reorder_slices(sell: Sell, order: np.ndarray) -> Sell:
    """`sell` with its slices in `order` (which keeps the last, possibly partial, slice last)."""
    widths = np.diff(sell.slice_ptr.astype(np.int64))
    slice_ptr = np.concatenate([[0], np.cumsum(widths[order])])
    starts = sell.slice_ptr[:-1].astype(np.int64)[order]
    entries = np.concatenate([np.arange(a, a + w) for a, w in zip(starts, widths[order])]) if len(order) else []
    entries = np.asarray(entries, dtype=np.int64)
    height = sell.height
    padded = np.full(sell.n_slices * height, -1, dtype=np.int64)
    padded[: len(sell.row_of)] = sell.row_of
    row_of = padded.reshape(sell.n_slices, height)[order].reshape(-1)[: len(sell.row_of)]
    return Sell(
        slice_ptr.astype(np.int32),
        sell.columns[entries],
        sell.values[entries],
        row_of.astype(np.int32),
        sell.n_slices,
        height,
    )


def refused_clusters(n: int, refusals: list[tuple[ClusterPlan, Exception]]) -> ClusterLaunchError:
    """The error when the GPU refused every planned cluster launch, naming each refusal."""
    tried = "; ".join(
        f"{plan.blocks} blocks of {plan.shared_bytes} bytes of shared memory: {error}" for plan, error in refusals
    )
    return ClusterLaunchError(
        f"esn_run_sell_cluster: the GPU refused to launch a thread-block cluster for one sequence of {n} units "
        f"({tried}). Clusters need every block of the cluster resident on one GPC at once; set "
        "settings.gpu_cluster_blocks = 8 (the portable size) or 0 (the grid-barrier kernel, no cluster)"
    )


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
