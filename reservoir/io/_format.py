"""The model file's forms: what a value becomes in JSON or HDF5, the checks, the errors.

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
allow-lists here and in ``reservoir.io._registry``. Datasets hold numbers, booleans and
fixed-length byte strings only (text arrays as UTF-8), never object or opaque types.
"""

from __future__ import annotations

import json
import re
import zlib

import h5py
import scipy.sparse as sp

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
