"""reservoir-engine: very sparse random reservoirs, built for the hardware they run on."""

from importlib.metadata import PackageNotFoundError, version

from . import backends, datasets, lsm, metrics
from ._diagnostics import ReservoirWarning
from .connectivity import random_sparse, spectral_radius
from .esn import ESN
from .estimators import ELMClassifier, ELMRegressor, ESNClassifier, ESNRegressor, NotFittedError
from .lsm import LSM
from .readouts import GRUReadout, LSTMReadout, Ridge
from .storage import StateStore

try:
    __version__ = version("reservoir-engine")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ESN", "LSM", "ESNRegressor", "ESNClassifier", "ELMRegressor", "ELMClassifier", "NotFittedError",
    "ReservoirWarning", "Ridge",
    "GRUReadout", "LSTMReadout", "StateStore", "random_sparse", "spectral_radius", "backends", "datasets", "lsm",
    "metrics", "__version__",
]
