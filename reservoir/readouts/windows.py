"""Window schedules of the gated readouts: which time spans each minibatch lane runs, in which order.

A *chain* is a run of consecutive windows of one sequence that one lane of the
minibatch processes in order, carrying its state from window to window (the
gradient stops at each window boundary: truncated BPTT). A chain that starts
mid-sequence first runs forward over a *burn-in* span (no gradient) to warm its
state up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Chain",
    "training_chains",
    "consecutive_chains",
    "lane_plan",
    "lane_steps",
    "windows_per_epoch",
    "training_lanes",
]


@dataclass
class Chain:
    """Consecutive windows of one sequence, processed in order by one lane with the state carried.

    ``burn_in`` (start, stop): steps run forward (no gradient) from a zero state to give
    the first window its starting state; None starts the first window from zeros.
    """

    sequence: int
    windows: list
    burn_in: tuple | None = None


def _burn_in(start: int, window: int | None) -> tuple | None:
    """The span warming up a chain that starts at `start`: the `window` steps before it (all with None)."""
    return None if start == 0 else (0 if window is None else max(0, start - window), start)


def training_chains(lengths, window: int | None, n_lanes: int, rng) -> list:
    """One epoch of many-to-many windows, as about `n_lanes` chains of equal length, shuffled.

    Each sequence's span [0, L) is cut at a random offset into consecutive windows, so
    that the window boundaries move from epoch to epoch and every step is trained on
    once per epoch. A long series is split into several chains (one per lane); a chain
    that starts mid-series warms its state up over the `window` steps before it.
    """
    per_sequence = []
    for sequence, length in enumerate(lengths):
        length = int(length)
        if length == 0:
            continue
        if window is None or length <= window:
            windows = [(0, length)]
        else:
            first = int(rng.integers(1, window + 1))
            windows = [(0, first)] + [(start, min(start + window, length)) for start in range(first, length, window)]
        per_sequence.append((sequence, windows))
    total = sum(len(windows) for _, windows in per_sequence)
    per_chain = max(1, math.ceil(total / n_lanes))
    chains = []
    for sequence, windows in per_sequence:
        for first in range(0, len(windows), per_chain):
            piece = windows[first : first + per_chain]
            chains.append(Chain(sequence, piece, _burn_in(piece[0][0], window)))
    return [chains[i] for i in rng.permutation(len(chains))]


def consecutive_chains(spans, window: int | None, chunk: int) -> list:
    """Chains that run each (sequence, start, stop) span in windows of `chunk` steps, warmed
    up over the `window` steps before `start` (or all of them when window is None)."""
    return [
        Chain(sequence, [(a, min(a + chunk, stop)) for a in range(start, stop, chunk)], _burn_in(start, window))
        for sequence, start, stop in spans
        if stop > start
    ]


def lane_plan(chains, n_lanes: int) -> list:
    """Deal the chains to lanes in turn; lanes sorted longest first, so that the lanes still
    busy at any step are always a prefix."""
    lanes = [chains[i::n_lanes] for i in range(min(n_lanes, len(chains)))]
    lanes.sort(key=lambda lane: -sum(len(chain.windows) for chain in lane))
    return lanes


def lane_steps(lanes):
    """Per minibatch: [(chain, window index)] for each busy lane, in lane order."""
    queues = [[(chain, k) for chain in lane for k in range(len(chain.windows))] for lane in lanes]
    for step in range(len(queues[0]) if queues else 0):
        yield [queue[step] for queue in queues if len(queue) > step]


def windows_per_epoch(lengths, window: int | None) -> int:
    """About how many windows one epoch of `training_chains` cuts sequences of `lengths` into."""
    if window is None:
        return int(np.count_nonzero(lengths))
    return int(sum(math.ceil(int(length) / window) for length in lengths))


def training_lanes(n_windows: int, batch_size: int, min_minibatches: int) -> int:
    """Windows per training minibatch: `batch_size`, or fewer when an epoch of `n_windows`
    would otherwise make fewer than `min_minibatches` updates (small data sets; one window per
    minibatch when there are fewer windows than that)."""
    return max(1, min(batch_size, n_windows // min_minibatches))
