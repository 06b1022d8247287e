"""HDF5 groups to objects: ``Reader`` rebuilds what ``Writer`` wrote, allowed classes only."""

from __future__ import annotations

import re

import h5py
import numpy as np

from .. import backends
from . import _registry
from ._format import (
    _BIT_GENERATORS,
    _BUILTIN_TYPES,
    _DTYPE_TEXT,
    _PLAIN_KINDS,
    _SPARSE,
    _SPARSE_FORMATS,
    BackendUnavailableError,
    CorruptError,
    NewerClassError,
    UnknownClassError,
    _checksum,
    _json,
    _text,
)


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


def _seed_entropy(value):
    if isinstance(value, np.ndarray):
        return [int(v) for v in value.ravel()]
    return value


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
