"""The one-sequence SELL kernels' work split and launch paths, without a GPU.

* warps sharing a slice: :func:`~reservoir.kernels._gpu_layout.sell_work` walks the
  loops of ``sell_step`` (sell.cuh, cuda/esn.py) in Python; every row must be finished
  exactly once and every stored entry read exactly once, by a thread of its own row,
  for several sizes, slice heights, block counts and warps per slice, and the walk's
  sums must be W @ x;
* the planners: warps per slice, and the path of one sequence (one block, a
  thread-block cluster on sm_90, or the grid barrier) from its size and the device;
* the CuPy path's cluster launches on the stand-in (signature, grid, no cooperative
  launch, the fallback from 16 to 8 blocks and the error when every size is refused);
* the CUDA C sources compiled for sm_90 hold what the design counts on: streaming
  loads of the matrix, the cluster barrier and distributed shared memory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from test_gpu_cupy_abi import PARAMETERS, Launches, _check, _use_stand_in

import reservoir as rs
from reservoir.config import settings
from reservoir.kernels import _gpu_layout as layout


# --------------------------------------------------------------------------- work split
@pytest.mark.parametrize("n", [1, 31, 33, 100, 257])
@pytest.mark.parametrize("height", [8, 16, 32])
@pytest.mark.parametrize("blocks, warps, warps_per_slice", [(1, 8, 1), (1, 8, 2), (3, 8, 4), (2, 8, 8), (5, 4, 2)])
def test_every_row_is_finished_once_and_every_entry_read_once(rng, n, height, blocks, warps, warps_per_slice):
    W = sp.random_array((n, n), density=min(1.0, 30 / n), rng=rng, format="csr")
    sell = layout.sell32(W, height)
    work = layout.sell_work(sell.slice_ptr, n, blocks, warps, warps_per_slice, height)
    finished = Counter(position for *_, position in work if position >= 0)
    assert finished == Counter(range(n)), "each sorted position (a row) is finished by exactly one thread"
    reads = Counter(k for *_, read, _ in work for k in read)
    assert reads == Counter(range(len(sell.values))), "each stored entry is read by exactly one thread"
    for _, _, lane, s, read, _ in work:
        assert all(sell.slice_ptr[s] <= k < sell.slice_ptr[s + 1] for k in read)
        assert all((k - sell.slice_ptr[s]) % height == lane for k in read), "a lane reads its own row only"
    # The pieces of a row added up as the kernel does give W @ x.
    x = rng.standard_normal(n)
    y = np.zeros(n)
    for _, _, lane, s, read, _ in work:
        position = s * height + lane
        if position < n:
            y[sell.row_of[position]] += sum(sell.values[k] * x[sell.columns[k]] for k in read)
    np.testing.assert_allclose(y, W @ x, rtol=1e-12, atol=1e-12)


def test_each_lane_has_four_load_chains_in_flight():
    """32 full rows of 32 entries (one slice) over 2 warps: piece 0 of lane 0 reads entries
    j = 0, 2, ..., 30 of its row, four a pass, 64 entries apart (2 warps x 32 lanes)."""
    sell = layout.sell32(sp.csr_array(np.ones((32, 32))))
    work = layout.sell_work(sell.slice_ptr, 32, 1, 2, 2)
    (lane0,) = [read for _, warp, lane, _, read, _ in work if warp == 0 and lane == 0]
    assert lane0 == list(range(0, 1024, 64))
    (piece1,) = [read for _, warp, lane, _, read, _ in work if warp == 1 and lane == 0]
    assert piece1 == list(range(32, 1024, 64))


# --------------------------------------------------------------------------- warps per slice
@pytest.mark.parametrize(
    "slices, warps, width, expected",
    [
        (3, 8, 1000, 8),  # n = 100,000 at 1 % on an H100: 3,125 slices over 1,056 blocks
        (1, 8, 1000, 8),
        (4, 8, 1000, 2),  # 4 slices x 2 warps fill 8 warps in one pass
        (5, 8, 1000, 8),  # 4 warps a slice: 3 passes of a quarter; 8: 5 passes of an eighth
        (32, 8, 10, 1),  # enough slices for every warp
        (3, 8, 20, 1),  # too narrow to split: 10 entries a lane would not fill four chains
        (3, 8, 40, 2),
        (2, 1, 1000, 1),  # one warp a block
    ],
)
def test_warps_per_slice_keep_every_warp_busy(slices, warps, width, expected):
    assert layout.sell_warps_per_slice(slices, warps, width) == expected


def test_planned_warps_per_slice_at_the_large_reservoir():
    widths = np.full(3125, 1000)  # n = 100,000, about 1,000 entries a row
    slice_ptr = np.concatenate([[0], np.cumsum(widths * 32)])
    assert layout.planned_warps_per_slice(slice_ptr, 1056, 256) == 8
    assert layout.planned_warps_per_slice(slice_ptr, 1056, 256, override=2) == 2


@pytest.mark.parametrize("value", [0, 3, 16, 2.5])
def test_a_warps_per_slice_override_the_kernels_cannot_use_is_named(value):
    with pytest.raises(ValueError, match=r"settings\.gpu_sell_warps_per_slice"):
        layout.checked_warps_per_slice(value, 8)


def test_the_slice_scratch_is_planned_in_shared_memory():
    ptr = np.arange(0, 1001 * 10, 10)
    common = dict(max_blocks=lambda shared: 10_000, min_entries_per_block=100)
    one = layout.plan_grid(
        ptr, 4, shared_limit=10**6, single_block_max_entries=10**6, state_bytes=804, scratch_bytes=1024, **common
    )
    bare = layout.plan_grid(ptr, 4, shared_limit=10**6, single_block_max_entries=10**6, state_bytes=804, **common)
    assert one.stage == 2 and one.shared_bytes == bare.shared_bytes - 804 + 816 + 1024  # state aligned to 16
    streaming = layout.plan_grid(ptr, 4, shared_limit=0, single_block_max_entries=0, scratch_bytes=1024, **common)
    assert streaming.stage == 0 and streaming.shared_bytes == 1024


# --------------------------------------------------------------------------- one block, cluster or grid
def _slice_ptr(n, density, rng):
    W = sp.random_array((n, n), density=density, rng=rng, format="csr")
    return layout.sell32(W).slice_ptr


def _clusters(slice_ptr, n, itemsize, **changes):
    options = dict(
        compute_capability=(9, 0),
        max_cluster_blocks=16,
        shared_limit=227 * 1024,
        single_block_max_entries=32_768,
        scratch_bytes=256 * itemsize,
    )
    options.update(changes)
    return [plan.blocks for plan in layout.plan_sell_clusters(slice_ptr, n, itemsize, **options)]


def test_the_path_of_one_sequence_follows_its_size_and_the_device(rng):
    small, mid, upper = (_slice_ptr(n, 0.01, rng) for n in (1024, 2048, 4096))
    assert _clusters(small, 1024, 4) == []  # one block: no barrier across blocks at all
    assert _clusters(mid, 2048, 4) == [16, 8]
    assert _clusters(upper, 4096, 4) == [16, 8]
    assert _clusters(upper, 4096, 8) == [16]  # float64: 8 blocks' parts do not fit beside the state
    assert _clusters(upper, 4096, 4, max_cluster_blocks=8) == [8]  # settings.gpu_cluster_blocks = 8
    assert _clusters(upper, 4096, 4, max_cluster_blocks=0) == []
    assert _clusters(upper, 4096, 4, compute_capability=(8, 0)) == []  # no clusters before Hopper
    assert _clusters(upper, 4096, 4, single_block_max_entries=0) == []
    widths = np.full(3125, 1000)  # n = 100,000 at 1 %: the state alone is 800 KB
    assert _clusters(np.concatenate([[0], np.cumsum(widths * 32)]), 100_000, 4) == []


def test_a_cluster_plan_holds_part_state_and_scratch(rng):
    slice_ptr = _slice_ptr(4096, 0.01, rng)
    (plan16, plan8) = layout.plan_sell_clusters(
        slice_ptr,
        4096,
        4,
        compute_capability=(9, 0),
        max_cluster_blocks=16,
        shared_limit=227 * 1024,
        single_block_max_entries=32_768,
        scratch_bytes=1024,
    )
    assert plan16.kernel == "esn_run_sell_cluster16" and plan8.kernel == "esn_run_sell_cluster8"
    ordered = np.concatenate([[0], np.cumsum(np.diff(slice_ptr)[plan16.order])])
    parts = [ordered[b + 8] - ordered[b] for b in range(0, 128, 8)]  # 128 slices, 8 a block
    assert plan16.capacity == max(parts)
    align = layout._align16
    assert plan16.shared_bytes == 2 * align(max(parts) * 4) + align(9 * 4) + align(2 * 4096 * 4) + 1024
    assert plan16.shared_bytes <= 227 * 1024 and plan8.shared_bytes <= 227 * 1024


@pytest.mark.parametrize("n, blocks", [(4096, 16), (4096, 8), (2048, 16), (1000, 8), (70, 16), (33, 2)])
def test_balanced_slices_give_each_block_its_share_and_keep_the_matrix(rng, n, blocks):
    """Rows sorted longest first put the widest slices in the first block; the balanced order
    evens the blocks' entries, keeps the last (partial) slice last, and holds the same matrix."""
    W = sp.random_array((n, n), density=min(1.0, 40 / n), rng=rng, format="csr")
    W = sp.csr_array(W.toarray() * (rng.random((n, 1)) < 0.9))  # some empty rows: wider spread
    sell = layout.sell32(W)
    order = layout.balanced_slice_order(np.diff(sell.slice_ptr), blocks)
    assert sorted(order) == list(range(sell.n_slices)) and order[-1] == sell.n_slices - 1
    balanced = layout.reorder_slices(sell, order)
    per_block = -(-sell.n_slices // blocks)

    def largest_part(ptr):
        return max(ptr[min(b + per_block, sell.n_slices)] - ptr[b] for b in range(0, sell.n_slices, per_block))

    assert largest_part(balanced.slice_ptr) <= largest_part(sell.slice_ptr)
    widths = np.diff(sell.slice_ptr)
    assert largest_part(balanced.slice_ptr) <= widths.sum() / -(-sell.n_slices // per_block) + widths.max()
    x = rng.standard_normal(n)
    y = np.zeros(n)
    for _, _, lane, s, read, _ in layout.sell_work(balanced.slice_ptr, n, blocks, 8, 2):
        if s * 32 + lane < n:
            y[balanced.row_of[s * 32 + lane]] += sum(balanced.values[k] * x[balanced.columns[k]] for k in read)
    np.testing.assert_allclose(y, W @ x, rtol=1e-12, atol=1e-12)
    assert sorted(balanced.row_of) == list(range(n))


# --------------------------------------------------------------------------- CuPy launches (stand-in)
@pytest.fixture
def stand_in(monkeypatch):
    """A function of the stand-in's options: installs it and returns its launch record."""

    def install(**options):
        record = Launches()
        _use_stand_in(monkeypatch, record, **options)
        return record

    yield install
    sys.modules.pop("reservoir.kernels.cupy_raw", None)


def _mid_size_run(dtype=np.float32):
    rng = np.random.default_rng(3)
    esn = rs.ESN(2048, density=0.01, seed=0, dtype=dtype, backend="cupy")
    return esn.run(rng.standard_normal((6, 1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_mid_size_sequence_runs_in_one_cluster(stand_in, dtype):
    launches = stand_in()
    _mid_size_run(dtype)
    (call,) = launches.calls
    assert call[0] == "esn_run_sell_cluster16" and call[2] == (16,) and not call[6]
    _check(call)
    names = [name for _, name in PARAMETERS["esn_run_sell_cluster16"]]
    assert names == [name for _, name in PARAMETERS["esn_run_sell"] if name != "stage"]
    assert call[4][names.index("warps_per_slice")] >= 1


def test_a_refused_cluster_of_16_falls_back_to_8(stand_in):
    launches = stand_in(cluster_limit=8)
    _mid_size_run()
    assert [call[0] for call in launches.calls] == ["esn_run_sell_cluster8"]
    _check(launches.calls[0])


def test_a_cluster_the_gpu_refuses_at_every_size_says_why(stand_in):
    launches = stand_in(cluster_limit=4)
    with pytest.raises(
        layout.ClusterLaunchError, match=r"16 blocks.*INVALID_CLUSTER_SIZE.*8 blocks.*gpu_cluster_blocks"
    ):
        _mid_size_run()
    assert launches.calls == []


@pytest.mark.parametrize("how", ["older GPU", "clusters off"])
def test_without_clusters_a_mid_size_sequence_takes_the_grid_barrier(stand_in, monkeypatch, how):
    if how == "older GPU":
        launches = stand_in(compute_capability="80")
    else:
        launches = stand_in()
        monkeypatch.setattr(settings, "gpu_cluster_blocks", 0)
    _mid_size_run()
    (call,) = launches.calls
    assert call[0] == "esn_run_sell" and call[2][0] > 1 and call[6]
    _check(call)


def test_the_warps_per_slice_setting_reaches_the_sell_kernels(stand_in, monkeypatch):
    launches = stand_in()
    monkeypatch.setattr(settings, "gpu_sell_warps_per_slice", 4)
    rng = np.random.default_rng(0)
    esn = rs.ESN(300, density=0.05, seed=0, backend="cupy")
    esn.run(rng.standard_normal((5, 1)))
    esn.generate(3, np.zeros((1, 301)), np.zeros(1), np.ones(1))
    for call in launches.calls:
        _check(call)
        names = [name for _, name in PARAMETERS[call[0]]]
        assert call[4][names.index("warps_per_slice")] == 4, call[0]
    monkeypatch.setattr(settings, "gpu_sell_warps_per_slice", 3)
    with pytest.raises(ValueError, match=r"gpu_sell_warps_per_slice = 3"):
        esn.run(rng.standard_normal((5, 1)))


# --------------------------------------------------------------------------- what sm_90 code holds
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed here")
@pytest.mark.parametrize(
    "source, expected",
    [
        ("esn.cu", [r"ld\.global\.cs\.f32", r"ld\.global\.cs\.f64", r"ld\.global\.cs\.(u32|s32|b32)"]),
        ("esn_cluster.cu", [r"\.reqnctapercluster 8", r"\.reqnctapercluster 16", r"barrier\.cluster", r"mapa"]),
    ],
)
def test_sm90_code_streams_the_matrix_and_syncs_the_cluster(tmp_path, source, expected):
    """Streaming loads (ld.global.cs) of the matrix where it is read from device memory; in the
    cluster kernels, their compile-time cluster size, the hardware cluster barrier and the
    address mapping of distributed shared memory."""
    text = tmp_path / source
    text.write_text(layout.cuda_source_text(source))
    wrapper = tmp_path / "all.cu"
    expressions = layout.name_expressions(source)
    wrapper.write_text(
        f'#include "{text}"\nvoid* reservoir_kernel_address(int i) {{\n'
        f"    void* kernels[] = {{{', '.join(f'(void*)&{e}' for e in expressions)}}};\n    return kernels[i];\n}}\n"
    )
    ptx = tmp_path / "out.ptx"
    result = subprocess.run(
        ["nvcc", "--ptx", "-arch=sm_90", "-std=c++17", "-o", str(ptx), str(wrapper)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    code = ptx.read_text()
    for pattern in expected:
        assert re.search(pattern, code), pattern
