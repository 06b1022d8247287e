"""NVAR: features against hand-written windows and ReservoirPy 0.4.2, the compiled kernels
against the NumPy reference, the closed loop against a loop written here, bad arguments."""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pytest

from reservoir import ReservoirWarning
from reservoir.kernels import reference
from reservoir.kernels.cpu import nvar as cpu_nvar
from reservoir.models.nvar import NVAR


def window_features(u, t, delay, strides, orders, constant):
    """The features of step t written from the definition: [1] ⊕ lin ⊕ monomials of each order."""
    linear = [u[t - j * strides, i] for j in range(delay) for i in range(u.shape[1])]
    values = [1.0] if constant else []
    values += linear
    for p in orders:
        values += [
            np.prod([linear[i] for i in c]) for c in itertools.combinations_with_replacement(range(len(linear)), p)
        ]
    return np.array(values)


def test_features_of_two_inputs_delay_two_by_hand(rng):
    u = rng.standard_normal((6, 2))
    features = NVAR(delay=2, order=2).transform(u)
    assert features.shape == (5, 1 + 4 + 10)
    t = 3
    a, b, c, d = u[t, 0], u[t, 1], u[t - 1, 0], u[t - 1, 1]  # lin = [u0(t), u1(t), u0(t-1), u1(t-1)]
    quadratic = [a * a, a * b, a * c, a * d, b * b, b * c, b * d, c * c, c * d, d * d]
    np.testing.assert_allclose(features[t - 1], [1.0, a, b, c, d, *quadratic], rtol=1e-15)


@pytest.mark.parametrize(
    "delay, strides, order, monomials, constant",
    [(1, 1, 1, "up_to", True), (2, 1, 2, "up_to", True), (3, 2, 3, "up_to", False), (2, 3, 3, "exact", True)],
)
def test_features_follow_the_definition(rng, delay, strides, order, monomials, constant):
    u = rng.standard_normal((20, 2))
    model = NVAR(delay, order, strides, constant=constant, monomials=monomials)
    orders = [] if order < 2 else [order] if monomials == "exact" else list(range(2, order + 1))
    span = (delay - 1) * strides
    expected = np.array([window_features(u, t, delay, strides, orders, constant) for t in range(span, 20)])
    np.testing.assert_allclose(model.transform(u), expected, rtol=1e-13, atol=1e-15)
    assert model.n_features_for(2) == expected.shape[1]


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("orders", [(), (2,), (2, 3), (3,)])
def test_compiled_features_equal_the_reference(rng, dtype, tol, orders):
    u = rng.standard_normal((3, 25, 2)).astype(dtype)
    n_linear = 3 * 2
    n_features = (
        1 + n_linear + sum(len(list(itertools.combinations_with_replacement(range(n_linear), p))) for p in orders)
    )
    ours, oracle = (np.empty((3, 25 - 4, n_features), dtype=dtype) for _ in range(2))
    cpu_nvar.nvar_features(u, 3, 2, orders, True, ours)
    reference.nvar_features(u, 3, 2, orders, True, oracle)
    np.testing.assert_allclose(ours, oracle, rtol=tol, atol=tol)


@pytest.mark.parametrize("increment", [True, False])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-11), (np.float32, 1e-4)])
def test_compiled_closed_loop_equals_the_reference(rng, increment, dtype, tol):
    delay, strides, orders = 2, 2, (2,)
    n_features = 1 + 4 + 10
    window = rng.uniform(-0.5, 0.5, (2, 3, 2)).astype(dtype)
    coef = 0.05 * rng.standard_normal((2, n_features))
    if increment:  # a contraction towards zero, so that the loop stays bounded
        coef[:, 1:3] -= 0.3 * np.eye(2)
    intercept = 0.01 * rng.standard_normal(2)
    outs = []
    for kernels in (cpu_nvar, reference):
        w = window.copy()
        out = np.empty((2, 30, 2), dtype=dtype)
        kernels.nvar_forecast(w, coef, intercept, delay, strides, orders, True, increment, out)
        outs.append((out, w))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=tol, atol=tol)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=tol, atol=tol)
    # The loop written out: each prediction is the next input.
    history = list(window[1].astype(np.float64))
    for _ in range(30):
        x = np.array(history[-3:])
        features = window_features(x, 2, delay, strides, orders, True)
        y = coef @ features + intercept
        history.append(history[-1] + y if increment else y)
    np.testing.assert_allclose(outs[1][0][1], np.array(history[3:]), rtol=100 * tol, atol=100 * tol)
    np.testing.assert_allclose(outs[1][1][1], np.array(history[-3:]), rtol=100 * tol, atol=100 * tol)


