"""The classes a model file may hold: an allow-list, never a class named by the file itself.

A file names each object's class as a string. Loading looks that string up here and
refuses anything else, so opening a file cannot import a module or call a class the
engine did not list. A class is rebuilt in one of two ways, chosen by its kind:

* scikit-learn style (it has ``get_params`` and ``_get_param_names``): called with
  its constructor parameters (a parameter added since the file was written takes
  its default), then the rest of its state is set;
* any other class: created without calling ``__init__`` (``cls.__new__``) and given
  its state.

The state is what the class's ``__getstate__`` returns (the pickle protocol's hook,
used here without pickle: ``BackendModel`` drops its prepared kernel layout there),
restored through ``__setstate__`` when the class has one.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ClassEntry", "ENGINE_CLASSES", "SAFE_SKLEARN_CLASSES", "register", "entry_for_name", "entry_for_object"]


@dataclass(frozen=True)
class ClassEntry:
    """One class a model file may hold.

    name : str
        The class as files name it (``"reservoir.esn.ESN"``).
    module, attribute : str
        Where the class is imported from when a file names it.
    version : int
        Of the class's state layout; raise it when an attribute is renamed or changes
        meaning, and give `upgrade`.
    upgrade : callable (state dict, file's version) -> state dict, optional
        Turns the state of an older version into this one's.
    engine : bool
        False for the scikit-learn classes of ``SAFE_SKLEARN_CLASSES``: their fitted
        attributes follow scikit-learn's release, which the file records.
    """

    name: str
    module: str
    attribute: str
    version: int = 1
    upgrade: Callable[[dict, int], dict] | None = None
    engine: bool = True
    registered: type | None = None  # a class given to register(): no import needed

    def cls(self) -> type | None:
        """The class; None where this installation lacks its module."""
        if self.registered is not None:
            return self.registered
        if importlib.util.find_spec(self.module) is None:
            return None
        return getattr(importlib.import_module(self.module), self.attribute)


def _engine(module: str, *names: str) -> list[ClassEntry]:
    return [ClassEntry(f"{module}.{name}", module, name) for name in names]


#: The engine's classes. A new model, estimator or readout is one more line here
#: (see docs/architecture.rst, "Saving models").
ENGINE_CLASSES: list[ClassEntry] = [
    *_engine("reservoir.esn", "ESN"),
    *_engine("reservoir.lsm", "LSM"),
    *_engine("reservoir.elm", "HiddenLayer"),
    *_engine("reservoir.kernels.lif", "LifState"),
    *_engine("reservoir.estimators.esn", "ESNRegressor", "ESNClassifier"),
    *_engine("reservoir.estimators.elm", "ELMRegressor", "ELMClassifier"),
    *_engine("reservoir.readouts.ridge", "Ridge", "GramAccumulator"),
    *_engine("reservoir.readouts.gated", "GRUReadout", "LSTMReadout"),
    *_engine("reservoir._pandas", "Labels"),
    *_engine("reservoir.models.compose", "Stack"),
    *_engine("reservoir.models.feedback", "FeedbackESN"),
    *_engine("reservoir.models.force", "OnlineESN", "FORCE"),
    *_engine("reservoir.models.nvar", "NVAR"),
    *_engine("reservoir.models.plasticity", "IPReservoir"),
    *_engine("reservoir.models.es2n", "ES2N"),
    *_engine("reservoir.readouts.online", "RLS", "LMS"),
    *_engine("reservoir.readouts.sklearn_readout", "SklearnReadout"),
    *_engine("reservoir.readouts.bayes", "BayesianRidge"),
    *_engine("reservoir.models.ensemble", "ESNEnsemble", "EnsembleForecast"),
    *_engine("reservoir.forecasting.forecaster", "ESNForecaster"),
    *_engine("reservoir.forecasting._series", "Layout"),
]

#: scikit-learn estimators whose fitted state is arrays and plain values only, so that
#: they are stored like the engine's (a wrapped regressor of another class is refused:
#: in general restoring one needs pickle). Named by their public import path.
SAFE_SKLEARN_CLASSES: list[ClassEntry] = [
    ClassEntry(f"sklearn.{module}.{name}", f"sklearn.{module}", name, engine=False)
    for module, name in (
        ("linear_model", "LinearRegression"),
        ("linear_model", "Ridge"),
        ("linear_model", "Lasso"),
        ("linear_model", "ElasticNet"),
        ("linear_model", "BayesianRidge"),
        ("preprocessing", "StandardScaler"),
        ("multioutput", "MultiOutputRegressor"),  # holds its clones: each is checked in turn
    )
]

_BY_NAME: dict[str, ClassEntry] = {entry.name: entry for entry in ENGINE_CLASSES + SAFE_SKLEARN_CLASSES}
_REGISTERED: dict[type, ClassEntry] = {}  # classes given to register(): already imported


def register(cls: type, *, name: str | None = None, version: int = 1, upgrade=None) -> type:
    """Allow the model file to hold `cls` (usable as a class decorator).

    Parameters
    ----------
    cls : type
        A class whose state (``__getstate__``, or its ``__dict__``) holds only what the
        model file stores: arrays, scipy.sparse matrices, JSON values, seeds, dtypes,
        and objects of allowed classes.
    name : str, optional
        The name files give it; default ``"<module>.<qualname>"``.
    version, upgrade
        See :class:`ClassEntry`.

    Returns
    -------
    cls, unchanged.

    A file naming a registered class loads only in a process that has registered it
    (imported the module that calls ``register``): the file never imports it.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register() takes a class, got {cls!r}")
    name = name or f"{cls.__module__}.{cls.__qualname__}"
    existing = _BY_NAME.get(name)
    if existing is not None and not (existing.module in sys.modules and existing.cls() is cls):
        raise ValueError(f"the model file already holds another class named {name!r}")
    entry = ClassEntry(name, cls.__module__, cls.__qualname__, version, upgrade, registered=cls)
    _BY_NAME[name] = entry
    _REGISTERED[cls] = entry
    return cls


def entry_for_name(name: str) -> ClassEntry | None:
    """The allowed class a file names, or None: the name is only compared, never imported."""
    return _BY_NAME.get(name) if isinstance(name, str) else None


def entry_for_object(value) -> ClassEntry | None:
    """The entry of `value`'s exact class (a subclass is not its parent), or None."""
    cls = type(value)
    if cls in _REGISTERED:
        return _REGISTERED[cls]
    for entry in _BY_NAME.values():
        # a class whose module is not imported cannot be the class of an existing object
        if entry.module in sys.modules and getattr(sys.modules[entry.module], entry.attribute, None) is cls:
            return entry
    return None


def allowed_names() -> list[str]:
    return sorted(_BY_NAME)


def is_estimator(cls: type) -> bool:
    """scikit-learn style: rebuilt through its constructor's parameters."""
    return callable(getattr(cls, "get_params", None)) and callable(getattr(cls, "_get_param_names", None))
