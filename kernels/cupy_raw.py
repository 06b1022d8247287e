"""CuPy path: hand-written CUDA C kernels (``cuda_src/*.cu``) loaded with ``cupy.RawModule``.

Same algorithms, layouts and launch plans as the Numba-CUDA path (``cuda/``); see
``_gpu_layout.py`` for the layouts and the ``.cu`` files for the kernels.

Time loop
---------
Every ESN call is **one persistent kernel launch for all its time steps**. Each block
owns a fixed range of rows for the whole launch; steps are separated by a grid-wide
barrier, cooperative groups' grid sync (``cuda_src/grid_barrier.cuh``). The ESN module
is loaded with ``enable_cooperative_groups=True``, so its kernels are launched with
``cuLaunchCooperativeKernel``: the GPU runs every block at once or refuses the launch,
and a refusal is raised as :class:`~._gpu_layout.GridNotCoResidentError` saying why
(the grid is sized by the occupancy calculator, so it fits unless the settings or the
GPU's partitioning say otherwise). The LIF kernel is launched cooperatively only when
a trial spans several blocks: with one block per trial its barrier is
``__syncthreads`` and the trials are independent, so any number of trials may be
launched, more than fit on the GPU at once. The ELM kernels have no barrier and use
ordinary launches. For small reservoirs each block
copies its part of the matrix to shared memory once and reads it on chip at every
step (one block: the state lives in shared memory too, and the barrier is
``__syncthreads``); for large ones the matrix streams from device memory and the
barrier costs microseconds against a step of hundreds. This was chosen over a CUDA
graph of one launch per step because it gives one mechanism for every size, keeps
the matrix on chip between steps where it fits, and needs no graph re-capture when
the number of steps changes.

One sequence of mid size (too large for one block, small enough that each of 8 or 16
blocks holds its part of the matrix and a copy of the state) runs on sm_90 in one
thread-block cluster instead (``cuda_src/esn_cluster.cu``): the state is exchanged
through distributed shared memory and steps are separated by the cluster's hardware
barrier, not the grid barrier. CuPy's ``RawKernel`` takes no cluster dimensions, so
those kernels carry them (``__cluster_dims__``) and are launched, from a module without
cooperative launch, as a grid of one cluster; :func:`~._gpu_layout.plan_sell_clusters`
chooses the path, and a cluster the GPU refuses at every size raises
:class:`~._gpu_layout.ClusterLaunchError`.

Arrays
------
Inputs may be NumPy or CuPy arrays. Device arrays are used in place; host arrays
are copied to the device, and results are written back into the caller's arrays
(host or device), so a run on CuPy arrays never leaves the GPU. Scalars go to the
kernels as ``np.int32`` / the weights' float type (a Python int would be passed as
``long long``).

Three layers, as in every kernel file: device code (``cuda_src/*.cu``), host driver
(``_launch_*``: layouts, grid, transfers), public functions (``prepare_esn``, ``esn_run``, ...).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cupy as cp
import numpy as np
import scipy.sparse as sp

from ..config import settings
from . import _gpu_layout as layout
from .activations import code


# --------------------------------------------------------------------------- device code
@functools.cache
def _module(source: str, device_id: int, cooperative: bool) -> cp.RawModule:
    # Compiled with NVRTC on first use (and cached on disk by CuPy); no fast-math: the
    # float32 results are checked against the float64 reference to 1e-5. CuPy launches
    # every kernel of a module built with enable_cooperative_groups cooperatively, so a
    # source whose kernel runs both ways (lif.cu) gets one module per way.
    return cp.RawModule(
        code=layout.cuda_source_text(source),
        options=("--std=c++17",),
        name_expressions=layout.name_expressions(source),
        enable_cooperative_groups=cooperative,
    )


def _kernel(source: str, name: str, dtype, cooperative: bool = False) -> cp.RawKernel:
    module = _module(source, cp.cuda.Device().id, cooperative)
    return module.get_function(f"{name}<{layout.CUDA_TYPES[np.dtype(dtype)]}>")


# --------------------------------------------------------------------------- host driver
def _device_properties():
    attributes = cp.cuda.Device().attributes
    return attributes["MultiProcessorCount"], attributes.get("MaxSharedMemoryPerBlockOptin", 48 * 1024)


def _compute_capability() -> tuple[int, int]:
    digits = str(cp.cuda.Device().compute_capability)  # "90" on an H100
    return int(digits[:-1]), int(digits[-1])


def _max_blocks(kernel: cp.RawKernel, threads: int):
    """Co-resident blocks of `kernel` for a given dynamic shared memory size."""
    multiprocessors, _ = _device_properties()

    def blocks(shared_bytes: int) -> int:
        _allow_shared(kernel, shared_bytes)
        try:
            per_sm = cp.cuda.driver.occupancyMaxActiveBlocksPerMultiprocessor(kernel.kernel.ptr, threads, shared_bytes)
        except (AttributeError, cp.cuda.driver.CUDADriverError):  # older CuPy: one block per SM always fits
            per_sm = 1
        return per_sm * multiprocessors

    return blocks


def _allow_shared(kernel: cp.RawKernel, shared_bytes: int) -> None:
    if shared_bytes > 48 * 1024 and kernel.max_dynamic_shared_size_bytes < shared_bytes:
        kernel.max_dynamic_shared_size_bytes = shared_bytes


def _static_shared_bytes(kernel: cp.RawKernel) -> int:
    """The kernel's own ``__shared__`` arrays (``esn_generate_sell``'s reduction scratch)."""
    return int(kernel.attributes.get("shared_size_bytes", 0))


def _shared_limit(kernel: cp.RawKernel) -> int:
    """Dynamic shared memory `kernel` may opt in to: the device's per-block limit less the
    kernel's static shared memory, within settings.gpu_shared_bytes."""
    return layout.dynamic_shared_limit(_device_properties()[1], _static_shared_bytes(kernel), settings.gpu_shared_bytes)


