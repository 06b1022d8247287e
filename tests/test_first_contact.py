"""First contact: what a newcomer from ReservoirPy or scikit-learn runs first, at their sizes.

ReservoirPy's README examples and tutorial tasks re-expressed with this engine, and the
estimators at their defaults on 1- and 2-feature data, on small reservoirs and short
series. Every score is checked against an independent baseline computed here
(persistence, a linear autoregression or lagged-input fit by ``numpy.linalg.lstsq``,
scikit-learn's LogisticRegression and DummyClassifier), over several seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_moons
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from reservoir import ELMClassifier, ELMRegressor, ESNClassifier, ESNRegressor, datasets, metrics

SEEDS = (0, 1, 2)
# More seeds for the tasks that pass: the sweep runs with --runslow.
SWEEP = [*SEEDS, *(pytest.param(seed, marks=pytest.mark.slow) for seed in (3, 4, 5, 6))]


def r2(y_true, y_pred) -> float:
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / np.sum((y_true - y_true.mean()) ** 2))


def lagged(x, lags: int) -> np.ndarray:
    """Rows [x[t], x[t-1], ..., x[t-lags+1], 1] for t >= lags - 1 (x: (T,) or (T, k))."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    rows = len(x) - lags + 1
    return np.column_stack([x[lags - 1 - k : lags - 1 - k + rows] for k in range(lags)] + [np.ones((rows, 1))])


def linear_autoregression(series, train_end: int, order: int = 5):
    """AR(order) with intercept fit by lstsq on series[:train_end]; returns (one_step, closed_loop).

    one_step(start) predicts series[start:] from the true past; closed_loop(n) feeds its
    own outputs back from series[train_end - 1], predicting series[train_end:train_end + n].
    """
    s = np.asarray(series, dtype=np.float64).ravel()
    design = lagged(s[: train_end - 1], order)  # row for t predicts s[t + 1]
    coef, *_ = np.linalg.lstsq(design, s[order:train_end], rcond=None)

    def one_step(start):
        return lagged(s[start - order : -1], order) @ coef

    def closed_loop(n):
        history = list(s[train_end - order : train_end])
        for _ in range(n):
            history.append(float(np.r_[history[::-1][:order], 1.0] @ coef))
        return np.asarray(history[order:])

    return one_step, closed_loop


def lagged_inputs_r2(u, y, split: int, lags: int = 10) -> float:
    """R² on the test part of a linear model of the last `lags` inputs (an LTI filter with bias)."""
    design = lagged(u, lags)
    targets = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[lags - 1 :]
    cut = split - lags + 1
    coef, *_ = np.linalg.lstsq(design[:cut], targets[:cut], rcond=None)
    return r2(targets[cut:], design[cut:] @ coef)


# --- ReservoirPy's README examples -----------------------------------------------------------


@pytest.mark.parametrize("seed", SWEEP)
def test_readme_quickstart_mackey_glass(seed):
    # ReservoirPy 0.4.2: ESN(units=100, sr=1.25, lr=0.3, ridge=1e-5) on mackey_glass(2000),
    # to_forecasting(test_size=0.2), fit(warmup=100); README reports RMSE 0.002, R² 0.99992.
    series = datasets.mackey_glass(2000)
    u, y = series[:-1], series[1:]
    split = int(0.8 * len(u))
    model = ESNRegressor(100, spectral_radius=1.25, leak_rate=0.3, alpha=1e-5, washout=100, seed=seed)
    prediction = model.fit(u[:split], y[:split]).predict(u[split:])
    persistence = metrics.nrmse(y[split:], u[split:])
    assert metrics.rmse(y[split:], prediction) < 0.01
    assert r2(y[split:], prediction) > 0.999
    assert metrics.nrmse(y[split:], prediction) < persistence / 5


