"""Local, distance-dependent connectivity: neurons on a lattice in space.

Neurons sit on the sites of a 1-D ring or line, a 2-D grid or a 3-D column
(:class:`Lattice`, periodic or not). Two rules connect them:

* :func:`local_sparse` -- every neuron within a radius ``r`` (the "convolutional"
  reservoir of the Neural Network Zoo, where ranges above 4 or 5 are rare);
* :func:`distance_sparse` -- Maass, Natschläger & Markram (2002): a connection from
  ``a`` to ``b`` with probability ``C · exp(-(D(a, b) / λ)²)``, ``C`` per pair of
  excitatory / inhibitory populations (their values are :data:`MAASS_C`).

Both are built in O(nnz), offset by offset: the pairs ``(a, a + δ)`` for one lattice
offset ``δ`` share a distance, so for each ``δ`` within the cutoff the rule is one
Bernoulli probability over the sites whose ``a + δ`` exists, and the connections are
drawn as a Binomial count of distinct sites (``Generator.choice`` without replacement,
which costs O(count)). No n x n matrix and no table of n² distances is formed; every
(source, target) pair belongs to exactly one offset, so there are no duplicates.
The Gaussian rule has no finite support; offsets whose probability is below
``min_probability`` (default 1e-4 of the largest ``C``) are dropped, which loses about
that fraction's share of the connections (computed and logged).
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validation as check
from .random import _seed_sequence
from .spectral import rescale_to_spectral_radius

__all__ = ["Lattice", "lattice", "local_sparse", "distance_sparse", "MAASS_C", "MAASS_LAMBDA"]

log = logging.getLogger(__name__)

#: Maass et al. (2002): connection scale C per (source, target) population pair.
MAASS_C = {"EE": 0.3, "EI": 0.2, "IE": 0.4, "II": 0.1}
#: ... and the length scale λ of the Gaussian fall-off, in lattice spacings.
MAASS_LAMBDA = 2.0


@dataclass(frozen=True)
class Lattice:
    """Sites of a 1-, 2- or 3-D integer lattice, one neuron each, in C order.

    ``shape`` (n,) is a line (a ring when periodic), (rows, columns) a grid, (x, y, z)
    a column; ``periodic`` wraps every axis (distances are then the shortest way round).
    """

    shape: tuple[int, ...]
    periodic: bool = False

    def __post_init__(self):
        shape = tuple(int(size) for size in np.atleast_1d(self.shape))
        if not 1 <= len(shape) <= 3 or any(size < 1 for size in shape):
            raise ValueError(f"lattice shape must be 1 to 3 positive sizes, got {self.shape!r}")
        object.__setattr__(self, "shape", shape)

    @property
    def n(self) -> int:
        return math.prod(self.shape)

    def coordinates(self) -> np.ndarray:
        """(n, d) integer coordinates of the sites, in the order of the neurons."""
        return np.stack(np.unravel_index(np.arange(self.n), self.shape), axis=1)

    def offsets(self, cutoff: float) -> np.ndarray:
        """Every nonzero offset δ with ``|δ| <= cutoff`` that joins two sites, once each
        (periodic: the shortest representative of each residue), as a (k, d) int array."""
        axes = []
        for size in self.shape:
            reach = min(int(math.floor(cutoff)), size - 1)
            values = np.arange(-reach, reach + 1)
            if self.periodic:  # residues mod size, each by its shortest representative
                values = np.unique(((values + size // 2) % size) - size // 2)
            axes.append(values)
        grid = np.array(list(itertools.product(*axes)), dtype=np.int64).reshape(-1, len(self.shape))
        keep = np.any(grid != 0, axis=1) & (np.sum(grid.astype(np.float64) ** 2, axis=1) <= cutoff**2 + 1e-9)
        return grid[keep]

    def sources_for(self, delta: np.ndarray) -> tuple[int, object]:
        """(count, site_of): how many sites a have a + δ on the lattice, and a function taking
        indices 0..count-1 to (source sites, target sites)."""
        shape = np.asarray(self.shape)
        if self.periodic:
            count = self.n

            def site_of(index):
                coords = np.stack(np.unravel_index(index, self.shape), axis=1)
                target = (coords + delta) % shape
                return index, np.ravel_multi_index(target.T, self.shape)

            return count, site_of
        low = np.maximum(0, -delta)
        extent = shape - np.abs(delta)
        if np.any(extent <= 0):
            return 0, None
        count = int(np.prod(extent))

        def site_of(index):
            coords = np.stack(np.unravel_index(index, tuple(extent)), axis=1) + low
            return np.ravel_multi_index(coords.T, self.shape), np.ravel_multi_index((coords + delta).T, self.shape)

        return count, site_of


def lattice(n: int, geometry: str = "grid", *, shape=None, periodic: bool | None = None) -> Lattice:
    """A lattice of exactly `n` sites.

    Parameters
    ----------
    n : int
        Number of sites (neurons).
    geometry : {"ring", "line", "grid", "column"}
        1-D periodic, 1-D, 2-D or 3-D.
    shape : tuple of int, optional
        Sizes per axis; by default the most nearly square grid of `n` (a grid) or
        (n / 9, 3, 3) (a column, as Maass et al.'s 15 x 3 x 3; the most nearly cubic box
        when 9 does not divide `n`). A shape that does not hold `n` sites is refused.
    periodic : bool, optional
        Wrap the edges (default: only for "ring").

    Returns
    -------
    Lattice
    """
    n = check.positive_int(n, "n")
    dims = {"ring": 1, "line": 1, "grid": 2, "column": 3}
    if geometry not in dims:
        raise ValueError(f"geometry must be one of {sorted(dims)}, got {geometry!r}")
    if shape is None:
        if dims[geometry] == 1:
            shape = (n,)
        elif geometry == "grid":
            rows = max(r for r in range(1, math.isqrt(n) + 1) if n % r == 0)
            shape = (rows, n // rows)
        elif n % 9 == 0:
            shape = (n // 9, 3, 3)
        else:
            shape = _most_nearly_cubic(n)
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    if len(shape) != dims[geometry]:
        raise ValueError(f"a {geometry} has {dims[geometry]} axes, got shape {shape}")
    if math.prod(shape) != n:
        raise ValueError(f"a {geometry} of shape {shape} holds {math.prod(shape)} neurons, not the {n} requested")
    return Lattice(shape, geometry == "ring" if periodic is None else bool(periodic))


def _most_nearly_cubic(n: int) -> tuple[int, int, int]:
    """The box a x b x c = n (a >= b >= c) whose longest side is the shortest relative to its shortest."""
    boxes = [
        (n // (b * c), b, c)
        for c in range(1, math.isqrt(n) + 1)
        if n % c == 0
        for b in range(c, math.isqrt(n // c) + 1)
        if (n // c) % b == 0
    ]
    return min(boxes, key=lambda box: box[0] / box[2])


def _weights(rng, count: int, distribution: str, dtype) -> np.ndarray:
    if distribution == "bernoulli":
        return np.ones(count, dtype=dtype)
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, count).astype(dtype)
    if distribution == "normal":
        return rng.standard_normal(count).astype(dtype)
    raise ValueError(f"distribution must be 'uniform', 'normal' or 'bernoulli', got {distribution!r}")


def _assemble(lat: Lattice, sources, targets, placement, distribution, spectral_radius, rng, dtype) -> sp.csr_array:
    """CSR (rows = targets) of the drawn site pairs, sites mapped to neurons by `placement`."""
    sources = np.concatenate(sources) if sources else np.zeros(0, np.int64)
    targets = np.concatenate(targets) if targets else np.zeros(0, np.int64)
    if placement is not None:  # site -> neuron
        neuron_at = np.empty(lat.n, np.int64)
        neuron_at[placement] = np.arange(lat.n)
        sources, targets = neuron_at[sources], neuron_at[targets]
    dtype = check.float_dtype(dtype)
    values = _weights(rng, sources.size, distribution, dtype)
    W = sp.csr_array((values, (targets, sources)), shape=(lat.n, lat.n))
    W.sort_indices()
    if spectral_radius is not None:
        rescale_to_spectral_radius(W, spectral_radius)
    return W


def local_sparse(
    lat: Lattice, radius: float, *, distribution="uniform", spectral_radius=None, seed=None, dtype="float64"
) -> sp.csr_array:
    """Every neuron connected from every other within `radius` lattice spacings (Euclidean).

    Weights follow `distribution` ("uniform" in [-1, 1), "normal", or "bernoulli": all 1),
    then the matrix is rescaled to `spectral_radius` when given. O(nnz)."""
    radius = check.positive_float(radius, "radius")
    offsets = lat.offsets(radius)
    if offsets.size == 0:
        raise ValueError(f"radius={radius} reaches no other site of a lattice of shape {lat.shape}")
    sources, targets = [], []
    for delta in offsets:
        count, site_of = lat.sources_for(delta)
        if count:
            s, t = site_of(np.arange(count))
            sources.append(s)
            targets.append(t)
    rng = np.random.default_rng(_seed_sequence(seed))
    return _assemble(lat, sources, targets, None, distribution, spectral_radius, rng, dtype)


def _population_scales(C, n: int, n_exc: int | None):
    """(C_max, per-site-pair thinning function) for a scalar C or one per E/I pair."""
    if np.isscalar(C):
        C = check.real(C, "C")
        if not 0 < C <= 1:
            raise ValueError(f"C must be in (0, 1], got {C}")
        return float(C), None
    if n_exc is None:
        raise ValueError("C per population pair (a dict with EE, EI, IE, II) needs n_exc")
    missing = {"EE", "EI", "IE", "II"} - set(C)
    if missing:
        raise ValueError(f"C is missing the population pair(s) {sorted(missing)}")
    table = np.array([[C["EE"], C["EI"]], [C["IE"], C["II"]]], dtype=np.float64)  # [source kind, target kind]
    if np.any(table <= 0) or np.any(table > 1):
        raise ValueError(f"every C must be in (0, 1], got {dict(C)}")
    return float(table.max()), table


def distance_sparse(
    lat: Lattice,
    lam: float = MAASS_LAMBDA,
    C=0.3,
    *,
    n_exc: int | None = None,
    min_probability: float = 1e-4,
    distribution="bernoulli",
    spectral_radius=None,
    seed=None,
    dtype="float64",
    return_sites: bool = False,
):
    """Maass et al. (2002): a connection a -> b with probability ``C · exp(-(D(a, b) / λ)²)``.

    Parameters
    ----------
    lat : Lattice
        Where the neurons sit. Neurons are placed on the sites in a random order (drawn
        from `seed`), so that with `n_exc` the excitatory neurons (the first ``n_exc``,
        the LSM's convention) are scattered through the column as in the paper.
    lam : float > 0
        λ, in lattice spacings (Maass et al.: 2).
    C : float in (0, 1] or dict
        One scale for every pair, or ``{"EE", "EI", "IE", "II"}`` (source then target
        population; :data:`MAASS_C` are the paper's values) with `n_exc`.
    min_probability : float
        Offsets whose probability is below this are dropped (the rule's Gaussian tail).
    distribution, spectral_radius, seed, dtype
        Weights ("bernoulli": all 1, for Dale weights on top; "uniform"; "normal"), an
        optional rescaling, the random stream and the float type.
    return_sites : bool
        Also return where the neurons sit: ``sites[k]`` is neuron k's site (its
        coordinates are ``lat.coordinates()[sites]``).

    Returns
    -------
    W : scipy.sparse.csr_array (n, n), rows = targets; with `return_sites`, ``(W, sites)``.
    """
    lam = check.positive_float(lam, "lam")
    n = lat.n
    if n_exc is not None and not 0 <= int(n_exc) <= n:
        raise ValueError(f"n_exc must be between 0 and the {n} neurons, got {n_exc}")
    c_max, table = _population_scales(C, n, n_exc)
    min_probability = check.positive_float(min_probability, "min_probability")
    cutoff = lam * math.sqrt(max(0.0, math.log(c_max / min_probability)))
    offsets = lat.offsets(cutoff)
    rng = np.random.default_rng(_seed_sequence(seed))
    placement = rng.permutation(n)  # neuron k sits at site placement[k]
    inhibitory_site = None
    if table is not None:
        inhibitory_site = np.zeros(n, bool)
        inhibitory_site[placement[int(n_exc) :]] = True
    sources, targets = [], []
    for delta in offsets:
        count, site_of = lat.sources_for(delta)
        if not count:
            continue
        p = c_max * math.exp(-float(np.sum(delta.astype(np.float64) ** 2)) / lam**2)
        k = int(rng.binomial(count, p))
        if k == 0:
            continue
        s, t = site_of(np.sort(rng.choice(count, size=k, replace=False)))
        if table is not None:  # thin each pair to its own populations' C
            keep = rng.random(k) * c_max < table[inhibitory_site[s].astype(int), inhibitory_site[t].astype(int)]
            s, t = s[keep], t[keep]
        sources.append(s)
        targets.append(t)
    log.debug("distance_sparse: %d offsets within %.3g spacings", len(offsets), cutoff)
    W = _assemble(lat, sources, targets, placement, distribution, spectral_radius, rng, dtype)
    return (W, placement) if return_sites else W
