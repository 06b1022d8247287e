"""Objects to HDF5 groups and back: JSON text for plain values, datasets for arrays.

Every object is a group whose ``state`` attribute is a JSON object of its attributes.
A value JSON holds as it is (None, bool, int, float, str, lists, dicts of str keys)
is written there; the others are written as a tagged JSON object (a single key that
starts with ``$``) or as a child node of the group that the JSON names::

    {"$node": "W"}             child node "W": a dataset (array), a sparse group, an object group
    {"$link": "/model/x"}      the object already written at that path (shared references)
    {"$tuple": [...]}          a tuple
    {"$items": [[k, v], ...]}  a dict whose keys are not all strings (or start with "$")
    {"$set": [...]}            a set
    {"$float": "nan"}          nan, inf, -inf;  {"$complex": [re, im]} a complex number
    {"$dtype": "<f4"}          a numpy dtype;  {"$scalar_type": "float32"} the type np.float32
    {"$type": "float"}         one of the builtin types float, int, bool, complex, str
    {"$seed_sequence": {...}}  numpy.random.SeedSequence (entropy, spawn_key, pool_size, n_children_spawned)
    {"$generator": {...}}      numpy.random.Generator: its bit generator's state
    {"$random_state": {...}}   numpy.random.RandomState: its state
    {"$backend": "numba"}      a reservoir backend, by name (resolved again on load)
    {"$pandas_index": {...}}   a pandas RangeIndex, Index, DatetimeIndex or PeriodIndex

Nothing is pickled and no type is looked up by a name from the file except in the
allow-lists here and in ``_registry``. Datasets hold numbers, booleans and
fixed-length byte strings only (text arrays as UTF-8), never object or opaque types.
"""

from __future__ import annotations

import json
import math
import re
import zlib

import h5py
import numpy as np
import scipy.sparse as sp

from .. import _arrays, backends
from . import _registry

#: Kinds of numpy array stored as they are (bool, integers, floats, complex, bytes).
_PLAIN_KINDS = "biufcS"
#: Arrays at least this large (bytes) are compressed when asked.
_COMPRESSED_FROM = 1024
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_BUILTIN_TYPES = {"float": float, "int": int, "bool": bool, "complex": complex, "str": str}
_DTYPE_TEXT = re.compile(r"^[<>|=]?[biufcSUMm]\d*(\[\w+\])?$")
_JSON_SCALARS = (type(None), bool, int, str)
_SPARSE = {
    ("csr", "array"): sp.csr_array,
    ("csr", "matrix"): sp.csr_matrix,
    ("csc", "array"): sp.csc_array,
    ("csc", "matrix"): sp.csc_matrix,
}
_SPARSE_FORMATS = ("csr", "csc", "coo", "bsr", "lil", "dok", "dia")


class CorruptError(ValueError):
    """A node that is not what the format says (the caller adds the file's path)."""


def _child_name(group: h5py.Group, hint: str) -> str:
    name = hint.replace("/", "|") or "value"
    if name in (".", ".."):
        name = f"{name}value"
    unique, count = name, 1
    while unique in group:
        count += 1
        unique = f"{name}~{count}"
    return unique


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