def _threads() -> int:
    return layout.checked_threads_per_block(settings.gpu_threads_per_block)


def _plan(kernel, ptr_host, itemsize, state_bytes=0, scratch_bytes=0) -> layout.GridPlan:
    threads = _threads()
    return layout.plan_grid(
        ptr_host,
        itemsize,
        max_blocks=_max_blocks(kernel, threads),
        shared_limit=_shared_limit(kernel),
        min_entries_per_block=settings.gpu_min_entries_per_block,
        single_block_max_entries=settings.gpu_single_block_max_entries,
        state_bytes=state_bytes,
        scratch_bytes=scratch_bytes,
    )


def _sell_scratch_bytes(itemsize: int) -> int:
    """Shared memory of the SELL kernels' slice scratch: a value per thread (sell.cuh)."""
    return _threads() * itemsize


def _warps_per_slice(ptr_host, blocks: int) -> np.int32:
    return np.int32(layout.planned_warps_per_slice(ptr_host, blocks, _threads(), settings.gpu_sell_warps_per_slice))


def _launch_checked(kernel, name: str, grid: tuple, threads: int, args: tuple, shared_bytes: int) -> None:
    """Launch `kernel`; with more than one block along x it is a cooperative module's kernel,
    checked first for a grid that can be co-resident, and a refusal by the driver becomes a
    GridNotCoResidentError that says why."""
    blocks = int(np.prod(grid))
    if grid[0] > 1:  # blocks along x share the work and meet at the grid barrier (y: independent trials)
        if not cp.cuda.Device().attributes.get("CooperativeLaunch", 1):
            raise layout.GridNotCoResidentError(
                f"{name}: this GPU does not support cooperative launches, which "
                "the multi-block persistent kernels need; use backend='numba'"
            )
        layout.check_co_resident(name, blocks, _max_blocks(kernel, threads)(shared_bytes), threads, shared_bytes)
    try:
        kernel(grid, (threads,), args, shared_mem=shared_bytes)
    except cp.cuda.driver.CUDADriverError as error:
        if "COOPERATIVE_LAUNCH_TOO_LARGE" in str(error):
            raise layout.refused_launch(name, blocks, threads, shared_bytes, error) from error
        raise


def _launch_persistent(kernel, name: str, plan: layout.GridPlan, args) -> None:
    """Launch a persistent kernel of esn.cu planned by `plan` with (*args, stage, capacity)."""
    _allow_shared(kernel, plan.shared_bytes)
    _launch_checked(
        kernel,
        name,
        (plan.blocks,),
        _threads(),
        (*args, np.int32(plan.stage), np.int32(plan.capacity)),
        plan.shared_bytes,
    )


#: CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED (cuda.h): lets a kernel run in clusters
#: larger than the portable 8 blocks (CuPy has no name for it).
_NON_PORTABLE_CLUSTER_SIZE_ALLOWED = 14


