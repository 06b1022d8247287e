"""BayesianRidge: evidence maximisation from streamed statistics, against scikit-learn's BayesianRidge."""

import warnings

import numpy as np
import pytest
import sklearn.linear_model as sklm

import reservoir as rs
from reservoir.readouts import BayesianRidge, GramAccumulator


def _data(n, f, seed=0, offset=3.0, noise=0.5, targets=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)) + offset
    shape = (f,) if targets is None else (f, targets)
    y = X @ rng.normal(size=shape) + noise * rng.normal(size=(n,) if targets is None else (n, targets)) + 2.0
    return X, y


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("n", "f", "tol"), [(300, 12, 1e-10), (40, 60, 1e-6)])
def test_matches_scikit_learn(fit_intercept, n, f, tol):
    X, y = _data(n, f)
    X_test = _data(9, f, seed=1)[0]
    ours = BayesianRidge(fit_intercept=fit_intercept).fit(X, y)
    ref = sklm.BayesianRidge(fit_intercept=fit_intercept).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_
    assert _rel(ours.coef_, ref.coef_) < tol
    assert abs(ours.intercept_ - ref.intercept_) <= tol * max(1.0, abs(ref.intercept_))
    assert _rel(ours.alpha_, ref.alpha_) < tol * 100  # the noise precision of a near-interpolating fit
    assert _rel(ours.lambda_, ref.lambda_) < tol
    assert _rel(ours.sigma_, ref.sigma_) < tol
    mean, std = ours.predict(X_test, return_std=True)
    ref_mean, ref_std = ref.predict(X_test, return_std=True)
    assert _rel(mean, ref_mean) < tol and _rel(std, ref_std) < tol
    assert ours.penalty_ == pytest.approx(ref.lambda_ / ref.alpha_, rel=tol * 100)


def test_hyperpriors_and_initial_values_as_scikit_learn():
    X, y = _data(200, 8, seed=3)
    kwargs = dict(alpha_1=1e-2, alpha_2=1e-3, lambda_1=2.0, lambda_2=0.5, alpha_init=3.0, lambda_init=0.1, tol=1e-6)
    ours, ref = BayesianRidge(**kwargs).fit(X, y), sklm.BayesianRidge(**kwargs).fit(X, y)
    assert _rel(ours.coef_, ref.coef_) < 1e-10 and _rel(ours.alpha_, ref.alpha_) < 1e-10
    assert _rel(ours.lambda_, ref.lambda_) < 1e-10 and ours.n_iter_ == ref.n_iter_


def test_several_outputs_are_fitted_independently():
    X, Y = _data(250, 10, seed=4, targets=3)
    Y[:, 2] *= 10.0  # another noise level: its own alpha_
    ours = BayesianRidge().fit(X, Y)
    assert ours.coef_.shape == (3, 10) and ours.alpha_.shape == (3,) and ours.sigma_.shape == (3, 10, 10)
    X_test = _data(5, 10, seed=5)[0]
    mean, std = ours.predict(X_test, return_std=True)
    for t in range(3):
        ref = sklm.BayesianRidge().fit(X, Y[:, t])
        assert _rel(ours.coef_[t], ref.coef_) < 1e-10
        assert _rel(ours.alpha_[t], ref.alpha_) < 1e-10 and _rel(ours.lambda_[t], ref.lambda_) < 1e-10
        assert ours.n_iter_[t] == ref.n_iter_
        ref_mean, ref_std = ref.predict(X_test, return_std=True)
        assert _rel(mean[:, t], ref_mean) < 1e-10 and _rel(std[:, t], ref_std) < 1e-10


def test_streamed_inputs_give_the_same_fit(tmp_path):
    X, y = _data(400, 6, seed=6)
    whole = BayesianRidge().fit(X, y)
    batch = BayesianRidge().fit(X.reshape(4, 100, 6), y.reshape(4, 100, 1))
    listed = BayesianRidge().fit([X[:150], X[150:]], [y[:150], y[150:]])
    partial = BayesianRidge().partial_fit(X[:100], y[:100]).partial_fit(X[100:], y[100:])
    accumulator = GramAccumulator()
    accumulator.add(X[:250], y[:250, None])
    accumulator.add(X[250:], y[250:, None])
    statistics = BayesianRidge().fit_statistics(accumulator)
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        run = store.create_run("train", steps=400, units=6, dtype="float64")
        run.write(0, X)
        stored = BayesianRidge().fit(run.states, y)
    for model in (batch, listed, partial, stored, statistics):
        assert _rel(np.ravel(model.coef_), whole.coef_) < 1e-10 and _rel(model.alpha_, whole.alpha_) < 1e-10
        assert _rel(model.lambda_, whole.lambda_) < 1e-10


def test_float32_and_batched_prediction():
    X, y = _data(300, 5, seed=7)
    model = BayesianRidge().fit(X.astype(np.float32), y)
    mean, std = model.predict(X[:20].astype(np.float32), return_std=True)
    assert mean.dtype == std.dtype == np.float32
    ref_mean, ref_std = (
        sklm.BayesianRidge()
        .fit(X.astype(np.float32).astype(np.float64), y)
        .predict(X[:20].astype(np.float32).astype(np.float64), return_std=True)
    )
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-5)
    np.testing.assert_allclose(std, ref_std, rtol=1e-5)
    batch_mean, batch_std = model.predict(X[:20].reshape(2, 10, 5), return_std=True)
    assert batch_std.shape == (2, 10)
    np.testing.assert_allclose(batch_std.reshape(-1), model.predict(X[:20], return_std=True)[1], rtol=1e-12)