class Reader:
    """Rebuilds objects from the groups a Writer wrote. `backend`, when given, replaces
    every model's backend (and every ``backend`` parameter)."""

    def __init__(self, file: h5py.File, backend: str | None = None):
        self.file = file
        self.backend = None if backend is None else backends.validate(backend)
        self._built: dict[str, object] = {}

    # ------------------------------------------------------------------ objects
    def object(self, group: h5py.Group):
        attrs = group.attrs
        if attrs.get("kind") != "object":
            raise CorruptError(f"{group.name} is not an object group")
        name = _text(attrs.get("class"), f"{group.name} attribute 'class'")
        entry = _registry.entry_for_name(name)
        if entry is None:
            raise UnknownClassError(name, group.name)
        version = int(attrs.get("class_version", 1))
        if version > entry.version:
            raise NewerClassError(name, version, entry.version, group.name)
        cls = entry.cls()
        if cls is None:
            raise UnknownClassError(name, group.name, missing=True)
        text = _text(attrs.get("state"), f"{group.name} attribute 'state'")
        if attrs.get("checksum") != _checksum(group):
            raise CorruptError(f"{group.name}: the class, config or state text does not match its checksum")
        raw = _json(text, f"{group.name} attribute 'state'")
        if not isinstance(raw, dict):
            raise CorruptError(f"{group.name}: 'state' is not a JSON object")
        estimator = _registry.is_estimator(cls)
        if not estimator:  # created first, so that an attribute may link back to it
            obj = cls.__new__(cls)
            self._built[group.name] = obj
        state = {key: self.value(group, item) for key, item in raw.items()}
        self._finish_backends(state)
        if version < entry.version:
            state = entry.upgrade(state, version) if entry.upgrade else state
        if estimator:
            known = set(cls._get_param_names())
            obj = cls(**{key: item for key, item in state.items() if key in known})
            self._built[group.name] = obj
        if hasattr(obj, "__setstate__"):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        return obj

    def _finish_backends(self, state: dict) -> None:
        """Backends resolved here: "auto" anew for a model built with "auto", the override for all."""
        if self.backend is not None and isinstance(state.get("backend"), str):
            state["backend"] = self.backend
        for key, item in state.items():
            if isinstance(item, _BackendName):
                name = self.backend or ("auto" if state.get("backend") == "auto" else item.name)
                state[key] = _resolve_backend(name, item.name)

    # ------------------------------------------------------------------ values
    def value(self, group: h5py.Group, item):
        if item is None or type(item) in (bool, int, float, str):
            return item
        if isinstance(item, list):
            return [self.value(group, element) for element in item]
        if not isinstance(item, dict):
            raise CorruptError(f"{group.name}: unexpected JSON value {item!r}")
        tags = [key for key in item if key.startswith("$")]
        if not tags:
            return {key: self.value(group, element) for key, element in item.items()}
        if len(item) != 1:
            raise CorruptError(f"{group.name}: malformed tagged value {sorted(item)}")
        tag, body = tags[0], item[tags[0]]
        if tag == "$node":
            return self.node(group, body)
        if tag == "$link":
            if body not in self._built:
                raise CorruptError(f"{group.name}: link to {body!r}, which is not an object read before it")
            return self._built[body]
        if tag == "$tuple":
            return tuple(self.value(group, element) for element in body)
        if tag == "$set":
            return {self.value(group, element) for element in body}
        if tag == "$items":
            return {self.value(group, key): self.value(group, element) for key, element in body}
        if tag == "$complex":
            real, imag = (self.value(group, part) for part in body)
            if type(real) is not float or type(imag) is not float:
                raise CorruptError(f"{group.name}: bad $complex {body!r}")
            return complex(real, imag)
        if tag == "$float":
            if body not in ("nan", "inf", "-inf"):
                raise CorruptError(f"{group.name}: bad $float {body!r}")
            return float(body)
        if tag == "$dtype":
            if not isinstance(body, str) or not _DTYPE_TEXT.match(body):
                raise CorruptError(f"{group.name}: bad $dtype {body!r}")
            return np.dtype(body)
        if tag == "$type":
            if body not in _BUILTIN_TYPES:
                raise CorruptError(f"{group.name}: $type {body!r} is not one of {sorted(_BUILTIN_TYPES)}")
            return _BUILTIN_TYPES[body]
        if tag == "$scalar_type":
            if not isinstance(body, str) or not re.fullmatch(r"[a-z]+\d*", body):
                raise CorruptError(f"{group.name}: bad $scalar_type {body!r}")
            dtype = np.dtype(body)
            if dtype.kind not in _PLAIN_KINDS:
                raise CorruptError(f"{group.name}: bad $scalar_type {body!r}")
            return dtype.type
        if tag == "$seed_sequence":
            return np.random.SeedSequence(
                _seed_entropy(self.value(group, body["entropy"])),
                spawn_key=tuple(int(k) for k in body["spawn_key"]),
                pool_size=int(body["pool_size"]),
                n_children_spawned=int(body["n_children_spawned"]),
            )
        if tag == "$generator":
            state = self.value(group, body)
            bit_generator = state.get("bit_generator") if isinstance(state, dict) else None
            if bit_generator not in _BIT_GENERATORS:
                raise CorruptError(f"{group.name}: bit generator {bit_generator!r} is not one of {_BIT_GENERATORS}")
            generator = getattr(np.random, bit_generator)()
            generator.state = state
            return np.random.Generator(generator)
        if tag == "$random_state":
            random_state = np.random.RandomState()
            random_state.set_state(self.value(group, body))
            return random_state
        if tag == "$backend":
            if not isinstance(body, str):
                raise CorruptError(f"{group.name}: bad $backend {body!r}")
            return _BackendName(body)
        if tag == "$pandas_index":
            return self._pandas_index(group, body)
        raise CorruptError(f"{group.name}: unknown tag {tag!r}")

    def node(self, group: h5py.Group, name):
        if not isinstance(name, str) or name not in group:
            raise CorruptError(f"{group.name}: missing node {name!r}")
        link = group.get(name, getlink=True)
        if not isinstance(link, h5py.HardLink):  # an external or soft link could reach another file
            raise CorruptError(f"{group.name}/{name} is a {type(link).__name__}, not a node of this file")
        node = group[name]
        kind = node.attrs.get("kind")
        if kind == "object" and isinstance(node, h5py.Group):
            return self.object(node)
        if kind == "sparse" and isinstance(node, h5py.Group):
            return self._sparse(node)
        if kind == "array" and isinstance(node, h5py.Dataset):
            return _read_array(node)
        raise CorruptError(f"{node.name}: unknown node kind {kind!r}")

    def _sparse(self, node):
        original = _text(node.attrs.get("format"), f"{node.name} attribute 'format'")
        container = _text(node.attrs.get("container"), f"{node.name} attribute 'container'")
        stored = original if original in ("csr", "csc") else "csr"
        if original not in _SPARSE_FORMATS or (stored, container) not in _SPARSE:
            raise CorruptError(f"{node.name}: unknown sparse format {original!r} / {container!r}")
        data, indices, indptr = (self.node(node, part) for part in ("data", "indices", "indptr"))
        shape = tuple(int(n) for n in node.attrs["shape"])
        matrix = _SPARSE[(stored, container)]((data, indices, indptr), shape=shape)
        matrix.indices, matrix.indptr = indices, indptr  # keep the stored index dtype
        return matrix if original == stored else matrix.asformat(original)

    def _pandas_index(self, group, body):
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(f"{group.name} holds a pandas index (of the training data): pip install pandas") from None

        kind = body.get("type")
        name = self.value(group, body.get("name"))
        if kind == "RangeIndex":
            return pd.RangeIndex(int(body["start"]), int(body["stop"]), int(body["step"]), name=name)
        values = self.value(group, body["values"])
        if kind == "DatetimeIndex":
            index = pd.DatetimeIndex(values, name=name)
            if body.get("tz") is not None:
                index = index.tz_localize("UTC").tz_convert(body["tz"])
            return index if body.get("freq") is None else pd.DatetimeIndex(index, freq=body["freq"])
        if kind == "PeriodIndex":
            return pd.PeriodIndex.from_ordinals(values, freq=body["freq"], name=name)
        if kind == "Index":
            return pd.Index(values, name=name)
        raise CorruptError(f"{group.name}: unknown pandas index type {kind!r}")


