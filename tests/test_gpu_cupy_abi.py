"""The CuPy path's host code against its CUDA C kernels' signatures, without a GPU.

``cupy.RawKernel`` passes arguments by position and checks nothing: one argument too
many, an int where the kernel reads ``long long``, a float64 scalar for a float kernel
or a strided view where the kernel indexes a contiguous array would run and compute
garbage on a GPU. Without a GPU none of ``cupy_raw.py`` runs, so here a NumPy-backed
stand-in for CuPy records every launch the public API makes through the "cupy"
backend (ESN one sequence and batched, closed loop, ELM on dense and sparse input,
LSM with and without input), and each launch is checked against the parameters of
the kernel it names, parsed from ``kernels/cuda_src/*.cu``, and for how it is launched:
a kernel whose blocks meet at the grid barrier is launched cooperatively, within the
blocks that fit on the device at once, and a cooperative launch the driver refuses
gives an error that says why. The stand-in's arrays carry ``__cuda_array_interface__``,
so the models' GPU branches run too (CuPy in, CuPy out). The numbers are checked on a
GPU (tests/test_gpu.py); this checks the calls.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from cupy_stand_in import DeviceArray, stand_in_modules, to_device

import reservoir as rs
from reservoir import backends
from reservoir.kernels import _gpu_layout as layout

SCALARS = {"int": np.int32, "long long": np.int64}
POINTEES = {"int": np.int32, "unsigned int": np.uint32, "long long": np.int64}


def _kernel_parameters() -> dict[str, list[tuple[str, str]]]:
    """kernel name -> [(type, name)] from every cuda_src file (headers expanded)."""
    kernels = {}
    for source in layout.CUDA_KERNELS:
        text = layout.cuda_source_text(source)
        pattern = r"__global__\s+void\s+(?:__cluster_dims__\([^)]*\)\s+)?(\w+)\s*\((.*?)\)\s*\{"
        for match in re.finditer(pattern, text, flags=re.S):
            parameters = []
            for declaration in match.group(2).split(","):
                words = " ".join(declaration.replace("__restrict__", "").replace("const ", "").split())
                kind, name = words.rsplit(" ", 1)
                parameters.append((kind.replace(" *", "*"), name))
            kernels[match.group(1)] = parameters
    return kernels


PARAMETERS = _kernel_parameters()


#: Kernels whose blocks meet at a grid barrier whenever there are several along x.
PERSISTENT = {"esn_run_sell", "esn_generate_sell", "esn_run_csr_batch", "lif_run"}


class Launches:
    """What the stand-in records: (kernel, T's dtype, grid, block, args, shared_mem, cooperative)."""

    def __init__(self):
        self.calls = []

    def __call__(self, name, dtype, grid, block, args, shared_mem, cooperative=False):
        self.calls.append((name, dtype, grid, block, args, shared_mem, cooperative))
        if name == "lif_run":  # the host loops until every trial reports its last step
            names = [parameter for _, parameter in PARAMETERS["lif_run"]]
            args[names.index("positions")][...] = args[names.index("steps")]


def _use_stand_in(monkeypatch, record, **options):
    for name, module in stand_in_modules(record, **options).items():
        monkeypatch.setitem(sys.modules, name, module)
    # The module imported on the stand-in replaces any real one for this test only (both
    # the sys.modules entry and the package attribute that importing sets).
    monkeypatch.delitem(sys.modules, "reservoir.kernels.cupy_raw", raising=False)
    monkeypatch.setattr(rs.kernels, "cupy_raw", None, raising=False)
    monkeypatch.setitem(
        backends._REGISTRY, "cupy", dataclasses.replace(backends._REGISTRY["cupy"], device_problem=lambda: None)
    )
    importlib.import_module("reservoir.kernels.cupy_raw")


@pytest.fixture
def launches(monkeypatch):
    """The "cupy" backend on the stand-in; yields the launch record."""
    record = Launches()
    _use_stand_in(monkeypatch, record)
    yield record
    sys.modules.pop("reservoir.kernels.cupy_raw", None)  # never leave the stand-in's module behind


def _check(call) -> None:
    name, dtype, grid, block, args, shared_mem, cooperative = call
    parameters = PARAMETERS[name]
    assert len(args) == len(parameters), f"{name}: {len(args)} arguments for {len(parameters)} parameters"
    for (kind, parameter), arg in zip(parameters, args):
        where = f"{name}({parameter}: {kind})"
        if kind.endswith("*"):
            pointee = kind[:-1]
            expected = dtype if pointee == "T" else np.dtype(POINTEES[pointee])
            assert isinstance(arg, DeviceArray), f"{where}: got {type(arg).__name__} (CuPy takes device arrays)"
            assert arg.dtype == expected, f"{where}: array of {arg.dtype}, the kernel reads {expected}"
            assert arg.flags.c_contiguous, f"{where}: a strided view (the kernel indexes it as contiguous)"
        else:
            expected = dtype.type if kind == "T" else SCALARS[kind]
            assert type(arg) is expected, f"{where}: {type(arg).__name__} passed, the kernel reads {kind}"
    assert all(int(size) >= 1 for size in (grid if isinstance(grid, tuple) else (grid,))), f"{name}: grid {grid}"
    assert shared_mem >= 0
    blocks_along_x = grid[0] if isinstance(grid, tuple) else grid
    if name in PERSISTENT and blocks_along_x > 1:
        assert cooperative, f"{name}: {blocks_along_x} blocks meet at the grid barrier, launched without cooperation"
    if name.startswith("elm_"):
        assert not cooperative, f"{name} has no barrier: an ordinary launch, not limited to co-resident blocks"
    cluster = re.search(r"_cluster(\d+)$", name)
    if cluster:  # __cluster_dims__(c, 1, 1): the grid is one cluster, launched by an ordinary launch
        assert grid == (int(cluster.group(1)),), f"{name}: grid {grid} is not one cluster"
        assert not cooperative, f"{name}: CuPy's cooperative launch does not launch clusters"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_esn_launches_match_the_kernels(launches, dtype):
    rng = np.random.default_rng(0)
    esn = rs.ESN(300, density=0.05, seed=0, dtype=dtype, backend="cupy")
    esn.run(rng.standard_normal((40, 2)))  # one sequence: SELL
    esn.run(rng.standard_normal((40, 2))[::2])  # a strided input, from the state left
    esn.reset()
    esn.run(rng.standard_normal((5, 40, 2)))  # a batch: CSR over the (n, B) state
    model = rs.ESNRegressor(200, density=0.05, washout=10, seed=0, dtype=dtype, backend="cupy")
    model.fit(rng.standard_normal((100, 1)), rng.standard_normal((100, 1)))
    model.forecast(20)  # closed loop
    names = [call[0] for call in launches.calls]
    assert {"esn_run_sell", "esn_run_csr_batch", "esn_generate_sell"} <= set(names), names
    for call in launches.calls:
        _check(call)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elm_launches_match_the_kernels(launches, dtype):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 8)), rng.standard_normal(60)
    rs.ELMRegressor(50, density=0.3, seed=0, dtype=dtype, backend="cupy").fit(X, y).predict(X)
    rs.ELMRegressor(50, density=0.3, seed=0, dtype=dtype, backend="cupy").fit(
        sp.random_array((60, 8), density=0.3, rng=rng, format="csr"), y
    )
    assert {"elm_dense", "elm_sparse"} <= {call[0] for call in launches.calls}
    for call in launches.calls:
        _check(call)


