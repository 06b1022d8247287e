"""One reduction: a ridge readout fitted from every shard's sufficient statistics.

Each shard's statistics (``GramAccumulator``: ``XᵀX``, ``XᵀY``, ``YᵀY`` and the sums for
centring, about a shift) are computed by a task on the worker that wrote the shard,
then summed pairwise in a tree (``GramAccumulator.merged``): ``ceil(log2(shards))``
levels of merges, each on a worker, so no machine ever holds more than two
accumulators and the driver receives only the last one, O(features²), never a state.
The driver then solves it with ``Ridge`` (the one solver), a list of penalties chosen
in the same pass from validation statistics gathered beside the training ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import _validation as check
from .._diagnostics import warn_few_samples
from ..readouts.ridge import GramAccumulator, Ridge
from ..storage import StateStore
from .client import connect
from .index import check_index
from .memory import submit_sequence_tasks

__all__ = ["fit_ridge", "tree_reduce", "shard_statistics"]


def fit_ridge(
    source,
    inputs=None,
    targets=None,
    *,
    client=None,
    alpha=1e-6,
    fit_intercept: bool = True,
    washout: int = 0,
    stop: int | None = None,
    validation=None,
    include_input: bool = False,
    refit: bool = False,
    retries: int = 3,
    sequences_per_task: int | None = None,
) -> Ridge:
    """Fit a ridge readout on the cluster from per-task statistics, summed in one tree reduction.

    Two sources, one reduction and one solver. Stored states: a harvest's shards, each
    read by a task on the worker that wrote it. Memory only: a model and its data, each
    task running the model's batched kernel over its share of the sequences and
    returning only the Gram statistics (nothing on disk, no state in the driver; the
    model is sent to each worker once, and a task whose worker dies is run again with
    the same result).

    Parameters
    ----------
    source : Harvest, path to an index file, or a model (ESN, LSM, HiddenLayer, ...)
        What ``harvest`` returned, or its index (``directory/index.h5``); or a model
        run from its initial state (``reset()``) over `inputs` on the workers.
    inputs : array (B, T, n_in) or (B, T), or a list of equal-length sequences
        With a model: the sequences. NaN/Inf raise ValueError naming the sequence and step.
    targets : array (B, T, k) or (B, T)
        With a model: the targets, aligned with `inputs` step by step.
    client : distributed.Client, str or None
        Where to run (see ``connect``); None starts a local cluster for this call.
    alpha : float or sequence of floats
        Penalty, or penalties to choose from on the validation samples (in one pass).
    fit_intercept : bool
        Fit an unpenalised intercept (as ``Ridge``).
    washout : int
        Leading steps of every sequence left out.
    stop : int, optional
        Fit on steps [washout, stop) only (default: to the end), e.g. to keep the last
        steps of a series for testing.
    validation : None, float in (0, 1) or sequence of ints
        With several alphas: a fraction, the last part of every sequence's steps after
        the washout (up to `stop`; ``ESNRegressor``'s ``validation_fraction``), or the indices of the
        sequences held out whole.
    include_input : bool
        Fit on ``[state, input]`` at every step (the inputs stored beside the states).
    refit : bool
        After choosing alpha, refit on training and validation samples together
        (``Ridge.refitted``).
    retries : int
        Times a failed statistics task is run again.
    sequences_per_task : int, optional
        With a model: sequences per task (default: split evenly over the worker threads).

    Returns
    -------
    Ridge
        Fitted, as ``Ridge.fit`` on the same samples would be (equal up to rounding):
        ``coef_`` (targets, features), ``intercept_`` (targets,), ``alpha_``, and with
        several alphas ``validation_errors_``.
    """
    readout = Ridge(alpha=alpha, fit_intercept=fit_intercept)
    alphas = readout._alphas()
    washout = check.non_negative_int(washout, "washout")
    stop = None if stop is None else check.positive_int(stop, "stop")
    if len(alphas) > 1 and validation is None:
        raise ValueError("several alphas need validation= (a fraction of the steps or held-out sequence indices)")
    from_model = not isinstance(source, (str, Path)) and not _is_harvest(source)
    if from_model:
        if inputs is None:
            raise ValueError(f"fit_ridge({type(source).__name__}, inputs, targets): inputs are missing")
    elif inputs is not None or targets is not None:
        raise ValueError("inputs and targets go with a model; a harvest's shards already store them")
    shards = [] if from_model else _shards_of(source)
    owned = not _is_client(client)  # a cluster started here, or a connection made here, is closed here
    client = connect(client) if owned else client
    shared_model = None
    try:
        futures = []
        if from_model:
            futures, shared_model = submit_sequence_tasks(
                client,
                source,
                inputs,
                targets,
                washout=washout,
                stop=stop,
                validation=validation,
                include_input=include_input,
                sequences_per_task=sequences_per_task,
                retries=retries,
            )
        for shard in shards:
            held_out, fraction = _validation_of(validation, shard.identity)
            futures.append(
                client.submit(
                    shard_statistics,
                    shard.path,
                    shard.identity.run,
                    washout,
                    stop,
                    held_out,
                    fraction,
                    include_input,
                    **({} if shard.worker is None else {"workers": [shard.worker], "allow_other_workers": True}),
                    retries=retries,
                    pure=False,
                )
            )
        train, held_out = tree_reduce(client, futures, _merge_pairs).result()
    finally:
        if shared_model is not None and not owned:
            client.cancel([shared_model])
        if owned:
            client.close()
    if train is None:
        raise ValueError("no training samples: the washout and the validation part leave none")
    if len(alphas) > 1 and held_out is None:
        raise ValueError("the validation part holds no samples")
    warn_few_samples(train.xx.shape[0] + bool(fit_intercept), train.count, alpha, stacklevel=2)
    readout._single_target = False
    readout._target_labels = None
    readout._held_out = held_out if len(alphas) > 1 else None
    readout._solve_from(train, alphas, readout._held_out)
    return readout.refitted() if refit and readout._held_out is not None else readout


def tree_reduce(client, futures: list, combine):
    """Combine futures pairwise in a tree of ``client.submit(combine, a, b)``; the last future.

    Each level halves the count (an odd one out waits for the next level), so n futures
    take ``ceil(log2(n))`` levels and n - 1 combines, each where its inputs are.
    """
    if not futures:
        raise ValueError("nothing to reduce: no futures")
    level = list(futures)
    while len(level) > 1:
        pairs = [client.submit(combine, level[i], level[i + 1], pure=False) for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def shard_statistics(path, name: str, washout: int, stop, held_out, fraction, include_input: bool):
    """(training, validation) ``GramAccumulator`` of one shard's stored run, steps [washout, stop)
    of every sequence (None where empty).

    Rows are read per sequence in chunks of ``settings.gram_chunk_rows``, as ``Ridge.fit``
    reads a (B, T, N) run.
    """
    with StateStore(path, "r") as store:
        run = store[name]
        if run.targets is None:
            raise ValueError(f"{path}: run {name!r} stores no targets; harvest(..., targets=...) stores them")
        steps = run.steps if stop is None else stop
        if stop is not None and stop > run.steps:
            raise ValueError(f"stop={stop} is past the {run.steps} steps stored")
        if washout >= steps:
            raise ValueError(f"washout={washout} leaves no steps before step {steps}")
        sequences = run.states.shape[0]
        held = set(held_out or ())
        split = steps
        if fraction is not None:
            split = washout + int(round((steps - washout) * (1.0 - fraction)))
            if not washout < split < steps:
                raise ValueError(f"validation={fraction} leaves no training or no validation steps")
        train_x, train_y, val_x, val_y = [], [], [], []
        for b in range(sequences):
            if b in held:
                val_x.append(_Rows(run, b, washout, steps, include_input))
                val_y.append(_Rows(run, b, washout, steps, None))
                continue
            train_x.append(_Rows(run, b, washout, split, include_input))
            train_y.append(_Rows(run, b, washout, split, None))
            if split < steps:
                val_x.append(_Rows(run, b, split, steps, include_input))
                val_y.append(_Rows(run, b, split, steps, None))
        return _accumulated(train_x, train_y), _accumulated(val_x, val_y)


class _Rows:
    """Steps [first, last) of sequence b of a stored run: the states (and inputs) or the targets."""

    def __init__(self, run, b: int, first: int, last: int, include_input):
        self.b, self.first = b, first
        if include_input is None:
            self.parts = (run.targets,)
        else:
            self.parts = (run.states, run.inputs) if include_input else (run.states,)
        width = sum(part.shape[-1] for part in self.parts)
        self.shape = (last - first, width)
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, rows: slice):
        start, stop, _ = rows.indices(self.shape[0])
        window = slice(self.first + start, self.first + stop)
        blocks = [part[self.b, window] for part in self.parts]
        return blocks[0] if len(blocks) == 1 else np.concatenate([block.astype(np.float64) for block in blocks], axis=1)


def _accumulated(X, Y) -> GramAccumulator | None:
    if not X or all(rows.shape[0] == 0 for rows in X):
        return None
    return Ridge._accumulate(GramAccumulator(), X, Y)


def _merge(a: GramAccumulator | None, b: GramAccumulator | None) -> GramAccumulator | None:
    if a is None:
        return b
    if b is None:
        return a
    return a.merged(b)


def _merge_pairs(a, b):
    """Merge two (training, validation) pairs of statistics."""
    return _merge(a[0], b[0]), _merge(a[1], b[1])


def _validation_of(validation, identity):
    """(held-out sequence indices local to the shard, fraction of steps) for one shard."""
    if validation is None:
        return None, None
    if isinstance(validation, (float, np.floating)):
        fraction = check.real(validation, "validation")
        if not 0 < fraction < 1:
            raise ValueError(f"validation as a fraction must be in (0, 1), got {fraction}")
        return None, fraction
    indices = np.asarray(validation)
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise TypeError("validation must be a fraction (float) or a sequence of sequence indices (ints)")
    if indices.size and (indices.min() < 0 or indices.max() >= identity.sequences):
        raise ValueError(f"validation sequence indices must be in 0..{identity.sequences - 1}")
    local = [int(i) - identity.start for i in indices if identity.start <= i < identity.stop]
    return local, None


def _shards_of(source) -> list:
    from .harvest import Harvest, Shard
    from .shards import read_identity

    if isinstance(source, Harvest):
        check_index(source.index, name=source.name, fingerprint=source.fingerprint)
        return list(source.shards)
    if isinstance(source, (str, Path)):
        _, files, _ = check_index(source)
        return [Shard(read_identity(path), Path(path)) for path in files]
    raise TypeError(f"source must be a Harvest or the path of an index file, got {type(source).__name__}")


def _is_harvest(value) -> bool:
    from .harvest import Harvest

    return isinstance(value, Harvest)


def _is_client(value) -> bool:
    from .harvest import _is_client as is_client

    return is_client(value)
