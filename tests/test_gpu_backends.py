"""GPU backends without a GPU: the registry's answers, the host-side layouts and launch plans,
and every CUDA C source compiled with nvcc (where nvcc exists)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir import backends
from reservoir.kernels import _gpu_layout as layout

CUDA_SOURCES = Path(layout.__file__).parent / "cuda_src"


# --------------------------------------------------------------------------- registry
def test_gpu_backends_are_registered_and_auto_takes_an_available_one():
    assert {"numba-cuda", "cupy"} <= set(backends.names())
    assert set(backends.gpu_names()) == {"numba-cuda", "cupy"}
    assert backends.resolve("auto").name in backends.available()


@pytest.mark.parametrize("name", ["numba-cuda", "cupy"])
def test_asking_for_a_gpu_backend_without_a_gpu_says_what_is_missing(name):
    backend = backends._REGISTRY[name]
    if backend.is_available():
        pytest.skip(f"{name} is available here (a GPU and its package are present)")
    reason = backend.unavailable_reason()
    assert reason.startswith("missing ") or "no CUDA GPU" in reason or "no usable CUDA GPU" in reason
    with pytest.raises(RuntimeError, match=f"backend '{name}' .* is not available: ") as error:
        rs.ESN(10, density=0.5, backend=name)
    assert reason in str(error.value)
    with pytest.raises(RuntimeError, match="is not available"):
        rs.ELMRegressor(10, backend=name).fit(np.ones((4, 2)), np.arange(4.0))
    assert name not in backends.available()
    assert backends.resolve("auto").name != name


def test_missing_package_and_missing_gpu_are_told_apart(monkeypatch):
    no_package = backends.Backend(
        "gpu-a",
        "reference",
        ("numpy", "surely_not_a_gpu_package_xyz"),
        "test",
        99,
        device_problem=lambda: None,
        install_hint="pip install it",
    )
    no_gpu = backends.Backend(
        "gpu-b", "reference", ("numpy",), "test", 99, device_problem=lambda: "no CUDA GPU found (test)"
    )
    monkeypatch.setitem(backends._REGISTRY, "gpu-a", no_package)
    monkeypatch.setitem(backends._REGISTRY, "gpu-b", no_gpu)
    with pytest.raises(RuntimeError, match=r"missing surely_not_a_gpu_package_xyz \(pip install it\)"):
        backends.resolve("gpu-a")
    with pytest.raises(RuntimeError, match=r"is not available: no CUDA GPU found \(test\)"):
        backends.resolve("gpu-b")
    assert backends.resolve("auto").name not in {"gpu-a", "gpu-b"}


def test_importing_reservoir_imports_no_gpu_package():
    code = (
        "import sys, reservoir, reservoir.estimators; "
        "print(sorted(m for m in ('cupy', 'numba.cuda', 'numba_cuda') if m in sys.modules))"
    )
    result = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("n, density", [(1, 1.0), (31, 0.2), (33, 0.1), (100, 0.05), (257, 0.03)])
def test_sell32_holds_the_matrix(rng, n, density):
    W = sp.random_array((n, n), density=density, rng=rng, format="csr")
    sell = layout.sell32(W)
    assert sell.n_slices == -(-n // 32) and sell.slice_ptr[-1] == len(sell.values)
    assert sorted(sell.row_of) == list(range(n))
    x = rng.standard_normal(n)
    y = np.zeros(n)
    for position, row in enumerate(sell.row_of):  # walk the layout as a lane does
        s, lane = divmod(position, 32)
        for k in range(sell.slice_ptr[s] + lane, sell.slice_ptr[s + 1], 32):
            y[row] += sell.values[k] * x[sell.columns[k]]
    np.testing.assert_allclose(y, W @ x, rtol=1e-12, atol=1e-12)
    lengths = np.diff(W.indptr)[sell.row_of]
    assert np.all(np.diff(lengths) <= 0)  # longest rows first: a slice's lanes have similar work


def test_plan_grid_single_block_staged_and_streaming():
    ptr = np.arange(0, 1001 * 10, 10)  # 1000 units of 10 entries
    unlimited = dict(max_blocks=lambda shared: 10_000, min_entries_per_block=100)
    one = layout.plan_grid(ptr, 4, shared_limit=10**6, single_block_max_entries=10**6, state_bytes=800, **unlimited)
    assert (one.blocks, one.stage) == (1, 2) and one.capacity == 10_000 and one.shared_bytes >= 10_000 * 8 + 800
    many = layout.plan_grid(ptr, 4, shared_limit=10**6, single_block_max_entries=0, **unlimited)
    assert many.blocks == 100 and many.stage == 1 and many.capacity == 100
    streaming = layout.plan_grid(ptr, 4, shared_limit=0, single_block_max_entries=0, **unlimited)
    assert streaming.blocks == 100 and streaming.stage == 0 and streaming.shared_bytes == 0
    # The co-resident limit wins, and depends on the shared memory asked for.
    capped = layout.plan_grid(
        ptr,
        4,
        shared_limit=10**6,
        single_block_max_entries=0,
        min_entries_per_block=1,
        max_blocks=lambda shared: 8 if shared else 16,
    )
    assert capped.blocks == 8 and capped.stage == 1 and capped.capacity == 1250


def test_int32_offsets_are_checked():
    with pytest.raises(ValueError, match="32-bit"):
        layout._int32_offsets(2**31, "the matrix")


def test_spike_records_come_back_in_step_then_neuron_order(rng):
    """The GPU kernels append a step's spikes in any order; users get them sorted like the CPU path."""
    records = np.column_stack([rng.integers(0, 50, 300), rng.integers(0, 40, 300)]).astype(np.int32)
    ordered = layout.spikes_in_step_order(records)
    assert ordered.dtype == np.int64
    assert ordered.tolist() == sorted(records.tolist())


