"""Ridge readout against the closed form solved with dense NumPy linear algebra."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import reservoir as rs
from reservoir.config import settings


def closed_form(X, Y, alpha, fit_intercept=True):
    """(coef (targets, features), intercept (targets,)) of ridge regression with an unpenalised intercept."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    single = Y.ndim == 1
    Y = Y.reshape(len(Y), -1)
    if fit_intercept:
        x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    else:
        x_mean, y_mean = np.zeros(X.shape[1]), np.zeros(Y.shape[1])
    Xc, Yc = X - x_mean, Y - y_mean
    w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc)  # (features, targets)
    b = y_mean - x_mean @ w
    if single:
        return w[:, 0], float(b[0])
    return w.T, b


def linear_data(rng, n_samples, n_features, n_targets, noise=0.1, offset=0.0, truth_seed=None):
    """X ~ N(offset, 1); Y = (X - offset) w + c + noise. The same truth_seed gives the same w and c."""
    truth = rng if truth_seed is None else np.random.default_rng(truth_seed)
    true_w = truth.standard_normal((n_features, n_targets))
    true_c = truth.uniform(-2, 2, n_targets)
    X = rng.standard_normal((n_samples, n_features)) + offset
    Y = (X - offset) @ true_w + true_c + noise * rng.standard_normal((n_samples, n_targets))
    return X, Y


