"""The matrix initialisers ReservoirPy users know, and connections between layers.

* :func:`ring` and :func:`line` -- the cyclic and the plain shift: unit ``i`` feeds
  ``i + 1`` (ReservoirPy's ``ring`` / ``line``; weights 1 unless given);
* :func:`small_world` -- Watts & Strogatz (1998): a ring lattice of ``neighbours``
  nearest units (half on each side, both directions), each edge rewired with
  probability ``rewire`` to a new target of the same source (ReservoirPy's
  ``small_world``: same parameters, same statistics -- every unit keeps its out-degree);
* :func:`orthogonal` -- a Haar-random orthogonal matrix (dense: n² entries; its
  spectral radius is 1);
* :func:`full` -- fully connected: every unit feeds every unit, standard normal
  weights; ``symmetric=True`` gives ``W = Wᵀ`` (Hopfield-style: real eigenvalues,
  no self-connections unless asked);
* :func:`fast_spectral` -- Gallicchio, Micheli & Pedrelli (2020): uniform weights on
  ``[-a, a]`` with ``a = 6 ρ / (√12 √(density · n))``, so the spectral radius is about
  ``ρ`` without computing an eigenvalue (the circular law);
* :func:`between_layers` -- a fraction of the source layer per target (the "% of
  neurons between layers" variation), for stacked reservoirs and ELM layers.

Every matrix is a ``scipy.sparse.csr_array`` with rows = targets, built in O(nnz)
(except the orthogonal one, which is dense by nature).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .. import _validation as check
from .random import _seed_sequence, random_sparse

__all__ = ["ring", "line", "small_world", "orthogonal", "full", "fast_spectral", "between_layers"]


def _shift(n: int, weights, dtype, cyclic: bool) -> sp.csr_array:
    n = check.positive_int(n, "n")
    count = n if cyclic else n - 1
    values = np.ones(count) if weights is None else np.asarray(weights, dtype=np.float64)
    if values.shape != (count,):
        raise ValueError(f"weights must have {count} values (one per connection), got shape {values.shape}")
    sources = np.arange(count)
    targets = (sources + 1) % n
    return sp.csr_array((values.astype(check.float_dtype(dtype)), (targets, sources)), shape=(n, n))


def ring(n: int, *, weights=None, dtype="float64") -> sp.csr_array:
    """Unit ``i`` feeds unit ``(i + 1) % n``: one cycle through every unit (spectral radius 1 with unit weights)."""
    return _shift(n, weights, dtype, cyclic=True)


def line(n: int, *, weights=None, dtype="float64") -> sp.csr_array:
    """Unit ``i`` feeds unit ``i + 1``; the last feeds none (nilpotent: no spectral radius to rescale)."""
    return _shift(n, weights, dtype, cyclic=False)


def _values(rng, count: int, distribution: str) -> np.ndarray:
    if distribution == "normal":
        return rng.standard_normal(count)
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, count)
    if distribution == "bernoulli":
        return np.where(rng.random(count) < 0.5, -1.0, 1.0)
    raise ValueError(f"distribution must be 'normal', 'uniform' or 'bernoulli', got {distribution!r}")


def small_world(
    n: int, *, neighbours: int = 2, rewire: float = 0.1, distribution="normal", seed=None, dtype="float64"
) -> sp.csr_array:
    """Watts–Strogatz small world, directed both ways.

    Every unit is joined to its ``neighbours // 2`` nearest units on each side of a ring
    (both directions, independent weights); then every lattice edge ``(i, j)`` is, with
    probability `rewire`, moved to ``(i, k)`` for a ``k`` drawn among the units ``i`` is
    not yet joined to (both directions move). O(n · neighbours) with a set per unit.
    """
    n = check.positive_int(n, "n")
    neighbours = check.positive_int(neighbours, "neighbours")
    if neighbours % 2:
        raise ValueError(f"neighbours must be even (half on each side of the ring), got {neighbours}")
    if neighbours >= n:
        raise ValueError(f"neighbours={neighbours} needs more than {neighbours} units, got {n}")
    rewire = check.real(rewire, "rewire")
    if not 0 <= rewire <= 1:
        raise ValueError(f"rewire must be a probability in [0, 1], got {rewire}")
    rng = np.random.default_rng(_seed_sequence(seed))
    half = neighbours // 2
    i = np.tile(np.arange(n), half)
    j = (i + np.repeat(np.arange(1, half + 1), n)) % n
    forward, backward = _values(rng, i.size, distribution), _values(rng, i.size, distribution)
    joined = [set() for _ in range(n)]
    for a, b in zip(i.tolist(), j.tolist()):
        joined[a].add(b)
        joined[b].add(a)
    moved = np.flatnonzero(rng.random(i.size) < rewire)
    for edge in moved.tolist():  # one Python step per rewired edge: rewire · n · neighbours / 2 of them
        a, b = int(i[edge]), int(j[edge])
        free = n - 1 - len(joined[a])
        if free <= 0:
            continue
        while True:  # rejection: the chance of a hit is free / (n - 1), high for sparse rings
            k = int(rng.integers(n))
            if k != a and k not in joined[a]:
                break
        joined[a].discard(b)
        joined[b].discard(a)
        joined[a].add(k)
        joined[k].add(a)
        j[edge] = k
    rows = np.concatenate([i, j])  # W[i, j] = forward weight, W[j, i] = backward weight
    cols = np.concatenate([j, i])
    values = np.concatenate([forward, backward]).astype(check.float_dtype(dtype))
    return sp.csr_array((values, (rows, cols)), shape=(n, n))


def orthogonal(n: int, *, seed=None, dtype="float64", dense: bool = False):
    """A Haar-random orthogonal (n, n) matrix (``scipy.stats.ortho_group``, drawn in float64):
    CSR by default (n² entries: dense by nature), an ndarray with ``dense=True``."""
    n = check.positive_int(n, "n")
    rng = np.random.default_rng(_seed_sequence(seed))
    if n == 1:  # ortho_group needs n >= 2; the 1 x 1 orthogonal matrices are +1 and -1
        Q = np.array([[rng.choice((-1.0, 1.0))]])
    else:
        from scipy.stats import ortho_group  # scipy.stats takes a while to import: only when drawing

        Q = ortho_group.rvs(dim=n, random_state=rng)
    Q = Q.astype(check.float_dtype(dtype))
    return Q if dense else sp.csr_array(Q)


def full(
    n: int, *, symmetric: bool = False, self_connections: bool | None = None, seed=None, dtype="float64"
) -> sp.csr_array:
    """Every unit feeds every unit: standard normal weights, as CSR (n² entries; the ESN
    runs such a matrix with dense kernels, see ``settings.dense_min_density``).

    Parameters
    ----------
    n : int
        Number of units.
    symmetric : bool
        ``W[i, j] = W[j, i]`` (Hopfield-style): the mean of a normal matrix and its
        transpose, scaled by √2 so the off-diagonal weights stay standard normal.
    self_connections : bool, optional
        Keep the diagonal. Default: yes, except for a symmetric matrix (Hopfield's
        ``W_ii = 0``).
    seed, dtype
        Random seed; float32 or float64.

    Returns
    -------
    W : (n, n) csr_array
    """
    n = check.positive_int(n, "n")
    if self_connections is None:
        self_connections = not symmetric
    rng = np.random.default_rng(_seed_sequence(seed))
    values = rng.standard_normal((n, n))
    if symmetric:
        values = (values + values.T) / np.sqrt(2.0)
    if not self_connections:
        np.fill_diagonal(values, 0.0)
    return sp.csr_array(values.astype(check.float_dtype(dtype)))


def fast_spectral(n: int, spectral_radius: float, *, density=None, seed=None, dtype="float64") -> sp.csr_array:
    """Uniform weights on [-a, a], a = 6 ρ / (√12 √(density · n)): spectral radius ≈ ρ, no eigensolver.

    The variance of such a weight is a²/3, so each row's sum of ``density · n`` of them
    has variance ρ² and the circular law puts the spectrum on a disk of radius ρ (as n
    grows; a few % off at n = 100)."""
    rho = check.positive_float(spectral_radius, "spectral_radius")
    W = random_sparse(n, density=density, distribution="uniform", seed=seed, dtype=dtype)
    mean_fan_in = W.nnz / n
    a = 6.0 * rho / (np.sqrt(12.0) * np.sqrt(mean_fan_in))
    W.data *= W.dtype.type(a)
    return W


def between_layers(
    n_target: int, n_source: int, fraction: float, *, distribution="uniform", seed=None, dtype="float64"
):
    """Every target unit draws ``round(fraction · n_source)`` distinct sources (at least one)."""
    n_target = check.positive_int(n_target, "n_target")
    n_source = check.positive_int(n_source, "n_source")
    fraction = check.density(fraction, "fraction")
    fan_in = max(1, int(round(fraction * n_source)))
    return random_sparse(n_target, n_source, fan_in=fan_in, distribution=distribution, seed=seed, dtype=dtype)
