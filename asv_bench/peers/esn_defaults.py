"""Parts e and f of esn_vs_reservoirpy.py: ReservoirPy at its own defaults, and batches run
the way users call them.

* e. ReservoirPy's ``Reservoir`` at its defaults (rc_connectivity = 0.1, lr = 1, sr = 1,
  bias 0; float64, and float32 through its ``dtype``) for n = 100 ... 3,000, and at
  n = 10,000 with rc_connectivity = 0.01; ours runs on the very matrices ReservoirPy drew
  (``ESN.from_weights``), after checking that both give the same states. Time per step
  of one sequence, median and range of the repeats, taken in interleaved rounds.
* f. A batch of B sequences (n = 10,000, 1 %, float32): our ``esn.run(u, out=buf)`` with
  one buffer reused from call to call, and ``ESNRegressor.fit`` on the batch (states
  streamed into the ridge statistics, no (B, T, n) array), against ReservoirPy's
  ``Reservoir.run`` over the list of sequences and its ``Reservoir >> Ridge`` ``fit``.
  Both fits build their reservoir (spectral radius included) inside the timed call.
"""

from __future__ import annotations

import gc
import time

import numpy as np
import scipy.sparse as sp

DEFAULT_SIZES = (100, 300, 1000, 3000, 10_000)


def _rounds(runners: dict, repeats: int) -> dict:
    """Seconds per call of each runner over `repeats` interleaved rounds (one untimed first)."""
    labels = list(runners)
    times = {label: [] for label in labels}
    for label in labels:
        runners[label]()
    for round_index in range(repeats):
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            gc.collect()
            start = time.perf_counter()
            runners[label]()
            times[label].append(time.perf_counter() - start)
    return times


def _spread(values, scale: float) -> str:
    values = np.asarray(values) * scale
    return f"{np.median(values):.1f} [{values.min():.1f}-{values.max():.1f}]"


def _ratio_spread(theirs, ours) -> str:
    """Median ratio, and the range over the rounds (round i of both: the same moment's load)."""
    ratios = np.asarray(theirs) / np.asarray(ours)
    return f"{np.median(ratios):.1f}x [{ratios.min():.1f}-{ratios.max():.1f}]"


def _reservoirpy_at_defaults(n: int, dtype, seed: int):
    from reservoirpy.nodes import Reservoir

    connectivity = 0.1 if n <= 3000 else 0.01
    node = Reservoir(units=n, rc_connectivity=connectivity, dtype=dtype, seed=seed)
    return node, connectivity


