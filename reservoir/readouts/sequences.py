"""Sequences of reservoir states for the gated readouts: what fit/predict accept, read window by window.

Users give one sequence (T, N), a batch (B, T, N), a list of sequences, StateStore runs,
h5py datasets or anything sliceable by time. Everything is split into per-sequence
*parts* and gathered into one of two readers with the same interface:

* ``Resident``: every part is an in-memory NumPy or CuPy array; the sequences are held
  as one flat (total steps, N) array on their device, and a window batch is one gather.
* ``Stored``: anything else (h5py datasets, TimeRanges); windows are read as contiguous
  time slices in file order, checked for NaN as they are read, and trained on with NumPy.

Both give ``lengths`` (steps per sequence), ``n_features``, ``xp`` and
``read(requests, targets)`` for requests [(sequence, start, stop)].
"""

from __future__ import annotations

import numpy as np

from .. import _validation as check
from .._arrays import is_device, namespace, to_host

__all__ = [
    "Resident",
    "Stored",
    "sequence_parts",
    "aligned_parts",
    "build_data",
    "is_resident",
    "width",
    "one_value_per_entry",
    "host",
]


def is_resident(obj) -> bool:
    """An in-memory array (NumPy or CuPy) rather than something read by slices (h5py, TimeRange)."""
    return isinstance(obj, np.ndarray) or is_device(obj)


def host(values) -> np.ndarray:
    """Values as a NumPy array (copied from the GPU for a device array)."""
    return np.asarray(to_host(values))


def width(part) -> int:
    """Columns of a (T,) or (T, k) part."""
    return 1 if len(part.shape) == 1 else int(part.shape[1])


def one_value_per_entry(y) -> bool:
    """True when y is a flat list or 1-D array of scalars (labels), not per-step targets."""
    if y is None:
        return False
    if isinstance(y, (list, tuple)):
        return len(y) > 0 and all(np.ndim(v) == 0 for v in y)
    return len(np.shape(y)) == 1


class _Row:
    """Sequence ``b`` of a (B, T, N) dataset, read by time slices (``data[b, start:stop]``)."""

    def __init__(self, data, b: int):
        self.data, self.b = data, b
        self.shape = tuple(data.shape[1:])

    def __getitem__(self, index):
        return self.data[self.b, index]


def _resident_sequences(array, dtype, name: str):
    """A NumPy/CuPy array (T,), (T, n) or (B, T, n) as a list of (T, n) arrays of `dtype`; NaN raises."""
    batch, batched = check.sequences(array, dtype, name)  # a CuPy array is checked on the device
    return list(batch), batched


def sequence_parts(X, name: str, dtype):
    """Split what holds sequences into per-sequence 2-D parts.

    Returns ([(part, run, row)], structure): `part` is sliceable by time, `run` the
    StateStore run it came from (or None) and `row` its sequence index in a batched run;
    structure is "single", "batch" or "list" (how predictions are shaped back).
    """
    from ..storage import Run, TimeRange

    if isinstance(X, Run):
        states = X.time_range()  # the committed steps only
        if X.batched:
            return [(states[b], X, b) for b in range(states.shape[0])], "batch"
        return [(states, X, None)], "single"
    if isinstance(X, (list, tuple)):
        if not X:
            raise ValueError(f"{name} is an empty list")
        if np.ndim(X[0]) == 0 and not isinstance(X[0], Run):
            X = np.asarray(X)  # a plain list of numbers: one univariate sequence
        else:
            parts = []
            for index, item in enumerate(X):
                parts += sequence_parts(item, f"{name}[{index}]", dtype)[0]
            return parts, "list"
    if is_resident(X) or not (hasattr(X, "shape") and hasattr(X, "__getitem__")):
        sequences, batched = _resident_sequences(X, dtype, name)
        return [(s, None, None) for s in sequences], "batch" if batched else "single"
    ndim = len(X.shape)  # an h5py dataset, a TimeRange or another array-like read by slices
    if ndim == 2:
        return [(X, None, None)], "single"
    if ndim == 3:
        rows = [X[b] if isinstance(X, TimeRange) else _Row(X, b) for b in range(X.shape[0])]
        return [(row, None, None) for row in rows], "batch"
    raise ValueError(f"{name} must be (T, features) or (B, T, features) when read from storage; got shape {X.shape}")


def _run_part(run, row, key: str, name: str):
    """Targets or inputs stored beside a run's states, as a lazy time range of the committed steps."""
    from ..storage import TimeRange

    dataset = getattr(run, key)
    if dataset is None:
        raise ValueError(f"{name}: run {run.name!r} of {run.path} has no {key}; pass them explicitly")
    values = TimeRange(dataset, 0, run.steps_done)
    return values if row is None else values[row]


