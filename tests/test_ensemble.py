"""ESNEnsemble: K members as one block-diagonal network, equal to the members one by one."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from reservoir.models import EnsembleForecast, ESNEnsemble


def _series(n=900, seed=0):
    t = np.arange(n) * 0.2
    noise = 0.02 * np.random.default_rng(seed).normal(size=n)
    return np.sin(t) + 0.5 * np.sin(0.31 * t) + noise


@pytest.fixture(scope="module")
def fitted():
    s = _series()
    return ESNEnsemble(4, 40, alpha=1e-4, seed=3, backend="numpy").fit(s[:-1], s[1:]), s


def test_joint_forecast_equals_members_one_by_one(fitted):
    ensemble, _ = fitted
    result = ensemble.forecast(60)
    assert isinstance(result, EnsembleForecast)
    separate = np.stack([member.forecast(60) for member in ensemble.members_])
    assert result.members.shape == (4, 60)
    np.testing.assert_allclose(result.members, separate, rtol=0, atol=1e-10 * np.abs(separate).max())
    np.testing.assert_allclose(result.mean, separate.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(result.std, separate.std(axis=0, ddof=1), atol=1e-10)
    np.testing.assert_allclose(result.quantiles, np.quantile(separate, result.levels, axis=0), atol=1e-10)
    # a second forecast starts again from the fitted states
    np.testing.assert_array_equal(ensemble.forecast(60).members, result.members)


def test_members_differ_and_the_spread_grows(fitted):
    ensemble, _ = fitted
    seeds = ensemble.member_seeds_
    assert len(set(seeds.tolist())) == 4
    result = ensemble.forecast(150)
    assert result.std[0] > 0
    assert result.std[100:].mean() > 3 * result.std[:10].mean()
    low, high = result.interval(0.9)
    assert np.all(low <= result.mean + 1e-12) and np.all(result.mean <= high + 1e-12)


def test_numba_backend_runs_all_members_in_one_call():
    s = _series(600, seed=1)
    ensemble = ESNEnsemble(3, 30, seed=0, alpha=1e-4, backend="numba").fit(s[:-1], s[1:])
    joint, coef, intercept, first = ensemble.joint_network()
    assert joint.units == 90 and coef.shape == (3, 90 + 3) and first.shape == (3,)
    # block-diagonal: no connection between members
    W = joint.W.toarray()
    assert not W[:30, 30:].any() and not W[30:60, :30].any() and not W[60:, :60].any()
    separate = np.stack([member.forecast(40) for member in ensemble.members_])
    np.testing.assert_allclose(ensemble.forecast(40).members, separate, atol=1e-10)


def test_two_outputs_and_one_step_predictions():
    s = _series(700)
    data = np.stack([s, np.roll(s, 5)], axis=1)
    ensemble = ESNEnsemble(3, 30, seed=2, alpha=1e-4, backend="numpy").fit(data[:-1], data[1:])
    result = ensemble.forecast(20)
    separate = np.stack([member.forecast(20) for member in ensemble.members_])
    assert result.members.shape == (3, 20, 2) and result.quantiles.shape == (5, 20, 2)
    np.testing.assert_allclose(result.members, separate, atol=1e-10)
    one_step = ensemble.predict(data[:50], reset=True)
    expected = np.stack([member.predict(data[:50], reset=True) for member in ensemble.members_])
    np.testing.assert_allclose(one_step.members, expected, atol=1e-12)


def test_float32_members():
    s = _series(600)
    ensemble = ESNEnsemble(2, 30, seed=4, alpha=1e-4, dtype="float32", backend="numpy").fit(s[:-1], s[1:])
    separate = np.stack([member.forecast(20) for member in ensemble.members_])
    np.testing.assert_allclose(ensemble.forecast(20).members, separate, rtol=1e-5, atol=1e-5)


def test_bad_input_names_the_argument(fitted):
    ensemble, s = fitted
    with pytest.raises(ValueError, match="n_members"):
        ESNEnsemble(1, 10).fit(s[:-1], s[1:])
    with pytest.raises(ValueError, match="n_steps"):
        ensemble.forecast(0)
    with pytest.raises(ValueError, match="levels"):
        ensemble.forecast(5, levels=(0.5, 1.5))
    with pytest.raises(ValueError, match="coverage"):
        ensemble.forecast(5).interval(1.0)
    with pytest.raises(NotFittedError, match="not fitted"):
        ESNEnsemble(2, 10).forecast(3)
    bad = s.copy()
    bad[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ESNEnsemble(2, 10).fit(bad[:-1], bad[1:])
    with pytest.raises(ValueError, match="features"):
        ensemble.predict(np.ones((10, 2)))