@pytest.mark.parametrize("seed", SWEEP)
def test_readme_reservoir_ridge_500_steps_one_step_and_closed_loop(seed):
    # ReservoirPy 0.3's README: Reservoir(100, lr=0.5, sr=0.9) >> Ridge(ridge=1e-7),
    # fit(X[:500], X[1:501], warmup=100) on mackey_glass(2000), then run on the rest.
    X = datasets.mackey_glass(2000)
    model = ESNRegressor(100, spectral_radius=0.9, leak_rate=0.5, alpha=1e-7, washout=100, seed=seed)
    model.fit(X[:500], X[1:501])
    one_step = model.predict(X[500:-1])  # continues from the state the training left
    truth = X[501:]
    ar_one_step, ar_closed_loop = linear_autoregression(X, 501, order=5)
    assert metrics.nrmse(truth, one_step) < metrics.nrmse(truth, X[500:-1]) / 5  # persistence
    assert metrics.nrmse(truth, one_step) < 0.05
    assert metrics.nrmse(truth, one_step) < 5 * metrics.nrmse(truth[:, 0], ar_one_step(501))
    # A short closed loop: 50 generated steps stay near the series, unlike the linear AR(5)
    # fed back the same way and the last value held constant.
    closed_loop = model.forecast(50)
    constant = np.full((50, 1), X[500, 0])
    error = metrics.nrmse(X[501:551], closed_loop)
    assert error < 0.5
    assert error < metrics.nrmse(X[501:551, 0], ar_closed_loop(50))
    assert error < metrics.nrmse(X[501:551], constant) / 2


# --- the estimators at their defaults ---------------------------------------------------------


@pytest.mark.parametrize("seed", SWEEP)
def test_esn_regressor_defaults_forecast_mackey_glass(seed):
    series = datasets.mackey_glass(1000)
    u, y = series[:-1], series[1:]
    split = 700
    prediction = ESNRegressor(seed=seed).fit(u[:split], y[:split]).predict(u[split:])
    ar_one_step, _ = linear_autoregression(series, split + 1, order=2)
    assert metrics.nrmse(y[split:], prediction) < metrics.nrmse(y[split:], u[split:]) / 10
    assert metrics.nrmse(y[split:], prediction) < 3 * metrics.nrmse(y[split:, 0], ar_one_step(split + 1))


@pytest.mark.parametrize("seed", SWEEP)
def test_esn_regressor_defaults_on_narma10(seed):
    # ReservoirPy's NARMA tutorial task: the reservoir's memory and nonlinearity beat a
    # linear filter of the last 10 inputs.
    u, y = datasets.narma(1500, order=10, seed=seed)
    split = 1000
    prediction = ESNRegressor(seed=seed).fit(u[:split], y[:split]).predict(u[split:])
    linear = lagged_inputs_r2(u, y, split, lags=10)
    assert r2(y[split:], prediction) > linear + 0.2


def _two_input_product_task(seed, steps=1500):
    """y[t] = u1[t-1] u2[t-2] + 0.5 u1[t-3], inputs uniform in [-1, 1): memory and a product."""
    rng = np.random.default_rng(100 + seed)
    u = rng.uniform(-1, 1, (steps, 2))
    y = np.zeros(steps)
    y[3:] = u[2:-1, 0] * u[1:-2, 1] + 0.5 * u[:-3, 0]
    return u, y


@pytest.mark.parametrize("seed", SEEDS)
def test_esn_regressor_defaults_on_two_inputs_beat_a_linear_filter(seed):
    u, y = _two_input_product_task(seed)
    split = 1000
    score = ESNRegressor(seed=seed).fit(u[:split], y[:split]).score(u[split:], y[split:])
    linear = lagged_inputs_r2(u, y, split, lags=6)  # sees the linear half: R² about 0.4
    assert score > linear + 0.2, (score, linear)


def _sine_samples(seed, n=300, features=1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, features))
    y = np.sin(2 * X[:, 0]) * (1 if features == 1 else np.cos(X[:, 1])) + 0.1 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("seed, features", [(seed, features) for features in (1, 2) for seed in SEEDS])
def test_elm_regressor_defaults_fit_a_smooth_function(seed, features):
    X, y = _sine_samples(seed, features=features)
    design = np.c_[X, np.ones(len(X))]
    coef, *_ = np.linalg.lstsq(design[:200], y[:200], rcond=None)
    linear = r2(y[200:], design[200:] @ coef)
    score = ELMRegressor(seed=seed).fit(X[:200], y[:200]).score(X[200:], y[200:])
    assert linear < 0.3
    assert score > 0.85, score


