"""The connectivity generators against brute force, the rules they draw from, and ReservoirPy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir import connectivity as cn
from reservoir.connectivity.build import normalised


def _distances(lat: cn.Lattice) -> np.ndarray:
    """Brute force: the (n, n) Euclidean distances between sites (shortest way round if periodic)."""
    coords = lat.coordinates().astype(np.float64)
    diff = np.abs(coords[:, None, :] - coords[None, :, :])
    if lat.periodic:
        sizes = np.asarray(lat.shape, dtype=np.float64)
        diff = np.minimum(diff, sizes - diff)
    return np.sqrt((diff**2).sum(axis=-1))


@pytest.mark.parametrize(
    "shape, periodic, radius",
    [
        ((12,), True, 2.0),
        ((12,), False, 3.0),
        ((6, 7), False, 1.5),
        ((5, 6), True, 2.3),
        ((4, 3, 5), True, 1.8),
        ((7, 3, 3), False, 1.0),
    ],
)
def test_local_connects_exactly_the_sites_within_the_radius(shape, periodic, radius):
    lat = cn.Lattice(shape, periodic)
    W = cn.local_sparse(lat, radius, seed=0)
    D = _distances(lat)
    expected = (D <= radius + 1e-9) & (D > 0)
    np.testing.assert_array_equal(W.toarray() != 0, expected)
    W.sum_duplicates()
    assert W.nnz == expected.sum()  # no pair drawn twice


def test_distance_rule_draws_each_pair_with_its_probability():
    """On a 16^3 periodic column: the fraction of pairs connected at each distance against
    C exp(-(d / λ)²), within 4 binomial standard errors, and never a self connection."""
    lat = cn.Lattice((16, 16, 16), periodic=True)
    lam, C = 2.0, 0.3
    W, sites = cn.distance_sparse(lat, lam, C, seed=1, return_sites=True)
    assert W.diagonal().sum() == 0
    rows, cols = W.nonzero()
    coords = lat.coordinates()[sites]
    diff = np.abs(coords[rows] - coords[cols])
    diff = np.minimum(diff, 16 - diff)
    d2 = (diff**2).sum(axis=1)
    counts = np.bincount(d2, minlength=30)
    offsets = lat.offsets(6.0)
    pairs = np.bincount((offsets**2).sum(axis=1), minlength=30) * lat.n
    for squared in np.flatnonzero(pairs[:30]):
        p = C * math.exp(-squared / lam**2)
        expected, spread = pairs[squared] * p, math.sqrt(pairs[squared] * p * (1 - p))
        assert abs(counts[squared] - expected) <= 4 * spread + 1, (squared, counts[squared], expected)


def test_distance_rule_per_population_pair():
    """E/I populations (the first n_exc neurons excitatory): each pair's count against its own C
    (within 4 Poisson standard deviations)."""
    lat = cn.Lattice((12, 12, 12), periodic=True)
    n_exc = int(0.8 * lat.n)
    W = cn.distance_sparse(lat, 2.0, cn.MAASS_C, n_exc=n_exc, seed=2)
    targets, sources = W.nonzero()
    kind = lambda index: np.where(index < n_exc, "E", "I")  # noqa: E731
    pair = np.char.add(kind(sources), kind(targets))
    weight_sum = sum(math.exp(-float((o**2).sum()) / 4.0) for o in lat.offsets(10.0))
    for name, c in cn.MAASS_C.items():
        n_pre = n_exc if name[0] == "E" else lat.n - n_exc
        share_post = (n_exc if name[1] == "E" else lat.n - n_exc) / (lat.n - 1)
        expected = n_pre * c * weight_sum * share_post
        assert abs((pair == name).sum() - expected) < 4 * math.sqrt(expected), (name, (pair == name).sum(), expected)


def test_a_million_neurons_in_a_column_need_no_n_squared_table():
    """O(nnz): 10^6 neurons at λ = 1 (a few synapses each) draw in seconds; n² of anything would not fit."""
    lat = cn.lattice(1_000_000, "column", shape=(100, 100, 100))
    W = cn.distance_sparse(lat, 1.0, 0.3, seed=0)
    assert W.shape == (1_000_000, 1_000_000)
    assert 1.0 < W.nnz / lat.n < 3.0  # 0.3 * Σ exp(-|δ|²) over the neighbour shells ≈ 1.6


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: cn.local_sparse(cn.Lattice((10,)), 0.0), "radius must be > 0"),
        (lambda: cn.local_sparse(cn.Lattice((10,)), 0.5), "reaches no other site"),
        (lambda: cn.distance_sparse(cn.Lattice((10,)), 0.0), "lam must be > 0"),
        (lambda: cn.distance_sparse(cn.Lattice((10,)), -1.0), "lam must be > 0"),
        (lambda: cn.distance_sparse(cn.Lattice((10,)), 2.0, 1.5), r"C must be in \(0, 1\]"),
        (lambda: cn.distance_sparse(cn.Lattice((10,)), 2.0, {"EE": 0.3}, n_exc=8), "missing the population"),
        (lambda: cn.distance_sparse(cn.Lattice((10,)), 2.0, cn.MAASS_C), "needs n_exc"),
        (lambda: cn.lattice(100, "grid", shape=(9, 9)), r"holds 81 neurons, not the 100 requested"),
        (lambda: cn.lattice(100, "column", shape=(10, 10)), "a column has 3 axes"),
        (lambda: cn.lattice(100, "sphere"), "geometry must be one of"),
        (lambda: cn.between_layers(10, 20, 0.0), r"fraction must be in \(0, 1\]"),
        (lambda: cn.between_layers(10, 20, 1.5), r"fraction must be in \(0, 1\]"),
        (lambda: cn.small_world(20, neighbours=3), "neighbours must be even"),
        (lambda: cn.small_world(20, rewire=1.5), r"rewire must be a probability"),
        (lambda: normalised({"kind": "local", "radus": 2}), r"takes the options .* not \['radus'\]"),
        (lambda: normalised("hexagonal"), "connectivity kind must be one of"),
        (lambda: rs.ESN(50, connectivity={"kind": "local", "radius": 0}), "radius must be > 0"),
        (lambda: rs.ESN(50, connectivity={"kind": "local", "shape": (6, 6)}), "holds 36 neurons"),
    ],
)
def test_bad_settings_name_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_between_layers_gives_every_target_its_share_of_the_source_layer():
    W = cn.between_layers(30, 200, 0.05, seed=0)
    assert W.shape == (30, 200)
    np.testing.assert_array_equal(np.diff(W.indptr), 10)


def test_ring_and_line_equal_reservoirpys():
    mat_gen = pytest.importorskip("reservoirpy.mat_gen")
    np.testing.assert_array_equal(cn.ring(17).toarray(), mat_gen.ring(17, 17).toarray())
    np.testing.assert_array_equal(cn.line(17).toarray(), mat_gen.line(17, 17).toarray())


def _clustering(W) -> float:
    A = (sp.csr_array(W) != 0).astype(float)
    A = ((A + A.T) > 0).astype(float).toarray()
    np.fill_diagonal(A, 0)
    degree = A.sum(axis=1)
    triangles = np.einsum("ij,jk,ki->i", A, A, A) / 2
    possible = degree * (degree - 1) / 2
    return float(np.mean(np.divide(triangles, possible, out=np.zeros_like(triangles), where=possible > 0)))


@pytest.mark.parametrize("neighbours, rewire", [(4, 0.0), (4, 0.1), (6, 0.3), (4, 1.0)])
def test_small_world_has_reservoirpys_statistics(neighbours, rewire):
    """Same parameters: the same number of connections, every unit keeping its out-degree (rewiring
    moves targets, not sources), and the same clustering coefficient (means over 10 seeds, within 4 standard errors)."""
    mat_gen = pytest.importorskip("reservoirpy.mat_gen")
    n, seeds = 120, range(10)
    ours = [cn.small_world(n, neighbours=neighbours, rewire=rewire, seed=s) for s in seeds]
    theirs = [
        sp.csr_array(mat_gen.small_world(n, n, nb_close_neighbours=neighbours, proba_rewire=rewire, seed=s))
        for s in seeds
    ]
    for W in ours:
        assert W.nnz == n * neighbours
        assert (W.diagonal() == 0).all()
    assert [W.nnz for W in theirs] == [n * neighbours] * len(seeds)
    c_ours = np.array([_clustering(W) for W in ours])
    c_theirs = np.array([_clustering(W) for W in theirs])
    standard_error = np.hypot(c_ours.std(), c_theirs.std()) / np.sqrt(len(seeds))
    assert abs(c_ours.mean() - c_theirs.mean()) <= 4 * standard_error + 1e-12
    if rewire == 0.0:  # the lattice itself: the same pattern exactly
        np.testing.assert_array_equal(ours[0].toarray() != 0, sp.csr_array(theirs[0]).toarray() != 0)


def test_orthogonal_is_orthogonal_and_haar_like():
    Q = cn.orthogonal(60, seed=3).toarray()
    np.testing.assert_allclose(Q @ Q.T, np.eye(60), atol=1e-12)
    # Haar: a typical entry has variance 1/n (a fixed permutation or the identity would not)
    assert np.var(Q) == pytest.approx(1 / 60, rel=0.2)


def test_fast_spectral_reaches_the_radius_like_reservoirpys():
    """Gallicchio et al.'s scale: the spectral radius near the target without an eigensolver, as
    ReservoirPy's fast_spectral_initialization with the same density (both within 5 % at n = 1000)."""
    mat_gen = pytest.importorskip("reservoirpy.mat_gen")
    n, density, rho = 1000, 0.05, 0.9
    ours = cn.fast_spectral(n, rho, density=density, seed=0)
    theirs = sp.csr_array(mat_gen.fast_spectral_initialization(n, n, sr=rho, connectivity=density, seed=0))
    for W in (ours, theirs):
        assert rs.spectral_radius(W) == pytest.approx(rho, rel=0.05)
    assert np.abs(ours.data).max() == pytest.approx(np.abs(theirs.data).max(), rel=0.01)