# ---------------------------------------------------------------------- errors the caller words
class UnknownClassError(ValueError):
    def __init__(self, name, where, missing=False):
        self.name, self.where = name, where
        if missing:
            super().__init__(f"{where} holds a {name}, which this installation lacks: upgrade reservoir-engine")
            return
        super().__init__(
            f"{where} names the class {name!r}, which is not one the model file may hold; "
            f"only these are rebuilt: {', '.join(_registry.allowed_names())}"
        )


class NewerClassError(ValueError):
    def __init__(self, name, found, known, where):
        super().__init__(
            f"{where} holds {name} in layout version {found}, newer than the {known} this "
            "reservoir-engine reads: upgrade reservoir-engine"
        )


class BackendUnavailableError(RuntimeError):
    pass


# ---------------------------------------------------------------------- helpers
class _BackendName:
    """A backend name read from a file, resolved once the whole object's state is known."""

    def __init__(self, name: str):
        self.name = name


def _resolve_backend(name: str, saved: str):
    try:
        return backends.resolve(name)
    except (RuntimeError, ValueError) as error:
        raise BackendUnavailableError(
            f"the model ran on backend {saved!r}, which cannot run here ({error}); "
            f"load(path, backend=...) runs it on another, e.g. one of {backends.available()}"
        ) from None


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