def _cluster_plans(ptr_host, n: int, dtype) -> list[layout.ClusterPlan]:
    """The cluster launches for one sequence on this GPU (see layout.plan_sell_clusters); the
    cluster module is compiled only when there is one."""
    if settings.gpu_cluster_blocks <= 0 or _compute_capability() < layout.CLUSTER_MIN_COMPUTE_CAPABILITY:
        return []
    return layout.plan_sell_clusters(
        ptr_host,
        n,
        dtype.itemsize,
        compute_capability=_compute_capability(),
        max_cluster_blocks=settings.gpu_cluster_blocks,
        shared_limit=layout.dynamic_shared_limit(_device_properties()[1], 0, settings.gpu_shared_bytes),
        single_block_max_entries=settings.gpu_single_block_max_entries,
        scratch_bytes=_sell_scratch_bytes(dtype.itemsize),
    )


def _launch_cluster(plans: list[layout.ClusterPlan], n: int, dtype, ptr_host, arguments) -> layout.ClusterPlan:
    """Launch one sequence as one cluster, the first plan the GPU accepts, with arguments(plan)
    (the matrix in the plan's slice order, then the rest); when the GPU refuses them all (a
    cluster's blocks must be resident on one GPC at once), layout.ClusterLaunchError names
    each refusal and the setting that avoids it."""
    threads = _threads()
    refusals = []
    for plan in plans:
        # A module without cooperative launch: a cluster kernel is launched by an ordinary launch.
        kernel = _kernel("esn_cluster.cu", plan.kernel, dtype)
        try:
            _allow_shared(kernel, plan.shared_bytes)
            if plan.blocks > 8:
                cp.cuda.driver.funcSetAttribute(kernel.kernel.ptr, _NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1)
        except cp.cuda.driver.CUDADriverError as error:
            refusals.append((plan, error))
            continue
        try:
            kernel(
                (plan.blocks,),
                (threads,),
                (*arguments(plan), _warps_per_slice(ptr_host, plan.blocks), np.int32(plan.capacity)),
                shared_mem=plan.shared_bytes,
            )
            return plan
        except cp.cuda.driver.CUDADriverError as error:
            if "CLUSTER" not in str(error) and "OUT_OF_RESOURCES" not in str(error):
                raise
            refusals.append((plan, error))
    raise layout.refused_clusters(n, refusals)


def _device(array, dtype=None):
    """`array` on the device, C-contiguous (no copy when it already is)."""
    return cp.ascontiguousarray(cp.asarray(array, dtype=dtype))


def _write_back(target, result) -> None:
    """Copy a device result into the caller's array, host or device."""
    if isinstance(target, cp.ndarray):
        if target is not result:
            target[...] = result
    else:
        target[...] = cp.asnumpy(result)


# --------------------------------------------------------------------------- public functions
@dataclass
class CupyEsnWeights:
    """The matrix on the host (layouts are built from it on first use) and everything else on the device
    (an ``EsnWeights`` of ``kernels.contract``)."""

    W: sp.csr_array
    W_in: cp.ndarray
    bias: cp.ndarray
    _sell: tuple | None = field(default=None, repr=False)
    _csr: tuple | None = field(default=None, repr=False)
    _cluster_sells: dict = field(default_factory=dict, repr=False)

    @property
    def dtype(self):
        return self.W.dtype

    def sell(self):
        """(device arrays, host slice_ptr) of the SELL-32 layout."""
        if self._sell is None:
            sell = layout.sell32(self.W)
            arrays = tuple(cp.asarray(a) for a in (sell.slice_ptr, sell.columns, sell.values, sell.row_of))
            self._sell = (arrays, sell.slice_ptr, sell.n_slices)
        return self._sell

    def cluster_sell(self, plan: layout.ClusterPlan):
        """Device arrays of the SELL-32 layout with its slices in the plan's balanced order."""
        if plan.blocks not in self._cluster_sells:
            sell = layout.reorder_slices(layout.sell32(self.W), plan.order)
            arrays = tuple(cp.asarray(a) for a in (sell.slice_ptr, sell.columns, sell.values, sell.row_of))
            self._cluster_sells[plan.blocks] = arrays
        return self._cluster_sells[plan.blocks]

    def csr(self):
        if self._csr is None:
            indptr, indices, data = layout.csr32(self.W)
            self._csr = (tuple(cp.asarray(a) for a in (indptr, indices, data)), indptr)
        return self._csr


def prepare_esn(W, W_in, bias) -> CupyEsnWeights:
    W = sp.csr_array(W)
    W.sort_indices()
    dtype = W.dtype
    return CupyEsnWeights(W, _device(W_in, dtype), _device(bias, dtype))