def part_defaults(args, sizes=DEFAULT_SIZES, steps_budget=50_000_000) -> str:
    import reservoir as rs

    rows = []
    for n in sizes:
        for dtype in (np.float64, np.float32):
            node, connectivity = _reservoirpy_at_defaults(n, dtype, args.seed)
            steps = int(np.clip(steps_budget // max(int(n * n * connectivity), 1), 50, 2000))
            u = np.random.default_rng(args.seed).uniform(-1, 1, (steps, 1)).astype(dtype)
            theirs = np.asarray(node.run(u))  # initialises W, Win, bias
            W = sp.csr_array(node.W).astype(dtype)
            bias = np.broadcast_to(np.asarray(node.bias, dtype=dtype).ravel(), (n,))
            W_in = np.asarray(node.Win.toarray() if sp.issparse(node.Win) else node.Win, dtype=dtype)
            esn = rs.ESN.from_weights(W, W_in, bias, leak_rate=1.0, dtype=dtype, backend="numba")
            ours = esn.run(u)
            difference = float(np.abs(ours.astype(np.float64) - theirs).max())
            out = np.empty((steps, n), dtype=dtype)
            node.reset()

            def run_theirs():
                node.reset()
                node.run(u)

            def run_ours():
                esn.reset()
                esn.run(u, out=out)

            times = _rounds({"theirs": run_theirs, "ours": run_ours}, args.repeats)
            rows.append(
                (
                    f"{n:,}",
                    f"{connectivity:g}",
                    f"{W.nnz:,}",
                    np.dtype(dtype).name,
                    _spread(np.asarray(times["theirs"]) / steps, 1e6),
                    _spread(np.asarray(times["ours"]) / steps, 1e6),
                    _ratio_spread(times["theirs"], times["ours"]),
                    f"{difference:.1e}",
                )
            )
            print("  e:", rows[-1], flush=True)
    header = (
        "| n | rc_connectivity | nnz | dtype | ReservoirPy µs/step | ours µs/step | ReservoirPy / ours "
        "| max state difference |\n|---|---|---|---|---|---|---|---|\n"
    )
    return (
        f"### e. ReservoirPy at its defaults, the same matrices in ours; one sequence, median "
        f"[range] of {args.repeats} interleaved rounds\n\n"
        + header
        + "\n".join("| " + " | ".join(r) + " |" for r in rows)
    )


def part_users_batch(args, n=10_000, density=0.01, batch=32, steps=400) -> str:
    from reservoirpy.nodes import Reservoir, Ridge

    import reservoir as rs

    dtype = np.float32
    rng = np.random.default_rng(args.seed)
    u = rng.uniform(-1, 1, (batch, steps, 1)).astype(dtype)
    y = np.roll(u, -1, axis=1)
    sequence_steps = batch * steps
    esn = rs.ESN(n, density=density, spectral_radius=0.9, seed=args.seed, dtype="float32", backend="numba")
    esn.run(u[:1, :2])  # draws W_in and the bias for one input channel
    W, W_in, bias = esn.W, esn.W_in, esn.bias
    node = Reservoir(
        W=sp.csr_array(W),
        Win=np.asarray(W_in.toarray() if sp.issparse(W_in) else W_in),
        bias=np.asarray(bias).ravel(),
        dtype=dtype,
    )
    as_list = [seq for seq in u]
    targets = [seq for seq in y]
    out = np.empty((batch, steps, n), dtype=dtype)

    def ours_run():
        esn.reset()
        esn.run(u, out=out)

    def ours_fit():
        rs.ESNRegressor(
            n, density=density, spectral_radius=0.9, seed=args.seed, washout=10, dtype="float32", backend="numba"
        ).fit(u, y)

    node.run(as_list[0][:2])  # initialises the node

    def theirs_run():
        node.reset()
        node.run(as_list)

    def theirs_fit():
        model = Reservoir(units=n, rc_connectivity=density, sr=0.9, seed=args.seed, dtype=dtype) >> Ridge(ridge=1e-6)
        model.fit(as_list, targets, warmup=10)

    times = _rounds({"ours_run": ours_run, "theirs_run": theirs_run}, args.repeats)
    times.update(_rounds({"ours_fit": ours_fit, "theirs_fit": theirs_fit}, args.repeats))
    per = {key: np.asarray(value) / sequence_steps for key, value in times.items()}
    rows = [
        ("run: `esn.run(u, out=buf)`, buffer reused", "ReservoirPy `Reservoir.run(list)`", "run"),
        (
            "fit: `ESNRegressor(...).fit(u, y)` on the batch",
            "ReservoirPy `(Reservoir >> Ridge).fit(list, list)`",
            "fit",
        ),
    ]
    lines = [
        f"### f. Batches as users call them: B = {batch}, T = {steps}, n = {n:,}, density {density}, float32; "
        f"median [range] of {args.repeats} interleaved rounds, per sequence-step\n",
        "| call (ours) | call (ReservoirPy) | ours µs | ReservoirPy µs | ReservoirPy / ours |",
        "|---|---|---|---|---|",
    ]
    for ours_label, theirs_label, key in rows:
        lines.append(
            f"| {ours_label} | {theirs_label} | {_spread(per['ours_' + key], 1e6)} "
            f"| {_spread(per['theirs_' + key], 1e6)} | {_ratio_spread(times['theirs_' + key], times['ours_' + key])} |"
        )
    return "\n".join(lines)