def test_samples_follow_the_predictive_distribution():
    X, y = _data(60, 8, seed=8, noise=1.0)
    model = BayesianRidge().fit(X, y)
    X_test = _data(4, 8, seed=9, offset=6.0)[0]  # far from the data: the weights' uncertainty counts
    mean, std = model.predict(X_test, return_std=True)
    draws = model.sample(X_test, 20000, seed=0)
    assert draws.shape == (20000, 4)
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=4 * std.max() / np.sqrt(20000))
    np.testing.assert_allclose(draws.std(axis=0), std, rtol=0.03)
    # rows share the drawn coefficients: covariance x̃ᵢᵀ Σ x̃ⱼ off the diagonal
    centred = X_test - model.X_offset_
    expected = centred @ model.sigma_ @ centred.T + np.eye(4) / model.alpha_
    np.testing.assert_allclose(np.cov(draws.T), expected, rtol=0.08, atol=0.03 * expected.max())
    np.testing.assert_array_equal(draws, model.sample(X_test, 20000, seed=0))


def test_bad_input_names_the_argument():
    X, y = _data(50, 3)
    model = BayesianRidge().fit(X, y)
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(X, 0)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :2], return_std=True)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BayesianRidge().fit(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad, return_std=True)
    with pytest.raises(ValueError, match="max_iter"):
        BayesianRidge(max_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        BayesianRidge().partial_fit(X, y).partial_fit(X[:, :2], y)
    with pytest.raises(TypeError, match="return_std"):  # Ridge has no predictive variance
        rs.Ridge().fit(X, y).predict(X, return_std=True)


def test_esn_regressor_with_a_bayesian_readout():
    t = np.arange(700) * 0.1
    series = np.sin(t) + 0.1 * np.random.default_rng(0).normal(size=t.size)
    model = rs.ESNRegressor(60, readout="bayesian", seed=1, dtype="float64", washout=50)
    model.fit(series[:500], series[1:501])
    assert model.get_params()["readout"] == "bayesian"
    assert isinstance(model.readout_, BayesianRidge)
    assert model.alpha_ == pytest.approx(model.readout_.lambda_ / model.readout_.alpha_)
    mean, std = model.predict(series[500:-1], return_std=True)
    assert mean.shape == std.shape == (199,)
    np.testing.assert_allclose(mean, model.predict(series[500:-1]), rtol=1e-12)
    # the fitted noise level: about the series' noise std 0.1
    assert 0.07 < np.median(std) < 0.14
    # the std is the readout's own on the states the model reaches
    model.reservoir_.state = model.fitted_state_
    states = model.reservoir_.run(series[500:-1, None])
    expected = model.readout_.predict(np.concatenate([states, series[500:-1, None]], axis=1), return_std=True)[1]
    np.testing.assert_allclose(std, expected[:, 0], rtol=1e-12)
    # closed loop: the outputs are the plain forecast's; the std is the readout's on the loop's states
    outputs, loop_std = model.forecast(30, return_std=True)
    np.testing.assert_allclose(outputs, model.forecast(30), rtol=1e-12)
    model.reservoir_.state = model.fitted_state_
    fed = np.concatenate([[series[500]], outputs[:-1]])[:, None]
    closed = model.reservoir_.run(fed)
    _, expected = model.readout_.predict(np.concatenate([closed, fed], axis=1), return_std=True)
    np.testing.assert_allclose(loop_std, expected[:, 0], rtol=1e-10)
    warm_out, warm_std = model.forecast(5, warmup=series[501:521], return_std=True)
    np.testing.assert_allclose(warm_out, model.forecast(5, warmup=series[501:521]), rtol=1e-12)
    assert warm_std.shape == (5,) and np.all(warm_std > 0)


def test_esn_regressor_return_std_needs_a_bayesian_readout():
    series = np.sin(np.arange(300) * 0.1)
    model = rs.ESNRegressor(30, seed=0).fit(series[:-1], series[1:])
    with pytest.raises(ValueError, match="return_std=True needs a readout with a predictive variance.*Ridge"):
        model.predict(series[:10], return_std=True)
    with pytest.raises(ValueError, match="return_std"):
        model.forecast(5, return_std=True)
    with pytest.raises(ValueError, match="readout must be"):
        rs.ESNRegressor(30, readout="gaussian").fit(series[:-1], series[1:])
    custom = rs.ESNRegressor(30, seed=0, readout=BayesianRidge(tol=1e-6)).fit(series[:-1], series[1:])
    assert custom.readout_.tol == 1e-6 and custom.readout.__dict__.get("coef_") is None


def test_a_table_in_gives_tables_out_without_a_feature_name_warning():
    pd = pytest.importorskip("pandas")
    X, y = _data(80, 3, seed=10)
    table = pd.DataFrame(X, columns=["a", "b", "c"])
    model = BayesianRidge().fit(table, pd.Series(y, name="target"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, std = model.predict(table.iloc[:5], return_std=True)
    assert isinstance(std, pd.Series) and std.name == "target"
    np.testing.assert_allclose(std.to_numpy(), sklm.BayesianRidge().fit(X, y).predict(X[:5], return_std=True)[1])
