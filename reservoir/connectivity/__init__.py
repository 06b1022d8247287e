"""Connectivity: how the units of a reservoir (and its layers) connect.

Every generator returns a sparse matrix (rows = targets, columns = sources, the pull
layout ``W @ x`` reads) and is built in O(nnz): no n x n matrix and no table of n²
distances is ever formed.

* :mod:`~reservoir.connectivity.random` -- random sparse connectivity, a fraction of
  all possible connections (``density``, Erdős–Rényi) or of the source layer per
  target (``fan_in``); input matrices, Dale's law and delays on top of it;
* :mod:`~reservoir.connectivity.spectral` -- the spectral radius and rescaling to it.
"""

from .random import (
    DEFAULT_DENSITY,
    MIN_MEAN_FAN_IN,
    _seed_sequence,  # noqa: F401  (the models draw their independent seed streams with it)
    dale_weights,
    default_density,
    input_matrix,
    push_layout,
    random_delays,
    random_sparse,
    row_counts,
)
from .spectral import rescale_to_spectral_radius, spectral_radius

__all__ = [
    "random_sparse",
    "spectral_radius",
    "rescale_to_spectral_radius",
    "row_counts",
    "input_matrix",
    "dale_weights",
    "push_layout",
    "random_delays",
    "default_density",
    "DEFAULT_DENSITY",
    "MIN_MEAN_FAN_IN",
]