def lorenz_like(rng, n=500):
    """A smooth 3-D series of moderate scale (well-conditioned features)."""
    t = np.arange(n) * 0.05
    return np.stack([np.sin(t), np.cos(1.3 * t + 0.2), 0.5 * np.sin(0.7 * t) * np.cos(0.3 * t)], axis=1)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_fit_is_a_ridge_of_features_on_increments(rng, backend):
    X = lorenz_like(rng)
    model = NVAR(delay=2, order=2, alpha=1e-4, backend=backend).fit(X, warmup=10)
    F = model.transform(X)[10:-1]  # features of steps 11 .. T-2
    D = X[12:] - X[11:-1]
    coef = np.linalg.solve(F.T @ F + 1e-4 * np.eye(F.shape[1]), F.T @ D).T  # penalised constant, no intercept
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(model.intercept_, np.zeros(3))
    np.testing.assert_array_equal(model.last_window_[0], X[-2:])
    # One step ahead: x[t] + increment.
    np.testing.assert_allclose(model.predict(X)[5], X[6] + coef @ model.transform(X)[5], rtol=1e-10)


def test_forecast_continues_the_fit_and_equals_a_loop(rng):
    X = lorenz_like(rng, 400)
    model = NVAR(delay=3, order=2, strides=2, alpha=1e-5).fit(X[:300])
    forecast = model.forecast(40)
    history = list(X[:300])
    for _ in range(40):
        y = model.coef_ @ window_features(np.array(history), len(history) - 1, 3, 2, (2,), True) + model.intercept_
        history.append(history[-1] + y)
    np.testing.assert_allclose(forecast, np.array(history[300:]), rtol=1e-9, atol=1e-10)
    assert np.abs(forecast[:10] - X[300:310]).max() < 5e-3  # the model has learnt the series
    # A second call continues from where the first stopped; an explicit history restarts.
    np.testing.assert_allclose(
        np.concatenate([model.forecast(20, history=X[:300]), model.forecast(20)]), forecast, rtol=1e-12
    )


def test_target_next_and_explicit_targets(rng):
    X = lorenz_like(rng, 300)
    nxt = NVAR(target="next", alpha=1e-6).fit(X)
    np.testing.assert_allclose(nxt.predict(X)[:-1], X[2:], atol=1e-3)
    y = X[:, :1] * X[:, 1:2] + 0.5 * X[:, 2:] - 0.25  # in the span of the order-2 features
    model = NVAR(delay=1, order=2, alpha=1e-12).fit(X, y)
    assert not model.forecasting_
    np.testing.assert_allclose(model.predict(X), y, atol=1e-8)
    with pytest.raises(ValueError, match="fit.X. without y"):
        model.forecast(3)


def test_batches_fit_on_every_sequence(rng):
    X = lorenz_like(rng, 450)
    batch = np.stack([X[:150], X[150:300], X[300:]])
    model = NVAR(alpha=1e-2).fit(batch)
    F = model.transform(batch)[:, :-1].reshape(-1, 28)
    D = np.diff(batch, axis=1)[:, 1:].reshape(-1, 3)
    coef = np.linalg.solve(F.T @ F + 1e-2 * np.eye(28), F.T @ D).T
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-7, atol=1e-9)
    out = model.forecast(5)
    assert out.shape == (3, 5, 3)
    for b in range(3):
        np.testing.assert_allclose(out[b], model.forecast(5, history=batch[b]), rtol=1e-12)