@pytest.mark.parametrize(
    "setting",
    [
        "ring",
        "orthogonal",
        "fast_spectral",
        {"kind": "local", "radius": 2.0},
        "distance",
        {"kind": "small_world", "neighbours": 4},
    ],
)
def test_esn_with_each_kind_runs_at_its_spectral_radius(rng, setting):
    esn = rs.ESN(144, connectivity=setting, spectral_radius=0.8, seed=0, dtype="float64")
    tolerance = 0.1 if normalised(setting)["kind"] == "fast_spectral" else 1e-6
    assert rs.spectral_radius(esn.W) == pytest.approx(0.8, rel=tolerance)
    states = esn.run(rng.standard_normal((40, 2)))
    assert np.all(np.isfinite(states)) and states.std() > 0.01
    again = rs.ESN(**{k: v for k, v in esn.config().items() if k not in ("model",)}).W
    assert (again != esn.W).nnz == 0  # the configuration rebuilds the same matrix


def test_lsm_on_a_maass_column_uses_the_papers_populations(rng):
    lsm = rs.LSM(
        108, 27, connectivity={"kind": "distance", "shape": (15, 3, 3)}, input_density=1.0, seed=0, dtype="float64"
    )
    W = lsm.W.toarray()
    exc, inh = W[:, :108], W[:, 108:]
    assert (exc[exc != 0] > 0).all() and (inh[inh != 0] < 0).all()  # Dale's law on the drawn pattern
    result = lsm.run(np.ones((2000, 1)))
    assert result.firing_rate() > 0
    assert lsm.positions.shape == (135, 3) and len({tuple(p) for p in lsm.positions}) == 135
    assert lsm.config()["connectivity"] == {"kind": "distance", "shape": (15, 3, 3)}


def test_estimators_pass_connectivity_on(rng):
    u = np.sin(0.1 * np.arange(400))
    model = rs.ESNRegressor(units=64, connectivity={"kind": "local", "radius": 1.5}, seed=0).fit(u[:-1], u[1:])
    assert model.reservoir_.connectivity == {"kind": "local", "radius": 1.5}
    assert model.score(u[:-1], u[1:]) > 0.99
    assert list(itertools.islice(model.get_params(), 0, None)).count("connectivity") == 1
