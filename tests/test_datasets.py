"""Benchmark series against hand-written integrations and recurrences; loaders and metrics."""

from __future__ import annotations

import numpy as np
import pytest

import reservoir as rs
from reservoir.datasets import load_series, lorenz, mackey_glass, narma


# --------------------------------------------------------------------------- NARMA
def narma_by_hand(u, order=10):
    """Y(t+1) = 0.3 Y(t) + 0.05 Y(t) sum_{i=0}^{order-1} Y(t-i) + 1.5 u(t-order+1) u(t) + 0.1, zeros before start."""
    T = len(u)

    def Y_at(Y, t):
        return Y[t] if t >= 0 else 0.0

    def u_at(t):
        return u[t] if t >= 0 else 0.0

    Y = {}
    Y[0] = 0.0
    for t in range(T):
        Y[t + 1] = (
            0.3 * Y_at(Y, t)
            + 0.05 * Y_at(Y, t) * sum(Y_at(Y, t - i) for i in range(order))
            + 1.5 * u_at(t - order + 1) * u_at(t)
            + 0.1
        )
    return np.array([Y[t + 1] for t in range(T)])


@pytest.mark.parametrize("order", [10, 5, 1])
def test_narma_follows_its_recurrence(order):
    u, y = narma(500, order=order, seed=3)
    assert u.shape == (500, 1) and y.shape == (500, 1)
    assert u.dtype == np.float64 and y.dtype == np.float64
    np.testing.assert_allclose(y[:, 0], narma_by_hand(u[:, 0], order), rtol=1e-12, atol=1e-14)


def test_narma_default_order_is_ten():
    u, y = narma(300, seed=1)
    np.testing.assert_allclose(y[:, 0], narma_by_hand(u[:, 0], 10), rtol=1e-12, atol=1e-14)
    # The first target before any lagged input exists is 0.1 (everything before t = 0 is zero).
    assert y[0, 0] == pytest.approx(0.1)


def test_narma_inputs_are_uniform_in_zero_half():
    u, _ = narma(5000, seed=2)
    assert u.min() >= 0.0 and u.max() <= 0.5
    assert u.mean() == pytest.approx(0.25, abs=5 * np.sqrt(1 / 48 / 5000))
    assert u.std() == pytest.approx(0.5 / np.sqrt(12), rel=0.05)


def test_narma_is_deterministic_by_seed():
    a, b, c = narma(200, seed=7), narma(200, seed=7), narma(200, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_narma_bad_length(n):
    with pytest.raises(ValueError, match="n_steps"):
        narma(n)


# --------------------------------------------------------------------------- Mackey-Glass
def mackey_glass_euler(n, tau=17, dt=0.001, beta=0.2, gamma=0.1, exponent=10, history=1.2):
    """Forward Euler with a fine step, constant history; samples at t = 0, 1, ..., n-1."""
    per_sample = int(round(1 / dt))
    delay = int(round(tau / dt))
    x = np.empty(delay + 1 + n * per_sample)
    x[: delay + 1] = history
    for i in range(delay, delay + n * per_sample):
        lagged = x[i - delay]
        x[i + 1] = x[i] + dt * (beta * lagged / (1 + lagged**exponent) - gamma * x[i])
    return x[delay : delay + n * per_sample : per_sample]


def test_mackey_glass_agrees_with_a_fine_euler_integration():
    series = mackey_glass(300)
    assert series.shape == (300, 1)
    assert series.dtype == np.float64
    assert series[0, 0] == pytest.approx(1.2)  # starts from the constant history
    np.testing.assert_allclose(series[:, 0], mackey_glass_euler(300), atol=5e-3)


@pytest.mark.parametrize("seed", [None, 0, 1])
def test_mackey_glass_is_bounded(seed):
    series = mackey_glass(3000, seed=seed)
    assert np.all(series > 0) and np.all(series < 1.5)
    assert series[500:].std() > 0.1  # chaotic, not settled onto a fixed point


def test_mackey_glass_is_deterministic():
    np.testing.assert_array_equal(mackey_glass(400), mackey_glass(400))
    np.testing.assert_array_equal(mackey_glass(400, seed=3), mackey_glass(400, seed=3))
    assert not np.array_equal(mackey_glass(400, seed=3), mackey_glass(400, seed=4))
    # A longer series starts with the shorter one.
    np.testing.assert_array_equal(mackey_glass(500)[:400], mackey_glass(400))


def test_mackey_glass_other_delay_matches_euler():
    series = mackey_glass(150, tau=6)
    np.testing.assert_allclose(series[:, 0], mackey_glass_euler(150, tau=6), atol=5e-3)


@pytest.mark.parametrize(
    "kwargs", [dict(n_steps=0), dict(n_steps=10, tau=0), dict(n_steps=10, tau=-3), dict(n_steps=10, tau=0.01)]
)
def test_mackey_glass_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="n_steps|tau"):
        mackey_glass(**kwargs)


