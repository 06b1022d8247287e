"""Reservoir states in HDF5: streamed to disk, checkpointed, resumable.

File layout (``format_version`` 2, ``FORMAT_VERSION``)::

    /                      attrs: format_version, library ("reservoir-engine")
    /<run>/                attrs: config (JSON), library_version, dtype, storage_dtype, steps (T)
    /<run>/states          (T, N) or (B, T, N), chunked along time
    /<run>/inputs          beside the states when given (same leading axes)
    /<run>/targets         idem
    /<run>/progress        int64 (2,): steps_done, checkpoint slot
    /<run>/checkpoint      (2, B, N): two slots of the state after `steps_done` steps (ESN, ELM)
    /<run>/checkpoint/     or a group of named state arrays, each (2, ...) (LSM: v, i_exc, i_inh,
                           refractory, ring_exc, ring_inh, trace, step, spike_count)
    /<run>/spikes/         LSM: steps int64 (S,), neurons int32 (S,), trials int32 (S,) when
                           batched; only the first `spike_count` (saved with the state) are committed
    /<run>/weights/        optional: each matrix by name (W, W_in, bias, delays); a sparse one as a
                           group with data, indices, indptr and attr shape

Crash safety comes from the order of writes, not from luck: every dataset is
created at full size with its chunks allocated up front, so after creation the
file's metadata never changes and a crash can only interrupt a raw data write.
A checkpoint writes the states of the new steps, flushes, writes the reservoir
state into the slot not in use, flushes, and only then writes ``progress`` (16
bytes, the commit point) and flushes again. A run killed at any moment therefore
reopens with every step up to ``steps_done`` intact and a matching saved state,
and ``resume`` continues from there. (Compression needs chunks of unknown size,
which cannot be allocated up front: compressed runs are written the same way but
their chunk index grows as they go, and only a completed run is guaranteed. The
spike lists of an LSM run grow as they go, their length unknown in advance; the
committed count lives in the checkpoint slot, so entries past it, written before a
crash, are ignored and overwritten on resume. Spike lists are never compressed: an
append rewrites the last, partly filled chunk, and a compressed chunk is rewritten
whole, committed entries included (random kills corrupted 2 of 7 lzf runs in
testing), while an uncompressed one is written in place, only where the new entries
go. Both growing cases are checked by tests that kill writers at random moments,
not guaranteed by construction.)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import h5py
import numpy as np

FORMAT_VERSION = 2  # 2: named weights, LSM checkpoints and spike lists
LIBRARY = "reservoir-engine"
DEFAULT_CHUNK_STEPS = 256
SPIKE_CHUNK = 65536  # entries per chunk of a spike list

__all__ = ["StateStore", "Run", "save_run", "load_run", "FORMAT_VERSION"]


class StoreError(ValueError):
    """A state file that cannot be used as asked (foreign, newer, mismatched)."""


class StateStore:
    """An HDF5 file of reservoir runs.

    Parameters
    ----------
    path : str or Path
    mode : {"r", "w", "a"}
        Read only; create (truncate); read/write, creating the file if missing.

    Use as a context manager. Only one process may write a file at a time (HDF5
    file locking); a second writer gets an error naming the file.
    """

    def __init__(self, path, mode: str = "a"):
        if mode not in ("r", "w", "a"):
            raise ValueError(f"mode must be 'r', 'w' or 'a', got {mode!r}")
        self.path = Path(path)
        self.mode = mode
        parent = self.path.parent
        if not parent.is_dir():
            what = "is not a directory" if parent.exists() else "does not exist"
            raise FileNotFoundError(
                f"cannot open {self.path}: the directory {parent} {what} (create it first, e.g. os.makedirs)"
            )
        if mode == "r" and not self.path.exists():
            raise FileNotFoundError(f"no such state file: {self.path}")
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory; a StateStore needs a file path (e.g. states.h5)")
        if mode != "r" and not os.access(parent if not self.path.exists() else self.path, os.W_OK):
            raise PermissionError(
                f"cannot write {self.path}: no write permission "
                f"{'for the file' if self.path.exists() else f'in the directory {parent}'}"
            )
        try:
            self._file = h5py.File(self.path, mode)
        except (OSError, BlockingIOError) as error:
            text = str(error)
            # HDF5 says "unable to lock file"; a truncated file's message has "sblock" in it.
            if "truncated" not in text and re.search(r"\block", text, flags=re.IGNORECASE):
                raise OSError(f"{self.path} is open for writing in another process (HDF5 file lock): {text}") from None
            raise OSError(f"{self.path} is not a readable HDF5 file (truncated or corrupt?): {text}") from None
        try:
            self._check_format()
        except Exception:
            self._file.close()
            raise

    def _check_format(self):
        attrs = self._file.attrs
        if "format_version" not in attrs:
            if len(self._file) or self.mode == "r":
                raise StoreError(f"{self.path} is not a {LIBRARY} state file (no format_version attribute)")
            if self.mode != "r":
                attrs["format_version"] = FORMAT_VERSION
                attrs["library"] = LIBRARY
                self._file.flush()  # a new file is complete on disk before any run starts in it
            return
        version = int(attrs["format_version"])
        if attrs.get("library", LIBRARY) != LIBRARY:
            raise StoreError(f"{self.path} was written by {attrs['library']!r}, not {LIBRARY}")
        if version > FORMAT_VERSION:
            raise StoreError(
                f"{self.path} has format_version {version}, newer than this library reads "
                f"({FORMAT_VERSION}); upgrade reservoir-engine"
            )
        if version != FORMAT_VERSION:
            raise StoreError(f"{self.path} has format_version {version}; this library reads {FORMAT_VERSION}")

    # ------------------------------------------------------------------ access
    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()

    @property
    def attrs(self):
        """The file's own attributes (h5py ``AttributeManager``), e.g. to tag a file before its runs."""
        return self._file.attrs

    def flush(self) -> None:
        """Write what is buffered to disk."""
        self._file.flush()

    def __contains__(self, name: str) -> bool:
        return name in self._file

    def __iter__(self):
        return iter(self._file)

    def __getitem__(self, name: str) -> Run:
        if name not in self._file:
            raise KeyError(f"{self.path} has no run named {name!r}; it has {sorted(self._file)}")
        return Run(self._file[name], self.path)

    def create_run(
        self,
        name: str,
        *,
        steps: int,
        units: int,
        batch: int | None = None,
        dtype="float32",
        storage_dtype=None,
        inputs=None,
        targets=None,
        config: dict | None = None,
        compression: str | None = None,
        chunk_steps: int = DEFAULT_CHUNK_STEPS,
        states: bool = True,
        state_arrays: dict | None = None,
        spikes: bool = False,
    ) -> Run:
        """Create run `name` with room for `steps` states of `units` units (per sequence of `batch`).

        `inputs`/`targets` (arrays with the same leading axes) are written now.
        `storage_dtype` float16 halves the file of a float32 run. `states=False` stores
        no states (a spiking run that keeps only its spikes). `state_arrays` (name ->
        example array) makes the checkpoint a group of named arrays instead of one
        (B, units) array; `spikes` adds the growing spike lists.
        """
        if self.mode == "r":
            raise StoreError(f"{self.path} is open read-only")
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            raise ValueError(f"a run name is a non-empty string without '/', got {name!r}")
        if name in self._file:
            raise StoreError(
                f"{self.path} already has a run named {name!r}; use resume=True to continue it "
                "or another name (runs are never overwritten)"
            )
        if compression not in (None, "lzf", "gzip"):
            raise ValueError(f"compression must be None, 'lzf' or 'gzip', got {compression!r}")
        dtype = np.dtype(dtype)
        storage_dtype = dtype if storage_dtype is None else np.dtype(storage_dtype)
        if storage_dtype.kind != "f":
            raise TypeError(f"storage_dtype must be a float type, got {storage_dtype}")
        lead = (steps,) if batch is None else (batch, steps)
        extras = {
            key: np.asarray(array) for key, array in (("inputs", inputs), ("targets", targets)) if array is not None
        }
        for key, array in extras.items():  # checked before anything is written: a refused run leaves no trace
            if array.shape[:-1] != lead:
                raise ValueError(
                    f"{key} has shape {array.shape}; its time axis (and batch) must match "
                    f"the states': {lead} + (features,)"
                )
        group = self._file.create_group(name)
        try:
            self._fill_run(
                group,
                lead,
                units,
                batch,
                dtype,
                storage_dtype,
                extras,
                config,
                compression,
                chunk_steps,
                states,
                state_arrays,
                spikes,
            )
        except BaseException:  # e.g. the disk filled up: no half-made run keeps the name
            del self._file[name]
            raise
        self._file.flush()
        return Run(group, self.path)

    @staticmethod
    def _fill_run(
        group,
        lead,
        units,
        batch,
        dtype,
        storage_dtype,
        extras,
        config,
        compression,
        chunk_steps,
        states,
        state_arrays,
        spikes,
    ) -> None:
        steps = lead[-1]
        group.attrs["config"] = json.dumps(config or {}, default=str)
        group.attrs["library_version"] = _library_version()
        group.attrs["dtype"] = dtype.name
        group.attrs["storage_dtype"] = storage_dtype.name
        group.attrs["steps"] = steps
        if states:
            _create_allocated(group, "states", lead + (units,), storage_dtype, chunk_steps, compression)
        for key, array in extras.items():
            _create_allocated(group, key, array.shape, array.dtype, chunk_steps, compression)[...] = array
        if state_arrays is None:
            _create_allocated(group, "checkpoint", (2, batch or 1, units), dtype, None, None)
        else:
            slots = group.create_group("checkpoint")
            for key, example in state_arrays.items():
                example = np.asarray(example)
                _create_allocated(slots, key, (2,) + example.shape, example.dtype, None, None)
        if spikes:
            events = group.create_group("spikes")
            for key, kind in (("steps", np.int64), ("neurons", np.int32)) + ((("trials", np.int32),) if batch else ()):
                # Never compressed: appending rewrites a partly filled chunk, and a compressed chunk
                # is rewritten whole, committed entries included (a kill mid-write lost them in tests).
                events.create_dataset(key, shape=(0,), maxshape=(None,), dtype=kind, chunks=(SPIKE_CHUNK,))
        _create_allocated(group, "progress", (2,), np.int64, None, None)[...] = (0, 0)


