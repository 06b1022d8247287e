"""Random sparse connectivity: Erdős–Rényi and fixed fan-in, inputs, Dale's law, delays.

Two variations of random sparse connectivity, both first-class:

* ``density=p``: Erdős–Rényi, every one of the ``n * n_in`` possible connections
  exists independently with probability ``p`` (row counts are Binomial(n_in, p));
* ``fan_in=k``: fixed in-degree, every target (row) gets exactly ``k`` distinct
  sources (columns) drawn uniformly.

Rows are targets and columns are sources, so ``W @ x`` pulls from the sources
(the *pull* layout the ESN reads). Spiking networks also need the *push* layout,
rows = sources, so that a spike visits only its own targets: ``push_layout(W)``.
Dale's law (a neuron's outgoing weights all share one sign) and synaptic delays
are added on top of the same random structure.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import _validation as check
from ..kernels.random_csr import DISTRIBUTIONS, fill_random_rows
from .spectral import MIN_MEAN_FAN_IN, rescale_to_spectral_radius

__all__ = [
    "random_sparse",
    "row_counts",
    "input_matrix",
    "dale_weights",
    "push_layout",
    "random_delays",
    "default_density",
    "DEFAULT_DENSITY",
    "MIN_MEAN_FAN_IN",
]

#: Fraction of all possible connections drawn when neither ``density=`` nor ``fan_in=`` is given,
#: raised so that every unit has MIN_MEAN_FAN_IN sources on average (see default_density).
DEFAULT_DENSITY = 0.01


def default_density(n_sources: int, base: float = DEFAULT_DENSITY) -> float:
    """The density used when neither ``density=`` nor ``fan_in=`` is given.

    ``max(base, MIN_MEAN_FAN_IN / n_sources)``, at most 1 (``base`` is
    ``DEFAULT_DENSITY``, 1 %, for ESN and ELM layers; the LSM's is 2 %): 1 % of all
    connections for large layers (1000 sources and more), and about 10 sources per
    unit below that, so that a small reservoir is still a recurrent network. At 1 %,
    ESN(100) would draw about one connection per unit, and its graph is often without
    a cycle (nilpotent: no spectral radius to rescale to); an ELM unit over 2 features
    would see no input at all. 10 sources per unit is ReservoirPy's 10 % at 100 units.
    """
    n_sources = check.positive_int(n_sources, "n_sources")
    return min(1.0, max(base, MIN_MEAN_FAN_IN / n_sources))


def row_counts(n: int, n_in: int, *, density=None, fan_in=None, seed=None, at_least: int = 0) -> np.ndarray:
    """Number of nonzeros in each of the ``n`` rows (validated, deterministic for a seed).

    Validation of the sizes happens here, before anything large is allocated. With
    ``density``, rows drawing fewer than ``at_least`` connections get ``at_least``.
    """
    n = check.positive_int(n, "n")
    n_in = check.positive_int(n_in, "n_in")
    if density is not None and fan_in is not None:
        raise ValueError("give exactly one of density= or fan_in=")
    if density is None and fan_in is None:
        raise ValueError("give exactly one of density= or fan_in= (random_sparse picks a default)")
    if fan_in is not None:
        fan_in = check.positive_int(fan_in, "fan_in")
        if fan_in > n_in:
            raise ValueError(
                f"fan_in={fan_in} is larger than the source layer ({n_in} units): "
                "a target cannot have more distinct sources than there are"
            )
        return np.full(n, fan_in, dtype=np.int64)
    density = check.density(density)
    rng = np.random.default_rng(seed)
    counts = rng.binomial(n_in, density, size=n).astype(np.int64)
    if at_least:
        np.maximum(counts, min(at_least, n_in), out=counts)
    return counts


def random_sparse(
    n: int,
    n_in: int | None = None,
    *,
    density: float | None = None,
    fan_in: int | None = None,
    distribution: str = "normal",
    spectral_radius: float | None = None,
    seed=None,
    dtype="float32",
) -> sp.csr_array:
    """A random sparse matrix of shape ``(n, n_in or n)`` in CSR format.

    Parameters
    ----------
    n : int
        Number of rows (target units).
    n_in : int, optional
        Number of columns (source units); ``n`` (a square recurrent matrix) by default.
    density : float in (0, 1], optional
        Probability of each possible connection (Erdős–Rényi), exactly as given.
    fan_in : int, optional
        Exact number of sources per target. Give at most one of ``density``/``fan_in``.
        With neither, the default connectivity: Erdős–Rényi at
        ``default_density(n_in) = max(0.01, 10 / n_in)`` (at most 1), i.e. 1 % of all
        connections from 1000 sources up and about 10 sources per target below, and
        every target gets at least one source (a row that draws none gets one).
    distribution : {"normal", "uniform", "bernoulli"}
        Values: standard normal, uniform in [-1, 1), or +1/-1 with equal probability.
    spectral_radius : float > 0, optional
        Rescale the (square) matrix to this spectral radius.
    seed : int or numpy.random.SeedSequence, optional
        Same seed, same matrix, on any number of threads.
    dtype : {"float32", "float64"}

    Returns
    -------
    scipy.sparse.csr_array
        Sorted, duplicate-free indices; built in O(nnz) time and memory.
    """
    dtype = check.float_dtype(dtype)
    n = check.positive_int(n, "n")
    n_in = n if n_in is None else check.positive_int(n_in, "n_in")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; choose one of {sorted(DISTRIBUTIONS)}")
    if spectral_radius is not None:
        spectral_radius = check.positive_float(spectral_radius, "spectral_radius")
        if n != n_in:
            raise ValueError(f"spectral_radius needs a square matrix, got shape ({n}, {n_in})")

    counts_seed, value_seed = (int(s) for s in _seed_sequence(seed).generate_state(2, np.uint64))
    at_least = 0
    if density is None and fan_in is None:
        density, at_least = default_density(n_in), 1
    counts = row_counts(n, n_in, density=density, fan_in=fan_in, seed=counts_seed, at_least=at_least)
    nnz = int(counts.sum())
    index_dtype = np.int32 if max(nnz, n_in) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n + 1, dtype=index_dtype)
    np.cumsum(counts, out=indptr[1:])
    del counts
    indices = np.empty(nnz, dtype=index_dtype)
    data = np.empty(nnz, dtype=dtype)
    fill_random_rows(indptr, indices, data, n_in, np.uint64(value_seed), DISTRIBUTIONS[distribution])
    W = sp.csr_array((data, indices, indptr), shape=(n, n_in), copy=False)
    W.has_sorted_indices = True

    if spectral_radius is not None:
        rescale_to_spectral_radius(W, spectral_radius)
    return W


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return np.random.SeedSequence(seed)


def dale_weights(W: sp.csr_array, n_exc: int, w_exc: float, w_inh: float) -> sp.csr_array:
    """Give every connection its source population's weight, in place (pull layout).

    Sources (columns) ``[0, n_exc)`` are excitatory and get ``w_exc > 0``; the
    others are inhibitory and get ``w_inh < 0`` (Dale's law).
    """
    if not w_exc > 0:
        raise ValueError(f"w_exc must be > 0 (excitatory weights), got {w_exc}")
    if not w_inh < 0:
        raise ValueError(f"w_inh must be < 0 (inhibitory weights), got {w_inh}")
    W.data[...] = np.where(W.indices < n_exc, W.dtype.type(w_exc), W.dtype.type(w_inh))
    return W


def push_layout(W) -> sp.csr_array:
    """The transpose as sorted CSR: row j lists the targets of source j and their weights."""
    push = sp.csr_array(sp.csr_array(W).T)
    push.sort_indices()
    return push


def random_delays(nnz: int, low: int, high: int, seed=None) -> np.ndarray:
    """Integer delays (steps) for `nnz` synapses, uniform in [low, high], in storage order."""
    if not 0 <= low <= high:
        raise ValueError(f"delay range must satisfy 0 <= low <= high, got ({low}, {high})")
    dtype = np.int16 if high < np.iinfo(np.int16).max else np.int32
    if low == high:
        return np.full(nnz, low, dtype=dtype)
    return np.random.default_rng(seed).integers(low, high + 1, size=nnz).astype(dtype)


def input_matrix(
    units: int, n_in: int, *, density: float, scaling: float, seed=None, dtype="float32", nonnegative: bool = False
) -> sp.csr_array:
    """Input weights (units, n_in): a fraction `density` nonzero, uniform in [-scaling, scaling)
    (in [0, scaling) with `nonnegative`, e.g. for excitatory input spikes)."""
    W_in = random_sparse(units, n_in, density=density, distribution="uniform", seed=seed, dtype=dtype)
    if nonnegative:
        W_in.data = np.abs(W_in.data)
    W_in.data *= W_in.dtype.type(scaling)
    return W_in
