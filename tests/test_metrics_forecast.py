"""Forecast metrics against sktime, scikit-learn, closed forms and numerical integrals."""

import numpy as np
import pytest
from scipy import integrate, stats

from reservoir import metrics

rng = np.random.default_rng(0)


def test_mase_matches_sktime_and_a_hand_computation():
    sk = pytest.importorskip("sktime.performance_metrics.forecasting")
    train = rng.normal(size=40).cumsum()
    truth, prediction = rng.normal(size=8), rng.normal(size=8)
    for m in (1, 4, 12):
        naive = np.mean(np.abs(train[m:] - train[:-m]))
        expected = np.mean(np.abs(truth - prediction)) / naive
        assert metrics.mase(truth, prediction, train, m=m) == pytest.approx(expected, rel=1e-12)
        assert metrics.mase(truth, prediction, train, m=m) == pytest.approx(
            sk.mean_absolute_scaled_error(truth, prediction, y_train=train, sp=m), rel=1e-12
        )
    # several variables (of different units): each scaled by its own naive error, then averaged
    train2, truth2, prediction2 = rng.normal(size=(30, 3)).cumsum(0), rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    per_column = sk.mean_absolute_scaled_error(truth2, prediction2, y_train=train2, sp=2, multioutput="raw_values")
    assert metrics.mase(truth2, prediction2, train2, m=2) == pytest.approx(np.mean(per_column), rel=1e-12)


def test_mase_rejects_a_season_longer_than_the_training_part():
    with pytest.raises(ValueError, match="seasonal period m=12 is not shorter than the training part \\(10 steps\\)"):
        metrics.mase(np.ones(3), np.ones(3), np.arange(10.0), m=12)
    with pytest.raises(ValueError, match="positive int"):
        metrics.mase(np.ones(3), np.ones(3), np.arange(10.0), m=0)
    with pytest.raises(ValueError, match="naive forecast .* is exact"):
        metrics.mase(np.ones(3), np.ones(3), np.ones(10), m=1)


def test_smape_matches_sktime():
    sk = pytest.importorskip("sktime.performance_metrics.forecasting")
    truth, prediction = rng.normal(size=20) + 0.5, rng.normal(size=20)
    expected = np.mean(2 * np.abs(truth - prediction) / (np.abs(truth) + np.abs(prediction)))
    assert metrics.smape(truth, prediction) == pytest.approx(expected, rel=1e-12)
    assert metrics.smape(truth, prediction) == pytest.approx(
        sk.mean_absolute_percentage_error(truth, prediction, symmetric=True), rel=1e-12
    )
    assert metrics.smape([0.0, 1.0], [0.0, 1.0]) == 0.0


def test_r2_rmse_mae_match_scikit_learn():
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    truth, prediction = rng.normal(size=(25, 2)), rng.normal(size=(25, 2))
    assert metrics.r2(truth, prediction) == pytest.approx(r2_score(truth, prediction), rel=1e-12)
    assert metrics.rmse(truth, prediction) == pytest.approx(np.sqrt(mean_squared_error(truth, prediction)), rel=1e-12)
    assert metrics.mae(truth, prediction) == pytest.approx(mean_absolute_error(truth, prediction), rel=1e-12)
    with pytest.raises(ValueError, match="constant"):
        metrics.r2(np.ones(4), np.arange(4.0))


@pytest.mark.parametrize("y, mean, std", [(0.3, 0.0, 1.0), (-2.0, 1.0, 0.5), (5.0, 4.0, 3.0)])
def test_crps_gaussian_is_the_integral_of_the_squared_cdf_difference(y, mean, std):
    def below(x):
        return stats.norm.cdf(x, mean, std) ** 2

    def above(x):
        return (1 - stats.norm.cdf(x, mean, std)) ** 2

    expected = integrate.quad(below, -np.inf, y)[0] + integrate.quad(above, y, np.inf)[0]
    assert metrics.crps_gaussian(y, mean, std) == pytest.approx(expected, rel=1e-8)


def test_crps_gaussian_averages_and_degenerates_to_the_absolute_error():
    y, mean, std = rng.normal(size=5), rng.normal(size=5), rng.uniform(0.5, 2, 5)
    each = [metrics.crps_gaussian(a, b, c) for a, b, c in zip(y, mean, std)]
    assert metrics.crps_gaussian(y, mean, std) == pytest.approx(np.mean(each), rel=1e-12)
    assert metrics.crps_gaussian([1.0, 2.0], [0.5, 2.5], 0.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="std"):
        metrics.crps_gaussian(1.0, 0.0, -1.0)


def test_crps_ensemble_is_the_crps_of_the_empirical_distribution():
    members = rng.normal(size=7)
    y = 0.2
    # the exact integral of (F_m(x) - 1{x >= y})² for the step function F_m
    points = np.sort(np.append(members, y))
    expected = 0.0
    for left, right in zip(points[:-1], points[1:]):
        middle = 0.5 * (left + right)
        expected += (right - left) * (np.mean(members <= middle) - float(middle >= y)) ** 2
    assert metrics.crps_ensemble(y, members) == pytest.approx(expected, rel=1e-12)
    pairwise = np.mean(np.abs(members[:, None] - members[None, :]))
    assert metrics.crps_ensemble(y, members) == pytest.approx(np.mean(np.abs(members - y)) - 0.5 * pairwise, rel=1e-12)


def test_crps_ensemble_approaches_the_gaussian_form():
    samples = np.random.default_rng(1).normal(1.0, 2.0, size=(3, 20000))
    y = np.array([0.0, 1.0, 4.0])
    assert metrics.crps_ensemble(y, samples) == pytest.approx(metrics.crps_gaussian(y, 1.0, 2.0), rel=0.02)
    with pytest.raises(ValueError, match="member axis"):
        metrics.crps_ensemble(y, samples[:2])


def test_nan_is_named():
    with pytest.raises(ValueError, match="y_true contains nan"):
        metrics.smape([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="y_train contains NaN"):
        metrics.mase([1.0], [1.0], [1.0, np.nan, 2.0])
