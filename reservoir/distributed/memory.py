"""The memory-only route of ``fit_ridge``: states computed on the workers and summed, never stored.

Each task runs the model's batched kernel over its share of the sequences a time chunk
at a time (``ESN.iter_states``, what ``ESNRegressor.fit`` streams) and feeds every chunk
into ``GramAccumulator.add``; it returns only the (training, validation) statistics,
O(features²), which ``fit_ridge`` sums in its tree reduction and solves with ``Ridge``.
Nothing goes to disk and the driver never holds a state. A task is a pure function of
the shared model and its own inputs: a task whose worker dies is run again from its
start, with the same result.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import numpy as np

from .. import _validation as check
from ..readouts.ridge import GramAccumulator
from .harvest import _as_batch, _private_copy, _shared

__all__ = ["sequence_statistics", "streamed_statistics", "submit_sequence_tasks", "SequenceRange"]


@dataclass(frozen=True)
class SequenceRange:
    """Sequences [start, stop) of a batch of `sequences` (what a validation split needs of a task)."""

    start: int
    stop: int
    sequences: int


def streamed_statistics(chunks, inputs, targets, windows, include_input: bool) -> None:
    """Feed chunks of states into accumulators: the streaming loop of a readout's fit.

    Parameters
    ----------
    chunks : iterable of (first, last, states)
        States of steps [first, last) of every sequence, (B, last - first, units), as
        ``ESN.iter_states`` yields them (the buffer may be reused after each chunk).
    inputs : array (B, T, n_in)
        The inputs the states were computed from (for ``include_input``).
    targets : array (B, T, k)
    windows : list of (GramAccumulator, begin, end, sequences)
        Each accumulator receives steps [begin, end) of the given sequence indices
        (a list of ints, or None for all of them).
    include_input : bool
        Features ``[state, input]`` at every step instead of the state alone.
    """
    for first, last, states in chunks:
        features = np.concatenate([states, inputs[:, first:last]], axis=-1) if include_input else states
        for accumulator, begin, end, rows in windows:
            lo, hi = max(begin, first), min(end, last)
            if lo >= hi or (rows is not None and not len(rows)):
                continue
            block = features[:, lo - first : hi - first]
            goal = targets[:, lo:hi]
            if rows is not None:
                block, goal = block[rows], goal[rows]
            accumulator.add(block.reshape(-1, block.shape[-1]), goal.reshape(-1, goal.shape[-1]))


def state_chunks(model, inputs):
    """(first, last, states) chunks of `model` over `inputs` (B, T, n_in), from its initial state.

    ``iter_states`` where the model has it (one chunk of states in memory); otherwise its
    in-memory ``run`` (B, T, N), or ``transform`` of every step (the ELM hidden layer).
    """
    if hasattr(model, "iter_states"):
        yield from model.iter_states(inputs)
        return
    batch, steps, width = inputs.shape
    if hasattr(model, "run"):
        result = model.run(inputs)
        states = np.asarray(getattr(result, "states", result))  # an LSM's run returns a record with .states
    elif hasattr(model, "transform"):
        states = np.asarray(model.transform(inputs.reshape(-1, width))).reshape(batch, steps, -1)
    else:
        raise TypeError(f"{type(model).__name__} has neither iter_states, run(u) nor transform(X)")
    if states.ndim != 3 or states.shape[:2] != (batch, steps):
        raise TypeError(
            f"{type(model).__name__}.run gave states of shape {states.shape}, not ({batch}, {steps}, units): "
            "the memory route needs one state per sequence and step"
        )
    yield 0, steps, states


def sequence_statistics(model, inputs, targets, washout: int, held_out, fraction, include_input: bool):
    """One task: (training, validation) ``GramAccumulator`` of `model` run over `inputs` (B, T, n_in)
    against `targets` (B, T, k), steps [washout, T) of every sequence (None where empty).

    `held_out`: indices (local to this batch) of sequences that go whole to validation;
    `fraction`: the last part of every other sequence's steps that does.
    """
    local = _private_copy(model)
    batch, steps = inputs.shape[:2]
    held = sorted(set(held_out or ()))
    kept = [b for b in range(batch) if b not in set(held)]
    split = steps
    if fraction is not None:
        split = washout + int(round((steps - washout) * (1.0 - fraction)))
        if not washout < split < steps:
            raise ValueError(f"validation={fraction} leaves no training or no validation steps")
    train, validation = GramAccumulator(), GramAccumulator()
    windows = [
        (train, washout, split, None if not held else kept),
        (validation, split, steps, None if not held else kept),
        (validation, washout, steps, held),
    ]
    if not held:
        windows.pop()
    streamed_statistics(state_chunks(local, inputs), inputs, targets, windows, include_input)
    return (train if train.count else None), (validation if validation.count else None)


def submit_sequence_tasks(
    client, model, inputs, targets, *, washout, stop, validation, include_input, sequences_per_task, retries
):
    """Check the data, send the model once, submit one statistics task per block of sequences.

    Returns (futures, shared model future): cancel the latter once the reduction is done.
    """
    from .reduce import _validation_of

    dtype = np.dtype(getattr(model, "dtype", np.float64))
    n_inputs = getattr(model, "n_inputs", None)
    if targets is None:
        raise ValueError("fit_ridge(model, inputs, targets): targets are missing")
    sequences, _ = check.sequences(_as_batch(inputs, "inputs"), dtype, "inputs", n_inputs)
    goals = _as_batch(targets, "targets")
    goals, _ = check.sequences(goals[..., None] if goals.ndim == 2 else goals, np.float64, "targets")
    if goals.shape[:2] != sequences.shape[:2]:
        raise ValueError(
            f"targets have {goals.shape[0]} sequence(s) of {goals.shape[1]} steps, the inputs "
            f"{sequences.shape[0]} of {sequences.shape[1]}: they must be aligned step by step"
        )
    batch, steps = sequences.shape[:2]
    if stop is not None:
        if stop > steps:
            raise ValueError(f"stop={stop} is past the {steps} steps of the inputs")
        sequences, goals = sequences[:, :stop], goals[:, :stop]
        steps = stop
    if washout >= steps:
        raise ValueError(f"washout={washout} leaves no steps out of {steps}")
    if hasattr(model, "_ensure_input_weights"):  # drawn once here, so every task has the same
        model._ensure_input_weights(sequences.shape[2])
    threads = sum(client.nthreads().values()) or 1
    per_task = (
        math.ceil(batch / threads)
        if sequences_per_task is None
        else check.positive_int(sequences_per_task, "sequences_per_task")
    )
    token = uuid.uuid4().hex[:8]
    # Made by a task, not scattered: the scheduler can recompute it if the workers holding it die.
    shared_model = client.submit(_shared, model, key=f"reservoir-model-{token}")
    futures = []
    for start in range(0, batch, per_task):
        block = SequenceRange(start, min(start + per_task, batch), batch)
        held_out, fraction = _validation_of(validation, block)
        futures.append(
            client.submit(
                sequence_statistics,
                shared_model,
                sequences[block.start : block.stop],  # inside the task: kept by the scheduler for a retry
                goals[block.start : block.stop],
                washout,
                held_out,
                fraction,
                include_input,
                key=f"reservoir-statistics-{start:06d}-{token}",
                retries=retries,
                pure=False,
            )
        )
    return futures, shared_model
