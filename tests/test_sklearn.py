"""scikit-learn compatibility of the ELM estimators: the full estimator check suite, no expected failures."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import reservoir as rs


@parametrize_with_checks([rs.ELMRegressor(n_hidden=50, density=0.5, seed=0),
                          rs.ELMClassifier(n_hidden=50, density=0.5, seed=0)])
def test_scikit_learn_checks(estimator, check):
    check(estimator)


def test_pipeline_grid_search_and_clone(rng):
    X = rng.standard_normal((300, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    pipeline = make_pipeline(StandardScaler(), rs.ELMClassifier(n_hidden=100, density=0.5, seed=0))
    search = GridSearchCV(pipeline, {"elmclassifier__alpha": [1e-4, 1e-1], "elmclassifier__n_hidden": [50, 100]},
                          cv=3).fit(X, y)
    assert search.best_score_ > 0.85
    copy = clone(search.best_estimator_)
    assert copy.get_params()["elmclassifier__n_hidden"] == search.best_params_["elmclassifier__n_hidden"]
    assert not hasattr(copy[-1], "readout_")  # a clone is unfitted
    np.testing.assert_array_equal(copy.fit(X, y).predict(X), search.best_estimator_.predict(X))