def test_float32(rng):
    X = lorenz_like(rng, 300)
    f64 = NVAR(alpha=1e-4).fit(X)
    f32 = NVAR(alpha=1e-4, dtype="float32").fit(X.astype(np.float32))
    assert f32.transform(X).dtype == np.float32 and f32.forecast(5).dtype == np.float32
    np.testing.assert_allclose(f32.forecast(10, history=X), f64.forecast(10, history=X), rtol=1e-3, atol=1e-4)


def test_params_are_plain_values_and_rebuild_the_model(rng):
    model = NVAR(delay=3, order=3, strides=2, constant=False, monomials="exact", alpha=1e-3, target="next")
    config = json.loads(json.dumps(model.config()))
    assert config.pop("model") == "NVAR"
    rebuilt = NVAR(**config)
    X = lorenz_like(rng, 200)
    np.testing.assert_array_equal(rebuilt.fit(X).coef_, model.fit(X).coef_)
    names = model.feature_names()
    assert len(names) == model.coef_.shape[1] and names[0] == "u0(t)" and names[3] == "u0(t-2)"
    assert "u0(t)*u0(t)*u0(t)" in names and "1" not in names


def test_scikit_learn_clone_and_set_params(rng):
    from sklearn.base import clone

    model = NVAR(delay=np.int64(3), alpha=1, dtype=np.float32)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert json.loads(json.dumps(model.config()))["dtype"] == "float32"
    X = lorenz_like(rng, 400)
    copy.set_params(order=3).fit(X)
    assert copy.coef_.shape[1] == NVAR(delay=3, order=3).n_features_for(3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"order": 0}, "order"),
        ({"order": -1}, "order"),
        ({"delay": 0}, "delay"),
        ({"strides": 0}, "strides"),
        ({"order": 1.5}, "order"),
        ({"alpha": -1.0}, "alpha"),
        ({"target": "delta"}, "target"),
        ({"monomials": "all"}, "monomials"),
        ({"backend": "cupy"}, "backend"),
        ({"backend": "numba-cuda"}, "backend"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=match):
        NVAR(**kwargs)


def test_bad_inputs(rng):
    X = lorenz_like(rng, 50)
    with pytest.raises(ValueError, match="delay=4 .*strides=3"):
        NVAR(delay=4, strides=3).fit(X[:9])
    with pytest.raises(ValueError, match="warmup"):
        NVAR().fit(X[:10], warmup=9)
    bad = X.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN at time step 7"):
        NVAR().fit(bad)
    model = NVAR().fit(X)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="history contains NaN"):
        model.forecast(3, history=bad)
    with pytest.raises(ValueError, match="history has 2 features"):
        model.forecast(3, history=X[:, :2])
    with pytest.raises(ValueError, match="n_steps"):
        model.forecast(0)
    np.testing.assert_array_equal(model.coef_, coef)  # nothing trained was lost
    with pytest.raises(ValueError, match="not fitted"):
        NVAR().forecast(3)


def test_a_diverging_loop_warns():
    model = NVAR(delay=1, order=2, alpha=0.0, target="next")
    model.fit(np.linspace(1.0, 2.0, 20) ** 2)
    model.coef_ = np.array([[0.0, 0.0, 3.0]])  # u[t+1] = 3 u[t]^2 blows up
    with pytest.warns(ReservoirWarning, match="diverged at step"):
        model.forecast(50, history=np.array([2.0]))


