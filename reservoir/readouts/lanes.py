"""Running window chains (``windows``) in the parallel lanes of a minibatch, each lane carrying its state.

A lane runs its chains one after the other; within a chain the state after one window
is the state the next starts from. A chain starts from zeros, or from the state after
its burn-in span, run forward without a gradient. Training, validation and prediction
all go through ``run_lanes``; what happens to each window batch is the caller's
``visit``.
"""

from __future__ import annotations

import numpy as np

from .gated_network import network_forward, zero_state
from .threads import blas_threads
from .windows import lane_plan, lane_steps

__all__ = ["run_lanes", "burn_in"]


def _shape(params):
    """(layers, hidden units, dtype) of a parameter list [W_1, b_1, ..., W_out, b_out]."""
    return (len(params) - 2) // 2, int(params[-2].shape[1]), params[0].dtype


def run_lanes(cell, params, data, chains, n_lanes: int, visit, chunk: int) -> None:
    """Run `chains` in `n_lanes` parallel lanes over the windows `data.read` gives.

    ``visit(requests, items, state)`` handles one window batch: requests
    [(sequence, start, stop)] and items [(chain, window index)] of the busy lanes (a
    prefix of the lanes), and the state each starts from; it returns the state after
    the batch, which the lanes carry to their next windows. Burn-in spans are run
    forward in windows of `chunk` steps.
    """
    xp = data.xp
    n_layers, hidden, dtype = _shape(params)
    lanes = lane_plan(chains, n_lanes)
    state = zero_state(cell, xp, n_layers, len(lanes), hidden, dtype)
    steps = max((b - a for chain in chains for a, b in chain.windows), default=0)
    work = len(lanes) * steps * (data.n_features + hidden) * cell.n_gates * hidden
    with blas_threads(xp, work):
        for items in lane_steps(lanes):
            batch = len(items)
            starting = [(i, chain) for i, (chain, k) in enumerate(items) if k == 0]
            if starting:
                _start_states(cell, params, data, state, starting, chunk)
            requests = [(chain.sequence,) + tuple(chain.windows[k]) for chain, k in items]
            final = visit(requests, items, [tuple(S[:batch] for S in layer) for layer in state])
            for layer, layer_final in zip(state, final, strict=True):
                for S, value in zip(layer, layer_final, strict=True):
                    S[:batch] = value


def _start_states(cell, params, data, state, starting, chunk: int) -> None:
    """Zero state, or the state warmed up over the chain's burn-in span, for lanes starting a chain."""
    xp = data.xp

    def warmed(chain):
        return chain.burn_in is not None and chain.burn_in[0] < chain.burn_in[1]

    zero_rows = [i for i, chain in starting if not warmed(chain)]
    if zero_rows:
        rows = xp.asarray(np.array(zero_rows))
        for layer in state:
            for S in layer:
                S[rows] = 0
    warm = [(i, chain) for i, chain in starting if warmed(chain)]
    if warm:
        states = burn_in(cell, params, data, [(chain.sequence,) + tuple(chain.burn_in) for _, chain in warm], chunk)
        rows = xp.asarray(np.array([i for i, _ in warm]))
        for layer, layer_warm in zip(state, states, strict=True):
            for S, value in zip(layer, layer_warm, strict=True):
                S[rows] = value


def burn_in(cell, params, data, spans, chunk: int) -> list:
    """States after running each (sequence, start, stop) span forward from zeros (no gradient)."""
    xp = data.xp
    n_layers, hidden, dtype = _shape(params)
    state = zero_state(cell, xp, n_layers, len(spans), hidden, dtype)
    position = [start for _, start, _ in spans]
    while True:
        active = [r for r, (_, _, stop) in enumerate(spans) if position[r] < stop]
        if not active:
            return state
        requests = [(spans[r][0], position[r], min(position[r] + chunk, spans[r][2])) for r in active]
        X, _ = data.read(requests, targets=False)
        rows = xp.asarray(np.array(active))
        lengths = np.array([stop - start for _, start, stop in requests])
        _, final, _ = network_forward(
            cell, xp, params, X, [tuple(S[rows] for S in layer) for layer in state], lengths, keep=False
        )
        for layer, layer_final in zip(state, final, strict=True):
            for S, value in zip(layer, layer_final, strict=True):
                S[rows] = value
        for r, (_, _, stop) in zip(active, requests, strict=True):
            position[r] = stop
