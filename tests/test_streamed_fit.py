"""States streamed into the readout's statistics: ESN.iter_states, ESN.run(out=) and an
ESNRegressor fit that never holds (B, T, units), checked against the states held whole."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import reservoir as rs
from reservoir.config import settings
from reservoir.readouts import Ridge
from reservoir.readouts.ridge import GramAccumulator


def _series(rng, batch, steps, n_in=2):
    t = np.arange(steps)
    u = np.sin(0.05 * t[None, :, None] * np.arange(1, n_in + 1)) + 0.1 * rng.standard_normal((batch, steps, n_in))
    return u, np.roll(u, -1, axis=1)[..., :1]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_iter_states_yields_the_states_of_run_a_chunk_at_a_time(rng, monkeypatch, backend):
    u, _ = _series(rng, 3, 50)
    whole = rs.ESN(40, seed=1, backend=backend).run(u)
    esn = rs.ESN(40, seed=1, backend=backend)
    seen = []
    for first, last, states in esn.iter_states(u, chunk_steps=7):
        assert states.shape == (3, last - first, 40)
        seen.append(states.copy())  # the buffer is reused: copy to keep
    np.testing.assert_array_equal(np.concatenate(seen, axis=1), whole)
    np.testing.assert_array_equal(esn.state, whole[:, -1])  # the state carries over as with run


def test_run_writes_into_out_and_checks_it(rng):
    u, _ = _series(rng, 2, 30)
    expected = rs.ESN(30, seed=2, dtype="float64").run(u)
    out = np.full((2, 30, 30), np.nan)
    esn = rs.ESN(30, seed=2, dtype="float64")
    assert esn.run(u, out=out) is out
    np.testing.assert_array_equal(out, expected)
    one = np.empty((30, 30))
    assert rs.ESN(30, seed=2, dtype="float64").run(u[0], out=one) is one
    with pytest.raises(ValueError, match=r"out must be a float64 array of shape \(2, 30, 30\)"):
        rs.ESN(30, seed=2, dtype="float64").run(u, out=np.empty((2, 29, 30)))
    with pytest.raises(ValueError, match="out must be a float32"):
        rs.ESN(30, seed=2, dtype="float32").run(u, out=np.empty((2, 30, 30)))
    with pytest.raises(ValueError, match="C-contiguous"):
        rs.ESN(30, seed=2, dtype="float64").run(u, out=np.empty((30, 2, 30)).transpose(1, 0, 2))


def _held_whole(estimator, u, y, washout, alphas):
    """The readout fitted the old way: every state held, the validation split in time."""
    esn = rs.ESN(
        estimator.units, density=estimator.density, seed=estimator.seed, dtype=estimator.dtype, bias_scaling=0.5
    )
    states = esn.run(u)
    features = np.concatenate([states, u.astype(states.dtype)], axis=-1) if estimator.include_input else states
    features, targets = features[:, washout:], y[:, washout:]
    if np.size(alphas) == 1:
        return Ridge(alpha=alphas).fit(features, targets)
    split = int(round(features.shape[1] * (1 - estimator.validation_fraction)))
    readout = Ridge(alpha=alphas).fit(
        features[:, :split], targets[:, :split], validation=(features[:, split:], targets[:, split:])
    )
    return readout.refitted()


@pytest.mark.parametrize("alpha", [1e-4, (1e-6, 1e-3, 1.0)])
@pytest.mark.parametrize("include_input", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_streamed_fit_equals_the_fit_on_every_state(rng, monkeypatch, alpha, include_input, dtype):
    monkeypatch.setattr(settings, "time_chunk", 13)  # many chunks, the washout and split inside them
    u, y = _series(rng, 3, 200)
    estimator = rs.ESNRegressor(
        units=40, density=0.2, seed=4, alpha=alpha, washout=20, include_input=include_input, dtype=dtype
    ).fit(u, y)
    expected = _held_whole(estimator, u, y, 20, alpha)
    assert estimator.alpha_ == expected.alpha_
    tol = 1e-9 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(estimator.readout_.coef_, expected.coef_, rtol=tol, atol=tol)
    np.testing.assert_allclose(estimator.readout_.intercept_, expected.intercept_, rtol=tol, atol=tol)


def test_a_fit_on_a_batch_never_holds_every_state(rng, monkeypatch):
    """8 sequences x 6,000 steps x 200 units of float64 states are 77 MB: the fit's peak stays
    far below that (one chunk of states and the Gram matrix)."""
    monkeypatch.setattr(settings, "time_chunk", 256)
    u, y = _series(rng, 8, 6000, n_in=1)
    estimator = rs.ESNRegressor(units=200, seed=0, dtype="float64", alpha=1e-4, backend="numba")
    estimator.fit(u[:, :300], y[:, :300])  # compile first: the compiler's own memory is not the fit's
    held = 8 * 6000 * 200 * 8
    tracemalloc.start()
    try:
        estimator.fit(u, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < held / 4, (peak, held)


def test_fit_statistics_equals_fit_and_refuses_what_it_cannot_use(rng):
    X, Y = rng.standard_normal((300, 6)), rng.standard_normal((300, 2))
    train, held_out = GramAccumulator(), GramAccumulator()
    train.add(X[:200], Y[:200])
    held_out.add(X[200:], Y[200:])
    alphas = (1e-3, 1e-1, 10.0)
    expected = Ridge(alpha=alphas).fit(X[:200], Y[:200], validation=(X[200:], Y[200:]))
    got = Ridge(alpha=alphas).fit_statistics(train, held_out)
    assert got.alpha_ == expected.alpha_
    np.testing.assert_allclose(got.coef_, expected.coef_, rtol=1e-12)
    np.testing.assert_allclose(got.refitted().coef_, expected.refitted().coef_, rtol=1e-12)
    with pytest.raises(ValueError, match="several alphas need validation statistics"):
        Ridge(alpha=alphas).fit_statistics(train)
    with pytest.raises(ValueError, match="statistics are empty"):
        Ridge().fit_statistics(GramAccumulator())
    with pytest.raises(ValueError, match="NaN or Inf"):
        GramAccumulator().add(np.full((3, 2), np.nan), np.zeros((3, 1)))