def aligned_parts(values, items, structure: str, key: str, name: str, dtype):
    """Per-step values (targets or inputs) aligned with the sequences `items`.

    ``values`` None takes them from the runs the sequences came from. Otherwise it
    follows X: one sequence takes (T,) or (T, k); a batch (B, T) or (B, T, k); a list a
    list of per-sequence arrays (or one array with a leading sequence axis). Returns
    (parts, per_step_scalars).
    """
    if values is None:
        if any(run is None for _, run, _ in items):
            raise ValueError(f"{name} is required: X holds arrays, not StateStore runs with {key}")
        return [_run_part(run, row, key, name) for _, run, row in items], False
    if isinstance(values, (list, tuple)) and values and np.ndim(values[0]) > 0:
        if len(values) != len(items):
            raise ValueError(f"{name} has {len(values)} sequences but X has {len(items)}")
        parts = [sequence_parts(v, f"{name}[{i}]", dtype)[0] for i, v in enumerate(values)]
        if any(len(p) != 1 for p in parts):
            raise ValueError(f"every item of {name} must be one sequence: (T,) or (T, k)")
        return [p[0][0] for p in parts], all(np.ndim(v) == 1 for v in values)
    resident = is_resident(values) or not hasattr(values, "shape")
    if resident and not is_resident(values):
        values = np.asarray(values)
    ndim = len(values.shape)
    if structure == "single":
        if ndim not in (1, 2):
            raise ValueError(f"{name} must be (T,) or (T, k) for one sequence; got shape {values.shape}")
        parts = [part for part, _, _ in sequence_parts(values, name, dtype)[0]]
        return parts, ndim == 1
    if ndim not in (2, 3):
        raise ValueError(f"{name} must be (B, T) or (B, T, k) for a batch of sequences; got shape {values.shape}")
    if values.shape[0] != len(items):
        raise ValueError(f"{name} has {values.shape[0]} sequences but X has {len(items)}")
    if resident:
        values = values[..., None] if ndim == 2 else values
        return [part for part, _, _ in sequence_parts(values, name, dtype)[0]], ndim == 2
    return [_Row(values, b) for b in range(values.shape[0])], ndim == 2


def _rows_of_one_array(arrays):
    """The (B, T, n) C-contiguous array whose rows 0..B-1 `arrays` are, in order (then the flat
    view needs no copy), or None."""
    base = arrays[0].base
    if base is None or getattr(base, "ndim", 0) != 3 or base.shape[0] != len(arrays):
        return None
    if not base.flags.c_contiguous or any(a.base is not base or a.shape != base.shape[1:] for a in arrays):
        return None
    pointer = (lambda a: a.data.ptr) if hasattr(base.data, "ptr") else (lambda a: a.__array_interface__["data"][0])
    row_bytes = base.strides[0]
    if all(pointer(a) == pointer(base) + i * row_bytes for i, a in enumerate(arrays)):
        return base
    return None


