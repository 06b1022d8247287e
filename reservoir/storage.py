"""Reservoir states in HDF5.

File layout (``format_version`` 1): one group per run, holding

* ``states``  (T, N) or (B, T, N), chunked along time;
* ``inputs``, ``targets`` beside it when given;
* attributes ``format_version``, ``library_version``, ``config`` (JSON of the model).

The file is written to a temporary name and renamed into place when complete, so a
crash never leaves a half-written file under the final name and never clobbers an
earlier complete one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

FORMAT_VERSION = 1
TIME_CHUNK = 1024

__all__ = ["save_run", "load_run", "FORMAT_VERSION"]


def _chunks(shape) -> tuple:
    # Time is the second-to-last axis; a chunk holds TIME_CHUNK steps of every unit.
    chunk = list(shape)
    chunk[-2] = min(shape[-2], TIME_CHUNK)
    return tuple(chunk)


def save_run(path, name: str, states, *, inputs=None, targets=None, config: dict | None = None,
             compression: str | None = None) -> Path:
    """Write one run (states, optional inputs/targets, config) as group ``name`` of a new file."""
    from . import __version__

    path = Path(path)
    states = np.asarray(states)
    if states.ndim not in (2, 3):
        raise ValueError(f"states must be (T, N) or (B, T, N), got shape {states.shape}")
    partial = path.with_name(path.name + ".partial")
    with h5py.File(partial, "w") as handle:
        handle.attrs["format_version"] = FORMAT_VERSION
        group = handle.create_group(name)
        group.attrs["library_version"] = __version__
        group.attrs["config"] = json.dumps(config or {}, default=str)
        for key, array in (("states", states), ("inputs", inputs), ("targets", targets)):
            if array is None:
                continue
            array = np.asarray(array)
            if array.shape[:-1] != states.shape[:-1]:
                raise ValueError(f"{key} has shape {array.shape}; its time axis must match states {states.shape}")
            group.create_dataset(key, data=array, chunks=_chunks(array.shape), compression=compression)
    os.replace(partial, path)
    return path


def load_run(path, name: str) -> dict:
    """Read a run written by ``save_run`` into memory: a dict of arrays plus ``config``."""
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise OSError(f"{path} is not a readable HDF5 file (truncated or corrupt?): {error}") from None
    with handle:
        version = handle.attrs.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: format_version {version!r} is not supported "
                             f"(this library reads {FORMAT_VERSION})")
        if name not in handle:
            raise KeyError(f"{path} has no run named {name!r}; it has {sorted(handle)}")
        group = handle[name]
        run = {key: group[key][...] for key in ("states", "inputs", "targets") if key in group}
        run["config"] = json.loads(group.attrs["config"])
    return run