class Run:
    """One run of a store: datasets, progress and the saved state."""

    def __init__(self, group: h5py.Group, path: Path):
        self._group = group
        self.path = path
        self.name = group.name.lstrip("/")

    @property
    def states(self) -> h5py.Dataset:
        if "states" not in self._group:
            raise KeyError(f"{self.path}:{self.name} stores no states (spikes only)")
        return self._group["states"]

    @property
    def inputs(self):
        return self._group["inputs"] if "inputs" in self._group else None

    @property
    def targets(self):
        return self._group["targets"] if "targets" in self._group else None

    @property
    def config(self) -> dict:
        return json.loads(self._group.attrs["config"])

    @property
    def library_version(self) -> str:
        """reservoir-engine version that created the run."""
        return str(self._group.attrs["library_version"])

    @property
    def batched(self) -> bool:
        if "states" in self._group:
            return self.states.ndim == 3
        return "checkpoint" in self._group and "trials" in self._group.get("spikes", {})

    @property
    def steps(self) -> int:
        """Room for this many steps."""
        return int(self._group.attrs["steps"]) if "steps" in self._group.attrs else self.states.shape[-2]

    @property
    def steps_done(self) -> int:
        """Steps written and committed; everything before it is intact after any crash."""
        return int(self._group["progress"][0])

    @property
    def complete(self) -> bool:
        return self.steps_done == self.steps

    def saved_state(self):
        """The reservoir state after `steps_done` steps: (B, N), or a dict of named arrays."""
        slot = int(self._group["progress"][1])
        checkpoint = self._group["checkpoint"]
        if isinstance(checkpoint, h5py.Group):
            return {key: checkpoint[key][slot] for key in checkpoint}
        return checkpoint[slot]

    @property
    def spike_count(self) -> int:
        """Spikes committed (those of the first `steps_done` steps)."""
        if "spikes" not in self._group:
            raise KeyError(f"{self.path}:{self.name} stores no spikes")
        return int(self.saved_state()["spike_count"])

    def spikes(self, start: int = 0, stop: int | None = None) -> dict:
        """Committed spikes [start, stop) as arrays: steps, neurons (and trials when batched)."""
        count = self.spike_count
        stop = count if stop is None else min(stop, count)
        events = self._group["spikes"]
        return {key: events[key][start:stop] for key in events}

    def write_spikes(self, first: int, steps, neurons, trials=None) -> None:
        """Write spikes as entries [first, first + S) of the spike lists (not yet committed)."""
        events = self._group["spikes"]
        stop = first + len(steps)
        for key, values in (("steps", steps), ("neurons", neurons), ("trials", trials)):
            if key in events:
                if events[key].shape[0] < stop:
                    events[key].resize((stop,))
                events[key][first:stop] = values

    def write(self, start: int, states: np.ndarray) -> None:
        """Write states of steps [start, start + T) (not yet committed)."""
        stop = start + states.shape[-2]
        if stop > self.steps:
            raise ValueError(f"{self.path}:{self.name}: writing steps {start}..{stop - 1} past the end ({self.steps})")
        if self.batched:
            self.states[:, start:stop] = states
        else:
            self.states[start:stop] = states

    def commit(self, steps_done: int, state: np.ndarray) -> None:
        """Make steps [0, steps_done) durable with the state after them (see the module docstring)."""
        file = self._group.file
        file.flush()
        progress = self._group["progress"]
        slot = 1 - int(progress[1])
        checkpoint = self._group["checkpoint"]
        if isinstance(checkpoint, h5py.Group):
            for key in checkpoint:
                checkpoint[key][slot] = state[key]
        else:
            checkpoint[slot] = np.asarray(state).reshape(checkpoint.shape[1:])
        file.flush()
        progress[...] = (steps_done, slot)
        file.flush()

    def save_weights(self, **matrices) -> None:
        """Store the reservoir's matrices by name (sparse ones as CSR arrays), so the run can
        be rebuilt without its seed, e.g. ``save_weights(W=W, W_in=W_in, bias=bias)``."""
        import scipy.sparse as sp

        if "weights" in self._group:
            return
        weights = self._group.create_group("weights")
        for key, matrix in matrices.items():
            if sp.issparse(matrix):
                matrix = sp.csr_array(matrix)
                group = weights.create_group(key)
                for part in ("data", "indices", "indptr"):
                    group.create_dataset(part, data=getattr(matrix, part))
                group.attrs["shape"] = matrix.shape
            else:
                weights.create_dataset(key, data=np.asarray(matrix))
        self._group.file.flush()

    def weights(self) -> dict | None:
        """The matrices stored by ``save_weights`` (name -> array or CSR array), or None."""
        import scipy.sparse as sp

        if "weights" not in self._group:
            return None
        stored = {}
        for key, item in self._group["weights"].items():
            if isinstance(item, h5py.Group):
                stored[key] = sp.csr_array(
                    (item["data"][...], item["indices"][...], item["indptr"][...]), shape=tuple(item.attrs["shape"])
                )
            else:
                stored[key] = item[...]
        return stored

    def time_range(self, start: int = 0, stop: int | None = None) -> TimeRange:
        """The states of steps [start, stop) as a lazy view (no copy); readouts accept it."""
        return TimeRange(self.states, start, self.steps_done if stop is None else stop)


