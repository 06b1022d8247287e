"""reservoir-engine: very sparse random reservoirs, built for the hardware they run on."""

import importlib
from importlib.metadata import PackageNotFoundError, version

from . import backends, datasets, lsm, metrics
from ._diagnostics import ReservoirWarning
from .connectivity import random_sparse, spectral_radius
from .esn import ESN
from .lsm import LSM
from .storage import StateStore

try:
    __version__ = version("reservoir-engine")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# The scikit-learn side (estimators, readouts) loads on first use: scikit-learn takes
# about a second to import, and imports pandas whenever it is installed, so a script
# that only runs reservoirs pays for neither.
_LAZY = {
    "ESNRegressor": "estimators",
    "ESNClassifier": "estimators",
    "ELMRegressor": "estimators",
    "ELMClassifier": "estimators",
    "NotFittedError": "estimators",
    "Ridge": "readouts",
    "GRUReadout": "readouts",
    "LSTMReadout": "readouts",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in ("estimators", "readouts", "elm", "cli", "models", "forecasting", "distributed", "io"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ESN",
    "LSM",
    "ESNRegressor",
    "ESNClassifier",
    "ELMRegressor",
    "ELMClassifier",
    "NotFittedError",
    "ReservoirWarning",
    "Ridge",
    "GRUReadout",
    "LSTMReadout",
    "StateStore",
    "random_sparse",
    "spectral_radius",
    "backends",
    "datasets",
    "lsm",
    "metrics",
    "__version__",
]