@pytest.mark.parametrize("propagation", ["pull", "push"])
def test_lsm_launches_match_the_kernels(launches, monkeypatch, propagation):
    from reservoir.config import settings
    from reservoir.lsm import cuba

    monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
    cuba(seed=0, backend="cupy", dtype="float32").run(n_steps=50)  # no input, spikes only
    lsm = rs.LSM(240, 60, seed=0, backend="cupy", dtype="float64")
    lsm.run(np.random.default_rng(0).random((2, 30, 3)))  # two trials with input, traces recorded
    rs.LSM(240, 60, delay=(1e-3, 3e-3), input_encoding="poisson", seed=0, backend="cupy").run(
        np.random.default_rng(0).random((30, 3)), window=10
    )  # delays, input spikes, counts
    calls = [call for call in launches.calls if call[0] == "lif_run"]
    assert len(calls) >= 2
    for call in calls:
        _check(call)


def test_device_arrays_stay_on_the_device(launches, tmp_path):
    """The models' GPU branches (which CI never reaches otherwise): CuPy inputs give CuPy states and
    activations, the state stays on the device between calls, a NaN on the device is named by its
    step, and a stored run streams device states to the file."""
    rng = np.random.default_rng(0)
    esn = rs.ESN(200, density=0.05, seed=0, backend="cupy")
    states = esn.run(to_device(rng.standard_normal((30, 2))))
    assert isinstance(states, DeviceArray) and states.shape == (30, 200) and states.dtype == np.float32
    assert isinstance(esn.state, DeviceArray)
    closed_loop = esn.generate(5, np.zeros((2, 202)), np.zeros(2), to_device(np.ones(2)))
    assert isinstance(closed_loop, DeviceArray) and closed_loop.shape == (5, 2)
    esn.reset()
    batched = esn.run(to_device(rng.standard_normal((3, 30, 2))))
    assert isinstance(batched, DeviceArray) and batched.shape == (3, 30, 200)

    bad = rng.standard_normal((30, 2))
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="step 7"):
        esn.reset().run(to_device(bad))

    with rs.StateStore(tmp_path / "states.h5", "w") as store:
        run = esn.reset().run(to_device(rng.standard_normal((30, 2))), store=store, name="device", checkpoint_every=8)
        assert run.steps_done == 30 and run.states.shape == (30, 200)

    layer = rs.elm.HiddenLayer(40, 8, density=0.3, seed=0, backend="cupy")
    hidden = layer.transform(to_device(rng.standard_normal((12, 8))))
    assert isinstance(hidden, DeviceArray) and hidden.shape == (12, 40)
    names = {call[0] for call in launches.calls}
    assert {"esn_run_sell", "esn_generate_sell", "esn_run_csr_batch", "elm_dense"} <= names, names
    for call in launches.calls:
        _check(call)


