"""Extreme learning machines: the hidden-layer kernels against a NumPy formula, the estimators against
a hand-built hidden layer + closed-form ridge, sparse inputs, partial_fit, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir.elm import HiddenLayer

BACKENDS = rs.backends.available()
ACTIVATIONS = {
    "tanh": np.tanh,
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


def _formula(layer, X, activation):
    """f(X W_hiddenᵀ + b) with dense NumPy in float64."""
    X = X.toarray() if sp.issparse(X) else X
    return ACTIVATIONS[activation](
        np.asarray(X, np.float64) @ layer.W.toarray().astype(np.float64).T + layer.bias.astype(np.float64)
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sparse_input", [False, True])
@pytest.mark.parametrize("density", [0.02, 0.2], ids=["sparse-layer", "dense-enough-for-blas"])
def test_hidden_layer_matches_formula(rng, backend, activation, dtype, sparse_input, density):
    # On a dense X the Numba path pushes through a sparse layer and uses a BLAS product
    # from settings.elm_blas_min_density (5 %) on: both against the formula.
    layer = HiddenLayer(
        257,
        31,
        density=density,
        activation=activation,
        input_scaling=0.7,
        bias_scaling=0.3,
        seed=1,
        dtype=dtype,
        backend=backend,
    )
    X = rng.standard_normal((43, 31)) * (rng.random((43, 31)) < 0.4)
    H = layer.transform(sp.csr_array(X) if sparse_input else X)
    assert H.shape == (43, 257) and H.dtype == np.dtype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(H, _formula(layer, X, activation), rtol=tol, atol=tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_input_is_never_densified(backend):
    # 2 million features: a dense copy of X would take 1.6 GB.
    X = sp.random_array((200, 2_000_000), density=2e-6, format="csr", rng=np.random.default_rng(0))
    layer = HiddenLayer(64, X.shape[1], fan_in=3, seed=0, dtype="float64", backend=backend)
    H = layer.transform(X)
    expected = np.tanh((layer.W @ X.T).toarray().T + layer.bias)
    np.testing.assert_allclose(H, expected, rtol=1e-12, atol=1e-12)


def test_hidden_layer_weights(rng):
    layer = HiddenLayer(400, 50, fan_in=5, input_scaling=0.3, bias_scaling=0.2, seed=3)
    assert np.all(np.diff(layer.W.indptr) == 5)
    assert np.all(np.abs(layer.W.data) <= 0.3) and np.all(np.abs(layer.bias) <= 0.2)
    same = HiddenLayer(400, 50, fan_in=5, input_scaling=0.3, bias_scaling=0.2, seed=3)
    assert (same.W != layer.W).nnz == 0 and np.array_equal(same.bias, layer.bias)


def _closed_form(H, Y, alpha):
    Hc, Yc = H - H.mean(axis=0), Y - Y.mean(axis=0)
    coef = np.linalg.solve(Hc.T @ Hc + alpha * np.eye(H.shape[1]), Hc.T @ Yc)
    return coef, Y.mean(axis=0) - H.mean(axis=0) @ coef


@pytest.mark.parametrize("backend", BACKENDS)
def test_regressor_is_hidden_layer_plus_ridge(rng, backend):
    X = rng.standard_normal((300, 8))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    model = rs.ELMRegressor(120, density=0.5, alpha=1e-3, seed=5, dtype="float64", backend=backend).fit(X, y)
    H = _formula(model.hidden_, X, "tanh")
    coef, intercept = _closed_form(H, y[:, None], 1e-3)
    X_new = rng.standard_normal((50, 8))
    expected = _formula(model.hidden_, X_new, "tanh") @ coef + intercept
    np.testing.assert_allclose(model.predict(X_new), expected[:, 0], rtol=1e-8, atol=1e-10)
    assert model.score(X, y) > 0.9


def test_classifier(rng):
    X = rng.standard_normal((600, 5))
    labels = np.array(["low", "mid", "high"])
    y = labels[(X[:, 0] > -0.5).astype(int) + (X[:, 0] > 0.5).astype(int)]
    model = rs.ELMClassifier(300, density=0.6, alpha=1e-2, seed=0, dtype="float64").fit(X[:400], y[:400])
    assert list(model.classes_) == sorted(labels)
    proba = model.predict_proba(X[400:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(model.predict(X[400:]), model.classes_[np.argmax(proba, axis=1)])
    assert model.score(X[400:], y[400:]) > 0.85  # chance is about 0.38
    # one-hot ridge, checked by hand
    H = _formula(model.hidden_, X[:400], "tanh")
    coef, intercept = _closed_form(H, (y[:400, None] == model.classes_[None]).astype(float), 1e-2)
    np.testing.assert_allclose(
        model.decision_function(X[400:]),
        _formula(model.hidden_, X[400:], "tanh") @ coef + intercept,
        rtol=1e-7,
        atol=1e-9,
    )


def test_partial_fit_equals_fit(rng):
    X = rng.standard_normal((500, 6))
    y = X @ rng.standard_normal(6)
    whole = rs.ELMRegressor(80, density=0.5, alpha=1e-4, seed=2, dtype="float64").fit(X, y)
    streamed = rs.ELMRegressor(80, density=0.5, alpha=1e-4, seed=2, dtype="float64")
    for start in range(0, 500, 128):
        streamed.partial_fit(X[start : start + 128], y[start : start + 128])
    np.testing.assert_allclose(streamed.predict(X), whole.predict(X), rtol=1e-8, atol=1e-10)
    labels = (y > 0).astype(int)
    clf = rs.ELMClassifier(80, density=0.5, alpha=1e-4, seed=2, dtype="float64")
    clf.partial_fit(X[:250], labels[:250], classes=[0, 1]).partial_fit(X[250:], labels[250:])
    full = rs.ELMClassifier(80, density=0.5, alpha=1e-4, seed=2, dtype="float64").fit(X, labels)
    np.testing.assert_allclose(clf.decision_function(X), full.decision_function(X), rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="classes="):
        rs.ELMClassifier(10).partial_fit(X, labels)


def test_params_and_pickle(rng):
    X = rng.standard_normal((100, 4))
    y = X[:, 0]
    model = rs.ELMRegressor(50, density=0.5, seed=1)
    assert model.get_params()["n_hidden"] == 50
    model.set_params(n_hidden=60, alpha=[1e-6, 1e-2])
    model.fit(X, y)
    assert model.hidden_.W.shape == (60, 4) and model.alpha_ in (1e-6, 1e-2)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="(?i)invalid parameter"):
        model.set_params(hidden=3)


def test_bad_input(rng):
    X = rng.standard_normal((30, 3))
    y = np.arange(30) % 2
    with pytest.raises(rs.NotFittedError, match="not fitted"):
        rs.ELMClassifier(10).predict(X)
    assert issubclass(rs.NotFittedError, ValueError) and issubclass(rs.NotFittedError, AttributeError)
    bad = X.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rs.ELMRegressor(10).fit(bad, y)
    with pytest.raises(ValueError, match="convert string to float"):
        rs.ELMRegressor(10).fit(np.array([["a", "b"], ["c", "d"]]), [1, 2])
    with pytest.raises(ValueError, match="at least 2 classes"):
        rs.ELMClassifier(10).fit(X, np.zeros(30))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[30, 29\]"):
        rs.ELMRegressor(10).fit(X, y[:29])
    model = rs.ELMRegressor(10, density=0.5).fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="density"):
        rs.ELMRegressor(10, density=0).fit(X, y)


def test_fit_from_stored_hidden_activations(tmp_path, rng):
    X = rng.standard_normal((1000, 7))
    y = np.sin(X[:, 0]) + X[:, 1]
    in_memory = rs.ELMRegressor(90, density=0.5, alpha=1e-4, seed=4, dtype="float64").fit(X, y)
    model = rs.ELMRegressor(90, density=0.5, alpha=1e-4, seed=4, dtype="float64")
    with rs.StateStore(tmp_path / "hidden.h5", "w") as store:
        run = model.store_hidden(X, store, "train", chunk_rows=300)
        assert run.complete and run.states.shape == (1000, 90)
        model.fit_hidden(run.time_range(), y)
    np.testing.assert_allclose(model.predict(X), in_memory.predict(X), rtol=1e-8, atol=1e-10)
    labels = (y > 0).astype(int)
    clf = rs.ELMClassifier(90, density=0.5, alpha=1e-4, seed=4, dtype="float64")
    with rs.StateStore(tmp_path / "hidden.h5", "a") as store:
        clf.fit_hidden(clf.store_hidden(X, store, "clf").time_range(), labels)
    full = rs.ELMClassifier(90, density=0.5, alpha=1e-4, seed=4, dtype="float64").fit(X, labels)
    np.testing.assert_allclose(clf.decision_function(X), full.decision_function(X), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n_features", [1, 2, 5, 40, 3000])
def test_default_hidden_layer_gives_every_unit_an_input(n_features):
    """At an explicit 1 % density an ELM over 2 features has almost no unit that sees an input."""
    from reservoir.elm import HiddenLayer

    layer = HiddenLayer(200, n_features, seed=0)
    per_unit = np.diff(layer.W.indptr)
    assert per_unit.min() >= 1
    assert per_unit.mean() == pytest.approx(min(n_features, max(10, 0.01 * n_features)), rel=0.15)


def test_default_classifier_separates_two_feature_blobs():
    """ELMClassifier(n_hidden=50) scored 0.333 (chance) on these blobs at 1 % density; density=0.5 gave 0.947."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(300, 2, centers=3, random_state=0)
    assert rs.ELMClassifier(n_hidden=50, seed=0).fit(X, y).score(X, y) > 0.9
    assert rs.ELMClassifier(n_hidden=50, density=0.01, seed=0).fit(X, y).score(X, y) < 0.5  # the old default
