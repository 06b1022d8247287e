"""The model file: every model, estimator and readout of the engine in HDF5, never pickle.

``save(model, path)`` writes a fitted or unfitted model; ``load(path)`` gives it back
in the state it was saved in (weights, the reservoir's state mid-sequence, an LSM's
spikes in flight, a readout's statistics, the seeds of weights not drawn yet), so that
it continues exactly where the saved one stood.

Layout (``FORMAT_NAME`` "reservoir-engine model", ``FORMAT_VERSION`` 1)::

    /          attrs: format, format_version, library_version, class (the model's)
    /model     the model: an object group
    object     attrs: kind "object", class (its name in the allow-list), class_version,
    group      config (JSON: get_params() or config(), for readers), state (JSON: every
               attribute; what JSON cannot hold is a child node named there), checksum
    array      a dataset, attr kind "array" (numbers, booleans, UTF-8 text, dates as int64),
               chunked and Fletcher-32 checksummed
    sparse     a group, attrs kind "sparse", format, container, shape; datasets data,
               indices, indptr (CSR, or CSC)

The value forms are listed in ``reservoir.io._format``; the user guide's "Model files"
page has the full table, the versioning policy and what makes loading safe: only
classes of the allow-list (``reservoir.io._registry``) are rebuilt, nothing is
unpickled and no module the file names is imported.

Writing is crash-safe: the file is written under a temporary name beside `path`,
flushed to disk, then renamed over it, so `path` holds the old file or the complete
new one, never a part.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import h5py

from . import _format, _reader, _registry, _writer
from ._registry import register

__all__ = ["save", "load", "info", "register", "ModelFileError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "reservoir-engine model"
#: Files of a newer version are refused; every older version stays readable.
FORMAT_VERSION = 1
_ROOT = "model"
#: HDF5 1.10 file format: metadata checksums (with Fletcher-32 on the arrays, a corrupt file is detected).
_LIBVER = ("v110", "v110")


class ModelFileError(ValueError):
    """A file that is not a model file this version can load: not HDF5, another HDF5
    file, truncated or corrupt, newer, or naming a class the model file does not hold."""


def save(model, path, *, compression: str | None = None) -> Path:
    """Write `model` (fitted or not) to an HDF5 model file at `path`.

    Parameters
    ----------
    model : an engine model, estimator or readout
        ``reservoir.ESN``, ``LSM``, the estimators, ``Ridge``, ``GRUReadout``,
        ``LSTMReadout``, ``reservoir.elm.HiddenLayer``, and what ``register`` added.
    path : str or path-like
        Replaced atomically: a crash or an error leaves the previous file intact.
    compression : {None, "gzip", "lzf"}
        Compress arrays of 1 KiB or more (weights compress little: they are random).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        When something the model holds cannot be written without pickle (an estimator
        outside the allow-list, a function, ...): the message names the attribute.
    """
    path = Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; save() needs a file path")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: the folder {folder} does not exist")
    if _registry.entry_for_object(model) is None:
        raise TypeError(_format._refusal(model, "model"))
    writer = _writer.Writer(compression)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(descriptor)
    try:
        with h5py.File(temporary, "w", libver=_LIBVER) as file:
            file.attrs["format"] = FORMAT_NAME
            file.attrs["format_version"] = FORMAT_VERSION
            file.attrs["library_version"] = _library_version()
            file.attrs["class"] = _registry.entry_for_object(model).name
            writer.object(file.create_group(_ROOT), model, type(model).__name__)
        _fsync(temporary)
        os.chmod(temporary, _file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)
    return path


def load(path, *, backend: str | None = None):
    """Read a model file written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
    backend : str, optional
        Run every model of the file on this backend (and set the estimators' ``backend``
        parameter to it), e.g. ``"numpy"`` for a model saved on a GPU machine. By default
        each model keeps its own: a model built with ``"auto"`` picks again here.

    Returns
    -------
    The model, in the state it was saved in.

    Raises
    ------
    FileNotFoundError
        No file at `path`.
    ModelFileError
        Not an HDF5 file, an HDF5 file of other content, truncated or corrupt, written
        by a newer format version, or naming a class outside the allow-list; the
        message names the path and the problem.
    RuntimeError
        The model's backend cannot run here (give ``backend=``).
    """
    path = Path(os.fspath(path))
    with _open(path) as file:
        try:
            _check_root(file, path)
            return _reader.Reader(file, backend).object(file[_ROOT])
        except ModelFileError:
            raise
        except _format.UnknownClassError as error:
            raise ModelFileError(f"{path}: {error}") from None
        except _format.BackendUnavailableError as error:
            raise RuntimeError(f"{path}: {error}") from None
        except (_format.CorruptError, _format.NewerClassError) as error:
            raise ModelFileError(f"{path}: {error}") from None
        except ImportError as error:
            raise ImportError(f"{path}: {error}") from None
        except (OSError, KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
            raise ModelFileError(f"{path} is corrupt: {type(error).__name__}: {error}") from None


def info(path) -> dict:
    """What a model file holds, without building the model.

    Returns
    -------
    dict
        ``format_version``, ``library_version`` (of the writer), ``class`` and
        ``config`` (the model's parameters as saved, a dict; {} when it has none).
    """
    path = Path(os.fspath(path))
    with _open(path) as file:
        try:
            _check_root(file, path)
            group = file[_ROOT]
            config = group.attrs.get("config")
            return {
                "format_version": int(file.attrs["format_version"]),
                "library_version": str(file.attrs.get("library_version", "")),
                "class": str(group.attrs.get("class")),
                "config": {} if config is None else json.loads(config),
            }
        except ModelFileError:
            raise
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"{path} is corrupt: {type(error).__name__}: {error}") from None


def _open(path: Path) -> h5py.File:
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a model file")
    if not h5py.is_hdf5(path):
        raise ModelFileError(f"{path} is not an HDF5 file, so not a model file (written by reservoir.io.save)")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ModelFileError(f"{path} cannot be read: the HDF5 file is truncated or corrupt ({error})") from None


def _check_root(file: h5py.File, path: Path) -> None:
    found = file.attrs.get("format")
    if found != FORMAT_NAME:
        hint = ""
        if found is None and "format_version" in file.attrs and "library" in file.attrs:
            hint = " (it looks like a state file: open it with reservoir.StateStore)"
        raise ModelFileError(f"{path} is an HDF5 file but not a reservoir-engine model file{hint}")
    try:
        version = int(file.attrs["format_version"])
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(f"{path}: the model file has no readable format_version") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in model-file format version {version}; this reservoir-engine "
            f"reads versions up to {FORMAT_VERSION}: upgrade reservoir-engine to load it"
        )
    if version < 1 or _ROOT not in file or not isinstance(file.get(_ROOT, getlink=True), h5py.HardLink):
        raise ModelFileError(f"{path}: the model file has no model in it (truncated or corrupt)")


def _library_version() -> str:
    from .. import __version__

    return __version__


def _fsync(name) -> None:
    with open(name, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # some systems cannot open a folder; the rename itself is atomic
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _file_mode(path: Path) -> int:
    """An existing file's permissions, else what the umask gives a new file (mkstemp makes it 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
