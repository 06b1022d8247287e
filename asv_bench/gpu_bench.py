#!/usr/bin/env python
"""Every GPU figure of asv_bench/gpu-results.md in one call: copy bandwidth, floors, ESN and ELM timings, a table.

Run on a machine with a CUDA GPU, CuPy and/or numba-cuda (``pip install -e ".[cuda]"``)::

    python asv_bench/gpu_bench.py --commit "$(git rev-parse HEAD)" --out gpu-results.md

What it measures (float32 throughout; each figure is the median of ``--repeats``
timed calls after an untimed warm-up call that compiles the kernels):

1. copy bandwidth: a 1 GiB device-to-device copy, bytes read + written / time; and the
   L2 read bandwidth (``l2_read.cu``), which bounds the batched kernel's state gathers;
2. ESN, n = 100,000, density 0.01, one sequence: time per step against the floor,
   bytes that must move per step (values + column indices of every nonzero, the
   state read and written, the output row written) / copy bandwidth; target 1.3x;
   beside it the same kernel with one warp per SELL slice (``gpu_sell_warps_per_slice
   = 1``), the split the warps-per-slice planner replaces;
3. batched, n = 100,000, B = 64: time per sequence-step (target < 10 us) and its floor;
4. small reservoirs (n = 1,024 / 2,048 / 4,096, density 0.01): time per step (target < 2 us);
   at 2,048 and 4,096 also each path the planner can take on sm_90 with CuPy, one row
   each: a cluster of 16 blocks, of 8 (``gpu_cluster_blocks``), and the grid barrier (0);
5. ELM hidden layer: 20,000 samples x 784 features -> 10,000 hidden units at density 0.01;
6. the Numba CPU path at n = 100,000 for context;
7. CUBA LSM (4,000 LIF neurons, Brette et al. 2007), 1 s of biological time (10,000
   steps of 0.1 ms), spikes only, float32, for both spike propagations of the GPU LIF
   kernels (``settings.gpu_lif_propagation``: "push", "pull") and both placements of a
   trial (one block, and split over blocks as the settings plan it: 8 of 512 neurons
   by default): wall time per biological second and the factor faster than real time
   (target >= 50x), with the Numba CPU path for context. Each variant is checked first:
   the firing rate within four times the rms spread of CPU realisations of the same
   network (``cuba_spread.py``; a run that decorrelates from the CPU's is another
   realisation) and, pull, the first 2,000 steps spike for spike;
8. ReservoirPy's JAX backend (``reservoirpy.jax``; needs JAX with CUDA, e.g.
   ``pip install "jax[cuda12]"``) at n = 10,000 and 100,000, one sequence, the same
   matrices (its states checked against ours first): its time per step over ours.

Timings are wall-clock around calls on CuPy arrays (inputs, states and outputs stay
on the GPU), synchronised after each call: what a user of ``ESN.run`` gets, Python
overhead included. Before timing, each backend's states are checked against the
Numba CPU path on the same weights; a backend that disagrees is reported, not timed.
Figures that cannot be measured here are printed as "not measured" with the reason.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import reservoir as rs  # noqa: E402
from reservoir import backends  # noqa: E402
from reservoir.config import settings  # noqa: E402
from reservoir.kernels import _gpu_layout as layout  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import cuba_spread  # noqa: E402 (the firing-rate tolerance, from the spread of CPU realisations)
from esn_vs_reservoirpy import reservoirpy_jax_reservoir  # noqa: E402 (one place builds ReservoirPy's JAX node)

SEED = 7
PARTS = ("l2", "single", "batched", "small", "elm", "cpu", "lsm", "jax")
ROWS: list[dict] = []


def row(figure, backend, size, measured, floor="", target="", note=""):
    ROWS.append(
        dict(figure=figure, backend=backend, size=size, measured=measured, floor=floor, target=target, note=note)
    )
    print(f"  {figure:<28} {backend:<11} {size:<26} {measured:<22} {floor:<18} {target:<18} {note}", flush=True)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f} us"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f} ms"


def median_time(call, repeats: int, sync) -> float:
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matrix(n: int, density: float):
    W = rs.random_sparse(n, density=density, seed=SEED, dtype="float32")
    W.data *= np.float32(0.9 / np.sqrt(n * density))  # circular law: spectral radius about 0.9
    rng = np.random.default_rng(SEED)
    return W, rng.uniform(-0.5, 0.5, (n, 1)).astype(np.float32), rng.uniform(-0.1, 0.1, n).astype(np.float32)


def esn_floor_bytes(W, batch: int = 1) -> int:
    """Bytes a step must move: every nonzero's value and 32-bit column once, the state read
    and written, the output written (per sequence), W_in and the bias once."""
    n = W.shape[0]
    return W.nnz * (4 + 4) + 3 * n * batch * 4 + 2 * n * 4


def device_info(cp):
    device = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(device.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return (
        f"{name}, {props['multiProcessorCount']} SMs, {props['l2CacheSize'] / 2**20:.0f} MiB L2, "
        f"{props['totalGlobalMem'] / 2**30:.0f} GiB, CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, "
        f"driver {cp.cuda.runtime.driverGetVersion()}"
    )


#: The copy that measures the floor's bandwidth: far larger than the 50 MB L2.
COPY_BYTES = 1 << 30


def copy_bandwidth(cp, repeats: int) -> float:
    nbytes = COPY_BYTES
    source = cp.random.random(nbytes // 4, dtype=cp.float32)
    target = cp.empty_like(source)
    sync = cp.cuda.Device().synchronize
    target[...] = source  # warm-up
    seconds = median_time(lambda: cp.copyto(target, source), repeats, sync)
    return 2 * nbytes / seconds


#: The L2 read kernel's buffer: inside the 50 MB L2 of an H100 (60 MB on an H200).
L2_BYTES = 16 << 20


def l2_read_bandwidth(cp, repeats: int) -> float:
    """Bytes per second read from L2 (``l2_read.cu``: 16-byte ld.global.cg loads, L1 bypassed)."""
    kernel = cp.RawKernel((Path(__file__).parent / "l2_read.cu").read_text(), "l2_read")
    count, passes = L2_BYTES // 16, 200
    buffer = cp.random.random(count * 4, dtype=cp.float32)
    sink = cp.zeros(1, dtype=cp.float32)
    blocks = 8 * cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["multiProcessorCount"]
    args = (buffer, np.int64(count), np.int32(passes), sink)
    kernel((blocks,), (256,), args)  # warm-up (compilation) and first touch
    seconds = median_time(lambda: kernel((blocks,), (256,), args), repeats, cp.cuda.Device().synchronize)
    return L2_BYTES * passes / seconds


def check_against_cpu(esn_gpu, W, W_in, bias, u, cp) -> str | None:
    """None when the GPU states match the Numba CPU path on the first steps, else the mismatch."""
    cpu = rs.ESN.from_weights(W, W_in, bias, leak_rate=0.5, dtype="float32", backend="numba")
    expected = cpu.run(u[..., :5, :])
    esn_gpu.reset()
    got = cp.asnumpy(esn_gpu.run(cp.asarray(u[..., :5, :])))
    esn_gpu.reset()
    error = float(np.max(np.abs(got - expected)))
    return None if error < 1e-4 else f"max |difference| to the CPU path {error:.2e}"


def time_esn(name, W, W_in, bias, u, repeats, cp):
    esn = rs.ESN.from_weights(W, W_in, bias, leak_rate=0.5, dtype="float32", backend=name)
    problem = check_against_cpu(esn, W, W_in, bias, u, cp)
    if problem:
        return None, problem
    u_device = cp.asarray(u)
    esn.run(u_device)  # warm-up: compilation, layouts, allocations
    sync = cp.cuda.Device().synchronize

    def call():
        esn.reset()
        esn.run(u_device)

    return median_time(call, repeats, sync), None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(backends.gpu_names()))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer steps (a smoke test)")
    parser.add_argument("--commit", default=None, help="commit measured (default: git rev-parse HEAD)")
    parser.add_argument("--out", default=None, help="write the markdown table here")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated, to fit a time limit: {','.join(PARTS)} (the copy bandwidth always)",
    )
    args = parser.parse_args(argv)

    try:
        import cupy as cp
    except ImportError:
        print("not measured: this script needs CuPy (pip install -e '.[cuda]') and a CUDA GPU")
        return 1
    names = [name for name in args.backends.split(",") if name]
    usable = []
    for name in names:
        reason = backends._REGISTRY[name].unavailable_reason()
        if reason:
            row("backend", name, "", "not measured", note=reason)
        else:
            usable.append(name)
    commit = args.commit or _git_commit()
    device = device_info(cp)
    print(f"device: {device}\ndate: {datetime.date.today()}\ncommit: {commit}\nsettings: {settings}\n", flush=True)

    big = 20_000 if args.quick else 100_000
    steps_big, steps_batch, steps_small = (20, 5, 200) if args.quick else (200, 20, 2000)
    batch = 64
    rng = np.random.default_rng(SEED)

    bandwidth = copy_bandwidth(cp, args.repeats)
    row(
        "copy bandwidth",
        "cupy",
        f"{COPY_BYTES / 2**30:g} GiB device to device",
        f"{bandwidth / 1e12:.3f} TB/s",
        note="read + write",
    )

    chosen = set(args.parts.split(","))

    def l2():
        l2_bandwidth = l2_read_bandwidth(cp, args.repeats)
        row(
            "L2 read bandwidth",
            "cupy",
            f"{L2_BYTES >> 20} MiB x 200 passes",
            f"{l2_bandwidth / 1e12:.3f} TB/s",
            note="16-byte ld.global.cg (L1 bypassed)",
        )
        return l2_bandwidth

    l2_bandwidth = guarded(l2, "L2 read bandwidth") if "l2" in chosen else None

    parts = [
        ("single", "ESN one sequence", lambda: esn_single(usable, big, steps_big, bandwidth, rng, args.repeats, cp)),
        (
            "batched",
            "ESN batched",
            lambda: esn_batched(usable, big, batch, steps_batch, bandwidth, rng, args.repeats, cp, l2_bandwidth),
        ),
        ("small", "ESN small", lambda: esn_small(usable, steps_small, bandwidth, rng, args.repeats, cp)),
        ("elm", "ELM", lambda: elm(usable, args.quick, bandwidth, rng, args.repeats, cp)),
        ("cpu", "Numba CPU", lambda: cpu_context(big, rng)),
        ("lsm", "CUBA LSM", lambda: cuba_lsm(usable, args.quick, args.repeats)),
        # Last: ReservoirPy recompiles at every call, with the matrix folded in; slow at n = 100,000.
        ("jax", "ReservoirPy JAX", lambda: reservoirpy_jax(usable, args.quick, rng, args.repeats, cp)),
    ]
    for key, title, part in parts:
        if key not in chosen:
            continue
        guarded(part, title)
        if args.out:  # after every part: a run cut short by a time limit keeps what it measured
            Path(args.out).write_text(_markdown(device, commit))
    print("\n" + _markdown(device, commit))
    return 0


def guarded(part, title):
    """part()'s result, or None after a "not measured" row when it raised."""
    try:
        return part()
    except Exception as error:  # one failing part must not lose the others
        traceback.print_exc()
        row(title, "-", "", "not measured", note=f"failed: {type(error).__name__}: {error}")
        return None


