"""Objects to HDF5 groups: the value forms of ``reservoir.io._format``, written by ``Writer``."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import scipy.sparse as sp

from .. import _arrays, backends
from . import _registry
from ._format import (
    _BUILTIN_TYPES,
    _COMPRESSED_FROM,
    _JSON_SCALARS,
    _PLAIN_KINDS,
    _SPARSE_FORMATS,
    _checksum,
    _refusal,
)


class Writer:
    """Writes engine objects into groups of an open file.

    `compression` ("gzip", "lzf" or None) applies to arrays of ``_COMPRESSED_FROM`` bytes or more.
    """

    def __init__(self, compression: str | None = None):
        if compression not in (None, "gzip", "lzf"):
            raise ValueError(f"compression must be None, 'gzip' or 'lzf', got {compression!r}")
        self.compression = compression
        self._written: dict[int, tuple[str, object]] = {}  # id(object) -> (group path, object kept alive)

    # ------------------------------------------------------------------ objects
    def object(self, group: h5py.Group, value, where: str) -> None:
        """Write the allowed object `value` into the empty `group`."""
        entry = _registry.entry_for_object(value)
        if entry is None:
            raise TypeError(_refusal(value, where))
        self._written[id(value)] = (group.name, value)
        state = _state_of(value, where)
        group.attrs["kind"] = "object"
        group.attrs["class"] = entry.name
        group.attrs["class_version"] = entry.version
        config = _config_of(value)
        if config is not None:
            group.attrs["config"] = json.dumps(config, default=_described)
        encoded = {key: self.value(group, key, item, f"{where}.{key}") for key, item in state.items()}
        text = json.dumps(encoded, allow_nan=False)
        group.attrs["state"] = text
        group.attrs["checksum"] = _checksum(group)

    # ------------------------------------------------------------------ values
    def value(self, group: h5py.Group, hint: str, value, where: str):
        """The JSON form of `value`, writing child nodes of `group` for what JSON cannot hold."""
        kind = type(value)
        if kind in _JSON_SCALARS:
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if kind is list:
            return [self.value(group, f"{hint}.{i}", item, f"{where}[{i}]") for i, item in enumerate(value)]
        if kind is tuple:
            return {"$tuple": [self.value(group, f"{hint}.{i}", item, f"{where}[{i}]") for i, item in enumerate(value)]}
        if kind in (set, frozenset):
            return {"$set": [self.value(group, f"{hint}.{i}", item, f"{where}{{}}") for i, item in enumerate(value)]}
        if kind is dict:
            if all(type(key) is str and not key.startswith("$") for key in value):
                return {
                    key: self.value(group, f"{hint}.{key}", item, f"{where}[{key!r}]") for key, item in value.items()
                }
            pairs = []
            for i, (key, item) in enumerate(value.items()):
                pairs.append(
                    [
                        self.value(group, f"{hint}.key{i}", key, f"{where}.keys()"),
                        self.value(group, f"{hint}.{i}", item, f"{where}[{key!r}]"),
                    ]
                )
            return {"$items": pairs}
        if kind is complex:
            return {
                "$complex": [self.value(group, hint, value.real, where), self.value(group, hint, value.imag, where)]
            }
        if isinstance(value, np.dtype):
            if value.kind not in _PLAIN_KINDS + "UMm" or value.fields is not None:
                raise TypeError(f"{where}: dtype {value} cannot be stored (numbers, strings and dates only)")
            return {"$dtype": value.str}
        if isinstance(value, type):
            if value in _BUILTIN_TYPES.values():
                return {"$type": value.__name__}
            if issubclass(value, np.generic) and np.dtype(value).kind in _PLAIN_KINDS:
                return {"$scalar_type": np.dtype(value).name}
            raise TypeError(
                f"{where} is the class {value.__module__}.{value.__qualname__}: a model file holds no classes"
            )
        if isinstance(value, np.random.SeedSequence):
            return {
                "$seed_sequence": {
                    "entropy": self.value(group, f"{hint}.entropy", _plain(value.entropy), f"{where}.entropy"),
                    "spawn_key": [int(k) for k in value.spawn_key],
                    "pool_size": int(value.pool_size),
                    "n_children_spawned": int(value.n_children_spawned),
                }
            }
        if isinstance(value, np.random.Generator):
            return {"$generator": self.value(group, hint, value.bit_generator.state, f"{where}.bit_generator.state")}
        if isinstance(value, np.random.RandomState):
            return {"$random_state": self.value(group, hint, value.get_state(legacy=False), f"{where}.get_state()")}
        if isinstance(value, backends.Backend):
            return {"$backend": value.name}
        if kind is np.ndarray or isinstance(value, np.generic) or _arrays.is_device(value):
            return self._array(group, hint, _arrays.to_host(value), where)
        if sp.issparse(value):
            return self._sparse(group, hint, value, where)
        if _is_pandas_index(value):
            return {"$pandas_index": self._pandas_index(group, hint, value, where)}
        if id(value) in self._written and self._written[id(value)][1] is value:
            return {"$link": self._written[id(value)][0]}
        if _registry.entry_for_object(value) is not None:
            name = _child_name(group, hint)
            self.object(group.create_group(name), value, where)
            return {"$node": name}
        raise TypeError(_refusal(value, where))

    def _array(self, group, hint, array, where):
        scalar = isinstance(array, np.generic)
        data = np.asarray(array)
        attrs = {"kind": "array"}
        if data.dtype.kind == "O":
            if not all(type(item) is str for item in data.ravel()):
                kinds = sorted({type(item).__name__ for item in data.ravel()})
                raise TypeError(
                    f"{where} is an object array holding {', '.join(kinds)}: a model file keeps "
                    "object arrays of strings only (convert it to a numeric or string dtype)"
                )
            attrs["object"] = True
            data = data.astype(str) if data.size else data.astype("U1")
        if data.dtype.kind == "U":
            attrs["text"] = data.dtype.str
            data = _utf8(data)
        elif data.dtype.kind in "Mm":
            attrs["dtype"] = data.dtype.str
            data = data.view(np.int64)
        elif data.dtype.kind not in _PLAIN_KINDS or data.dtype.fields is not None:
            raise TypeError(f"{where} has dtype {data.dtype}, which a model file cannot hold (numbers, strings, dates)")
        if data.ndim == 0:  # as one element: a 0-d dataset cannot be chunked, so has no checksum
            attrs["zero_d"] = True
            data = data.reshape(1)
        name = _child_name(group, hint)
        options = {}
        if data.size:  # chunked, so that HDF5 keeps a checksum of the data
            options = {"chunks": True, "fletcher32": True}
            if self.compression and data.nbytes >= _COMPRESSED_FROM:
                options.update(compression=self.compression, shuffle=True)
        dataset = group.create_dataset(name, data=data, **options)
        if scalar:
            attrs["scalar"] = True
        dataset.attrs.update(attrs)
        return {"$node": name}

    def _sparse(self, group, hint, matrix, where):
        original = matrix.format
        if original not in _SPARSE_FORMATS:
            raise TypeError(f"{where} is a sparse matrix of format {original!r}, which a model file cannot hold")
        stored = original if original in ("csr", "csc") else "csr"
        matrix = matrix.asformat(stored)
        name = _child_name(group, hint)
        node = group.create_group(name)
        node.attrs.update(
            kind="sparse",
            format=original,
            container="array" if isinstance(matrix, sp.sparray) else "matrix",
            shape=np.asarray(matrix.shape, dtype=np.int64),
        )
        for part in ("data", "indices", "indptr"):
            self._array(node, part, getattr(matrix, part), f"{where}.{part}")
        return {"$node": name}

    def _pandas_index(self, group, hint, index, where):
        import pandas as pd

        name = self.value(group, f"{hint}.name", index.name, f"{where}.name")
        if isinstance(index, pd.RangeIndex):
            return {"type": "RangeIndex", "start": index.start, "stop": index.stop, "step": index.step, "name": name}
        if isinstance(index, pd.DatetimeIndex):
            utc = index if index.tz is None else index.tz_convert(None)  # naive UTC times
            return {
                "type": "DatetimeIndex",
                "values": self._array(group, hint, utc.to_numpy(), where),
                "tz": None if index.tz is None else str(index.tz),
                "freq": None if index.freq is None else index.freq.freqstr,
                "name": name,
            }
        if isinstance(index, pd.PeriodIndex):
            return {
                "type": "PeriodIndex",
                "values": self._array(group, hint, index.asi8, where),
                "freq": index.freqstr,
                "name": name,
            }
        if type(index) is pd.Index:
            values = index.to_numpy()
            if values.dtype.kind == "O" and not all(type(item) is str for item in values):
                raise TypeError(f"{where} is a pandas index of labels other than strings or numbers")
            return {"type": "Index", "values": self._array(group, hint, values, where), "name": name}
        raise TypeError(f"{where} is a pandas {type(index).__name__}, which a model file cannot hold")


def _child_name(group: h5py.Group, hint: str) -> str:
    name = hint.replace("/", "|") or "value"
    if name in (".", ".."):
        name = f"{name}value"
    unique, count = name, 1
    while unique in group:
        count += 1
        unique = f"{name}~{count}"
    return unique


def _state_of(value, where: str) -> dict:
    state = value.__getstate__() if hasattr(value, "__getstate__") else dict(vars(value))
    if state is None:  # an instance without attributes
        state = {}
    if not isinstance(state, dict) or not all(type(key) is str for key in state):
        raise TypeError(f"{where}: {type(value).__name__}.__getstate__() does not return a dict of attributes")
    return state


def _config_of(value):
    """What a reader of the file sees as the configuration: get_params() or config()."""
    try:
        if _registry.is_estimator(type(value)):
            return value.get_params(deep=False)
        if callable(getattr(value, "config", None)):
            return value.config()
    except Exception:  # an informative extra: never a reason to fail a save
        return None
    return None


def _described(value) -> str:
    """JSON of the configuration: what is not a JSON value is described, not stored, there."""
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, type):
        return value.__name__
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _plain(value):
    return value if isinstance(value, (int, type(None))) else np.asarray(value)


def _is_pandas_index(value) -> bool:
    import sys

    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.Index)


def _utf8(text: np.ndarray) -> np.ndarray:
    encoded = [item.encode("utf-8") for item in text.ravel()]
    width = max([len(item) for item in encoded] + [1])
    return np.array(encoded, dtype=f"S{width}").reshape(text.shape)