@pytest.fixture
def many_blocks(monkeypatch):
    """Settings that cut a 300-unit reservoir into several blocks (the matrix streamed)."""
    from reservoir.config import settings

    monkeypatch.setattr(settings, "gpu_single_block_max_entries", 0)
    monkeypatch.setattr(settings, "gpu_min_entries_per_block", 64)


def test_multi_block_esn_launches_are_cooperative_and_fit(launches, many_blocks):
    rng = np.random.default_rng(1)
    esn = rs.ESN(300, density=0.05, seed=0, backend="cupy")
    esn.run(rng.standard_normal((10, 2)))
    esn.reset()
    esn.run(rng.standard_normal((3, 10, 2)))
    esn.reset()
    esn.generate(4, np.zeros((2, 302)), np.zeros(2), np.ones(2))
    grids = {call[0]: call[2][0] for call in launches.calls}
    assert set(grids) == {"esn_run_sell", "esn_run_csr_batch", "esn_generate_sell"}
    assert all(1 < blocks <= 8 for blocks in grids.values()), grids  # the stand-in fits 2 blocks x 4 SMs
    for call in launches.calls:
        assert call[6], call[0]
        _check(call)


def test_a_refused_cooperative_launch_says_why(monkeypatch, many_blocks):
    """The occupancy calculator allows 16 blocks but the driver takes 3 (as when the GPU is
    partitioned): the launch fails with an error naming the grid barrier's need, not a hang."""
    record = Launches()
    _use_stand_in(monkeypatch, record, blocks_per_sm=4, cooperative_limit=3)
    try:
        esn = rs.ESN(300, density=0.05, seed=0, backend="cupy")
        with pytest.raises(layout.GridNotCoResidentError, match=r"resident on this GPU all at once.*refused"):
            esn.run(np.random.default_rng(0).standard_normal((10, 2)))
        assert record.calls == []
    finally:
        sys.modules.pop("reservoir.kernels.cupy_raw", None)


def test_a_grid_larger_than_fits_is_refused_before_launch():
    with pytest.raises(layout.GridNotCoResidentError, match=r"esn_run_sell: a grid of 9 blocks.*at most 8"):
        layout.check_co_resident("esn_run_sell", 9, 8, 256, 1024)
    layout.check_co_resident("esn_run_sell", 8, 8, 256, 1024)  # fits: no error


