"""Chaotic maps, flows, Kuramoto-Sivashinsky, MSO and forecasting pairs: closed-form recursions,
physical invariants, an independent fixed-step integrator, and ReservoirPy 0.4.2 where it has
the same data set."""

from __future__ import annotations

import numpy as np
import pytest

from reservoir.datasets import (
    doublescroll,
    henon_map,
    kuramoto_sivashinsky,
    logistic_map,
    lorenz,
    lorenz96,
    mso,
    multiscroll,
    rossler,
    to_forecasting,
)


def rk4(derivative, x0, dt, n, substeps=20):
    """Classic Runge-Kutta with `substeps` steps per sample: an integrator independent of SciPy's."""
    h = dt / substeps
    x = np.array(x0, dtype=float)
    out = [x.copy()]
    for _ in range(n - 1):
        for _ in range(substeps):
            k1 = derivative(x)
            k2 = derivative(x + 0.5 * h * k1)
            k3 = derivative(x + 0.5 * h * k2)
            k4 = derivative(x + h * k3)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(x.copy())
    return np.array(out)


# --------------------------------------------------------------------------- maps
def test_henon_follows_its_recursion():
    series = henon_map(300, a=1.4, b=0.3, x0=(0.1, -0.2))
    assert series.shape == (300, 2)
    np.testing.assert_array_equal(series[0], [0.1, -0.2])
    np.testing.assert_allclose(series[1:, 0], 1 - 1.4 * series[:-1, 0] ** 2 + series[:-1, 1], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(series[1:, 1], 0.3 * series[:-1, 0], rtol=1e-15)
    # It stays on the bounded attractor.
    assert np.abs(series[:, 0]).max() < 1.5


def test_logistic_follows_its_recursion_and_its_closed_form_at_r4():
    series = logistic_map(200, r=3.9, x0=0.3)[:, 0]
    np.testing.assert_allclose(series[1:], 3.9 * series[:-1] * (1 - series[:-1]), rtol=1e-15)
    # r = 4: x[n] = sin²(2ⁿ θ) with x0 = sin²(θ) (exact while rounding has not grown, ~2ⁿ ε).
    theta = 0.3
    exact = np.sin(2.0 ** np.arange(20) * theta) ** 2
    np.testing.assert_allclose(logistic_map(20, r=4.0, x0=np.sin(theta) ** 2)[:, 0], exact, atol=1e-8)


def test_maps_equal_reservoirpy():
    datasets = pytest.importorskip("reservoirpy.datasets")
    np.testing.assert_allclose(henon_map(500), datasets.henon_map(500), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(logistic_map(500, r=3.7, x0=0.2), datasets.logistic_map(500, r=3.7, x0=0.2), rtol=0)


# --------------------------------------------------------------------------- flows
def lorenz96_derivative(F):
    def derivative(x):
        N = len(x)
        return np.array([(x[(i + 1) % N] - x[i - 2]) * x[i - 1] - x[i] + F for i in range(N)])

    return derivative


def test_lorenz96_constant_state_is_a_fixed_point():
    series = lorenz96(50, N=10, F=8.0, x0=np.full(10, 8.0))
    np.testing.assert_allclose(series, 8.0, rtol=1e-12)


def test_lorenz96_equals_a_fixed_step_integration():
    # From a generic state: near the fixed point the default start's error grows with the perturbation.
    x0 = 8.0 + np.random.default_rng(0).standard_normal(6)
    ours = lorenz96(20, N=6, dt=0.05, x0=x0)
    np.testing.assert_allclose(ours, rk4(lorenz96_derivative(8.0), x0, 0.05, 20, substeps=100), rtol=1e-7, atol=1e-7)


def test_lorenz96_warmup_and_seed():
    full = lorenz96(30, N=5, dt=0.1)
    np.testing.assert_allclose(lorenz96(20, warmup=10, N=5, dt=0.1), full[10:], rtol=1e-6, atol=1e-6)
    a, b = lorenz96(5, N=8, seed=1), lorenz96(5, N=8, seed=2)
    np.testing.assert_array_equal(a, lorenz96(5, N=8, seed=1))
    assert not np.allclose(a[0], b[0])


@pytest.mark.parametrize(
    "make, derivative, x0, dt",
    [
        (
            rossler,
            lambda s: np.array([-s[1] - s[2], s[0] + 0.2 * s[1], 0.2 + s[2] * (s[0] - 5.7)]),
            (-0.1, 0, 0.02),
            0.1,
        ),
        (
            multiscroll,
            lambda s: np.array([40 * (s[1] - s[0]), -12 * s[0] - s[0] * s[2] + 28 * s[1], s[0] * s[1] - 3 * s[2]]),
            (-0.1, 0.5, -0.6),
            0.01,
        ),
    ],
)
def test_flows_equal_a_fixed_step_integration(make, derivative, x0, dt):
    np.testing.assert_allclose(make(60), rk4(derivative, x0, dt, 60, substeps=60), rtol=1e-8, atol=1e-8)


def test_doublescroll_equals_a_fixed_step_integration():
    def derivative(s):
        dv = s[0] - s[1]
        through = dv / 3.44 + 4.5e-5 * np.sinh(11.6 * dv)
        return np.array([s[0] / 1.2 - through, through - s[2], s[1] - 0.193 * s[2]])

    x0 = (0.37926545, 0.058339, -0.08167691)
    np.testing.assert_allclose(doublescroll(40), rk4(derivative, x0, 0.25, 40, substeps=50), rtol=1e-7, atol=1e-8)


def test_lorenz_by_solver_equals_the_rk4_series():
    x0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)
    by_solver = lorenz(80, dt=0.025, x0=x0, method="DOP853", rtol=1e-11, atol=1e-11)
    by_rk4 = lorenz(80 * 20, dt=0.025 / 20, x0=x0)[::20]
    np.testing.assert_allclose(by_solver, by_rk4, rtol=1e-7, atol=1e-7)
    with pytest.raises(TypeError, match="solve_ivp method"):
        lorenz(10, rtol=1e-3)


SAME_SOLVER = {"method": "RK45", "rtol": 1e-9, "atol": 1e-9}


@pytest.mark.parametrize(
    "ours, name, kwargs",
    [
        (rossler, "rossler", {}),
        (multiscroll, "multiscroll", {}),
        (doublescroll, "doublescroll", {}),
    ],
)
def test_flows_equal_reservoirpy_on_the_same_time_grid(ours, name, kwargs):
    """ReservoirPy samples n points over n·h: its h = dt (n-1)/n gives our grid; same solver, same steps."""
    datasets = pytest.importorskip("reservoirpy.datasets")
    n, dt = 200, {"rossler": 0.1, "multiscroll": 0.01, "doublescroll": 0.25}[name]
    theirs = getattr(datasets, name)(n, h=dt * (n - 1) / n, **SAME_SOLVER)
    np.testing.assert_allclose(ours(n, dt=dt, **SAME_SOLVER), theirs, rtol=1e-9, atol=1e-9)


def test_lorenz_by_solver_equals_reservoirpy_on_the_same_time_grid():
    datasets = pytest.importorskip("reservoirpy.datasets")
    n, dt, x0 = 200, 0.025, [17.677, 12.931, 43.914]
    theirs = datasets.lorenz(n, x0=x0, h=dt * (n - 1) / n, **SAME_SOLVER)
    np.testing.assert_allclose(lorenz(n, dt=dt, x0=x0, **SAME_SOLVER), theirs, rtol=1e-9, atol=1e-9)


def test_lorenz96_equals_reservoirpy_on_the_same_time_grid():
    """ReservoirPy's lorenz96 samples n points over (n·h)·h; h = sqrt(dt (n-1)/n) gives our grid."""
    datasets = pytest.importorskip("reservoirpy.datasets")
    n, dt = 100, 0.05
    theirs = datasets.lorenz96(n, N=8, h=np.sqrt(dt * (n - 1) / n), **SAME_SOLVER)
    np.testing.assert_allclose(lorenz96(n, N=8, dt=dt, **SAME_SOLVER), theirs, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- Kuramoto-Sivashinsky
def test_ks_conserves_its_mean_and_stays_bounded():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(64)
    x0 -= x0.mean() - 0.3
    series = kuramoto_sivashinsky(400, N=64, x0=x0)
    np.testing.assert_allclose(series.mean(axis=1), 0.3, atol=1e-12)
    assert np.abs(series).max() < 10  # the chaotic KS field is bounded (|u| ~ 3 on 32π)
    assert series[-50:].std() > 0.5  # and it does not decay


def test_ks_linear_regime_decays_as_its_modes():
    """A small single mode on a short domain decays at the linear rate exp((k² - k⁴) t)."""
    N, length = 32, 2 * np.pi  # k = 1: k² - k⁴ = 0; use mode 2: rate 4 - 16 = -12
    x = length * np.arange(1, N + 1) / N
    series = kuramoto_sivashinsky(9, N=N, length=length, x0=1e-8 * np.cos(2 * x), dt=0.05)
    np.testing.assert_allclose(series[8], 1e-8 * np.exp(-12 * 0.4) * np.cos(2 * x), rtol=1e-6, atol=1e-20)


def test_ks_equals_reservoirpy():
    datasets = pytest.importorskip("reservoirpy.datasets")
    theirs = datasets.kuramoto_sivashinsky(120, warmup=20, N=64, M=16, h=0.25)
    ours = kuramoto_sivashinsky(100, warmup=20, N=64, length=32 * np.pi, contour_points=16)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- MSO, pairs
def test_mso_is_a_sum_of_sines():
    t = np.arange(500)
    raw = np.sin(0.2 * t) + np.sin(0.311 * t)
    np.testing.assert_allclose(mso(500, normalize=False)[:, 0], raw, rtol=1e-13, atol=1e-13)
    scaled = mso(500)[:, 0]
    assert scaled.min() == pytest.approx(-1) and scaled.max() == pytest.approx(1)
    np.testing.assert_allclose(scaled, (2 * raw - raw.min() - raw.max()) / (raw.max() - raw.min()), rtol=1e-13)
    assert mso(10, frequencies=[0.5]).shape == (10, 1)


def test_mso_equals_reservoirpy():
    datasets = pytest.importorskip("reservoirpy.datasets")
    np.testing.assert_allclose(mso(300, 8), datasets.mso8(300), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mso(300, [0.1, 0.7]), datasets.mso(300, freqs=[0.1, 0.7]), rtol=1e-12, atol=1e-12)


def test_to_forecasting_pairs_and_split():
    series = np.arange(20.0).reshape(10, 2)
    X, y = to_forecasting(series, forecast=3)
    np.testing.assert_array_equal(X, series[:7])
    np.testing.assert_array_equal(y, series[3:])
    X_train, X_test, y_train, y_test = to_forecasting(series, forecast=2, test_size=3)
    np.testing.assert_array_equal(X_test, series[5:8])
    np.testing.assert_array_equal(y_test, series[7:])
    np.testing.assert_array_equal(X_train, series[:5])
    np.testing.assert_array_equal(y_train, series[2:7])
    batch = np.stack([series, -series])
    Xb, yb = to_forecasting(batch, forecast=1)
    np.testing.assert_array_equal(yb[1], -series[1:])
    listed = to_forecasting([series, series[:6]], forecast=1)
    assert [a.shape for a in listed[0]] == [(9, 2), (5, 2)]


def test_to_forecasting_equals_reservoirpy():
    datasets = pytest.importorskip("reservoirpy.datasets")
    series = np.sin(np.arange(300.0) / 7).reshape(-1, 1)
    for ours, theirs in zip(
        to_forecasting(series, forecast=10, test_size=0.2), datasets.to_forecasting(series, forecast=10, test_size=0.2)
    ):
        np.testing.assert_array_equal(ours, theirs)


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: henon_map(0), "n_steps"),
        (lambda: henon_map(5, x0=(1.0,)), "x0"),
        (lambda: henon_map(200, a=3.0, x0=(2.0, 2.0)), "infinity"),
        (lambda: logistic_map(5, r=4.5), "r must"),
        (lambda: logistic_map(5, x0=1.5), "x0"),
        (lambda: rossler(5, dt=0), "dt"),
        (lambda: rossler(5, x0=(0.0, np.nan, 0.0)), "x0"),
        (lambda: rossler(5, warmup=-1), "warmup"),
        (lambda: lorenz96(5, N=3), "N must"),
        (lambda: lorenz96(5, N=6, x0=np.ones(5)), "x0"),
        (lambda: doublescroll(5, r2=0), "r2"),
        (lambda: multiscroll(5, a=np.inf), "a must be finite"),
        (lambda: kuramoto_sivashinsky(5, N=63), "N must"),
        (lambda: kuramoto_sivashinsky(5, N=8, x0=np.ones(7)), "x0"),
        (lambda: kuramoto_sivashinsky(5, dt=-1.0), "dt"),
        (lambda: mso(5, frequencies=9), "frequencies"),
        (lambda: mso(5, frequencies=[]), "frequencies"),
        (lambda: to_forecasting(np.ones(5), forecast=5), "forecast"),
        (lambda: to_forecasting(np.ones(5), forecast=0), "forecast"),
        (lambda: to_forecasting(np.ones(10), test_size=1.5), "test_size"),
        (lambda: to_forecasting(np.ones(10), test_size=9), "test_size"),
    ],
)
def test_bad_arguments_name_themselves(call, match):
    with pytest.raises((ValueError, TypeError, ArithmeticError), match=match):
        call()
