"""Harvest: one model run over many sequences spread over Dask workers, states sharded on disk.

The driver splits the sequences into shards of ``sequences_per_task`` and submits one
task per shard. The model travels to every worker once (a Dask-resident future that
every task takes, fetched once per worker); each task runs the model's batched kernel over its whole shard (the
weights are read once per step for all of its sequences) and streams the states into
its own shard file through ``StateStore`` (one writer per file, checkpointed). A task
whose worker dies is run again (``retries``, and Dask's own rescheduling of lost
tasks) and resumes its shard from the last checkpoint: the states are bit for bit those
of an uninterrupted run. When every shard is complete, an index file presents them as
one run (HDF5 virtual datasets, see ``reservoir.distributed.index``).
"""

from __future__ import annotations

import copy
import inspect
import logging
import math
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _validation as check
from ..storage import StateStore
from . import index as shard_index
from .client import connect, log_dashboard
from .shards import (
    ShardError,
    ShardIdentity,
    check_directory,
    claim,
    inputs_hash,
    model_fingerprint,
    shard_complete,
    shard_path,
)

__all__ = ["harvest", "Harvest", "Shard"]

log = logging.getLogger("reservoir.distributed")

#: Default retries of a failed harvest task (an exception in it; a task whose worker
#: died is rescheduled by Dask itself, up to ``distributed.scheduler.allowed-failures``).
DEFAULT_RETRIES = 3
DEFAULT_INDEX = "index.h5"
_PREPARE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Shard:
    """A complete shard: its file, what it holds, and the worker that wrote it."""

    identity: ShardIdentity
    path: Path
    worker: str | None = None


@dataclass(frozen=True)
class Harvest:
    """What a harvest left on disk: the shard directory, its shards and the index file.

    ``StateStore(harvest.index)[harvest.name]`` reads all shards as one run of shape
    (sequences, steps, units); every readout accepts it as a normal run.
    """

    directory: Path
    name: str
    index: Path
    shards: tuple[Shard, ...]
    fingerprint: str

    @property
    def sequences(self) -> int:
        return self.shards[0].identity.sequences

    @property
    def steps(self) -> int:
        return self.shards[0].identity.steps

    def open(self) -> StateStore:
        """The index as a read-only ``StateStore`` (use as a context manager)."""
        return StateStore(self.index, "r")


