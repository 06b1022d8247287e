"""RLS, LMS and the online ESN with output feedback against ReservoirPy 0.4.2 (float64, <= 1e-9)."""

import numpy as np
import pytest
import scipy.sparse as sp

from reservoir.models import OnlineESN
from reservoir.readouts import LMS, RLS

rpy_nodes = pytest.importorskip("reservoirpy.nodes")
reservoirpy = pytest.importorskip("reservoirpy")


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300))


def _stream(rng, T=400, n_features=30, n_targets=2):
    X = np.tanh(rng.standard_normal((T, n_features)))
    Y = X[:, :n_targets] ** 2 + np.sin(np.arange(T) / 7)[:, None] + 0.1 * rng.standard_normal((T, n_targets))
    return X, Y


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(
    ("alpha", "forgetting", "fit_intercept"), [(1e-3, 1.0, True), (0.5, 0.99, True), (1.0, 0.999, False)]
)
def test_rls_weights_equal_reservoirpy(rng, backend, alpha, forgetting, fit_intercept):
    X, Y = _stream(rng)
    node = rpy_nodes.RLS(alpha=alpha, forgetting=forgetting, fit_bias=fit_intercept)
    ours = RLS(alpha=alpha, forgetting=forgetting, fit_intercept=fit_intercept, backend=backend)
    for a, b in ((0, 150), (150, 400)):  # in two pieces: the state carried over on both sides
        expected = node.partial_fit(X[a:b], Y[a:b])
        np.testing.assert_allclose(ours.partial_fit_predict(X[a:b], Y[a:b]), expected, rtol=0, atol=1e-9)
    assert _rel(ours.coef_.T, node.Wout) <= 1e-9
    assert _rel(ours.P_, node.P) <= 1e-9
    np.testing.assert_allclose(ours.intercept_, np.ravel(node.bias), rtol=1e-9, atol=1e-12)
    assert ours.count_ == pytest.approx(node.S, rel=1e-12)


def test_rls_default_alpha_equals_reservoirpy_on_the_reference(rng):
    # alpha = 1e-6 (ReservoirPy's default): P starts at 1e6 I and its first updates cancel
    # about 7 digits, so two correct float64 implementations that sum in another order differ
    # by ~1e-9 (ReservoirPy itself is ~1e-9 from an 80-bit run). The NumPy reference performs
    # ReservoirPy's operations in its order and matches it to rounding; the compiled loop to 1e-7.
    X, Y = _stream(rng)
    node = rpy_nodes.RLS()
    node.partial_fit(X, Y)
    assert _rel(RLS(backend="numpy").fit(X, Y).coef_.T, node.Wout) <= 1e-12
    assert _rel(RLS(backend="numba").fit(X, Y).coef_.T, node.Wout) <= 1e-7


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lms_weights_equal_reservoirpy(rng, backend, fit_intercept):
    X, Y = _stream(rng)
    node = rpy_nodes.LMS(learning_rate=0.02, fit_bias=fit_intercept)
    expected = node.partial_fit(X, Y)
    ours = LMS(learning_rate=0.02, fit_intercept=fit_intercept, backend=backend)
    np.testing.assert_allclose(ours.partial_fit_predict(X, Y), expected, rtol=0, atol=1e-9)
    assert _rel(ours.coef_.T, node.Wout) <= 1e-9
    np.testing.assert_allclose(ours.intercept_, np.ravel(node.bias), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("rule", ["rls", "lms"])
def test_online_esn_with_feedback_equals_reservoirpy(rng, backend, rule):
    # ReservoirPy: Reservoir >> RLS with the readout fed back (ESN(feedback=True)); the
    # fed-back output enters through extra input columns, W_in = [W_in | W_fb].
    n, n_in, n_out, T = 60, 2, 1, 400
    W = sp.random(n, n, density=0.1, random_state=1, data_rvs=rng.standard_normal).toarray()
    W *= 0.9 / np.max(np.abs(np.linalg.eigvals(W)))
    W_in, W_fb = rng.uniform(-1, 1, (n, n_in)), rng.uniform(-1, 1, (n, n_out))
    bias = rng.uniform(-0.2, 0.2, n)
    u, y = rng.uniform(-1, 1, (T, n_in)), np.sin(np.arange(T) * 0.2)[:, None]
    reservoir = rpy_nodes.Reservoir(W=W, Win=np.hstack([W_in, W_fb]), bias=bias, lr=0.3)
    readout = rpy_nodes.RLS(alpha=0.5, forgetting=0.999) if rule == "rls" else rpy_nodes.LMS(learning_rate=0.01)
    model = reservoirpy.ESN(reservoir=reservoir, readout=readout, feedback=True)
    expected = np.vstack([model.partial_fit(u[:250], y[:250]), model.partial_fit(u[250:], y[250:])])
    ours = OnlineESN.from_weights(
        W, W_in, bias, W_fb, leak_rate=0.3, rule=rule, alpha=0.5, forgetting=0.999, learning_rate=0.01, backend=backend
    )
    outputs = np.vstack([ours.train(u[:250], y[:250], restart=True), ours.train(u[250:], y[250:])])
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=1e-9)
    assert _rel(ours.readout_.coef_.T, readout.Wout) <= 1e-9
    np.testing.assert_allclose(ours.state_[0], reservoir.state["out"], rtol=0, atol=1e-9)