class Resident:
    """Sequences held in memory (NumPy or CuPy): one flat (total steps, n) array, windows gathered."""

    def __init__(self, xp, features: list, targets: list | None, dtype):
        self.xp = xp
        self.lengths = np.array([f.shape[0] for f in features], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.features = self._flat(features, dtype)
        self.targets = None if targets is None else self._flat(targets, dtype)
        self.n_features = int(self.features.shape[1])

    @property
    def n_targets(self) -> int:
        return int(self.targets.shape[1])

    def _flat(self, arrays, dtype):
        xp = self.xp
        arrays = [xp.asarray(a, dtype=dtype).reshape(a.shape[0], -1) for a in arrays]
        if len(arrays) == 1:
            return arrays[0]
        batch = _rows_of_one_array(arrays)
        return batch.reshape(-1, batch.shape[-1]) if batch is not None else xp.concatenate(arrays)

    def read(self, requests, targets: bool):
        """Window batch (B, W, n) for requests [(sequence, start, stop)], padded after each
        window's end by repeating its last step (padding is masked out downstream)."""
        xp = self.xp
        sequence, start, stop = (np.array(column, dtype=np.int64) for column in zip(*requests))
        lengths = stop - start
        steps = np.minimum(np.arange(int(lengths.max()))[None, :], lengths[:, None] - 1)
        index = xp.asarray((self.offsets[sequence] + start)[:, None] + steps).ravel()
        X = xp.take(self.features, index, axis=0).reshape(len(requests), steps.shape[1], -1)
        Y = xp.take(self.targets, index, axis=0).reshape(len(requests), steps.shape[1], -1) if targets else None
        return X, Y

    def target_sum(self, sequence: int, start: int, stop: int):
        offset = int(self.offsets[sequence])
        return host(self.targets[offset + start : offset + stop].sum(axis=0)).astype(np.float64)

    def on(self, xp) -> Resident:
        """The same sequences with their features on the device of `xp` (targets are not moved)."""
        moved = Resident.__new__(Resident)
        moved.__dict__.update(self.__dict__)
        moved.xp, moved.features = xp, xp.asarray(host(self.features))
        return moved


class Stored:
    """Sequences read window by window from storage (h5py datasets, TimeRanges, any sliceable)."""

    xp = np

    def __init__(self, features: list, targets: list | None, names: list, dtype):
        self.parts = features  # per sequence: a list of parts whose columns are concatenated
        self.targets = targets
        self.names = names
        self.dtype = dtype
        self.lengths = np.array([parts[0].shape[0] for parts in features], dtype=np.int64)
        self.n_features = sum(width(p) for p in features[0])

    @property
    def n_targets(self) -> int:
        return width(self.targets[0])

    def _read(self, part, sequence: int, start: int, stop: int) -> np.ndarray:
        block = np.asarray(part[start:stop], dtype=self.dtype)
        if block.ndim == 1:
            block = block[:, None]
        if not np.all(np.isfinite(block)):
            step = start + int(np.argwhere(~np.isfinite(block))[0][0])
            raise ValueError(f"{self.names[sequence]} contains NaN or Inf at time step {step}")
        return block

    def read(self, requests, targets: bool):
        width_ = max(stop - start for _, start, stop in requests)
        X = np.zeros((len(requests), width_, self.n_features), dtype=self.dtype)
        Y = np.zeros((len(requests), width_, self.n_targets), dtype=self.dtype) if targets else None
        # In file order: contiguous hyperslabs, sequence by sequence, time ascending.
        for i in sorted(range(len(requests)), key=lambda i: requests[i]):
            sequence, start, stop = requests[i]
            column = 0
            for part in self.parts[sequence]:
                block = self._read(part, sequence, start, stop)
                X[i, : stop - start, column : column + block.shape[1]] = block
                column += block.shape[1]
            if targets:
                Y[i, : stop - start] = self._read(self.targets[sequence], sequence, start, stop)
        return X, Y

    def target_sum(self, sequence: int, start: int, stop: int):
        total = 0.0
        for first in range(start, stop, 4096):
            block = self._read(self.targets[sequence], sequence, first, min(first + 4096, stop))
            total = total + block.astype(np.float64).sum(axis=0)
        return total

    def on(self, xp):
        """A reader that gives the windows on the device of `xp` (a model fitted on CuPy arrays)."""
        return _OnDevice(self, xp)


class _OnDevice:
    """Windows of another reader, moved to the device of `xp` as they are read."""

    def __init__(self, data, xp):
        self.data, self.xp = data, xp
        self.lengths, self.n_features = data.lengths, data.n_features

    def read(self, requests, targets: bool):
        X, Y = self.data.read(requests, targets)
        return self.xp.asarray(X), None if Y is None else self.xp.asarray(Y)


def build_data(items, input_parts, target_parts, dtype, name: str = "X"):
    """Resident when every part is an in-memory array, else Stored; checks lengths and widths.

    ``items`` as ``sequence_parts`` returns them; ``input_parts`` (appended to the states'
    columns) and ``target_parts`` one per sequence, or None.
    """
    features = [[part] + ([input_parts[s]] if input_parts is not None else []) for s, (part, _, _) in enumerate(items)]
    for s, parts in enumerate(features):
        length = parts[0].shape[0]
        if length == 0:
            raise ValueError(f"{name}: sequence {s} has no time steps")
        for label, part in (("inputs", input_parts and input_parts[s]), ("y", target_parts and target_parts[s])):
            if part is not None and part.shape[0] != length:
                raise ValueError(
                    f"{label} and {name} disagree on the number of time steps of sequence {s}: "
                    f"{part.shape[0]} != {length}"
                )
    widths = {tuple(width(p) for p in parts) for parts in features}
    if len(widths) != 1:
        raise ValueError(f"all sequences of {name} must have the same number of features; got {sorted(widths)}")
    if target_parts is not None and len({width(p) for p in target_parts}) != 1:
        raise ValueError("all target sequences must have the same number of outputs")
    every_part = [p for parts in features for p in parts] + list(target_parts or [])
    if all(is_resident(p) for p in every_part):
        xp = namespace(next((p for p in every_part if is_device(p)), every_part[0]))
        flat = [
            parts[0] if len(parts) == 1 else xp.concatenate([xp.asarray(p) for p in parts], axis=1)
            for parts in features
        ]
        return Resident(xp, flat, target_parts, dtype)
    names = []
    for s, (_, run, row) in enumerate(items):
        where = f"run {run.name!r} of {run.path}" if run is not None else f"{name}"
        names.append(f"{where}, sequence {s if row is None else row}")
    return Stored(features, target_parts, names, dtype)