def test_lorenz_in_the_papers_setup_forecasts_for_lyapunov_times():
    """Gauthier et al. (2021): dt 0.025, 400 training points after 200, k=2, s=1, order 2, ridge 2.5e-6."""
    from reservoir.datasets import lorenz

    x0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)
    series = lorenz(1001, dt=0.025, x0=x0, method="RK23")
    model = NVAR(2, 2, 1, alpha=2.5e-6).fit(series[:601], warmup=199)
    assert model.coef_.shape == (3, 28)
    error = np.linalg.norm(model.forecast(400) - series[601:], axis=1) / np.sqrt(series.var(axis=0).sum())
    one_lyapunov = round(1 / 0.9056 / 0.025)
    assert np.sqrt(np.mean(error[:one_lyapunov] ** 2)) < 1e-2
    assert np.argmax(error > 0.4) * 0.025 * 0.9056 > 3  # valid for more than 3 Lyapunov times


# --------------------------------------------------------------------------- ReservoirPy 0.4.2
rpy_nodes = pytest.importorskip("reservoirpy.nodes")


@pytest.mark.parametrize("delay, order, strides", [(2, 2, 1), (3, 3, 2), (1, 2, 1), (2, 4, 3)])
def test_features_equal_reservoirpy(rng, delay, order, strides):
    u = rng.standard_normal((40, 3))
    ours = NVAR(delay, order, strides, constant=False, monomials="exact").transform(u)
    theirs = np.asarray(rpy_nodes.NVAR(delay=delay, order=order, strides=strides).run(u))
    span = (delay - 1) * strides  # ReservoirPy fills the first rows with a zero history
    np.testing.assert_allclose(ours, theirs[span:], rtol=1e-12, atol=1e-12)


def test_order_one_is_linear_where_reservoirpy_repeats_it(rng):
    u = rng.standard_normal((10, 2))
    ours = NVAR(2, 1, constant=False, monomials="exact").transform(u)
    theirs = np.asarray(rpy_nodes.NVAR(delay=2, order=1).run(u))[1:]
    np.testing.assert_allclose(np.hstack([ours, ours]), theirs, rtol=1e-12)  # its monomials of order 1 are lin


def test_fit_and_closed_loop_equal_reservoirpy(rng):
    X = lorenz_like(rng, 400)
    nvar, ridge = rpy_nodes.NVAR(delay=2, order=2, strides=1), rpy_nodes.Ridge(ridge=1e-3)
    network = nvar >> ridge
    network.fit(X[:300], X[1:301] - X[:300], warmup=50)
    u, theirs = X[300], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(30):
            u = u + np.ravel(network(u))
            theirs.append(u)
    model = NVAR(2, 2, 1, constant=False, monomials="exact", alpha=1e-3).fit(X[:301], warmup=49)
    np.testing.assert_allclose(model.coef_, np.asarray(ridge.Wout).T, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, np.ravel(ridge.bias), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(model.forecast(30), np.array(theirs), rtol=1e-9, atol=1e-9)


def test_closed_loop_with_reservoirpys_readout_equals_its_loop_on_lorenz():
    """On the paper's Lorenz data the ridge system is ill-conditioned (about 1e14), so the two
    solvers' readouts differ by rounding; given ReservoirPy's readout, the closed loops agree."""
    from reservoir.datasets import lorenz

    x0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)
    X = lorenz(700, dt=0.025, x0=x0, method="RK23")
    nvar, ridge = rpy_nodes.NVAR(delay=2, order=2, strides=1), rpy_nodes.Ridge(ridge=2.5e-6)
    network = nvar >> ridge
    network.fit(X[:600], X[1:601] - X[:600], warmup=200)
    u, theirs = X[600], []
    for _ in range(44):  # one Lyapunov time
        u = u + np.ravel(network(u))
        theirs.append(u)
    model = NVAR(2, 2, 1, constant=False, monomials="exact", alpha=2.5e-6).fit(X[:601], warmup=199)
    np.testing.assert_allclose(model.forecast(44), np.array(theirs), rtol=1e-3, atol=1e-3)  # rounding apart
    model.coef_, model.intercept_ = np.asarray(ridge.Wout).T.copy(), np.ravel(ridge.bias).copy()
    np.testing.assert_allclose(model.forecast(44, history=X[:601]), np.array(theirs), rtol=1e-9, atol=1e-9)
