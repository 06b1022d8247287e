"""Random sparse connectivity and its spectral radius.

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

import logging

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import _validation as check
from .config import settings
from .kernels.random_csr import DISTRIBUTIONS, fill_random_rows

__all__ = [
    "random_sparse",
    "spectral_radius",
    "row_counts",
    "input_matrix",
    "dale_weights",
    "push_layout",
    "random_delays",
    "default_density",
    "DEFAULT_DENSITY",
    "MIN_MEAN_FAN_IN",
]

log = logging.getLogger(__name__)

#: spectral_radius(method="auto") uses LAPACK up to this size, ARPACK (or the power method) above.
DENSE_MAX_UNITS = 64
#: Fraction of all possible connections drawn when neither ``density=`` nor ``fan_in=`` is given ...
DEFAULT_DENSITY = 0.01
#: ... raised so that every unit has at least this many sources on average (capped at all of them).
MIN_MEAN_FAN_IN = 10


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


def spectral_radius(W, *, method: str = "auto", tol: float = 1e-4) -> float:
    """Largest eigenvalue modulus of a square matrix (sparse or dense).

    Methods (``"auto"`` picks by size):

    * ``"dense"`` (n <= ``DENSE_MAX_UNITS``): LAPACK ``eigvals``, exact. Its O(n³) cost
      passes ARPACK's early: at n = 100 (the default 10 connections per unit) ARPACK
      took 5 ms and LAPACK 13 ms with one BLAS thread, 22 ms against 545 ms with the
      default threads on two busy cores, and an estimator check fits hundreds of them.
    * ``"arpack"`` (up to ``settings.arpack_max_nnz`` nonzeros): implicitly restarted
      Arnoldi for the six eigenvalues of largest modulus. A random matrix's spectrum
      fills a disk, so the top eigenvalues crowd at its edge; asking ARPACK for one
      lets it settle on the wrong member of the crowd (seen: 1.2 % low at n = 1000),
      six converge together to the edge.
    * ``"power"`` (larger): the growth rate of ``‖Wᵏx‖`` (Gelfand's formula), averaged
      over the second half of the iterations so that a complex dominant pair, whose
      growth oscillates, still converges. Each iteration is one parallel matvec; ARPACK
      needs hundreds of them on a crowded disk (10 s at n = 20,000 and 1 %, ReservoirPy's
      bottleneck). For a random matrix the growth rate is the circular-law radius, below
      the largest eigenvalue by a finite-size term that falls with n (about 0.5 % at
      n = 20,000); a matrix with a strongly non-normal transient can fool it.
    """
    W = check.square_matrix(W, "W")
    n = W.shape[0]
    if not np.any(W.data if sp.issparse(W) else W):
        return 0.0  # the zero matrix; ARPACK would fail on it ("starting vector is zero")
    if method == "auto":
        nnz = W.nnz if sp.issparse(W) else np.count_nonzero(W)
        method = "dense" if n <= DENSE_MAX_UNITS else "arpack" if nnz <= settings.arpack_max_nnz else "power"
    if method != "dense" and _acyclic(W):
        return 0.0  # no directed cycle: nilpotent, exactly; iterative estimates would only see noise
    if method == "dense":
        dense = W.toarray() if sp.issparse(W) else np.asarray(W)
        return float(np.abs(np.linalg.eigvals(dense.astype(np.float64))).max())
    W = sp.csr_array(W)
    if W.dtype not in check.FLOAT_DTYPES:
        W = W.astype(np.float64)
    if method == "arpack":
        return _arpack_radius(W, tol)
    if method == "power":
        return _power_radius(W, tol)
    raise ValueError(f"unknown method {method!r}; choose 'auto', 'dense', 'arpack' or 'power'")


def _acyclic(W) -> bool:
    """True when the connection graph has no directed cycle (then every eigenvalue is 0)."""
    from scipy.sparse.csgraph import connected_components

    W = sp.csr_array(W)
    if np.any(W.diagonal()):
        return False
    n_components, _ = connected_components(W, directed=True, connection="strong")
    return n_components == W.shape[0]


def _arpack_radius(W: sp.csr_array, tol: float) -> float:
    n = W.shape[0]

    def matvec(v):  # products in the matrix's own precision: no float64 copy of a float32 matrix
        return W @ np.asarray(v, dtype=W.dtype).ravel()

    operator = spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(n)
    k = 6
    try:
        values = spla.eigs(
            operator,
            k=k,
            which="LM",
            tol=tol,
            v0=v0,
            ncv=min(n - 1, 4 * k),
            maxiter=max(1000, n),
            return_eigenvectors=False,
        )
    except spla.ArpackNoConvergence as error:
        values = error.eigenvalues
        if len(values) == 0:
            raise RuntimeError("spectral radius: ARPACK did not converge; try method='power'") from error
        log.warning("spectral radius: ARPACK converged for %d of %d eigenvalues", len(values), k)
    except spla.ArpackError as error:  # e.g. a nilpotent matrix maps the Krylov space to zero
        log.warning("spectral radius: ARPACK failed (%s); using the power method", error)
        return _power_radius(W, tol)
    return float(np.abs(values).max())


def _power_radius(W: sp.csr_array, tol: float, min_iterations: int = 40, max_iterations: int = 400) -> float:
    from .kernels.cpu import spmv

    x = np.random.default_rng(0).standard_normal(W.shape[0]).astype(W.dtype)
    x /= np.linalg.norm(x)
    log_growth = []
    estimate = previous = np.inf
    for iteration in range(1, max_iterations + 1):
        y = spmv(W, x)
        norm = float(np.linalg.norm(y.astype(np.float64)))
        if norm == 0.0:
            return 0.0
        log_growth.append(np.log(norm))
        x = (y / norm).astype(W.dtype)
        if iteration >= min_iterations and iteration % 10 == 0:
            estimate = float(np.exp(np.mean(log_growth[iteration // 2 :])))
            if abs(estimate - previous) <= tol * 10 * estimate:
                break
            previous = estimate
    return estimate


def _nonzero_radius(W) -> float:
    # What to do about it: a small reservoir at an explicit 1 % density draws about
    # units * units / 100 connections, e.g. one for ESN(10), and they seldom close a cycle.
    hint = (
        f"{W.shape[0]} units, {int(np.count_nonzero(W.data))} nonzero connection(s); a random reservoir "
        "this sparse needs a higher density (or fan_in) or more units; leave density unset for the default "
        f"of at least {MIN_MEAN_FAN_IN} connections per unit"
    )
    if W.nnz == 0 or not np.any(W.data):
        raise ValueError(f"cannot rescale to a spectral radius: the matrix is all zeros ({hint})")
    rho = spectral_radius(W)
    if rho == 0.0:
        raise ValueError(
            f"cannot rescale to a spectral radius: the matrix is nilpotent (spectral radius 0: its "
            f"connections form no cycle; {hint})"
        )
    return rho


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return np.random.SeedSequence(seed)


def rescale_to_spectral_radius(W, target: float):
    """Return W scaled in place to spectral radius ``target`` (a positive float)."""
    target = check.positive_float(target, "spectral_radius")
    W.data *= W.dtype.type(target / _nonzero_radius(W))
    return W


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