def test_lif_propagation_setting_is_checked():
    assert layout.is_push_propagation("push") and not layout.is_push_propagation("pull")
    with pytest.raises(ValueError, match="gpu_lif_propagation must be 'pull' or 'push', got 'scatter'"):
        layout.is_push_propagation("scatter")


# --------------------------------------------------------------------------- CUDA C sources
def test_every_cuda_source_is_registered():
    assert sorted(path.name for path in CUDA_SOURCES.glob("*.cu")) == sorted(layout.CUDA_KERNELS)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed here")
@pytest.mark.parametrize("source", sorted(layout.CUDA_KERNELS))
def test_cuda_source_compiles_for_sm90(tmp_path, source):
    """nvcc --ptx -arch=sm_90 on the source with every float/double instantiation that cupy_raw loads."""
    expressions = layout.name_expressions(source)
    wrapper = tmp_path / f"all_{source}"
    wrapper.write_text(
        f'#include "{CUDA_SOURCES / source}"\n'
        "void* reservoir_kernel_address(int i) {\n"
        f"    void* kernels[] = {{{', '.join(f'(void*)&{e}' for e in expressions)}}};\n"
        "    return kernels[i];\n}\n"
    )
    ptx = tmp_path / "out.ptx"
    result = subprocess.run(
        ["nvcc", "--ptx", "-arch=sm_90", "-std=c++17", "--Werror=all-warnings", "-o", str(ptx), str(wrapper)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    entries = re.findall(r"^\.visible \.entry (\w+)\(", ptx.read_text(), flags=re.MULTILINE)
    assert len(entries) == len(expressions), entries


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed here")
@pytest.mark.parametrize("source", sorted(layout.CUDA_KERNELS))
def test_cuda_source_as_nvrtc_gets_it_compiles(tmp_path, source):
    """The one string cupy_raw hands to NVRTC (headers expanded) compiles alone, far from cuda_src/."""
    text = layout.cuda_source_text(source)
    assert '#include "' not in text
    alone = tmp_path / source
    alone.write_text(text)
    result = subprocess.run(
        [
            "nvcc",
            "--ptx",
            "-arch=sm_90",
            "-std=c++17",
            "--Werror=all-warnings",
            "-o",
            str(tmp_path / "out.ptx"),
            str(alone),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- Numba-CUDA kernels
_PTX_SCRIPT = r"""
import sys, types as pytypes
import numpy as np
from numba import cuda, types
import numba.cuda.dispatcher as dispatcher

if not hasattr(dispatcher, "get_current_device"):
    print("SKIP: this numba.cuda compiles device functions differently"); sys.exit(0)
# Device functions ask the current device for its compute capability; there is none here.
dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(9, 0))
from reservoir.kernels.cuda import elm, esn, lif, transfers

def A(dtype, ndim, layout="C"):
    return types.Array(dtype, ndim, layout)

i32, i64, boolean = types.int32, types.int64, types.boolean
failed = []
for dtype in (np.float32, np.float64):
    f = types.float32 if dtype == np.float32 else types.float64
    lif_signature = (A(i32, 1), A(i32, 1), A(f, 1), A(i32, 1), i32, A(i32, 1), A(i32, 1), A(f, 1), A(f, 3), i64,
                     boolean, boolean, A(f, 2), A(f, 2), A(f, 2), A(i32, 2), A(f, 3), A(f, 3), A(f, 2), i64, A(f, 3),
                     boolean, i64, boolean, A(i32, 3), A(i64, 1), A(i64, 1), A(i32, 3), A(i32, 3), i32, i32, f, f, f,
                     f, f, f, f, f, f, f, i32, boolean)
    # (kernel, signature, whether it must be launched cooperatively: it calls the grid sync)
    signatures = [
        (esn.run_sell, (A(i32, 1), A(i32, 1), A(f, 1), A(i32, 1), A(f, 2), A(f, 1), A(f, 2, "A"), A(f, 1, "A"),
                        A(f, 2, "A"), f, f, i32, i32, i32, i32), True),
        (esn.generate_sell, (A(i32, 1), A(i32, 1), A(f, 1), A(i32, 1), A(f, 2), A(f, 1), A(f, 2), A(f, 1), boolean,
                             A(f, 2), A(f, 3), A(f, 3), A(f, 2), f, f, i32, i32, i32, i32), True),
        (esn.run_csr_batch, (A(i32, 1), A(i32, 1), A(f, 1), A(f, 2), A(f, 1), A(f, 3, "A"), A(f, 3), A(f, 3, "A"),
                             i32, f, f, i32, i32, i32), True),
        (elm.elm_dense, (A(i32, 1), A(i32, 1), A(f, 1), A(f, 1), A(f, 2), A(f, 2), i32), False),
        (elm.elm_sparse, (A(i32, 1), A(i32, 1), A(f, 1), A(f, 1), A(i32, 1), A(i32, 1), A(f, 1), A(f, 2), i32),
         False),
        (lif.lif_run_grid, lif_signature, True),
        (lif.lif_run_blocks, lif_signature, False),
        (transfers.copy_2d, (A(f, 2, "A"), A(f, 2, "A")), False),
        (transfers.copy_1d, (A(f, 1, "A"), A(f, 1, "A")), False),
    ]
    for kernel, signature, cooperative in signatures:
        name = f"{kernel.py_func.__name__}[{dtype.__name__}]"
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
            assert ".entry" in ptx
            # Numba launches a kernel cooperatively exactly when its code holds the grid sync.
            assert ("cudaCGGetIntrinsicHandle" in ptx) == cooperative, f"{name}: cooperative should be {cooperative}"
            if kernel.py_func.__name__ == "lif_run":  # explicitly rounded: bit-identical to the reference
                assert "fma." not in ptx, "the LIF kernel must not contract multiply-adds"
            if dtype == np.float32:
                assert ".f64" not in ptx, f"{name}: float64 arithmetic in a float32 kernel"
        except Exception as error:
            if "libNVVM" in str(error) or "NVVM" in type(error).__name__:
                print(f"SKIP: no NVVM: {error}"); sys.exit(0)
            failed.append(f"{name}: {type(error).__name__}: {error}")
print("\n".join(failed) or "OK")
sys.exit(1 if failed else 0)
"""


def _cuda_home():
    import glob
    import os

    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")] + sorted(glob.glob("/usr/local/cuda*"))
    return next((c for c in candidates if c and Path(c, "nvvm").is_dir()), None)


@pytest.mark.skipif(_cuda_home() is None, reason="no CUDA toolkit with NVVM here")
def test_numba_cuda_kernels_compile_for_sm90():
    """Every Numba-CUDA kernel typed and compiled to sm_90 PTX without a GPU (the simulator
    runs them as Python, so it cannot catch what only the compiler rejects)."""
    import os
    import sys

    env = {**os.environ, "CUDA_HOME": _cuda_home()}
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    result = subprocess.run([sys.executable, "-c", _PTX_SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    if result.stdout.startswith("SKIP"):
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.parametrize("threads", [32, 64, 128, 256, 512, 1024])
def test_threads_per_block_powers_of_two_from_a_warp_pass(threads):
    assert layout.checked_threads_per_block(threads) == threads


@pytest.mark.parametrize(
    "threads, why",
    [(0, "multiple of 32"), (31, "multiple of 32"), (48, "multiple of 32"), (2048, "to 1024"), (96, "power of two")],
)
def test_threads_per_block_the_kernels_cannot_run_are_named(threads, why):
    with pytest.raises(ValueError, match=rf"settings\.gpu_threads_per_block = {threads}.*{why}"):
        layout.checked_threads_per_block(threads)


def test_threads_per_block_without_block_sums_need_whole_warps_only():
    assert layout.checked_threads_per_block(96, "settings.gpu_lif_threads_per_block", power_of_two=False) == 96
    with pytest.raises(ValueError, match="gpu_lif_threads_per_block = 40"):
        layout.checked_threads_per_block(40, "settings.gpu_lif_threads_per_block", power_of_two=False)


def test_dynamic_shared_memory_is_what_the_static_arrays_leave():
    assert layout.dynamic_shared_limit(232_448, 256) == 232_192  # sm_90: esn_generate_sell's float64 scratch
    assert layout.dynamic_shared_limit(232_448, 256, cap=40 * 1024) == 40 * 1024
    assert layout.dynamic_shared_limit(48 * 1024, 8 * 1024, cap=None) == 40 * 1024
    assert layout.dynamic_shared_limit(1024, 4096) == 0


@pytest.mark.parametrize("size", [1, 1000, 1_048_561, 40_000_000, 2**33])
def test_copy_grids_stay_within_cuda_limits(size):
    """The copy kernels put every element on a 1-D grid along x (up to 2**31 - 1 blocks) with a
    grid-stride loop: sizes past 65,535 x 16 no longer need the y dimension's 65,535 blocks."""
    blocks = layout.copy_blocks(size, 256)
    assert 1 <= blocks <= 2**31 - 1
    assert blocks * 256 >= min(size, (2**31 - 1) * 256)
