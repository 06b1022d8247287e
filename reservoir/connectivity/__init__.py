"""Connectivity: how the units of a reservoir (and its layers) connect.

Every generator returns a sparse matrix (rows = targets, columns = sources, the pull
layout ``W @ x`` reads) and is built in O(nnz): no n x n matrix and no table of n²
distances is ever formed.

* :mod:`~reservoir.connectivity.random` -- random sparse connectivity, a fraction of
  all possible connections (``density``, Erdős–Rényi) or of the source layer per
  target (``fan_in``); input matrices, Dale's law and delays on top of it;
* :mod:`~reservoir.connectivity.local` -- neurons on a lattice (ring, grid, column),
  connected within a radius or with a probability falling with distance (Maass et al.);
* :mod:`~reservoir.connectivity.topologies` -- ring, line, small world, orthogonal,
  fast spectral initialisation, and connections between layers;
* :mod:`~reservoir.connectivity.spectral` -- the spectral radius and rescaling to it;
* :mod:`~reservoir.connectivity.build` -- the models' ``connectivity=`` setting.
"""

from .delays import connection_delays
from .local import MAASS_C, MAASS_LAMBDA, Lattice, distance_sparse, lattice, local_sparse
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
from .topologies import between_layers, fast_spectral, full, line, orthogonal, ring, small_world

__all__ = [
    "random_sparse",
    "spectral_radius",
    "rescale_to_spectral_radius",
    "row_counts",
    "input_matrix",
    "dale_weights",
    "push_layout",
    "random_delays",
    "Lattice",
    "lattice",
    "local_sparse",
    "distance_sparse",
    "ring",
    "line",
    "small_world",
    "orthogonal",
    "fast_spectral",
    "between_layers",
    "full",
    "connection_delays",
    "default_density",
    "DEFAULT_DENSITY",
    "MIN_MEAN_FAN_IN",
    "MAASS_C",
    "MAASS_LAMBDA",
]