def _classification(kind, seed):
    if kind == "blobs":
        return make_blobs(400, n_features=2, centers=3, cluster_std=1.5, random_state=seed)
    return make_moons(400, noise=0.2, random_state=seed)


@pytest.mark.parametrize("seed, kind", [(seed, kind) for kind in ("blobs", "moons") for seed in SEEDS])
def test_elm_classifier_defaults_on_two_features(seed, kind):
    X, y = _classification(kind, seed)
    accuracy = ELMClassifier(seed=seed).fit(X[:300], y[:300]).score(X[300:], y[300:])
    logistic = LogisticRegression().fit(X[:300], y[:300]).score(X[300:], y[300:])
    chance = DummyClassifier().fit(X[:300], y[:300]).score(X[300:], y[300:])
    assert accuracy >= chance + 0.4
    assert accuracy >= logistic - 0.05  # linear blobs: as good as a linear model
    if kind == "moons":
        assert accuracy > logistic  # curved boundary: better than a linear model


def _two_frequencies(seed, n=80, steps=50):
    """Noisy sines of two frequencies with random phases; the label is the frequency."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    frequency = np.where(labels == 1, 0.5, 0.2)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    X = np.sin(frequency[:, None] * np.arange(steps)[None, :] + phase) + 0.3 * rng.standard_normal((n, steps))
    return X, labels


@pytest.mark.parametrize("seed", SEEDS)
def test_esn_classifier_defaults_tell_two_frequencies_apart(seed):
    X, y = _two_frequencies(seed)
    accuracy = ESNClassifier(seed=seed).fit(X[:60], y[:60]).score(X[60:], y[60:])
    chance = DummyClassifier().fit(X[:60], y[:60]).score(X[60:], y[60:])
    raw_logistic = LogisticRegression().fit(X[:60], y[:60]).score(X[60:], y[60:])  # random phases: near chance
    assert accuracy >= 0.9, (accuracy, chance, raw_logistic)
    assert accuracy >= chance + 0.3


# --- small reservoirs, short series -----------------------------------------------------------


@pytest.mark.parametrize("units", [10, 100])
@pytest.mark.parametrize("seed", SWEEP)
def test_small_esns_forecast_mackey_glass(seed, units):
    series = datasets.mackey_glass(1000)
    u, y = series[:-1], series[1:]
    prediction = ESNRegressor(units, seed=seed).fit(u[:700], y[:700]).predict(u[700:])
    assert metrics.nrmse(y[700:], prediction) < metrics.nrmse(y[700:], u[700:]) / 3


@pytest.mark.parametrize("n_hidden", [10, 100])
@pytest.mark.parametrize("seed", SWEEP)
def test_small_elms_on_one_and_two_features(seed, n_hidden):
    X, y = _sine_samples(seed)
    assert ELMRegressor(n_hidden, seed=seed).fit(X[:200], y[:200]).score(X[200:], y[200:]) > 0.6
    X, labels = _classification("blobs", seed)
    logistic = LogisticRegression().fit(X[:300], labels[:300]).score(X[300:], labels[300:])
    accuracy = ELMClassifier(n_hidden, seed=seed).fit(X[:300], labels[:300]).score(X[300:], labels[300:])
    assert accuracy >= logistic - 0.1, (accuracy, logistic)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_10_unit_esn_classifier(seed):
    X, y = _two_frequencies(seed)
    assert ESNClassifier(10, seed=seed).fit(X[:60], y[:60]).score(X[60:], y[60:]) >= 0.8


@pytest.mark.parametrize("washout", [None, 5])
@pytest.mark.parametrize("seed", SWEEP)
def test_a_50_step_series_beats_persistence(seed, washout):
    # None: the estimator's default washout, which must leave training steps in 40.
    steps = np.arange(50)
    series = (np.sin(0.3 * steps) + 0.5 * np.sin(0.11 * steps + 1.0))[:, None]
    u, y = series[:-1], series[1:]
    options = {} if washout is None else {"washout": washout}
    prediction = ESNRegressor(10, seed=seed, **options).fit(u[:40], y[:40]).predict(u[40:])
    assert metrics.nrmse(y[40:], prediction) < metrics.nrmse(y[40:], u[40:]) / 2


# --- pandas in, pandas out ----------------------------------------------------------------------


def test_pandas_series_and_frames_give_the_numpy_results_with_their_index():
    pd = pytest.importorskip("pandas")
    series = datasets.mackey_glass(600)[:, 0]
    index = pd.date_range("2024-01-01", periods=600, freq="h")
    frame = pd.DataFrame({"value": series}, index=index)
    numpy_model = ESNRegressor(100, seed=0).fit(series[:-1, None], series[1:])
    pandas_model = ESNRegressor(100, seed=0).fit(frame.iloc[:-1], frame["value"].iloc[1:])
    prediction = pandas_model.predict(frame.iloc[400:-1])
    np.testing.assert_allclose(
        np.asarray(prediction, dtype=np.float64).ravel(),
        numpy_model.predict(series[400:-1, None]).ravel(),
        rtol=1e-6,
        atol=1e-8,
    )
    assert isinstance(prediction, pd.Series) and prediction.name == "value"
    assert prediction.index.equals(frame.index[400:-1])  # labelled as the inputs they follow
    # The closed loop continues after the last training target, hour by hour.
    forecast = pandas_model.forecast(5)
    assert forecast.index.equals(pd.date_range(index[-1] + pd.Timedelta(hours=1), periods=5, freq="h"))
    np.testing.assert_allclose(
        np.asarray(forecast, dtype=np.float64).ravel(), numpy_model.forecast(5).ravel(), rtol=1e-6, atol=1e-8
    )
    X, labels = _classification("moons", 0)
    table = pd.DataFrame(X, columns=["x", "y"], index=pd.RangeIndex(100, 500))
    model = ELMClassifier(seed=0).fit(table, labels)
    assert list(model.feature_names_in_) == ["x", "y"]
    np.testing.assert_array_equal(np.asarray(model.predict(table)), ELMClassifier(seed=0).fit(X, labels).predict(X))


# --- side by side with ReservoirPy 0.4.2 ---------------------------------------------------------


@pytest.mark.slow
def test_readme_quickstart_matches_reservoirpy():
    rpy = pytest.importorskip("reservoirpy")
    from reservoirpy.datasets import mackey_glass, to_forecasting

    X = mackey_glass(n_timesteps=2000)  # ReservoirPy's own series and split
    x_train, x_test, y_train, y_test = to_forecasting(X, test_size=0.2)
    theirs, ours = [], []
    for seed in range(5):
        esn = rpy.ESN(units=100, sr=1.25, lr=0.3, ridge=1e-5, seed=seed)
        theirs.append(metrics.nrmse(y_test, esn.fit(x_train, y_train, warmup=100).run(x_test)))
        model = ESNRegressor(
            100, spectral_radius=1.25, leak_rate=0.3, alpha=1e-5, washout=100, seed=seed, dtype="float64"
        )
        ours.append(metrics.nrmse(y_test, model.fit(x_train, y_train).predict(x_test)))
    assert np.median(ours) < 2 * np.median(theirs), (ours, theirs)


@pytest.mark.slow
def test_two_input_product_task_beside_reservoirpy():
    # ReservoirPy's reservoir has no bias by default: its states are then odd functions
    # of the input and cannot form the product; given a bias (ours has one by default) they can.
    rpy = pytest.importorskip("reservoirpy")
    for seed in SEEDS:
        u, y = _two_input_product_task(seed)
        esn = rpy.ESN(units=500, ridge=1e-6, bias=1.0, seed=seed).fit(u[:1000], y[:1000, None], warmup=100)
        assert r2(y[1000:], esn.run(u[1000:])) > 0.9
        ours = ESNRegressor(500, bias_scaling=1.0, seed=seed).fit(u[:1000], y[:1000])
        assert ours.score(u[1000:], y[1000:]) > 0.9