def test_lif_launch_is_cooperative_only_across_blocks(launches, monkeypatch):
    """One block per trial: an ordinary launch, so more trials than fit at once (20 > 8) run;
    trials split over blocks: a cooperative launch of every block of every trial."""
    from reservoir.config import settings

    rng = np.random.default_rng(0)
    rs.LSM(120, 30, seed=0, backend="cupy").run(rng.random((20, 10, 2)))
    monkeypatch.setattr(settings, "gpu_lif_single_block_max_neurons", 16)
    monkeypatch.setattr(settings, "gpu_lif_neurons_per_block", 32)
    rs.LSM(120, 30, seed=0, backend="cupy").run(rng.random((2, 10, 2)))
    (one_per_trial, split) = [call for call in launches.calls if call[0] == "lif_run"]
    assert one_per_trial[2] == (1, 20) and not one_per_trial[6]
    assert split[2][0] > 1 and split[2][0] * split[2][1] <= 8 and split[6], split[2]
    for call in launches.calls:
        _check(call)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shared_memory_opt_in_leaves_room_for_the_static_scratch(launches, dtype):
    """esn_generate_sell has a static __shared__ scratch beside the dynamic allocation: the
    dynamic opt-in is the device's per-block limit less it, never the whole limit."""
    cupy_raw = sys.modules["reservoir.kernels.cupy_raw"]
    generate = cupy_raw._kernel("esn.cu", "esn_generate_sell", dtype, cooperative=True)
    run = cupy_raw._kernel("esn.cu", "esn_run_sell", dtype, cooperative=True)
    device_limit = 227 * 1024
    assert cupy_raw._shared_limit(generate) == device_limit - 32 * np.dtype(dtype).itemsize
    assert cupy_raw._shared_limit(run) == device_limit


def test_a_closed_loop_staged_near_the_limit_is_planned_within_what_is_left(launches, monkeypatch):
    """One slice of 19,364 float64 entries stages in 232,384 bytes: within the device's 232,448
    but not beside esn_generate_sell's 256 bytes of static scratch, so the plan streams it."""
    from reservoir.config import settings

    monkeypatch.setattr(settings, "gpu_single_block_max_entries", 10**9)
    cupy_raw = sys.modules["reservoir.kernels.cupy_raw"]
    generate = cupy_raw._kernel("esn.cu", "esn_generate_sell", np.float64, cooperative=True)
    ptr = np.array([0, 19_364])
    assert (
        layout.plan_grid(
            ptr,
            8,
            max_blocks=lambda b: 8,
            shared_limit=227 * 1024,
            min_entries_per_block=1,
            single_block_max_entries=10**9,
        ).shared_bytes
        == 232_384
    )  # what the whole limit would have let it ask for
    plan = cupy_raw._plan(generate, ptr, 8)
    assert plan.shared_bytes + 32 * 8 <= 227 * 1024, plan


@pytest.mark.parametrize("threads", [0, 16, 31, 48, 96, 100, 2048, 256.5])
def test_threads_per_block_the_kernels_cannot_use_are_refused(launches, monkeypatch, threads):
    from reservoir.config import settings

    monkeypatch.setattr(settings, "gpu_threads_per_block", threads)
    esn = rs.ESN(50, seed=0, backend="cupy")
    with pytest.raises(ValueError, match=r"settings\.gpu_threads_per_block"):
        esn.run(np.zeros((3, 1)))
    assert launches.calls == []


def test_lif_threads_per_block_need_whole_warps(launches, monkeypatch):
    from reservoir.config import settings

    monkeypatch.setattr(settings, "gpu_lif_threads_per_block", 40)
    lsm = rs.LSM(48, 12, seed=0, backend="cupy")
    with pytest.raises(ValueError, match=r"settings\.gpu_lif_threads_per_block = 40.*multiple of 32"):
        lsm.run(np.zeros((5, 1)))
    monkeypatch.setattr(settings, "gpu_lif_threads_per_block", 96)  # whole warps; no block sum: fine
    lsm.reset()
    lsm.run(np.zeros((5, 1)))
    assert launches.calls and launches.calls[-1][3] == (96,)
