"""random_sparse() and spectral_radius() against closed forms, scipy.stats and dense LAPACK."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats as stats

import reservoir as rs
from reservoir.config import settings
from reservoir.connectivity import default_density, rescale_to_spectral_radius


def _rows(W):
    """Column indices of every row, as a list of arrays."""
    return [W.indices[W.indptr[i] : W.indptr[i + 1]] for i in range(W.shape[0])]


# --------------------------------------------------------------------------- format
@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, np.float64])
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((50, None), dict(density=0.1)),
        ((40, 7), dict(density=0.3)),
        ((7, 40), dict(fan_in=5)),
        ((300, 300), dict(fan_in=3)),
        ((1, 1), dict(density=1.0)),
    ],
)
def test_format_shape_dtype_and_canonical(shape, kwargs, dtype):
    n, n_in = shape
    W = rs.random_sparse(n, n_in, seed=3, dtype=dtype, **kwargs)
    assert isinstance(W, sp.csr_array)
    assert W.shape == (n, n_in if n_in is not None else n)
    assert W.dtype == np.dtype(dtype)
    assert W.data.dtype == np.dtype(dtype)
    # Sorted and duplicate-free: strictly increasing column indices in each row.
    for columns in _rows(W):
        assert np.all(np.diff(columns) > 0)
        assert columns.size == 0 or (columns[0] >= 0 and columns[-1] < W.shape[1])
    copy = W.copy()
    copy.sum_duplicates()
    assert copy.nnz == W.nnz
    assert copy.has_canonical_format
    np.testing.assert_array_equal(copy.indices, W.indices)
    assert np.all(np.isfinite(W.data))
    assert np.all(W.data != 0)


@pytest.mark.parametrize("n, n_in, k", [(100, 100, 1), (200, 1000, 10), (64, 64, 4), (50, 20, 20), (30, 40, 39)])
def test_fan_in_gives_exactly_k_distinct_sources_per_row(n, n_in, k):
    W = rs.random_sparse(n, n_in, fan_in=k, seed=1)
    np.testing.assert_array_equal(np.diff(W.indptr), np.full(n, k))
    for columns in _rows(W):
        assert len(np.unique(columns)) == k


@pytest.mark.parametrize("n, n_in, p", [(1000, 1000, 0.01), (2000, 500, 0.02), (300, 3000, 0.005), (500, 40, 0.5)])
def test_density_nnz_within_binomial_bounds(n, n_in, p):
    W = rs.random_sparse(n, n_in, density=p, seed=7)
    mean = p * n * n_in
    sigma = math.sqrt(n * n_in * p * (1 - p))
    assert abs(W.nnz - mean) < 5 * sigma
    # Row counts are Binomial(n_in, p): their sample variance matches n_in p (1 - p).
    counts = np.diff(W.indptr)
    assert counts.max() <= n_in
    assert abs(counts.mean() - n_in * p) < 5 * math.sqrt(n_in * p * (1 - p) / n)
    assert counts.var(ddof=1) == pytest.approx(n_in * p * (1 - p), rel=0.25)


@pytest.mark.parametrize("n, n_in", [(20, None), (13, 5), (3, 300)])
def test_density_one_is_a_full_matrix(n, n_in):
    W = rs.random_sparse(n, n_in, density=1.0, seed=0)
    cols = n if n_in is None else n_in
    assert W.nnz == n * cols
    for columns in _rows(W):
        np.testing.assert_array_equal(columns, np.arange(cols))
    assert np.all(W.toarray() != 0)


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("kwargs", [dict(density=0.05), dict(fan_in=7), dict(density=0.5, distribution="bernoulli")])
def test_same_seed_same_matrix_different_seed_different_matrix(kwargs):
    a = rs.random_sparse(400, 300, seed=42, **kwargs)
    b = rs.random_sparse(400, 300, seed=42, **kwargs)
    c = rs.random_sparse(400, 300, seed=43, **kwargs)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)
    assert (a != c).nnz > 0
    # A SeedSequence is an accepted seed, and gives the same matrix each time.
    d = rs.random_sparse(400, 300, seed=np.random.SeedSequence(42), **kwargs)
    e = rs.random_sparse(400, 300, seed=np.random.SeedSequence(42), **kwargs)
    assert (d != e).nnz == 0


def test_same_seed_same_matrix_on_any_number_of_threads():
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = rs.random_sparse(3000, density=0.01, seed=5)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = rs.random_sparse(3000, density=0.01, seed=5)
    finally:
        numba.set_num_threads(threads)
    assert (one != many).nnz == 0


def test_float32_is_float64_rounded():
    w32 = rs.random_sparse(300, density=0.05, seed=9, dtype="float32")
    w64 = rs.random_sparse(300, density=0.05, seed=9, dtype="float64")
    np.testing.assert_array_equal(w32.indices, w64.indices)
    np.testing.assert_array_equal(w32.data, w64.data.astype(np.float32))


# --------------------------------------------------------------------------- values and columns
def test_normal_values_are_standard_normal():
    data = rs.random_sparse(2000, density=0.05, distribution="normal", seed=11, dtype="float64").data
    n = data.size
    assert abs(data.mean()) < 5 / math.sqrt(n)
    assert abs(data.std() - 1.0) < 5 * math.sqrt(0.5 / n)
    assert stats.kstest(data, "norm").pvalue > 1e-4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_values_are_uniform_in_minus_one_one(dtype):
    data = rs.random_sparse(2000, density=0.05, distribution="uniform", seed=12, dtype=dtype).data
    assert data.min() >= -1.0 and data.max() < 1.0
    assert stats.kstest(data.astype(np.float64), stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-4


def test_bernoulli_values_are_plus_minus_one_with_equal_probability():
    data = rs.random_sparse(2000, density=0.05, distribution="bernoulli", seed=13).data
    assert set(np.unique(data).tolist()) == {-1.0, 1.0}
    n = data.size
    assert abs((data > 0).mean() - 0.5) < 5 * math.sqrt(0.25 / n)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n=2000, n_in=500, density=0.02),  # Erdős–Rényi
        dict(n=4000, n_in=500, fan_in=5),  # sparse rows: draw, sort, redraw repeats
        dict(n=400, n_in=500, fan_in=100),  # dense rows: selection sampling
    ],
)
def test_column_indices_are_uniform(kwargs):
    W = rs.random_sparse(seed=21, **kwargs)
    counts = np.bincount(W.indices, minlength=W.shape[1])
    assert stats.chisquare(counts).pvalue > 1e-4
    # Within-row position does not bias columns either: the first column of each row
    # is the minimum of k uniform draws without replacement (its mean is known).
    if "fan_in" in kwargs:
        k, m = kwargs["fan_in"], kwargs["n_in"]
        first = W.indices[W.indptr[:-1]]
        expected = (m - k) / (k + 1)  # E[min] of a k-subset of {0..m-1}
        assert abs(first.mean() - expected) < 5 * first.std() / math.sqrt(first.size)


# --------------------------------------------------------------------------- spectral radius
SPECTRAL_CASES = [
    (200, dict(density=0.05)),
    (600, dict(density=0.02)),
    (1000, dict(density=0.01)),
    (1000, dict(fan_in=10)),
    pytest.param(1500, dict(fan_in=3), marks=pytest.mark.slow),
    pytest.param(2000, dict(density=0.005), marks=pytest.mark.slow),
    pytest.param(2000, dict(fan_in=20), marks=pytest.mark.slow),
    pytest.param(3000, dict(density=0.005), marks=pytest.mark.slow),
    pytest.param(3000, dict(fan_in=50), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("n, kwargs", SPECTRAL_CASES)
def test_spectral_radius_matches_dense_eigvals(n, kwargs, dense_spectral_radius):
    w64 = rs.random_sparse(n, seed=n, dtype="float64", **kwargs)
    w32 = rs.random_sparse(n, seed=n, dtype="float32", **kwargs)
    reference = dense_spectral_radius(w64)
    assert rs.spectral_radius(w64) == pytest.approx(reference, rel=0.01)
    assert rs.spectral_radius(w32) == pytest.approx(reference, rel=0.01)


def test_spectral_radius_accepts_dense_arrays(rng, dense_spectral_radius):
    for n in (5, 600):
        A = rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.02)
        assert rs.spectral_radius(A) == pytest.approx(dense_spectral_radius(A), rel=0.01)
    # A matrix with a known spectrum: a rotation (radius 1) and a diagonal.
    assert rs.spectral_radius(np.array([[0.0, -2.0], [2.0, 0.0]])) == pytest.approx(2.0)
    assert rs.spectral_radius(sp.csr_array(np.diag([0.5, -3.0, 1.0]))) == pytest.approx(3.0)


def _known_spectrum(n, rng):
    """A sparse matrix Q D Q^-1-free construction with a known spectral radius of 3:
    a block diagonal of a 2x2 rotation-scaling block (eigenvalues +-3i, a complex
    dominant pair) and a diagonal of values in [-2, 2], then a random permutation
    similarity (P A P^T keeps the spectrum)."""
    diagonal = rng.uniform(-2, 2, n - 2)
    A = sp.block_diag([sp.csr_array(np.array([[0.0, -3.0], [3.0, 0.0]])), sp.diags_array(diagonal)], format="csr")
    permutation = rng.permutation(n)
    return sp.csr_array(A[permutation][:, permutation])


@pytest.mark.parametrize("method", ["auto", "dense", "arpack", "power"])
@pytest.mark.parametrize("n", [300, 1200])
def test_spectral_radius_methods_on_a_known_spectrum(rng, method, n):
    A = _known_spectrum(n, rng)
    assert rs.spectral_radius(A, method=method) == pytest.approx(3.0, rel=0.01)
    assert rs.spectral_radius(A.astype(np.float32), method=method) == pytest.approx(3.0, rel=0.01)


def test_auto_switches_to_the_power_method_above_arpack_max_nnz(rng, monkeypatch):
    import reservoir.connectivity.spectral as connectivity

    calls = []
    power = connectivity._power_radius
    monkeypatch.setattr(connectivity, "_power_radius", lambda *a, **k: calls.append(1) or power(*a, **k))
    A = _known_spectrum(800, rng)
    assert rs.spectral_radius(A) == pytest.approx(3.0, rel=0.01)
    assert not calls
    monkeypatch.setattr(settings, "arpack_max_nnz", A.nnz - 1)
    assert rs.spectral_radius(A) == pytest.approx(3.0, rel=0.01)
    assert calls


def test_spectral_radius_unknown_method():
    with pytest.raises(ValueError, match="unknown method 'qr'"):
        rs.spectral_radius(sp.csr_array(np.eye(600)), method="qr")


@pytest.mark.slow
def test_power_method_on_a_large_random_matrix():
    """At n = 20,000 (where "auto" takes the power method for 1 % density) the power
    method agrees with ARPACK to 1 %."""
    W = rs.random_sparse(20_000, density=0.01, seed=0)
    assert W.nnz > settings.arpack_max_nnz
    arpack = rs.spectral_radius(W, method="arpack")
    assert rs.spectral_radius(W) == pytest.approx(arpack, rel=0.01)


@pytest.mark.parametrize(
    "n, kwargs, target",
    [
        (100, dict(density=0.1), 0.9),
        (500, dict(fan_in=5), 1.25),
        (800, dict(density=0.01), 0.5),
        pytest.param(2000, dict(density=0.005), 0.95, marks=pytest.mark.slow),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spectral_radius_rescaling(n, kwargs, target, dtype, dense_spectral_radius):
    W = rs.random_sparse(n, spectral_radius=target, seed=4, dtype=dtype, **kwargs)
    assert W.dtype == np.dtype(dtype)
    assert dense_spectral_radius(W) == pytest.approx(target, rel=0.01)
    # Rescaling only multiplies the values: same pattern as without it.
    plain = rs.random_sparse(n, seed=4, dtype=dtype, **kwargs)
    np.testing.assert_array_equal(plain.indices, W.indices)
    ratio = W.data.astype(np.float64) / plain.data.astype(np.float64)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("density", [0, 0.0, -0.1, 1.5, float("nan"), float("inf")])
def test_bad_density(density):
    with pytest.raises(ValueError, match="density"):
        rs.random_sparse(10, density=density)


def test_fan_in_larger_than_source_layer():
    with pytest.raises(ValueError, match="fan_in=11 is larger than the source layer"):
        rs.random_sparse(5, 10, fan_in=11)
    with pytest.raises(ValueError, match="fan_in"):
        rs.random_sparse(10, fan_in=11)


@pytest.mark.parametrize("fan_in", [0, -3])
def test_non_positive_fan_in(fan_in):
    with pytest.raises(ValueError, match="fan_in"):
        rs.random_sparse(10, fan_in=fan_in)


def test_both_density_and_fan_in():
    with pytest.raises(ValueError, match="exactly one of density= or fan_in="):
        rs.random_sparse(10, density=0.1, fan_in=2)


@pytest.mark.parametrize("n, n_in", [(10, None), (50, None), (300, 2), (2000, 1), (4000, 30), (3000, None)])
def test_default_connectivity_gives_every_unit_sources(n, n_in):
    """Neither density nor fan_in: Erdős–Rényi at max(1 %, 10 / n_in) (at most 1), every row at least one."""
    sources = n if n_in is None else n_in
    W = rs.random_sparse(n, n_in, seed=5)
    expected = min(1.0, max(0.01, 10 / sources))
    assert default_density(sources) == pytest.approx(expected)
    per_row = np.diff(W.indptr)
    assert per_row.min() >= 1
    # the mean in-degree is Binomial's, plus the few rows raised from 0 to 1
    mean = sources * expected + (1 - expected) ** sources
    spread = np.sqrt(expected * (1 - expected) * sources / n)  # standard error of the row mean
    assert abs(per_row.mean() - mean) <= 5 * spread + 1e-12


def test_explicit_density_is_exact():
    """An explicit density is never raised: 1 % of 100 units is about one connection per unit, rows of 0 kept."""
    W = rs.random_sparse(100, density=0.01, seed=1)
    per_row = np.diff(W.indptr)
    assert (per_row == 0).any()
    assert W.nnz < 200


@pytest.mark.parametrize("radius", [0, 0.0, -1.0])
def test_non_positive_spectral_radius(radius):
    with pytest.raises(ValueError, match="spectral_radius"):
        rs.random_sparse(10, density=0.5, spectral_radius=radius)


def test_spectral_radius_needs_a_square_matrix():
    with pytest.raises(ValueError, match="square"):
        rs.random_sparse(10, 5, density=0.5, spectral_radius=0.9)
    with pytest.raises(ValueError, match="square"):
        rs.spectral_radius(np.ones((3, 4)))


def test_rescaling_an_all_zero_matrix():
    # density so small that no connection is drawn: nothing to rescale.
    with pytest.raises(ValueError, match="all zeros"):
        rs.random_sparse(10, density=1e-12, spectral_radius=0.9, seed=0)
    for n in (10, 600):
        with pytest.raises(ValueError, match="all zeros"):
            rescale_to_spectral_radius(sp.csr_array((n, n), dtype=np.float64), 0.9)
        explicit_zeros = sp.csr_array(
            (np.zeros(3), np.array([0, 1, 2]), np.array([0, 3] + [3] * (n - 1))), shape=(n, n)
        )
        with pytest.raises(ValueError, match="all zeros"):
            rescale_to_spectral_radius(explicit_zeros, 0.9)


def test_rescaling_a_nilpotent_matrix():
    # Strictly upper triangular: every eigenvalue is 0.
    W = sp.csr_array(np.triu(np.ones((6, 6)), k=1))
    with pytest.raises(ValueError, match="nilpotent"):
        rescale_to_spectral_radius(W, 0.9)


def test_a_reservoir_too_sparse_to_rescale_says_what_to_change():
    """ESN(10) at an explicit 1 % density draws about one connection: the error names the cause and the fix."""
    with pytest.raises(
        ValueError,
        match=r"10 units, \d nonzero connection\(s\); .*higher density \(or fan_in\)"
        r".*leave density unset",
    ):
        rs.ESN(10, density=0.01, seed=0)
    assert rs.ESN(10, density=0.5, seed=0).W.nnz > 0  # the fix it names works


@pytest.mark.parametrize("units", [10, 20, 50, 100])
def test_default_reservoirs_of_every_small_size_can_be_rescaled(units):
    """ReservoirPy's README reservoir (spectral radius 1.25) at its own sizes: at 1 % density it
    failed as nilpotent for 18 of 200 seeds at 100 units and 103 of 200 at 50."""
    per_unit = []
    for seed in range(40):
        esn = rs.ESN(units, spectral_radius=1.25, seed=seed, dtype="float64")
        assert rs.spectral_radius(esn.W, method="dense") == pytest.approx(1.25, rel=1e-3)
        assert np.diff(esn.W.indptr).min() >= 1
        per_unit.append(esn.W.nnz / units)
    assert np.mean(per_unit) == pytest.approx(10.0, abs=0.3)  # 10 sources per unit on average (all 10 at 10 units)


@pytest.mark.parametrize("n", [10, 600])
def test_spectral_radius_of_an_all_zero_matrix(n):
    """The zero matrix has spectral radius 0 at every size: either say so (0.0) or
    refuse with a ValueError that names the problem; never an ARPACK internal error."""
    zero = sp.csr_array((n, n), dtype=np.float64)
    try:
        radius = rs.spectral_radius(zero)
    except ValueError as error:
        assert "zero" in str(error)
    else:
        assert radius == 0.0


@pytest.mark.parametrize("dtype", ["int32", np.int64, "float16", bool, "complex128"])
def test_non_float_dtype(dtype):
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        rs.random_sparse(10, density=0.5, dtype=dtype)


def test_unknown_distribution():
    with pytest.raises(ValueError, match="unknown distribution 'cauchy'"):
        rs.random_sparse(10, density=0.5, distribution="cauchy")


@pytest.mark.parametrize("n", [0, -1])
def test_bad_sizes(n):
    with pytest.raises(ValueError, match="n must be positive"):
        rs.random_sparse(n, density=0.5)
    with pytest.raises(ValueError, match="n_in must be positive"):
        rs.random_sparse(5, n, density=0.5)
    with pytest.raises(TypeError, match="n must be an integer"):
        rs.random_sparse(2.5, density=0.5)
