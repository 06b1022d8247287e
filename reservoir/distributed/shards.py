"""Shard files: their names, the identity each one carries, and the checks of a shard directory.

A harvest writes one HDF5 file per task (one writer per file), ``shard-00000.h5``,
``shard-00001.h5``, ... in one directory, each a ``StateStore`` holding one run of the
task's sequences. Before the run starts, the file's root attributes receive the shard's
identity (``ShardIdentity``): the model's fingerprint, the run's name, the shard's
index, its sequence range and a hash of its inputs. A directory holds the shards of one
run: a harvest that finds shards of another run, of another reservoir, or of other
inputs in it stops before any work starts, and a retried task reopens (resumes) only a
shard whose identity is its own.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

__all__ = ["ShardError", "ShardIdentity", "model_fingerprint", "shard_path", "read_identity", "check_directory"]

SHARD_PATTERN = "shard-*.h5"
IDENTITY_ATTRIBUTE = "shard_identity"
# Attributes that are caches or run state, not part of what a model computes.
_NOT_IDENTITY = {"_prepared", "_state", "_state_single", "_backend", "backend"}


class ShardError(ValueError):
    """A shard directory or file that does not belong to the harvest asked for."""


@dataclass(frozen=True)
class ShardIdentity:
    """What a shard is: which model, which run, which sequences of which inputs."""

    fingerprint: str  # model_fingerprint(model)
    run: str  # the run's name (the group in the shard and in the index)
    shard: int  # index of the shard, 0-based
    shards: int  # number of shards of the run
    start: int  # first sequence (global index)
    stop: int  # one past the last sequence
    sequences: int  # sequences of the whole run
    steps: int  # time steps per sequence
    inputs: str  # hash of the shard's inputs (and targets)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ShardIdentity:
        return cls(**json.loads(text))

    def same_run(self, other: ShardIdentity) -> bool:
        """Same run of the same model: the fields every shard of a run shares."""
        return (self.fingerprint, self.run, self.shards, self.sequences, self.steps) == (
            other.fingerprint,
            other.run,
            other.shards,
            other.sequences,
            other.steps,
        )


def _hash_array(digest, name: str, array) -> None:
    array = np.ascontiguousarray(array)
    digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
    digest.update(array.tobytes())


def _hash_value(digest, name: str, value, depth: int = 0) -> None:
    """Feed the arrays (dense and sparse) reachable from `value` into `digest`."""
    if sp.issparse(value):
        matrix = sp.csr_array(value)
        matrix.sort_indices()
        for part in ("data", "indices", "indptr"):
            _hash_array(digest, f"{name}.{part}", getattr(matrix, part))
    elif isinstance(value, np.ndarray):
        _hash_array(digest, name, value)
    elif isinstance(value, (list, tuple)) and depth < 4:
        for position, item in enumerate(value):
            _hash_value(digest, f"{name}[{position}]", item, depth + 1)
    elif hasattr(value, "__dict__") and hasattr(value, "config") and depth < 4:  # a sub-model of a composed one
        _hash_model(digest, name, value, depth + 1)


def _hash_model(digest, name: str, model, depth: int = 0) -> None:
    config = model.config() if callable(getattr(model, "config", None)) else {}
    digest.update(f"{name}:{type(model).__qualname__}:{json.dumps(config, sort_keys=True, default=str)}".encode())
    for key in sorted(vars(model)):
        if key not in _NOT_IDENTITY:
            _hash_value(digest, f"{name}.{key}", vars(model)[key], depth)


def model_fingerprint(model) -> str:
    """A hash of a model's configuration and every weight array it holds (SHA-256, hex).

    Two models that compute the same states from the same inputs have the same
    fingerprint; another seed, size, scaling or any changed weight gives another.
    Caches and the running state are left out (a harvest starts every sequence from
    the model's initial state).
    """
    digest = hashlib.sha256()
    _hash_model(digest, "model", model)
    return digest.hexdigest()


def inputs_hash(*arrays) -> str:
    digest = hashlib.sha256()
    for position, array in enumerate(arrays):
        if array is not None:
            _hash_array(digest, f"input{position}", array)
    return digest.hexdigest()[:32]


def shard_path(directory, shard: int) -> Path:
    return Path(directory) / f"shard-{shard:05d}.h5"


def shard_files(directory) -> list[Path]:
    return sorted(Path(directory).glob(SHARD_PATTERN))


def read_identity(path) -> ShardIdentity | None:
    """The identity stored in a shard file (None for a file that has none yet)."""
    import h5py

    try:
        with h5py.File(path, "r", locking=False) as file:
            text = file.attrs.get(IDENTITY_ATTRIBUTE)
    except OSError as error:
        raise ShardError(f"{path} is not a readable shard (truncated or corrupt HDF5 file?): {error}") from None
    return None if text is None else ShardIdentity.from_json(text)


def shard_complete(path, name: str) -> bool:
    """Whether a shard file holds run `name` with every step committed."""
    from ..storage import StateStore

    with StateStore(path, "r") as store:
        return name in store and store[name].complete


def check_directory(directory, identities: list[ShardIdentity]) -> list[int]:
    """Check a shard directory before a harvest into it; return the shards already there.

    Creates the directory if missing. Raises PermissionError when it cannot be written
    (tested by writing a file, which also holds for root and for read-only mounts) and
    ShardError when it holds shards of another run, of another model or of other inputs,
    or shards that disagree with one another.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(f"shard directory {directory} is not a directory (a file is in the way)") from None
    except OSError as error:
        raise PermissionError(f"cannot create the shard directory {directory}: {error.strerror}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as error:
        raise PermissionError(f"cannot write in the shard directory {directory}: {error.strerror}") from None
    expected = {identity.shard: identity for identity in identities}
    found = []
    seen = {}
    for path in shard_files(directory):
        identity = read_identity(path)
        if identity is None:  # created, killed before its identity was written: nothing in it yet
            continue
        for other_path, other in seen.items():
            if not identity.same_run(other):
                raise ShardError(
                    f"{directory} holds shards of different runs or reservoirs: {other_path.name} "
                    f"({_describe(other)}) and {path.name} ({_describe(identity)}); a shard directory "
                    "holds one run"
                )
        seen[path] = identity
        wanted = expected.get(identity.shard)
        if wanted is None or wanted != identity:
            reference = wanted or identities[0]
            reason = (
                "another reservoir (model fingerprint differs)"
                if identity.fingerprint != reference.fingerprint
                else f"another run ({identity.run!r}, not {reference.run!r})"
                if identity.run != reference.run
                else "other inputs or another split into shards"
            )
            raise ShardError(
                f"{path} belongs to {reason}: {_describe(identity)}; this harvest is {_describe(reference)}. "
                "Use an empty directory (or remove the old shards)"
            )
        if path != shard_path(directory, identity.shard):
            raise ShardError(f"{path} claims to be shard {identity.shard}; the file name says otherwise")
        found.append(identity.shard)
    return found


def _describe(identity: ShardIdentity) -> str:
    return (
        f"run {identity.run!r}, model {identity.fingerprint[:12]}, shard {identity.shard} of {identity.shards}, "
        f"sequences {identity.start}..{identity.stop - 1} of {identity.sequences}, {identity.steps} steps"
    )


def claim(store, identity: ShardIdentity) -> None:
    """Write the identity into a fresh shard, or check the one a resumed shard carries."""
    attrs = store.attrs
    text = attrs.get(IDENTITY_ATTRIBUTE)
    if text is None:
        if len(list(store)):
            raise ShardError(f"{store.path} holds runs but no shard identity; it is not a shard of this harvest")
        attrs[IDENTITY_ATTRIBUTE] = identity.to_json()
        store.flush()  # the identity is on disk before the run is created in the file
        return
    if ShardIdentity.from_json(text) != identity:
        raise ShardError(
            f"{store.path} is {_describe(ShardIdentity.from_json(text))}; this task writes {_describe(identity)}"
        )