# --------------------------------------------------------------------------- Lorenz
def lorenz_derivative(s, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    x, y, z = s
    return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])


def lorenz_fine(n, dt, substeps=20):
    """RK4 with dt / substeps, sampled every dt, from (1, 1, 1)."""
    h = dt / substeps
    state = np.ones(3)
    out = np.empty((n, 3))
    for t in range(n):
        out[t] = state
        for _ in range(substeps):
            k1 = lorenz_derivative(state)
            k2 = lorenz_derivative(state + 0.5 * h * k1)
            k3 = lorenz_derivative(state + 0.5 * h * k2)
            k4 = lorenz_derivative(state + h * k3)
            state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return out


@pytest.mark.parametrize("dt", [0.005, 0.01])
def test_lorenz_agrees_with_a_finer_integration(dt):
    series = lorenz(150, dt=dt)
    assert series.shape == (150, 3)
    np.testing.assert_array_equal(series[0], [1.0, 1.0, 1.0])
    # Up to 1.5 time units: small next to the attractor's size (~20).
    np.testing.assert_allclose(series, lorenz_fine(150, dt), rtol=0, atol=5e-3)


def test_lorenz_error_shrinks_at_fourth_order():
    """Halving dt divides the error against a fine integration by ~2**4 (classic RK4)."""
    horizon = 1.0
    errors = []
    for dt in (0.02, 0.01):
        n = int(round(horizon / dt)) + 1
        errors.append(np.abs(lorenz(n, dt=dt) - lorenz_fine(n, dt, substeps=40)).max())
    assert 12 < errors[0] / errors[1] < 20


def test_lorenz_stays_on_the_attractor():
    series = lorenz(5000, dt=0.01)
    after = series[1000:]
    assert np.all(np.abs(after[:, 0]) < 30)
    assert np.all(np.abs(after[:, 1]) < 40)
    assert np.all((after[:, 2] > 0) & (after[:, 2] < 60))
    # Visits both wings.
    assert after[:, 0].min() < -5 and after[:, 0].max() > 5


def test_lorenz_seed_moves_the_start():
    np.testing.assert_array_equal(lorenz(50), lorenz(50))
    a, b = lorenz(50, seed=1), lorenz(50, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], [1.0, 1.0, 1.0])


@pytest.mark.parametrize("kwargs", [dict(n_steps=0), dict(n_steps=5, dt=0), dict(n_steps=5, dt=-0.1)])
def test_lorenz_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="n_steps|dt"):
        lorenz(**kwargs)


# --------------------------------------------------------------------------- metrics
def test_metrics_against_their_formulas(rng):
    y = rng.standard_normal((200, 2)) * 3 + 1
    p = y + rng.standard_normal((200, 2)) * 0.3
    mse = np.sum((y - p) ** 2) / y.size
    assert rs.metrics.mse(y, p) == pytest.approx(mse, rel=1e-12)
    assert rs.metrics.rmse(y, p) == pytest.approx(np.sqrt(mse), rel=1e-12)
    std = np.sqrt(np.sum((y - y.mean()) ** 2) / y.size)
    assert rs.metrics.nrmse(y, p) == pytest.approx(np.sqrt(mse) / std, rel=1e-12)
    # Predicting the mean has NRMSE 1; a perfect prediction 0.
    assert rs.metrics.nrmse(y, np.full_like(y, y.mean())) == pytest.approx(1.0)
    assert rs.metrics.nrmse(y, y) == 0.0


