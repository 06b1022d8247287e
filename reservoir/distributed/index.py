"""The index file: all shards of a harvest as one ``StateStore`` run, through HDF5 virtual datasets.

The index is a state file of the usual layout (``reservoir.storage``) whose run holds
``states`` (and ``inputs``, ``targets``) as virtual datasets of shape (sequences, steps,
...) mapping each shard's sequences onto their place (``h5py.VirtualLayout``); nothing
is copied but the final state of every sequence (the checkpoint, ESN/ELM runs). The
sources are named relative to the index, so the directory can be moved as a whole. A
missing shard would read as the fill value, NaN, which every readout refuses; opening
through ``check_index`` names it instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..storage import FORMAT_VERSION, LIBRARY, StateStore, _library_version
from .shards import ShardError, read_identity

__all__ = ["write_index", "check_index", "index_shards"]

SHARDS_ATTRIBUTE = "shards"
FINGERPRINT_ATTRIBUTE = "fingerprint"


def write_index(path, name: str, shard_paths: list, fingerprint: str) -> Path:
    """Write the index of complete shards (in sequence order) as run `name` of the file `path`.

    Written to ``<path>.partial`` first and renamed, so an index on disk is always whole.
    """
    path = Path(path)
    shards = []
    for shard_file in shard_paths:
        with StateStore(shard_file, "r") as store:
            run = store[name]
            if not run.complete:
                raise ShardError(f"{shard_file}: run {name!r} is not complete ({run.steps_done} of {run.steps} steps)")
            group = run._group
            shards.append(
                {
                    "file": os.path.relpath(shard_file, path.parent),
                    "datasets": {
                        key: (group[key].shape, group[key].dtype)
                        for key in ("states", "inputs", "targets")
                        if key in group
                    },
                    "state": run.saved_state(),
                    "attrs": dict(group.attrs),
                }
            )
    first = shards[0]
    batch = sum(shard["datasets"]["states"][0][0] for shard in shards)
    partial = path.with_name(path.name + ".partial")
    with h5py.File(partial, "w") as file:
        file.attrs["format_version"] = FORMAT_VERSION
        file.attrs["library"] = LIBRARY
        group = file.create_group(name)
        for key in ("config", "dtype", "storage_dtype", "steps"):
            group.attrs[key] = first["attrs"][key]
        group.attrs["library_version"] = _library_version()
        group.attrs[SHARDS_ATTRIBUTE] = json.dumps([shard["file"] for shard in shards])
        group.attrs[FINGERPRINT_ATTRIBUTE] = fingerprint
        for key, (shape, dtype) in first["datasets"].items():
            layout = h5py.VirtualLayout(shape=(batch,) + tuple(shape[1:]), dtype=dtype)
            start = 0
            for shard in shards:
                if key not in shard["datasets"]:
                    raise ShardError(f"{shard['file']} has no {key}; shard {first['file']} has")
                shard_shape = shard["datasets"][key][0]
                layout[start : start + shard_shape[0]] = h5py.VirtualSource(shard["file"], f"{name}/{key}", shard_shape)
                start += shard_shape[0]
            fill = np.nan if np.dtype(dtype).kind == "f" else 0
            group.create_virtual_dataset(key, layout, fillvalue=fill)
        states = [shard["state"] for shard in shards]
        if not isinstance(states[0], dict):  # ESN/ELM: (2, B, N), both slots the final state
            final = np.concatenate([np.asarray(state) for state in states])
            group.create_dataset("checkpoint", data=np.stack([final, final]))
        group.create_dataset("progress", data=np.array([first["attrs"]["steps"], 0], dtype=np.int64))
    partial.replace(path)
    return path


def index_shards(path, name: str | None = None) -> tuple[str, list[Path], str]:
    """(run name, shard paths, fingerprint) recorded in an index file."""
    path = Path(path)
    with h5py.File(path, "r") as file:
        names = [key for key in file if SHARDS_ATTRIBUTE in file[key].attrs]
        if not names:
            raise ShardError(f"{path} is not an index of shards (no run lists its shards)")
        if name is None:
            if len(names) > 1:
                raise ValueError(f"{path} indexes several runs {names}; give name=")
            name = names[0]
        if name not in names:
            raise ShardError(f"{path} indexes run(s) {names}, not {name!r}")
        attrs = file[name].attrs
        files = [path.parent / relative for relative in json.loads(attrs[SHARDS_ATTRIBUTE])]
        return name, files, str(attrs[FINGERPRINT_ATTRIBUTE])


def check_index(
    path, *, name: str | None = None, fingerprint: str | None = None, shards_present: bool = True
) -> tuple[str, list[Path], str]:
    """Check that an index's shards are all there and belong to it; return ``index_shards``.

    Raises ShardError naming a missing shard (unless not `shards_present`), one of
    another model or run, or an index of another model than `fingerprint`.
    """
    name, files, recorded = index_shards(path, name)
    if fingerprint is not None and recorded != fingerprint:
        raise ShardError(
            f"{path} indexes run {name!r} of another reservoir (model {recorded[:12]}, this one {fingerprint[:12]})"
        )
    for shard_file in files if shards_present else ():
        if not shard_file.exists():
            raise ShardError(f"{path}: shard {shard_file} of run {name!r} is missing")
        identity = read_identity(shard_file)
        if identity is None or identity.fingerprint != recorded or identity.run != name:
            raise ShardError(f"{path}: {shard_file} is not a shard of run {name!r} of this reservoir any more")
    return name, files, recorded