def harvest(
    model,
    inputs,
    *,
    directory,
    name: str = "states",
    client=None,
    targets=None,
    sequences_per_task: int | None = None,
    checkpoint_every: int | None = None,
    storage_dtype=None,
    retries: int = DEFAULT_RETRIES,
    progress: bool = True,
    index: str = DEFAULT_INDEX,
) -> Harvest:
    """Run `model` over many sequences on a Dask cluster; store the states as shards plus an index.

    Parameters
    ----------
    model : ESN, LSM, HiddenLayer or any model with a batched ``run``
        Run from its initial state (``reset()``) on every shard. A model whose ``run``
        takes ``store=`` (ESN, LSM) streams into the shard itself, checkpointed and
        resumable; one with an in-memory ``run(u) -> (B, T, N)`` or a ``transform``
        (the ELM hidden layer, applied to every step) is written by the task.
    inputs : array (B, T, n_in) or (B, T), or a list of B equal-length (T, n_in) sequences
        The sequences. NaN/Inf raise ValueError naming the sequence and step.
    directory : str or Path
        Shard directory (created if missing): ``shard-00000.h5``, ... and the index. It
        holds one run: shards of another run or model in it are refused (ShardError);
        this run's shards are resumed. Every worker must see it under this path (a
        shared file system on a cluster of machines).
    name : str
        The run's name in every shard and in the index.
    client : distributed.Client, str or None
        Where to run (see ``connect``); None starts a local cluster for this call.
    targets : array (B, T, k) or (B, T), optional
        Stored beside the states (what ``fit_ridge`` fits).
    sequences_per_task : int, optional
        Sequences per shard (default: the sequences split evenly over the cluster's
        worker threads). Larger shards run the batched kernel over more sequences per
        read of the weights; smaller ones balance the load and lose less to a dead worker.
    checkpoint_every : int, optional
        Steps between checkpoints of a shard (the model's default otherwise).
    storage_dtype : dtype, optional
        e.g. float16 to halve the files of a float32 model.
    retries : int
        Times a failed task is run again (it resumes its shard).
    progress : bool
        A progress bar over the shards (tqdm) in the driver.
    index : str
        File name of the index in `directory`.

    Returns
    -------
    Harvest
        The shards and the index; ``harvest.open()[name]`` is the whole run.

    Raises
    ------
    PermissionError
        `directory` cannot be written (before any work starts).
    ShardError
        `directory` holds shards of another run, model or inputs.
    RuntimeError
        A shard failed after its retries; the message names it. Completed shards stay
        on disk and a second call with the same arguments resumes the rest.
    """
    name = _run_name(name)
    retries = check.non_negative_int(retries, "retries")
    dtype = np.dtype(getattr(model, "dtype", np.float64))
    n_inputs = getattr(model, "n_inputs", None)
    sequences, _ = check.sequences(_as_batch(inputs, "inputs"), dtype, "inputs", n_inputs)
    batch, steps = sequences.shape[:2]
    if targets is not None:
        targets = _as_batch(targets, "targets")
        targets = targets[..., None] if targets.ndim == 2 else targets
        if targets.shape[:2] != (batch, steps):
            raise ValueError(f"targets have shape {targets.shape}; they must be ({batch}, {steps}, k) like the inputs")
    if hasattr(model, "_ensure_input_weights"):  # drawn here, so the fingerprint covers them
        model._ensure_input_weights(sequences.shape[2])
    fingerprint = model_fingerprint(model)

    owned = not _is_client(client)  # a cluster started here, or a connection made here, is closed here
    client = connect(client) if owned else client
    try:
        if not owned:
            log_dashboard(client)
        threads = sum(client.nthreads().values()) or 1
        per_task = (
            math.ceil(batch / threads)
            if sequences_per_task is None
            else check.positive_int(sequences_per_task, "sequences_per_task")
        )
        bounds = [(start, min(start + per_task, batch)) for start in range(0, batch, per_task)]
        identities = [
            ShardIdentity(
                fingerprint=fingerprint,
                run=name,
                shard=shard,
                shards=len(bounds),
                start=start,
                stop=stop,
                sequences=batch,
                steps=steps,
                inputs=inputs_hash(sequences[start:stop], None if targets is None else targets[start:stop]),
            )
            for shard, (start, stop) in enumerate(bounds)
        ]
        directory = Path(directory)
        present = check_directory(directory, identities)  # before any work: a refusal changes nothing
        index_path = directory / index
        if index_path.exists():  # an earlier harvest's index: of this run, or refused
            shard_index.check_index(index_path, name=name, fingerprint=fingerprint, shards_present=False)
        done = {shard for shard in present if shard_complete(shard_path(directory, shard), name)}
        pending = [identity for identity in identities if identity.shard not in done]
        log.info(
            "harvest %r: %d sequences x %d steps, %d shard(s) of up to %d sequences, %d already complete",
            name,
            batch,
            steps,
            len(bounds),
            per_task,
            len(done),
        )
        shards = {shard: Shard(identities[shard], shard_path(directory, shard)) for shard in done}
        if pending:
            token = uuid.uuid4().hex[:8]  # a rerun is new work, never a result Dask still holds
            # A Dask-resident future of the model, made by a task: each worker fetches it once for
            # all of its shards, and the scheduler can make it again if the workers holding it die
            # (scattered data it could not: a dead worker's retry then fails as cancelled).
            shared_model = client.submit(_shared, model, key=f"reservoir-model-{fingerprint[:16]}-{token}")
            futures = [
                client.submit(
                    _harvest_shard,
                    shared_model,
                    # The inputs travel inside the task, kept by the scheduler until it is done: a
                    # scattered copy would die with its worker, and the retry with it.
                    sequences[identity.start : identity.stop],
                    None if targets is None else targets[identity.start : identity.stop],
                    shard_path(directory, identity.shard),
                    identity,
                    checkpoint_every,
                    storage_dtype,
                    key=f"reservoir-harvest-{name}-{identity.shard:05d}-{token}",
                    retries=retries,
                    pure=False,
                )
                for identity in pending
            ]
            for shard in _gather(client, futures, pending, progress, f"harvest {name}"):
                shards[shard.identity.shard] = shard
            client.cancel([shared_model])
        shards = [shards[shard] for shard in range(len(identities))]
    finally:
        if owned:
            client.close()
    shard_index.write_index(index_path, name, [shard.path for shard in shards], fingerprint)
    return Harvest(directory, name, index_path, tuple(shards), fingerprint)


