"""ESNClassifier: pooled reservoir states per sequence against a hand-built pipeline."""

from __future__ import annotations

import numpy as np
import pytest

import reservoir as rs


def _waves(rng, n, length=60):
    """Label 1: square wave, label 0: sine; random frequency and phase, noisy."""
    t = np.arange(length)
    X, y = [], []
    for i in range(n):
        wave = np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6.28))
        X.append((np.sign(wave) if i % 2 else wave) + 0.3 * rng.standard_normal(length))
        y.append(i % 2)
    return np.array(X), np.array(y)


@pytest.mark.parametrize("pooling", ["mean", "last", "max", "mean+last"])
def test_matches_hand_built_pipeline(rng, pooling):
    X, y = _waves(rng, 40)
    model = rs.ESNClassifier(80, density=0.1, pooling=pooling, washout=5, alpha=1e-3, seed=3, dtype="float64").fit(X, y)
    esn = rs.ESN(80, density=0.1, seed=3, dtype="float64")
    pooled = []
    for x in X:
        states = esn.reset().run(x)[5:]
        parts = {
            "mean": [states.mean(0)],
            "last": [states[-1]],
            "max": [states.max(0)],
            "mean+last": [states.mean(0), states[-1]],
        }[pooling]
        pooled.append(np.concatenate(parts))
    pooled = np.array(pooled)
    one_hot = np.eye(2)[y]
    centred, targets = pooled - pooled.mean(0), one_hot - one_hot.mean(0)
    coef = np.linalg.solve(centred.T @ centred + 1e-3 * np.eye(pooled.shape[1]), centred.T @ targets)
    scores = (pooled - pooled.mean(0)) @ coef + one_hot.mean(0)
    np.testing.assert_allclose(model.decision_function(X), scores[:, 1] - scores[:, 0], rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(model.predict(X), np.argmax(scores, axis=1))


def test_learns_and_takes_ragged_sequences(rng):
    X, y = _waves(rng, 200)
    X_test, y_test = _waves(rng, 100)
    model = rs.ESNClassifier(200, density=0.05, pooling="max", alpha=1e-3, seed=0).fit(X, y)
    assert model.score(X_test, y_test) > 0.9  # chance is 0.5; mean pooling cannot tell these apart
    ragged = [x[: 40 + i % 20, None] for i, x in enumerate(X)]
    ragged_model = rs.ESNClassifier(200, density=0.05, pooling="max", alpha=1e-3, seed=0).fit(ragged, y)
    assert ragged_model.score([x[:50, None] for x in X_test], y_test) > 0.85
    np.testing.assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0)


def test_bad_input(rng):
    X, y = _waves(rng, 10)
    with pytest.raises(ValueError, match="pooling"):
        rs.ESNClassifier(20, pooling="median").fit(X, y)
    with pytest.raises(ValueError, match="washout=60"):
        rs.ESNClassifier(20, density=0.3, washout=60).fit(X, y)
    with pytest.raises(ValueError, match="10 sequences but y has 9"):
        rs.ESNClassifier(20, density=0.3).fit(list(X[:, :, None]), y[:9])
    with pytest.raises(rs.NotFittedError):
        rs.ESNClassifier(20).predict(X)


def test_other_lengths_after_a_2d_fit(rng):
    """Fitted on (n, T): (n, T') with T' != T is refused in scikit-learn's words plus how to do it; the
    (n, T', 1) and list forms it names classify those sequences."""
    X, y = _waves(rng, 20)
    model = rs.ESNClassifier(40, density=0.2, seed=0).fit(X, y)
    longer = _waves(rng, 4, length=90)[0]
    with pytest.raises(
        ValueError,
        match=r"X has 90 features, but ESNClassifier is expecting 60 features as input\. "
        r"As \(n_sequences, T\) the sequence length is fixed",
    ):
        model.predict(longer)
    assert model.predict(longer[:, :, None]).tolist() == model.predict(list(longer[:, :, None])).tolist()