def esn_run(weights: CupyEsnWeights, inputs, state, leak_rate: float, activation: str, out):
    """Same contract as ``reference.esn_run``; any argument may be a NumPy or a CuPy array."""
    dtype = weights.dtype
    keep, leak, act = layout.esn_scalars(weights.dtype, leak_rate, activation)
    batch, steps, n_in = inputs.shape
    n = weights.W.shape[0]
    if batch == 1:
        (slice_ptr, columns, values, row_of), ptr_host, n_slices = weights.sell()
        direct = isinstance(out, cp.ndarray) and out[0].flags.c_contiguous
        states = out[0] if direct else cp.empty((steps, n), dtype)
        start = _device(state[0], dtype)
        # The kernels' parameters after the matrix (slice_ptr, columns, values, row_of).
        rest = (
            weights.W_in,
            weights.bias,
            _device(inputs[0], dtype),
            start,
            states,
            np.int32(n),
            np.int32(n_in),
            np.int32(n_slices),
            np.int32(steps),
            keep,
            leak,
            act,
        )
        clusters = _cluster_plans(ptr_host, n, dtype)
        if clusters:
            _launch_cluster(clusters, n, dtype, ptr_host, lambda plan: (*weights.cluster_sell(plan), *rest))
        else:
            kernel = _kernel("esn.cu", "esn_run_sell", dtype, cooperative=True)
            scratch = _sell_scratch_bytes(dtype.itemsize)
            plan = _plan(kernel, ptr_host, dtype.itemsize, state_bytes=2 * n * dtype.itemsize, scratch_bytes=scratch)
            args = (slice_ptr, columns, values, row_of, *rest, _warps_per_slice(ptr_host, plan.blocks))
            _launch_persistent(kernel, "esn_run_sell", plan, args)
        if not direct:
            _write_back(out[0], states)
        _write_back(state[0], states[-1])
        return out
    (indptr, indices, data), ptr_host = weights.csr()
    kernel = _kernel("esn.cu", "esn_run_csr_batch", dtype, cooperative=True)
    plan = _plan(kernel, ptr_host, dtype.itemsize)
    x_buffers = cp.empty((2, n, batch), dtype)
    x_buffers[0] = _device(state, dtype).T
    inputs_by_step = cp.ascontiguousarray(cp.asarray(inputs, dtype=dtype).transpose(1, 2, 0))  # (T, n_in, B)
    # The kernel writes states[b * stride + t * n + row]: straight into the caller's device
    # array (a view with contiguous rows is fine), else into a fresh one.
    direct = isinstance(out, cp.ndarray) and out.strides[1:] == (n * dtype.itemsize, dtype.itemsize)
    states = out if direct else cp.empty((batch, steps, n), dtype)
    args = (
        indptr,
        indices,
        data,
        weights.W_in,
        weights.bias,
        inputs_by_step,
        x_buffers,
        states,
        np.int64(states.strides[0] // dtype.itemsize),
        np.int32(n),
        np.int32(n_in),
        np.int32(batch),
        np.int32(steps),
        keep,
        leak,
        act,
        np.int32(layout.next_power_of_two_log2(batch)),
    )
    _launch_persistent(kernel, "esn_run_csr_batch", plan, args)
    if not direct:
        _write_back(out, states)
    _write_back(state, x_buffers[steps % 2].T)
    return out


def esn_generate(
    weights: CupyEsnWeights,
    readout_coef,
    readout_intercept,
    include_input: bool,
    state,
    first_input,
    n_steps: int,
    leak_rate: float,
    activation: str,
):
    """Same contract as ``reference.esn_generate``; returns outputs where `state` lives (NumPy or CuPy)."""
    dtype = weights.dtype
    keep, leak, act = layout.esn_scalars(weights.dtype, leak_rate, activation)
    n = weights.W.shape[0]
    n_in = weights.W_in.shape[1]
    (slice_ptr, columns, values, row_of), ptr_host, n_slices = weights.sell()
    kernel = _kernel("esn.cu", "esn_generate_sell", dtype, cooperative=True)
    plan = _plan(kernel, ptr_host, dtype.itemsize, scratch_bytes=_sell_scratch_bytes(dtype.itemsize))
    coef = _device(readout_coef, dtype)
    n_out = coef.shape[0]
    x_buffers = cp.empty((2, n), dtype)
    x_buffers[0] = _device(state, dtype)
    u_buffers = cp.empty((plan.blocks, 2, n_in), dtype)
    u_buffers[:, 0] = _device(first_input, dtype)
    partial = cp.empty((2, n_out, plan.blocks), dtype)
    outputs = cp.empty((n_steps, n_out), dtype)
    args = (
        slice_ptr,
        columns,
        values,
        row_of,
        weights.W_in,
        weights.bias,
        coef,
        _device(readout_intercept, dtype),
        np.int32(n_out),
        np.int32(bool(include_input)),
        x_buffers,
        u_buffers,
        partial,
        outputs,
        np.int32(n),
        np.int32(n_in),
        np.int32(n_slices),
        np.int32(n_steps),
        keep,
        leak,
        act,
        _warps_per_slice(ptr_host, plan.blocks),
    )
    _launch_persistent(kernel, "esn_generate_sell", plan, args)
    _write_back(state, x_buffers[n_steps % 2])
    return outputs if isinstance(state, cp.ndarray) else cp.asnumpy(outputs)


@dataclass
class CupyElmWeights:
    """Hidden weights on the device, CSR rows (dense and sparse inputs alike)."""

    W: sp.csr_array
    csr: tuple
    bias: cp.ndarray


def prepare_elm(W_hidden, bias) -> CupyElmWeights:
    W = sp.csr_array(W_hidden)
    W.sort_indices()
    return CupyElmWeights(W, tuple(cp.asarray(a) for a in layout.csr32(W)), _device(bias, W.dtype))


def elm_hidden(weights: CupyElmWeights, X, activation: str):
    """Same contract as ``reference.elm_hidden``. X: NumPy, CuPy, scipy.sparse or cupyx.scipy.sparse
    (sparse X is read as CSR, never densified). Returns a CuPy array for device X, else NumPy."""
    import cupyx.scipy.sparse as cpx_sparse

    dtype = weights.W.dtype
    n_hidden = weights.W.shape[0]
    act = np.int32(code(activation))
    threads = _threads()
    on_device = isinstance(X, cp.ndarray) or cpx_sparse.issparse(X)
    n_samples = X.shape[0]
    H = cp.empty((n_samples, n_hidden), dtype)
    grid = (-(-n_hidden // threads), max(1, min(n_samples, 65535)))
    indptr, indices, values = weights.csr
    if sp.issparse(X) or cpx_sparse.issparse(X):
        # The kernel binary-searches sorted, unique features per sample (copies: the caller's
        # matrix is left as it was).
        X = cpx_sparse.csr_matrix(X if cpx_sparse.issparse(X) else sp.csr_matrix(X), dtype=dtype).copy()
        X.sum_duplicates()
        _kernel("elm.cu", "elm_sparse", dtype)(
            grid,
            (threads,),
            (
                indptr,
                indices,
                values,
                weights.bias,
                X.indptr.astype(cp.int32),
                X.indices.astype(cp.int32),
                cp.ascontiguousarray(X.data),
                H,
                np.int32(n_samples),
                np.int32(n_hidden),
                act,
            ),
        )
    else:
        X = _device(X, dtype)
        _kernel("elm.cu", "elm_dense", dtype)(
            grid,
            (threads,),
            (
                indptr,
                indices,
                values,
                weights.bias,
                X,
                H,
                np.int32(n_samples),
                np.int32(X.shape[1]),
                np.int32(n_hidden),
                act,
            ),
        )
    return H if on_device else cp.asnumpy(H)


# --------------------------------------------------------------------------- LIF (spiking) networks
def prepare_lsm(push, delays, n_exc: int, W_in) -> layout.GpuLifWeights:
    """Push rows sorted by target and W_in in pull layout, on the device."""
    lif = layout.lif_layout(push, delays, n_exc, W_in)
    push = tuple(cp.asarray(a) for a in (lif.push_indptr, lif.push_indices, lif.push_data, lif.delays))
    return layout.GpuLifWeights(lif, push, tuple(cp.asarray(a) for a in (lif.in_indptr, lif.in_indices, lif.in_data)))


def _lif_blocks(kernel, lif: layout.LifSettings, batch: int, n: int, threads: int) -> layout.LifBlocks:
    return layout.plan_lif_blocks(
        n,
        batch,
        _max_blocks(kernel, threads)(0),
        single_block_max_neurons=lif.single_block_max_neurons,
        neurons_per_block=lif.neurons_per_block,
    )


def lsm_run(
    weights: layout.GpuLifWeights,
    params: tuple,
    inputs,
    input_spikes: bool,
    state,
    out,
    window: int,
    record_spikes: bool,
):
    """Same contract as ``reference.lsm_run``: advance every trial over all of `inputs`.

    `state` (``kernels.lif.LifState``) may hold NumPy arrays (copied to the device and
    back) or CuPy arrays (advanced in place when C-contiguous); `inputs` and `out`
    likewise. The whole call is one kernel launch, again only when a trial's spike
    records fill up.
    """
    lif = layout.lif_settings(settings)
    dtype = weights.dtype
    plain = _kernel("lif.cu", "lif_run", dtype)
    batch, steps, n_in = inputs.shape
    n = weights.layout.n
    slots = state.ring_exc.shape[1]
    has_input = weights.has_input and n_in > 0
    u = _device(inputs, dtype) if has_input else cp.zeros(1, dtype)
    names = ("v", "i_exc", "i_inh", "refractory", "ring_exc", "ring_inh", "trace")
    arrays = {name: _device(getattr(state, name), np.int32 if name == "refractory" else dtype) for name in names}
    record_states = out is not None
    if not record_states:
        states = cp.zeros(1, dtype)
    elif window == 0 and not isinstance(out, cp.ndarray):  # traces overwrite every element: nothing to copy in
        states = cp.empty(out.shape, dtype)
    else:  # counts are added to what `out` holds
        states = _device(out, dtype)
    capacity = layout.lif_record_capacity(n, steps) if record_spikes else 1
    records = cp.empty((batch, capacity, 2), cp.int32)
    counts = cp.zeros(batch, cp.int64)
    positions = cp.zeros(batch, cp.int64)
    (
        v_rest,
        v_reset,
        v_thresh,
        decay_m,
        gain_exc,
        gain_inh,
        gain_ext,
        decay_exc,
        decay_inh,
        decay_trace,
        refractory_steps,
    ) = params
    scalars = tuple(
        dtype.type(x)
        for x in (v_rest, v_reset, v_thresh, decay_m, gain_exc, gain_inh, gain_ext, decay_exc, decay_inh, decay_trace)
    )
    threads = max(32, min(lif.threads, plain.max_threads_per_block) // 32 * 32)
    # One block per trial: __syncthreads between phases, an ordinary launch of any number
    # of trials. Several: the grid barrier, so a cooperative launch of the whole grid
    # (planned with that module's occupancy).
    cooperative = _kernel("lif.cu", "lif_run", dtype, cooperative=True) if n > lif.single_block_max_neurons else plain
    plan = _lif_blocks(cooperative, lif, batch, n, threads)
    kernel = plain if plan.blocks == 1 else cooperative
    spike_lists = cp.empty((batch, 2, n), cp.int32)
    spike_counts = cp.empty((batch, 2, plan.blocks), cp.int32)
    while True:
        _launch_checked(
            kernel,
            "lif_run",
            (plan.blocks, batch),
            threads,
            (
                *weights.push,
                np.int32(weights.layout.n_exc),
                *weights.inputs,
                u,
                np.int32(n_in),
                np.int32(steps),
                np.int32(has_input),
                np.int32(bool(input_spikes)),
                arrays["v"],
                arrays["i_exc"],
                arrays["i_inh"],
                arrays["refractory"],
                arrays["ring_exc"],
                arrays["ring_inh"],
                arrays["trace"],
                np.int32(n),
                np.int32(slots),
                np.int64(state.step),
                states,
                np.int32(states.shape[1] if record_states else 0),
                np.int32(record_states),
                np.int32(window),
                np.int32(bool(record_spikes)),
                records,
                np.int64(records.shape[1]),
                counts,
                positions,
                spike_lists,
                spike_counts,
                np.int32(plan.blocks),
                np.int32(plan.neurons_per_block),
                *scalars,
                np.int32(max(int(refractory_steps) - 1, 0)),
                np.int32(lif.push),
            ),
            0,
        )
        if bool((positions == steps).all()):
            break
        # A trial stopped with its records nearly full: double them and go on from where it stopped.
        grown = cp.empty((batch, 2 * records.shape[1], 2), cp.int32)
        grown[:, : records.shape[1]] = records
        records = grown
    for name in names:
        _write_back(getattr(state, name), arrays[name])
    if record_states:
        _write_back(out, states)
    state.step += steps
    if not record_spikes:
        return None
    spike_counts = cp.asnumpy(counts)
    host = cp.asnumpy(records)
    return [layout.spikes_in_step_order(host[b, : spike_counts[b]]) for b in range(batch)]