class TimeRange:
    """Steps [start, stop) of a stored dataset, read only when sliced (by time)."""

    def __init__(self, dataset, start: int, stop: int):
        steps = dataset.shape[-2]
        if not 0 <= start <= stop <= steps:
            raise ValueError(f"time range {start}..{stop} is outside 0..{steps}")
        self.dataset, self.start, self.stop = dataset, start, stop
        self.shape = dataset.shape[:-2] + (stop - start, dataset.shape[-1])
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index):
        if self.ndim == 3:  # (B, T, N): a sequence is itself a time range
            return TimeRange(_SequenceView(self.dataset, index), self.start, self.stop)
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a TimeRange is read with contiguous slices of time")
        first, last, _ = index.indices(self.shape[0])
        return self.dataset[self.start + first : self.start + last]


class _SequenceView:
    """Sequence b of a (B, T, N) dataset, sliceable by time."""

    def __init__(self, dataset, b: int):
        self.dataset, self.b = dataset, b
        self.shape = dataset.shape[1:]

    def __getitem__(self, index):
        return self.dataset[self.b, index]


def _create_allocated(group, name, shape, dtype, chunk_steps, compression):
    """A dataset whose storage is allocated now (so later writes never touch metadata)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    chunks = None
    if chunk_steps is not None and len(shape) >= 2:
        # one sequence, `chunk_steps` steps, every unit
        chunks = (1,) * (len(shape) - 2) + (max(1, min(chunk_steps, shape[-2])), shape[-1])
    if compression is None:
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return group.create_dataset(
        name,
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        compression=compression,
        dcpl=dcpl,
        fillvalue=np.zeros((), dtype=dtype)[()],
    )


def _library_version() -> str:
    from . import __version__

    return __version__


def save_run(
    path, name: str, states, *, inputs=None, targets=None, config: dict | None = None, compression: str | None = None
) -> Path:
    """Write in-memory states (and inputs/targets) as a complete run of a new file."""
    states = np.asarray(states)
    if states.ndim not in (2, 3):
        raise ValueError(f"states must be (T, N) or (B, T, N), got shape {states.shape}")
    batch = states.shape[0] if states.ndim == 3 else None
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with StateStore(partial, "w") as store:
        run = store.create_run(
            name,
            steps=states.shape[-2],
            units=states.shape[-1],
            batch=batch,
            dtype=states.dtype if states.dtype.kind == "f" else np.float64,
            inputs=inputs,
            targets=targets,
            config=config,
            compression=compression,
        )
        run.write(0, states)
        run.commit(states.shape[-2], np.zeros((batch or 1, states.shape[-1])))
    partial.replace(path)  # an earlier complete file is only replaced by a complete one
    return path


def load_run(path, name: str) -> dict:
    """Read a whole run into memory: a dict of arrays plus ``config``."""
    with StateStore(path, "r") as store:
        run = store[name]
        result = {
            key: dataset[...]
            for key, dataset in (("states", run.states), ("inputs", run.inputs), ("targets", run.targets))
            if dataset is not None
        }
        result["config"] = run.config
    return result