class using:
    """settings.<name> = value inside a with block (the figures of one kernel variant)."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def __enter__(self):
        self.saved = getattr(settings, self.name)
        setattr(settings, self.name, self.value)

    def __exit__(self, *exc):
        setattr(settings, self.name, self.saved)


def esn_single(usable, n, steps, bandwidth, rng, repeats, cp):
    W, W_in, bias = matrix(n, 0.01)
    u = rng.uniform(-1, 1, (steps, 1)).astype(np.float32)
    floor = esn_floor_bytes(W) / bandwidth
    variants = [
        ("ESN one sequence", None, "warps per slice planned"),
        ("ESN one sequence, 1 warp/slice", 1, "gpu_sell_warps_per_slice = 1"),
    ]
    for figure, warps_per_slice, how in variants:
        for name in usable:
            with using("gpu_sell_warps_per_slice", warps_per_slice):
                seconds, problem = time_esn(name, W, W_in, bias, u, repeats, cp)
            if problem:
                row(figure, name, f"n={n:,} p=0.01 f32", "not measured", note=problem)
                continue
            per_step = seconds / steps
            row(
                figure,
                name,
                f"n={n:,} p=0.01 f32",
                f"{ms(per_step)}/step",
                f"{ms(floor)}/step",
                "<= 1.3x floor",
                f"{per_step / floor:.2f}x floor; {how}",
            )


def esn_batched(usable, n, batch, steps, bandwidth, rng, repeats, cp, l2_bandwidth=None):
    W, W_in, bias = matrix(n, 0.01)
    u = rng.uniform(-1, 1, (batch, steps, 1)).astype(np.float32)
    floor = esn_floor_bytes(W, batch) / bandwidth / batch
    # The CSR kernel reads B contiguous state values per nonzero, from L2 (the (n, B) state,
    # 25.6 MB here, fits there but not in L1): nnz * B * 4 bytes a step, far more than the
    # matrix itself. Its time at the L2 bandwidth bounds this design, not the DRAM floor.
    gathers = (
        ""
        if l2_bandwidth is None
        else f"; L2 gathers of this design {us(W.nnz * batch * 4 / l2_bandwidth / batch)}/seq-step"
    )
    for name in usable:
        seconds, problem = time_esn(name, W, W_in, bias, u, repeats, cp)
        if problem:
            row("ESN batched", name, f"n={n:,} B={batch}", "not measured", note=problem)
            continue
        per_sequence_step = seconds / steps / batch
        row(
            "ESN batched",
            name,
            f"n={n:,} B={batch}",
            f"{us(per_sequence_step)}/seq-step",
            f"{us(floor)}/seq-step",
            "< 10 us/seq-step",
            f"{per_sequence_step / floor:.2f}x floor{gathers}",
        )


def esn_small(usable, steps, bandwidth, rng, repeats, cp):
    for n in (1024, 2048, 4096):
        W, W_in, bias = matrix(n, 0.01)
        u = rng.uniform(-1, 1, (steps, 1)).astype(np.float32)
        for name in usable:
            seconds, problem = time_esn(name, W, W_in, bias, u, repeats, cp)
            if problem:
                row("ESN small", name, f"n={n:,} p=0.01", "not measured", note=problem)
                continue
            per_step = seconds / steps
            row(
                "ESN small",
                name,
                f"n={n:,} p=0.01 ({W.nnz:,} nnz)",
                f"{us(per_step)}/step",
                f"{us(esn_floor_bytes(W) / bandwidth)}/step",
                "< 2 us/step",
                "on chip" if n <= 4096 else "",
            )
        if n < 2048:
            continue
        # Each path of a mid-size sequence (CuPy on sm_90; elsewhere every row is the grid barrier).
        for blocks, path in ((16, "cluster of 16"), (8, "cluster of 8"), (0, "grid barrier")):
            for name in usable:
                with using("gpu_cluster_blocks", blocks):
                    try:
                        seconds, problem = time_esn(name, W, W_in, bias, u, repeats, cp)
                    except RuntimeError as error:  # e.g. the GPU refused the cluster (ClusterLaunchError)
                        seconds, problem = None, f"{type(error).__name__}: {error}"
                if problem:
                    row(f"ESN small, {path}", name, f"n={n:,} p=0.01", "not measured", note=problem)
                    continue
                row(
                    f"ESN small, {path}",
                    name,
                    f"n={n:,} p=0.01",
                    f"{us(seconds / steps)}/step",
                    "",
                    "< 2 us/step",
                    f"gpu_cluster_blocks = {blocks}" + ("" if name == "cupy" else " (no clusters on this backend)"),
                )


def elm(usable, quick, bandwidth, rng, repeats, cp):
    samples, features, hidden = (5_000, 784, 2_000) if quick else (20_000, 784, 10_000)
    X = rng.standard_normal((samples, features)).astype(np.float32)
    X_device = cp.asarray(X)
    floor = (X.nbytes + samples * hidden * 4 + int(hidden * features * 0.01) * 8) / bandwidth
    for name in usable:
        layer = rs.elm.HiddenLayer(hidden, features, density=0.01, seed=SEED, dtype="float32", backend=name)
        reference = rs.elm.HiddenLayer(hidden, features, density=0.01, seed=SEED, dtype="float32", backend="numba")
        error = float(np.max(np.abs(cp.asnumpy(layer.transform(X_device[:64])) - reference.transform(X[:64]))))
        if error > 1e-4:
            row("ELM hidden layer", name, "", "not measured", note=f"max |difference| to the CPU path {error:.2e}")
            continue
        layer.transform(X_device)  # warm-up
        seconds = median_time(lambda: layer.transform(X_device), repeats, cp.cuda.Device().synchronize)
        row(
            "ELM hidden layer",
            name,
            f"{samples:,}x{features} -> {hidden:,}",
            ms(seconds),
            ms(floor),
            "",
            f"{seconds / floor:.2f}x floor; {samples / seconds:,.0f} samples/s",
        )


def reservoirpy_jax(usable, quick, rng, repeats, cp, require_gpu=True):
    """ReservoirPy's JAX Reservoir on the same matrices, its time per step against ours.

    ReservoirPy traces and compiles its time loop (``lax.scan``) again at every ``run``
    call, with the sparse matrix folded into the program as a constant, so a call costs
    a fixed overhead growing with nnz plus the steps. Two run lengths separate the two:
    the marginal time per step (the difference over the extra steps) and the overhead
    per call; both ratios are reported. ``require_gpu=False`` lets it run on a CPU JAX
    (to check this code, not for a figure).
    """
    import os

    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave GPU memory to CuPy
    try:
        import jax
        import jax.numpy as jnp

        importlib.import_module("reservoirpy.jax.nodes")  # its absence is reported, not raised
    except Exception as error:
        row("vs ReservoirPy JAX", "-", "", "not measured", note=f"reservoirpy.jax unavailable: {error}")
        return
    if require_gpu and jax.default_backend() != "gpu":  # a CPU-only JAX would make a CPU-against-GPU ratio
        row("vs ReservoirPy JAX", "-", "", "not measured", note=f"JAX runs on {jax.default_backend()}, not the GPU")
        return
    short, long = (50, 200) if quick else (100, 400)
    for n in (2_000, 10_000) if quick else (10_000, 100_000):
        W, W_in, bias = matrix(n, 0.01)
        u = rng.uniform(-1, 1, (long, 1)).astype(np.float32)
        node = reservoirpy_jax_reservoir(W, W_in, bias, leak_rate=0.5)
        u_short, u_long = jnp.asarray(u[:short]), jnp.asarray(u)
        start = time.perf_counter()
        theirs_states = np.asarray(node.run(u_short))  # from the zero state, to check it is the same network
        first_call = time.perf_counter() - start
        expected = rs.ESN.from_weights(W, W_in, bias, leak_rate=0.5, dtype="float32", backend="numba").run(u[:short])
        error = float(np.max(np.abs(theirs_states - expected)))
        if error > 1e-4:  # not the same network: a ratio would mean nothing
            row(
                "vs ReservoirPy JAX",
                "jax",
                f"n={n:,}",
                "not measured",
                note=f"its states differ from ours by {error:.2e}",
            )
            continue
        tries = repeats if first_call < 20 else 1  # each call recompiles: keep slow sizes inside the time limit
        # Later runs go on from the state the last one left (ReservoirPy nodes keep it): the same work.
        call_short = median_time(lambda: jax.block_until_ready(node.run(u_short)), tries, lambda: None)
        call_long = median_time(lambda: jax.block_until_ready(node.run(u_long)), tries, lambda: None)
        marginal = max(call_long - call_short, 0.0) / (long - short)
        overhead = max(call_short - marginal * short, 0.0)
        row(
            "ReservoirPy JAX",
            "jax",
            f"n={n:,} p=0.01",
            f"{us(call_long / long)}/step ({long} steps a call)",
            note=f"marginal {us(marginal)}/step + {overhead:.2f} s a run() call (re-trace and compile); "
            f"JAX {jax.__version__} on {jax.default_backend()}",
        )
        for name in usable:
            seconds, problem = time_esn(name, W, W_in, bias, u, repeats, cp)
            if problem:
                row("vs ReservoirPy JAX", name, f"n={n:,}", "not measured", note=problem)
                continue
            ours = seconds / long
            row(
                "vs ReservoirPy JAX",
                name,
                f"n={n:,} p=0.01",
                f"{us(ours)}/step ({long} steps a call)",
                "",
                "",
                f"{call_long / seconds:.1f}x faster per call; {marginal / ours:.1f}x on the marginal step",
            )


def cpu_context(n, rng):
    W, W_in, bias = matrix(n, 0.01)
    steps = 10
    u = rng.uniform(-1, 1, (steps, 1)).astype(np.float32)
    esn = rs.ESN.from_weights(W, W_in, bias, leak_rate=0.5, dtype="float32", backend="numba")
    esn.run(u[:2])
    seconds = median_time(lambda: (esn.reset(), esn.run(u)), 3, lambda: None)
    row("ESN one sequence (context)", "numba CPU", f"n={n:,} p=0.01 f32", f"{ms(seconds / steps)}/step")


def cuba_lsm(usable, quick, repeats):
    from reservoir.lsm import cuba

    steps = 2_000 if quick else 10_000
    cpu = cuba(seed=SEED, backend="numba", dtype="float32")
    cpu_result = cpu.run(n_steps=steps, record_states=False)
    biological = steps * cpu.dt
    cpu_seconds = median_time(
        lambda: (cpu.reset(), cpu.run(n_steps=steps, record_states=False)), min(repeats, 3), lambda: None
    )
    row(
        "CUBA LSM (context)",
        "numba CPU",
        f"4,000 neurons, {biological:g} s",
        f"{cpu_seconds / biological:.3f} s/bio-s",
        note=f"{biological / cpu_seconds:.1f}x real time; {cpu_result.firing_rate():.2f} Hz",
    )
    # A decorrelated GPU run is another realisation: its rate is checked against the spread
    # of CPU realisations of the same network, measured now (cuba_spread.py).
    tolerance = cuba_spread.rate_tolerance(SEED, "float32", steps)
    import cupy as cp

    sync = cp.cuda.Device().synchronize
    fields = ("gpu_lif_propagation", "gpu_lif_single_block_max_neurons")
    saved = {field: getattr(settings, field) for field in fields}
    # A trial in one block (__syncthreads per phase) or split over blocks (the grid barrier).
    placements = {"one block": 10**9, "split": saved["gpu_lif_single_block_max_neurons"]}
    try:
        for name in usable:
            for propagation in ("push", "pull"):
                for placement, single_block_max in placements.items():
                    settings.gpu_lif_propagation = propagation
                    settings.gpu_lif_single_block_max_neurons = single_block_max
                    cuba_row(name, propagation, placement, steps, repeats, sync, tolerance, cpu_result, cpu_seconds)
    finally:
        for field, value in saved.items():
            setattr(settings, field, value)


def cuba_row(name, propagation, placement, steps, repeats, sync, tolerance, cpu_result, cpu_seconds):
    """One CUBA row under the current settings: checked against the CPU run, then timed."""
    from reservoir.lsm import cuba

    net = cuba(seed=SEED, backend=name, dtype="float32")
    biological = steps * net.dt
    result = net.run(n_steps=steps, record_states=False)  # warm-up (compilation) and the check
    rate, expected = result.firing_rate(), cpu_result.firing_rate()
    problem = None
    if abs(rate / expected - 1) > tolerance:
        problem = (
            f"firing rate {rate:.2f} Hz vs {expected:.2f} Hz on the CPU, beyond {tolerance:.1%} "
            "(4x the rms spread of CPU realisations)"
        )
    elif propagation == "pull":
        early, cpu_early = result.spike_times < 2_000, cpu_result.spike_times < 2_000
        if not (
            np.array_equal(result.spike_times[early], cpu_result.spike_times[cpu_early])
            and np.array_equal(result.spike_neurons[early], cpu_result.spike_neurons[cpu_early])
        ):
            problem = "pull: spikes differ from the CPU run in the first 2,000 steps"
    label = f"CUBA LSM {propagation}, {placement}"
    blocks = layout.plan_lif_blocks(
        net.n_neurons,
        1,
        10**9,
        single_block_max_neurons=settings.gpu_lif_single_block_max_neurons,
        neurons_per_block=settings.gpu_lif_neurons_per_block,
    ).blocks  # as planned when they all fit (the kernels may take fewer on a small GPU)
    size = f"4,000 neurons, {blocks} block{'s' if blocks > 1 else ''} per trial"
    if problem:
        row(label, name, size, "not measured", note=problem)
        return
    seconds = median_time(lambda: (net.reset(), net.run(n_steps=steps, record_states=False)), repeats, sync)
    row(
        label,
        name,
        f"{size}, {biological:g} s f32",
        f"{seconds / biological * 1e3:.2f} ms/bio-s",
        "",
        ">= 50x real time",
        f"{biological / seconds:.1f}x real time; {cpu_seconds / seconds:.1f}x the CPU; {rate:.2f} Hz",
    )


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except Exception:
        return "unknown (pass --commit)"


def _markdown(device, commit) -> str:
    lines = [
        f"# GPU figures ({datetime.date.today()})",
        "",
        f"- device: {device}",
        f"- commit: {commit}",
        f"- host: {platform.node()} ({platform.machine()})",
        "- script: `python asv_bench/gpu_bench.py` (medians of timed calls on CuPy arrays, after a warm-up)",
        "",
        "| figure | backend | size | measured | floor | target | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in ROWS:
        lines.append(
            "| "
            + " | ".join(str(item[key]) for key in ("figure", "backend", "size", "measured", "floor", "target", "note"))
            + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
