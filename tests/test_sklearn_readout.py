"""Any scikit-learn regressor as a readout of ESN states."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso
from sklearn.linear_model import Ridge as SklearnRidge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.svm import SVR

from reservoir import ESN
from reservoir.readouts import Ridge, SklearnReadout


@pytest.fixture
def states_and_targets():
    rng = np.random.default_rng(7)
    u = rng.uniform(-1, 1, (2, 300, 1))
    states = ESN(60, seed=1, dtype="float64").run(u)  # (2, 300, 60)
    y = np.concatenate([np.roll(u, 1, axis=1), np.roll(u, 2, axis=1) ** 2], axis=2)  # memory tasks, 2 targets
    return states[:, 20:], y[:, 20:]


def test_sklearn_ridge_equals_our_ridge(states_and_targets):
    X, Y = states_and_targets
    ours = Ridge(alpha=1e-3).fit(X, Y)
    wrapped = SklearnReadout(SklearnRidge(alpha=1e-3)).fit(X, Y)
    np.testing.assert_allclose(wrapped.estimator_.coef_, ours.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(wrapped.predict(X), ours.predict(X), rtol=1e-7, atol=1e-9)
    assert wrapped.predict(X).shape == X.shape[:2] + (2,)


def test_lasso_is_the_regressors_own_fit_on_the_flattened_states(states_and_targets):
    X, Y = states_and_targets
    lasso = Lasso(alpha=1e-3, max_iter=20000)
    wrapped = SklearnReadout(lasso).fit(list(X), list(Y))  # a list of sequences, as Ridge takes
    direct = Lasso(alpha=1e-3, max_iter=20000).fit(X.reshape(-1, 60), Y.reshape(-1, 2))
    np.testing.assert_allclose(wrapped.estimator_.coef_, direct.coef_, atol=1e-12)
    assert not hasattr(lasso, "coef_")  # the estimator given is cloned, never fitted
    assert wrapped.score(X.reshape(-1, 60), Y.reshape(-1, 2)) > 0.8  # a memory task it can learn


def test_kneighbors_and_a_single_target_regressor(states_and_targets):
    X, Y = states_and_targets
    knn = SklearnReadout(KNeighborsRegressor(n_neighbors=3)).fit(X[0], Y[0, :, 0])
    direct = KNeighborsRegressor(n_neighbors=3).fit(X[0], Y[0, :, 0])
    np.testing.assert_array_equal(knn.predict(X[1]), direct.predict(X[1]))
    assert knn.predict(X).shape == X.shape[:2]  # a batch in, (B, T) out for one target
    # SVR takes one target: two targets get one clone each
    svr = SklearnReadout(SVR(C=1.0)).fit(X[0], Y[0])
    assert len(svr.estimator_.estimators_) == 2
    np.testing.assert_allclose(svr.predict(X[0])[:, 1], SVR(C=1.0).fit(X[0], Y[0, :, 1]).predict(X[0]))


def test_bad_input():
    X, Y = np.ones((10, 3)), np.ones(10)
    with pytest.raises(TypeError, match="must be a scikit-learn regressor"):
        SklearnReadout(object()).fit(X, Y)
    with pytest.raises(ValueError, match="X contains NaN"):
        SklearnReadout(SklearnRidge()).fit(np.full((10, 3), np.nan), Y)
    readout = SklearnReadout(SklearnRidge()).fit(X, Y)
    with pytest.raises(ValueError, match="X has 2 features, the readout was fitted on 3"):
        readout.predict(np.ones((4, 2)))