def _refusal(value, where: str) -> str:
    cls = type(value)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__.split(".")[0] == "sklearn" or callable(getattr(value, "get_params", None)):
        return (
            f"{where} is a {name}: the model file holds the engine's classes and a few scikit-learn "
            f"estimators known to be plain data ({', '.join(e.name for e in _registry.SAFE_SKLEARN_CLASSES)}); "
            "restoring another estimator in general needs pickle, which the model file never uses. "
            "Use one of those (or reservoir.Ridge), or save it separately with joblib or skops"
        )
    if name == "reservoir.storage.StateStore":
        return f"{where} is a StateStore: it is a file already (open it again with reservoir.StateStore(path))"
    if cls.__module__.split(".")[0] == "reservoir":
        return (
            f"{where} is a {name}, a class the model file does not hold (yet): list it in "
            "reservoir.io._registry.ENGINE_CLASSES, or register it with reservoir.io.register"
        )
    return (
        f"{where} is a {name}, which a model file cannot hold: it stores arrays, scipy.sparse matrices, "
        "JSON values (numbers, strings, lists, dicts), seeds and the engine's own models"
    )


def _plain(value):
    return value if isinstance(value, (int, type(None))) else np.asarray(value)


def _seed_entropy(value):
    if isinstance(value, np.ndarray):
        return [int(v) for v in value.ravel()]
    return value


def _is_pandas_index(value) -> bool:
    import sys

    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.Index)


def _utf8(text: np.ndarray) -> np.ndarray:
    encoded = [item.encode("utf-8") for item in text.ravel()]
    width = max([len(item) for item in encoded] + [1])
    return np.array(encoded, dtype=f"S{width}").reshape(text.shape)


def _read_array(dataset: h5py.Dataset):
    if dataset.is_virtual or dataset.external:
        raise CorruptError(f"{dataset.name} keeps its data outside this file")
    if dataset.dtype.kind not in _PLAIN_KINDS or (dataset.dtype.fields is not None and dataset.dtype.kind != "c"):
        raise CorruptError(f"{dataset.name} has dtype {dataset.dtype}, which a model file never holds")
    data = dataset[()]
    attrs = dataset.attrs
    if "text" in attrs:
        text_dtype = np.dtype(_text(attrs["text"], f"{dataset.name} attribute 'text'"))
        data = np.array([item.decode("utf-8") for item in np.asarray(data).ravel()], dtype=text_dtype).reshape(
            np.shape(data)
        )
        if attrs.get("object"):
            data = data.astype(object)
    elif "dtype" in attrs:
        dtype_text = _text(attrs["dtype"], f"{dataset.name} attribute 'dtype'")
        if not _DTYPE_TEXT.match(dtype_text) or np.dtype(dtype_text).kind not in "Mm":
            raise CorruptError(f"{dataset.name}: bad dtype {dtype_text!r}")
        data = np.asarray(data).view(dtype_text)
    data = np.asarray(data)
    if attrs.get("zero_d"):
        if data.shape != (1,):
            raise CorruptError(f"{dataset.name}: a 0-d array stored with shape {data.shape}")
        data = data.reshape(())
    return data[()] if attrs.get("scalar") else data


def _checksum(group: h5py.Group) -> int:
    """CRC-32 of an object group's texts (class, config, state): HDF5 keeps variable-length
    strings in its global heap, which its own metadata checksums do not cover."""
    texts = [group.attrs.get(name, "") for name in ("class", "config", "state")]
    return zlib.crc32("\0".join(t.decode() if isinstance(t, bytes) else str(t) for t in texts).encode())


def _text(value, what: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise CorruptError(f"{what} is missing or not text")
    return value


def _json(value, what: str):
    try:
        return json.loads(_text(value, what))
    except json.JSONDecodeError as error:
        raise CorruptError(f"{what} is not valid JSON ({error})") from None