def assert_rel(actual, expected, rtol=1e-8):
    """Relative agreement in the norm of the whole array (entries may be near zero)."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    scale = max(np.linalg.norm(expected), 1e-300)
    assert np.linalg.norm(actual - expected) <= rtol * scale, np.linalg.norm(actual - expected) / scale


@pytest.mark.parametrize("alpha", [0.0, 1e-6, 0.1, 10.0])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_matches_closed_form_with_intercept(rng, alpha, n_targets):
    X, Y = linear_data(rng, 300, 12, n_targets)
    model = rs.Ridge(alpha=alpha).fit(X, Y)
    coef, intercept = closed_form(X, Y, alpha)
    assert model.coef_.shape == (n_targets, 12)
    assert np.shape(model.intercept_) == (n_targets,)
    assert_rel(model.coef_, coef)
    assert_rel(model.intercept_, intercept)
    assert model.alpha_ == alpha
    assert model.n_features_in_ == 12
    assert_rel(model.predict(X), X @ coef.T + intercept)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_matches_closed_form_without_intercept(rng, alpha):
    X, Y = linear_data(rng, 200, 7, 2)
    model = rs.Ridge(alpha=alpha, fit_intercept=False).fit(X, Y)
    coef, intercept = closed_form(X, Y, alpha, fit_intercept=False)
    assert_rel(model.coef_, coef)
    np.testing.assert_array_equal(model.intercept_, np.zeros(2))
    # Without an intercept the fit goes through the origin: differs from the centred one.
    with_intercept, _ = closed_form(X, Y, alpha)
    assert not np.allclose(coef, with_intercept)


def test_one_dimensional_targets_give_one_dimensional_coef_and_predictions(rng):
    X, Y = linear_data(rng, 150, 5, 1)
    y = Y[:, 0]
    model = rs.Ridge(alpha=0.3).fit(X, y)
    coef, intercept = closed_form(X, y, 0.3)
    assert model.coef_.shape == (5,)
    assert isinstance(model.intercept_, float)
    assert_rel(model.coef_, coef)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-8)
    prediction = model.predict(X)
    assert prediction.shape == (150,)
    assert_rel(prediction, X @ coef + intercept)
    # (T, 1) targets stay two-dimensional.
    assert rs.Ridge(alpha=0.3).fit(X, Y).coef_.shape == (1, 5)


def test_batch_and_list_inputs_equal_the_concatenated_fit(rng):
    X, Y = linear_data(rng, 3 * 80, 6, 2)
    reference = rs.Ridge(alpha=0.2).fit(X, Y)
    coef, intercept = closed_form(X, Y, 0.2)
    assert_rel(reference.coef_, coef)

    batch = rs.Ridge(alpha=0.2).fit(X.reshape(3, 80, 6), Y.reshape(3, 80, 2))
    assert_rel(batch.coef_, coef)
    assert_rel(batch.intercept_, intercept)
    predicted = batch.predict(X.reshape(3, 80, 6))
    assert predicted.shape == (3, 80, 2)
    assert_rel(predicted.reshape(-1, 2), X @ coef.T + intercept)

    # A list of sequences of different lengths.
    cuts = [0, 50, 170, 240]
    pieces = [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    listed = rs.Ridge(alpha=0.2).fit([X[s] for s in pieces], [Y[s] for s in pieces])
    assert_rel(listed.coef_, coef)
    assert_rel(listed.intercept_, intercept)

    # A list of 1-D targets.
    single = rs.Ridge(alpha=0.2).fit([X[s] for s in pieces], [Y[s, 0] for s in pieces])
    coef0, intercept0 = closed_form(X, Y[:, 0], 0.2)
    assert single.coef_.shape == (6,)
    assert_rel(single.coef_, coef0)
    assert single.intercept_ == pytest.approx(intercept0, rel=1e-8)


@pytest.mark.parametrize("chunk_rows", [1, 3, 64])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_small_gram_chunks_give_the_same_result(rng, monkeypatch, chunk_rows, fit_intercept):
    monkeypatch.setattr(settings, "gram_chunk_rows", chunk_rows)
    X, Y = linear_data(rng, 200, 9, 2, offset=3.0)
    model = rs.Ridge(alpha=0.05, fit_intercept=fit_intercept).fit(X.reshape(2, 100, 9), Y.reshape(2, 100, 2))
    coef, intercept = closed_form(X, Y, 0.05, fit_intercept)
    assert_rel(model.coef_, coef)
    if fit_intercept:
        assert_rel(model.intercept_, intercept)


@pytest.mark.parametrize("chunk_rows", [3, 4096])
def test_large_common_offset(rng, monkeypatch, chunk_rows):
    """X + 1e6: the Gram matrix must be centred without catastrophic cancellation."""
    monkeypatch.setattr(settings, "gram_chunk_rows", chunk_rows)
    X, Y = linear_data(rng, 400, 5, 2, noise=0.05)
    coef, intercept = closed_form(X, Y, 1e-3)
    shifted = X + 1e6
    model = rs.Ridge(alpha=1e-3).fit(shifted, Y)
    coef_shifted, intercept_shifted = closed_form(shifted, Y, 1e-3)
    # The slope does not depend on a common offset of X; the intercept absorbs it.
    assert_rel(model.coef_, coef, rtol=1e-7)
    assert_rel(model.coef_, coef_shifted, rtol=1e-7)
    assert_rel(model.intercept_, intercept - 1e6 * coef.sum(axis=1), rtol=1e-7)
    assert_rel(model.predict(shifted), X @ coef.T + intercept, rtol=1e-7)
    # And a large offset of Y.
    model_y = rs.Ridge(alpha=1e-3).fit(X, Y + 1e6)
    assert_rel(model_y.coef_, coef, rtol=1e-7)
    assert_rel(model_y.intercept_, intercept + 1e6, rtol=1e-7)


def test_float32_inputs_are_fitted_in_float64(rng):
    X, Y = linear_data(rng, 300, 8, 1)
    X32 = X.astype(np.float32)
    model = rs.Ridge(alpha=0.1).fit(X32, Y)
    coef, intercept = closed_form(X32.astype(np.float64), Y, 0.1)
    assert_rel(model.coef_, coef)
    assert model.predict(X32).dtype == np.float32


def _validation_mse(X, Y, Xv, Yv, alpha, fit_intercept=True):
    coef, intercept = closed_form(X, Y, alpha, fit_intercept)
    prediction = Xv @ coef.T + intercept
    return float(np.mean((Yv - prediction) ** 2))


@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_alpha_selection_on_validation_data(rng, n_targets, fit_intercept):
    # Few samples, many features, noisy targets: a mid-sized alpha validates best.
    X, Y = linear_data(rng, 60, 40, n_targets, noise=4.0, truth_seed=1)
    Xv, Yv = linear_data(rng, 200, 40, n_targets, noise=4.0, truth_seed=1)
    alphas = [1e-4, 1e-2, 0.3, 1.0, 10.0, 100.0, 1e4]
    model = rs.Ridge(alpha=alphas, fit_intercept=fit_intercept).fit(X, Y, validation=(Xv, Yv))
    errors = {alpha: _validation_mse(X, Y, Xv, Yv, alpha, fit_intercept) for alpha in alphas}
    assert set(model.validation_errors_) == set(alphas)
    for alpha in alphas:
        assert model.validation_errors_[alpha] == pytest.approx(errors[alpha], rel=1e-8)
    best = min(errors, key=errors.get)
    assert model.alpha_ == best
    assert best not in (alphas[0], alphas[-1])  # the test data make the choice meaningful
    coef, intercept = closed_form(X, Y, best, fit_intercept)
    assert_rel(model.coef_, coef)
    assert_rel(model.intercept_, intercept)


def test_alpha_selection_with_batched_and_one_dimensional_data(rng):
    X, Y = linear_data(rng, 90, 30, 1, noise=3.0, truth_seed=2)
    Xv, Yv = linear_data(rng, 120, 30, 1, noise=3.0, truth_seed=2)
    alphas = np.array([0.01, 1.0, 30.0, 1000.0])
    model = rs.Ridge(alpha=alphas).fit(
        X.reshape(3, 30, 30),
        Y[:, 0].reshape(3, 30)[..., None],
        validation=(Xv.reshape(2, 60, 30), Yv.reshape(2, 60, 1)),
    )
    errors = {alpha: _validation_mse(X, Y, Xv, Yv, alpha) for alpha in alphas}
    for alpha in alphas:
        assert model.validation_errors_[alpha] == pytest.approx(errors[alpha], rel=1e-8)
    assert model.alpha_ == min(errors, key=errors.get)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_targets", [1, 3, None])
def test_refitted_equals_a_fit_on_training_and_validation_samples(rng, fit_intercept, n_targets):
    # The chosen alpha refitted from the merged statistics; the two sets have different
    # offsets, so their accumulators were shifted differently before merging.
    X, Y = linear_data(rng, 150, 8, n_targets or 1, noise=1.0, offset=40.0, truth_seed=4)
    Xv, Yv = linear_data(rng, 60, 8, n_targets or 1, noise=1.0, offset=-25.0, truth_seed=4)
    if n_targets is None:
        Y, Yv = Y[:, 0], Yv[:, 0]
    selector = rs.Ridge(alpha=[1e-3, 1.0, 100.0], fit_intercept=fit_intercept).fit(X, Y, validation=(Xv, Yv))
    model = selector.refitted()
    assert model.alpha_ == selector.alpha_ and model.validation_errors_ == selector.validation_errors_
    coef, intercept = closed_form(np.vstack([X, Xv]), np.concatenate([Y, Yv]), selector.alpha_, fit_intercept)
    assert_rel(model.coef_, coef, rtol=1e-9)
    assert_rel(model.intercept_, intercept, rtol=1e-9)


def test_merged_statistics_equal_one_accumulator_over_all_samples(rng):
    from reservoir.readouts.ridge import GramAccumulator

    parts = [linear_data(rng, rows, 5, 2, offset=offset) for rows, offset in ((40, 10.0), (70, -3.0))]
    separate = []
    for x, y in parts:
        accumulator = GramAccumulator()
        accumulator.update(x, y)
        separate.append(accumulator)
    together = GramAccumulator()
    together.update(np.vstack([x for x, _ in parts]), np.vstack([y for _, y in parts]))
    merged = separate[0].merged(separate[1])
    assert merged.count == together.count == 110
    for mine, expected in zip(merged.centred(), together.centred()):
        assert_rel(mine, expected, rtol=1e-11)
    for mine, expected in zip(merged.raw(), together.raw()):
        assert_rel(mine, expected, rtol=1e-11)
    coef, intercept = rng.standard_normal((5, 2)), rng.standard_normal(2)  # any model: uses yy and the sums too
    assert merged.squared_error(coef, intercept) == pytest.approx(together.squared_error(coef, intercept), rel=1e-11)


def test_refitted_needs_validation_data(rng):
    X, Y = linear_data(rng, 30, 3, 1)
    with pytest.raises(ValueError, match="validation"):
        rs.Ridge(alpha=0.1).fit(X, Y).refitted()
    model = rs.Ridge(alpha=0.1).fit(X, Y, validation=(X, Y))
    model.partial_fit(X, Y)  # statistics moved on: the held-out set no longer pairs with them
    with pytest.raises(ValueError, match="validation"):
        model.refitted()


def test_single_alpha_with_validation_reports_its_error(rng):
    X, Y = linear_data(rng, 100, 4, 2)
    Xv, Yv = linear_data(np.random.default_rng(3), 50, 4, 2)
    model = rs.Ridge(alpha=0.5).fit(X, Y, validation=(Xv, Yv))
    assert model.validation_errors_[0.5] == pytest.approx(_validation_mse(X, Y, Xv, Yv, 0.5), rel=1e-8)


def test_validation_errors_are_never_negative(rng):
    """Noise-free data: the validation MSE is ~0 and must not come out negative."""
    X = rng.standard_normal((200, 6))
    Y = X @ rng.standard_normal((6, 2)) + 3.0
    Xv = rng.standard_normal((100, 6))
    Yv = Xv @ np.linalg.lstsq(X, Y - 3.0, rcond=None)[0] + 3.0
    model = rs.Ridge(alpha=[0.0, 1e-12, 1e-8]).fit(X, Y, validation=(Xv, Yv))
    for alpha, error in model.validation_errors_.items():
        assert error >= 0.0
        assert error == pytest.approx(_validation_mse(X, Y, Xv, Yv, alpha), abs=1e-12)


@pytest.mark.parametrize("alpha", [np.float64(0.3), np.float32(0.3), np.array(0.3), (0.3,), [0.3], np.array([0.3])])
def test_alpha_given_as_numpy_scalar_or_one_element_sequence(rng, alpha):
    X, Y = linear_data(rng, 80, 4, 2)
    coef, intercept = closed_form(X, Y, float(np.asarray(alpha).ravel()[0]))
    model = rs.Ridge(alpha=alpha).fit(X, Y)
    assert_rel(model.coef_, coef)
    assert_rel(model.intercept_, intercept)


# --------------------------------------------------------------------------- bad input
def test_several_alphas_need_validation(rng):
    X, Y = linear_data(rng, 20, 3, 1)
    with pytest.raises(ValueError, match="validation"):
        rs.Ridge(alpha=[0.1, 1.0]).fit(X, Y)


@pytest.mark.parametrize("alpha", [-1.0, [0.1, -0.1], float("nan")])
def test_bad_alpha(rng, alpha):
    X, Y = linear_data(rng, 20, 3, 1)
    Xv, Yv = linear_data(rng, 10, 3, 1)
    with pytest.raises(ValueError, match="alpha"):
        rs.Ridge(alpha=alpha).fit(X, Y, validation=(Xv, Yv))


def test_empty_alpha_list(rng):
    X, Y = linear_data(rng, 20, 3, 1)
    with pytest.raises(ValueError, match="alpha"):
        rs.Ridge(alpha=[]).fit(X, Y)


def test_mismatched_sample_counts(rng):
    X, Y = linear_data(rng, 20, 3, 1)
    with pytest.raises(ValueError, match="20 != 19"):
        rs.Ridge().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="sequences"):
        rs.Ridge().fit([X[:10], X[10:]], [Y])
    with pytest.raises(ValueError, match="number of samples"):
        rs.Ridge().fit(X.reshape(2, 10, 3), Y[:18].reshape(2, 9, 1))


def test_mismatched_validation_features(rng):
    X, Y = linear_data(rng, 20, 3, 1)
    Xv, Yv = linear_data(rng, 10, 4, 1)
    with pytest.raises(ValueError, match="features"):
        rs.Ridge(alpha=[0.1, 1.0]).fit(X, Y, validation=(Xv, Yv))


@pytest.mark.parametrize("where", ["X", "Y", "Xv"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data(rng, where, bad):
    X, Y = linear_data(rng, 20, 3, 1)
    Xv, Yv = linear_data(rng, 10, 3, 1)
    {"X": X, "Y": Y, "Xv": Xv}[where][5, 0] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        rs.Ridge(alpha=[0.1, 1.0]).fit(X, Y, validation=(Xv, Yv))


def test_predict_before_fit():
    """scikit-learn's NotFittedError, as the estimators raise (it is a ValueError and an AttributeError)."""
    with pytest.raises(rs.NotFittedError, match="not fitted"):
        rs.Ridge().predict(np.zeros((3, 2)))