def _gather(client, futures, identities, progress: bool, label: str) -> list:
    """Results of every future in submission order, with a bar as they finish; failures named."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    bar = tqdm(total=len(futures), unit="shard", desc=label, disable=not progress, leave=False)
    failed = []
    for future in as_completed(futures):
        if future.status == "error":
            failed.append(future)
        bar.update(1)
    bar.close()
    if failed:
        position = {future.key: index for index, future in enumerate(futures)}
        first = failed[0]
        error = first.exception()
        shards = sorted(identities[position[future.key]].shard for future in failed)
        if isinstance(error, (ShardError, ValueError, TypeError)) and len(failed) == len(futures):
            raise error  # the same refusal in every task (bad model or inputs): say it as it is
        raise RuntimeError(
            f"{label}: shard(s) {shards} failed after their retries ({type(error).__name__}: {error}); the "
            "completed shards are on disk and a second call with the same arguments resumes the rest"
        ) from error
    return client.gather(futures)


# ---------------------------------------------------------------------- worker side
def _harvest_shard(model, inputs, targets, path, identity: ShardIdentity, checkpoint_every, storage_dtype) -> Shard:
    """One task: the model over one shard's sequences, into the shard's file (resumed if begun)."""
    local = _private_copy(model)
    with StateStore(path, "a") as store:
        claim(store, identity)
        _run_into(local, inputs, targets, store, identity.run, checkpoint_every, storage_dtype)
        run = store[identity.run]
        if not run.complete:  # pragma: no cover - every path above runs to the end
            raise RuntimeError(f"{path}: run {identity.run!r} stopped at step {run.steps_done} of {run.steps}")
    return Shard(identity, Path(path), _worker_address())


def _shared(model):
    """The model, as the result of a task (see harvest): what every shard task takes."""
    return model


def _private_copy(model):
    """A copy of the worker's shared model for one task: its own state, the weights (and the
    layout the backend prepared from them, built once per worker) shared."""
    with _PREPARE_LOCK:
        if hasattr(model, "_kernels"):
            model._kernels()
        local = copy.copy(model)
    if hasattr(local, "reset"):
        local.reset()
    return local


def _run_into(model, inputs, targets, store, name, checkpoint_every, storage_dtype) -> None:
    run = getattr(model, "run", None)
    parameters = inspect.signature(run).parameters if run is not None else {}
    if "store" in parameters:
        options = {"targets": targets, "checkpoint_every": checkpoint_every, "storage_dtype": storage_dtype}
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        for key, value in list(options.items()):
            if key not in parameters and not takes_any:
                if value is not None:
                    raise TypeError(f"{type(model).__name__}.run takes no {key}=; harvest it without {key}")
                del options[key]
        run(inputs, store=store, name=name, resume=True, **options)
        return
    if run is None and not hasattr(model, "transform"):
        raise TypeError(f"{type(model).__name__} has neither run(u) nor transform(X); it cannot be harvested")
    _run_stateless(model, inputs, targets, store, name, checkpoint_every, storage_dtype)


def _run_stateless(model, inputs, targets, store, name, checkpoint_every, storage_dtype) -> None:
    """A model without a store of its own: an in-memory ``run(u)`` (recomputed whole on a
    resume), or a ``transform`` of every step (resumed from the last committed chunk)."""
    batch, steps, width = inputs.shape
    chunk = steps if checkpoint_every is None else check.positive_int(checkpoint_every, "checkpoint_every")
    if hasattr(model, "run"):
        whole = []  # computed on first use, for every step

        def states_of(first, last):
            if not whole:
                whole.append(np.asarray(model.run(inputs)))
            return whole[0][:, first:last]

    else:

        def states_of(first, last):
            rows = inputs[:, first:last].reshape(-1, width)
            return np.asarray(model.transform(rows)).reshape(batch, last - first, -1)

    if name in store:
        stored = store[name]
        start = stored.steps_done
    else:
        first_block = states_of(0, min(chunk, steps))
        config = model.config() if callable(getattr(model, "config", None)) else {"model": type(model).__name__}
        stored = store.create_run(
            name,
            steps=steps,
            units=first_block.shape[-1],
            batch=batch,
            dtype=first_block.dtype,
            storage_dtype=storage_dtype,
            inputs=inputs,
            targets=targets,
            config=config,
            chunk_steps=min(chunk, steps),
        )
        start = 0
    idle = np.zeros((batch, stored.states.shape[-1]))  # no state to carry: the checkpoint slot is unused
    for first in range(start, steps, chunk):
        last = min(first + chunk, steps)
        stored.write(first, states_of(first, last))
        stored.commit(last, idle)


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # run outside a worker (tests call the task directly)
        return None


# ---------------------------------------------------------------------- checks
def _run_name(name) -> str:
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"name must be a non-empty run name without '/', got {name!r}")
    return name


def _as_batch(array, label: str) -> np.ndarray:
    """(B, T[, k]) from an array or a list of equal-length sequences."""
    if isinstance(array, (list, tuple)):
        lengths = {len(item) for item in array}
        if len(lengths) > 1:
            raise ValueError(
                f"{label}: the sequences have different lengths {sorted(lengths)}; a harvest batches equal-length "
                "sequences (run one harvest per length)"
            )
        array = np.stack([np.asarray(item) for item in array]) if array else np.empty((0, 0))
    array = np.asarray(array)
    if array.ndim not in (2, 3) or array.shape[0] == 0:
        raise ValueError(
            f"{label} must be (sequences, steps[, features]) with at least one sequence, got shape {array.shape}"
        )
    return array[..., None] if array.ndim == 2 and label == "inputs" else array


def _is_client(value) -> bool:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, Client)