def test_metrics_bad_input():
    with pytest.raises(ValueError, match="shape"):
        rs.metrics.nrmse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        rs.metrics.mse(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="constant"):
        rs.metrics.nrmse(np.ones(5), np.zeros(5))
    with pytest.raises(ValueError, match=r"y_true contains nan at index 2"):
        rs.metrics.nrmse(np.array([0.0, 1.0, np.nan]), np.zeros(3))
    with pytest.raises(ValueError, match=r"y_true contains inf at index \(1, 0\)"):
        rs.metrics.rmse(np.array([[0.0], [np.inf]]), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"y_pred contains nan at index 0"):
        rs.metrics.mse(np.arange(3.0), np.array([np.nan, 0.0, 0.0]))
    assert rs.metrics.nrmse(np.arange(3.0), np.array([0.0, np.inf, 0.0])) == np.inf  # a diverged forecast


# --------------------------------------------------------------------------- loaders
def test_load_csv_with_header(tmp_path, rng):
    data = rng.standard_normal((20, 3))
    path = tmp_path / "series.csv"
    np.savetxt(path, data, delimiter=",", header="a,b,c", comments="")
    loaded = load_series(path)
    assert loaded.shape == (20, 3) and loaded.dtype == np.float64
    np.testing.assert_allclose(loaded, data, rtol=1e-15)


def test_load_csv_without_header(tmp_path, rng):
    data = rng.standard_normal((15, 2))
    path = tmp_path / "series.csv"
    np.savetxt(path, data, delimiter=",")
    np.testing.assert_allclose(load_series(str(path)), data, rtol=1e-15)


def test_load_single_column_and_whitespace_text(tmp_path, rng):
    data = rng.standard_normal(12)
    path = tmp_path / "one.csv"
    np.savetxt(path, data)
    loaded = load_series(path)
    assert loaded.shape == (12, 1)
    np.testing.assert_allclose(loaded[:, 0], data, rtol=1e-15)
    txt = tmp_path / "two.txt"
    np.savetxt(txt, np.c_[data, 2 * data])  # space separated
    np.testing.assert_allclose(load_series(txt), np.c_[data, 2 * data], rtol=1e-15)
    headed = tmp_path / "headed.csv"
    headed.write_text("value\n" + "\n".join(repr(float(v)) for v in data) + "\n")
    np.testing.assert_allclose(load_series(headed)[:, 0], data, rtol=1e-15)


@pytest.mark.parametrize(
    "array", [np.arange(10.0), np.arange(12, dtype=np.int32).reshape(6, 2), np.linspace(0, 1, 8, dtype=np.float32)]
)
def test_load_npy(tmp_path, array):
    path = tmp_path / "series.npy"
    np.save(path, array)
    loaded = load_series(path)
    expected = array.reshape(len(array), -1).astype(np.float64)
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, expected)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such data file"):
        load_series(tmp_path / "absent.csv")


def test_load_non_numeric_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(ValueError, match="not a numeric CSV"):
        load_series(path)


def test_load_non_finite_names_the_step(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("x,y\n1,2\n3,4\n5,nan\n7,8\n")
    with pytest.raises(ValueError, match="time step 2"):
        load_series(path)
    array = np.arange(20.0).reshape(10, 2)
    array[6, 1] = np.inf
    npy = tmp_path / "inf.npy"
    np.save(npy, array)
    with pytest.raises(ValueError, match="time step 6"):
        load_series(npy)


def test_load_bad_shapes_and_types(tmp_path):
    cube = tmp_path / "cube.npy"
    np.save(cube, np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        load_series(cube)
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        load_series(short)
    strings = tmp_path / "strings.npy"
    np.save(strings, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="numbers"):
        load_series(strings)
    other = tmp_path / "series.json"
    other.write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_series(other)


def test_narma30_uses_jaegers_coefficients_and_stays_bounded():
    """Order 30 defaults to Jaeger's (2003) form; the recurrence checked step by step."""
    u, y = rs.datasets.narma(500, order=30, seed=4)
    u, y = u.ravel(), y.ravel()
    Y = np.concatenate([[0.0], y])
    for t in range(29, 500):
        expected = 0.2 * Y[t] + 0.004 * Y[t] * Y[t - 29 : t + 1].sum() + 1.5 * u[t - 29] * u[t] + 0.001
        assert Y[t + 1] == pytest.approx(expected, rel=1e-12)
    assert np.all(np.isfinite(y)) and y.max() < 1.0
    with pytest.raises(ValueError, match="coefficients"):
        rs.datasets.narma(10, coefficients="unknown")