def test_wrong_feature_count_on_predict(rng):
    X, Y = linear_data(rng, 20, 3, 1)
    model = rs.Ridge().fit(X, Y)
    with pytest.raises(ValueError, match="X has 4 features, but Ridge is expecting 3"):
        model.predict(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="4 features, the readout was fitted on 3"):  # a batch of sequences
        model.predict(np.zeros((2, 5, 4)))


def test_more_features_than_samples_warns(rng):
    X, Y = linear_data(rng, 20, 30, 1)
    with pytest.warns(rs.ReservoirWarning, match="31 features but only 20 training samples.*larger alpha"):
        rs.Ridge().fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rs.Ridge().fit(X[:, :10], Y)  # 11 features, 20 samples: no warning


def test_rows_as_nested_lists_are_a_table(rng):
    """As in scikit-learn: a list of rows is a (samples, features) table, not a list of sequences."""
    X, Y = linear_data(rng, 40, 3, 1)
    from_lists = rs.Ridge(alpha=0.1).fit(X.tolist(), Y[:, 0].tolist())
    from_arrays = rs.Ridge(alpha=0.1).fit(X, Y[:, 0])
    assert_rel(from_lists.coef_, from_arrays.coef_)
    assert from_lists.predict(X).shape == (40,)


def test_one_dimensional_states_are_refused():
    with pytest.raises(ValueError, match="Reshape your data"):
        rs.Ridge().fit(np.arange(5.0), np.arange(5.0))


def test_four_dimensional_states(rng):
    with pytest.raises(ValueError, match="2-D"):
        rs.Ridge().fit(np.zeros((2, 2, 3, 4)), np.zeros((2, 2, 3, 1)))


def test_partial_fit_equals_one_fit(rng):
    X, Y = linear_data(rng, 500, 12, 2)
    whole = rs.Ridge(alpha=0.5).fit(X, Y)
    streamed = rs.Ridge(alpha=0.5)
    for start in range(0, 500, 137):
        streamed.partial_fit(X[start : start + 137], Y[start : start + 137])
    assert_rel(streamed.coef_, whole.coef_)
    assert_rel(streamed.intercept_, whole.intercept_)
    # fit, then more data: the same as one fit on everything
    more = rs.Ridge(alpha=0.5).fit(X[:300], Y[:300]).partial_fit(X[300:], Y[300:])
    assert_rel(more.coef_, whole.coef_)
    with pytest.raises(ValueError, match="single alpha"):
        rs.Ridge(alpha=[0.1, 1.0]).partial_fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        streamed.partial_fit(X[:, :5], Y)
