"""RLS and LMS readouts: closed forms, streams in pieces, bad input, scikit-learn conventions."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from reservoir import ReservoirWarning
from reservoir.readouts import LMS, RLS

BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.filterwarnings("ignore::DeprecationWarning"))]


def _data(rng, T=300, n_features=6, n_targets=2):
    X = rng.standard_normal((T, n_features))
    Y = X @ rng.standard_normal((n_features, n_targets)) + 0.05 * rng.standard_normal((T, n_targets))
    return X, Y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alpha", [1e-6, 0.5, 10.0])
def test_rls_without_forgetting_is_ridge_on_the_samples_seen(rng, backend, alpha):
    # P_T = (XᵀX + alpha I)⁻¹ and coef_T = P_T XᵀY: ridge regression without intercept, in closed form
    X, Y = _data(rng)
    readout = RLS(alpha=alpha, fit_intercept=False, backend=backend).fit(X, Y)
    gram = X.T @ X + alpha * np.eye(X.shape[1])
    # P starts at I / alpha: a tiny alpha cancels ~log10(1/alpha) digits in the first updates
    tolerance = 1e-6 if alpha < 1e-3 else 1e-10
    for got, want in ((readout.P_, np.linalg.inv(gram)), (readout.coef_, np.linalg.solve(gram, X.T @ Y).T)):
        assert np.linalg.norm(got - want) <= tolerance * np.linalg.norm(want)
    assert readout.count_ == X.shape[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_rls_forgetting_weights_samples_by_age(rng, backend):
    # with λ < 1: P_T = (Σ λ^(T-t) x xᵀ + λ^T alpha I)⁻¹ (a weighted ridge)
    X, Y = _data(rng, T=120)
    lam, alpha = 0.97, 2.0
    readout = RLS(alpha=alpha, forgetting=lam, fit_intercept=False, backend=backend).fit(X, Y)
    weights = lam ** np.arange(len(X) - 1, -1, -1)
    gram = (X * weights[:, None]).T @ X + lam ** len(X) * alpha * np.eye(X.shape[1])
    np.testing.assert_allclose(readout.coef_, np.linalg.solve(gram, (X * weights[:, None]).T @ Y).T, rtol=1e-8)


@pytest.mark.parametrize("readout", [RLS(alpha=0.1), LMS(learning_rate=0.01)])
def test_a_stream_in_pieces_equals_one_fit(rng, readout):
    X, Y = _data(rng)
    whole = clone(readout).fit(X, Y)
    pieces = clone(readout)
    predictions = [pieces.partial_fit_predict(X[a:b], Y[a:b]) for a, b in ((0, 1), (1, 77), (77, 300))]
    np.testing.assert_allclose(pieces.coef_, whole.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pieces.intercept_, whole.intercept_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.concatenate(predictions), clone(readout).partial_fit_predict(X, Y), atol=1e-12)


def test_batches_and_lists_of_sequences_are_taken_in_order(rng):
    X, Y = _data(rng, T=200)
    flat = RLS(alpha=0.3).fit(X, Y)
    np.testing.assert_allclose(RLS(alpha=0.3).fit(X.reshape(2, 100, -1), Y.reshape(2, 100, -1)).coef_, flat.coef_)
    np.testing.assert_allclose(RLS(alpha=0.3).fit([X[:50], X[50:]], [Y[:50], Y[50:]]).coef_, flat.coef_)


@pytest.mark.parametrize("readout", [RLS(alpha=0.1), LMS(learning_rate=0.01)])
def test_other_widths_mid_stream_raise_and_keep_the_readout(rng, readout):
    X, Y = _data(rng)
    readout.fit(X[:100], Y[:100])
    before = {name: np.copy(value) for name, value in vars(readout).items() if name.endswith("_")}
    with pytest.raises(ValueError, match="Y has 3 targets per sample, but this .* trained on 2"):
        readout.partial_fit(X[100:], np.ones((200, 3)))
    with pytest.raises(ValueError, match="X has 4 features per sample, but this .* trained on 6"):
        readout.partial_fit(X[100:, :4], Y[100:])
    bad = X[100:].copy()
    bad[150, 2] = np.nan  # late in the chunk: nothing before it may be learned either
    with pytest.raises(ValueError, match="X contains NaN"):
        readout.partial_fit(bad, Y[100:])
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(readout, name), value)
    readout.partial_fit(X[100:], Y[100:])  # and it goes on from where it was
    np.testing.assert_allclose(readout.coef_, clone(readout).fit(X, Y).coef_, rtol=1e-12, atol=1e-14)


def test_single_target_shapes_and_prediction(rng):
    X, Y = _data(rng, n_targets=1)
    readout = RLS(alpha=1e-3).fit(X, Y[:, 0])
    assert readout.coef_.shape == (6,) and isinstance(readout.intercept_, float)
    np.testing.assert_allclose(readout.predict(X), X @ readout.coef_ + readout.intercept_)
    assert readout.score(X, Y[:, 0]) > 0.99
    assert readout.predict(X.reshape(3, 100, 6)).shape == (3, 100)
    assert readout.predict(X.astype(np.float32)).dtype == np.float32


def test_params_are_plain_values_and_rebuild_the_readout(rng):
    X, Y = _data(rng)
    readout = RLS(alpha=0.2, forgetting=0.99).fit(X, Y)
    params = readout.get_params()
    assert all(isinstance(value, (int, float, str, bool)) for value in params.values())
    rebuilt = RLS(**params)
    for name in ("coef_", "intercept_", "P_", "count_", "n_features_in_"):
        setattr(rebuilt, name, getattr(readout, name))
    np.testing.assert_array_equal(rebuilt.predict(X), readout.predict(X))
    rebuilt.partial_fit(X, Y)
    np.testing.assert_allclose(rebuilt.coef_, readout.partial_fit(X, Y).coef_)


def test_lms_converges_and_warns_when_it_cannot(rng):
    X, Y = _data(rng, T=3000, n_targets=1)
    readout = LMS(learning_rate=0.02).fit(X, Y[:, 0])
    assert readout.score(X, Y[:, 0]) > 0.99
    with pytest.warns(ReservoirWarning, match="learning_rate=1 times the largest squared norm"):
        with pytest.raises(FloatingPointError, match="left as it was"):
            LMS(learning_rate=1.0).fit(np.repeat(X, 100, axis=0) * 10, np.repeat(Y, 100, axis=0))


def test_float32_readout(rng):
    X, Y = _data(rng)
    single = RLS(alpha=1.0, dtype="float32").fit(X, Y)
    assert single.coef_.dtype == np.float32
    np.testing.assert_allclose(single.coef_, RLS(alpha=1.0).fit(X, Y).coef_, rtol=1e-4, atol=1e-5)
    with pytest.warns(ReservoirWarning, match="float32 with alpha=1e-06"):
        RLS(dtype="float32").fit(X, Y)


def test_bad_parameters_and_backends():
    X, Y = np.ones((5, 2)), np.ones(5)
    with pytest.raises(ValueError, match="forgetting must be in"):
        RLS(forgetting=1.5).fit(X, Y)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        RLS(alpha=0).fit(X, Y)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        LMS(learning_rate=-1).fit(X, Y)
    with pytest.raises(NotImplementedError, match="backend 'cupy' has no kernels for RLS"):
        RLS(backend="cupy").fit(X, Y)
    with pytest.raises(ValueError, match="Y contains NaN"):
        RLS().fit(X, np.full(5, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RLS(alpha=1.0).fit(X, Y)  # a sound setting does not warn
