"""Generated benchmark series: Mackey-Glass, NARMA, Lorenz, multiple superimposed oscillators."""

from __future__ import annotations

import numpy as np

__all__ = ["mackey_glass", "narma", "lorenz", "mso"]


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def mackey_glass(
    n_steps: int,
    tau: float = 17,
    seed=None,
    *,
    beta: float = 0.2,
    gamma: float = 0.1,
    exponent: float = 10.0,
    sample_step: float = 1.0,
    substeps: int = 10,
) -> np.ndarray:
    """Mackey-Glass delay differential equation, sampled every ``sample_step``.

        dx/dt = beta * x(t - tau) / (1 + x(t - tau)**exponent) - gamma * x(t)

    Integrated by classic Runge-Kutta with ``substeps`` steps per sample; the delayed
    value at a half step is the mean of its two grid neighbours. The history before
    t = 0 is the constant 1.2 (the usual choice) when ``seed`` is None, and uniform in
    [0.9, 1.3) per grid point for a given seed.

    Returns
    -------
    (n_steps, 1) float64
    """
    n_steps = _positive_int(n_steps, "n_steps")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    h = sample_step / substeps
    delay = int(round(tau / h))
    if delay < 1:
        raise ValueError(f"tau={tau} is shorter than one integration step ({h})")
    if seed is None:
        history = np.full(delay + 1, 1.2)
    else:
        history = np.random.default_rng(seed).uniform(0.9, 1.3, delay + 1)
    total = n_steps * substeps
    x = np.empty(delay + 1 + total)
    x[: delay + 1] = history

    def derivative(value, delayed):
        return beta * delayed / (1.0 + delayed**exponent) - gamma * value

    for i in range(delay, delay + total):
        lagged, lagged_next = x[i - delay], x[i - delay + 1]
        lagged_mid = 0.5 * (lagged + lagged_next)
        k1 = derivative(x[i], lagged)
        k2 = derivative(x[i] + 0.5 * h * k1, lagged_mid)
        k3 = derivative(x[i] + 0.5 * h * k2, lagged_mid)
        k4 = derivative(x[i] + h * k3, lagged_next)
        x[i + 1] = x[i] + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x[delay : delay + total : substeps].reshape(-1, 1).copy()


# (a, b, c, d) of Y(t+1) = a Y(t) + b Y(t) sum Y + c u u + d
NARMA_COEFFICIENTS = {
    "atiya-parlos": (0.3, 0.05, 1.5, 0.1),  # Atiya & Parlos (2000): NARMA-10
    "jaeger": (0.2, 0.004, 1.5, 0.001),  # Jaeger (2003): NARMA-30, where the above diverges
}


def narma(n_steps: int, order: int = 10, seed=None, *, coefficients: str | None = None):
    """NARMA task: a nonlinear autoregressive moving average of the input.

        Y(t+1) = a Y(t) + b Y(t) * sum_{i=0}^{order-1} Y(t-i) + c u(t-order+1) u(t) + d

    with u(t) uniform in [0, 0.5] and Y(t) = u(t) = 0 before the start. Inputs and
    targets are aligned: ``y[t]`` is Y(t+1), the target for input ``u[t]``.
    (ReservoirPy's ``narma`` uses other coefficients and an offset index.)

    coefficients : {"atiya-parlos", "jaeger"}, optional
        (a, b, c, d) = (0.3, 0.05, 1.5, 0.1), the canonical form of Atiya & Parlos
        (2000), the default up to order 10; or (0.2, 0.004, 1.5, 0.001), Jaeger's (2003)
        NARMA-30, the default above order 10 (the canonical form diverges there).

    Returns
    -------
    u, y : (n_steps, 1) float64 each
    """
    n_steps = _positive_int(n_steps, "n_steps")
    order = _positive_int(order, "order")
    if coefficients is None:
        coefficients = "atiya-parlos" if order <= 10 else "jaeger"
    if coefficients not in NARMA_COEFFICIENTS:
        raise ValueError(f"coefficients must be one of {sorted(NARMA_COEFFICIENTS)}, got {coefficients!r}")
    a, b, c, d = NARMA_COEFFICIENTS[coefficients]
    u = np.random.default_rng(seed).uniform(0.0, 0.5, n_steps)
    Y = np.zeros(n_steps + 1)
    for t in range(n_steps):
        window = Y[max(0, t - order + 1) : t + 1].sum()
        lagged_u = u[t - order + 1] if t >= order - 1 else 0.0
        Y[t + 1] = a * Y[t] + b * Y[t] * window + c * lagged_u * u[t] + d
    if not np.all(np.isfinite(Y)):
        raise ArithmeticError(f"NARMA-{order} ({coefficients}) diverged for seed {seed!r}; try another seed")
    return u.reshape(-1, 1), Y[1:].reshape(-1, 1)


def lorenz(
    n_steps: int,
    dt: float = 0.01,
    seed=None,
    *,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    x0=None,
    method: str = "rk4",
    **solver,
) -> np.ndarray:
    """Lorenz-63 system integrated by classic Runge-Kutta with step ``dt``.

    Starts at ``x0`` if given, else at (1, 1, 1) when ``seed`` is None, else at a
    point drawn near it (normal with standard deviation 1 around (1, 1, 1)).
    ``method`` other than "rk4" is a ``scipy.integrate.solve_ivp`` method, sampled
    every ``dt`` and given the ``**solver`` options: ``lorenz(n, dt=0.025,
    x0=(17.67715816276679, 12.931379185960404, 43.91404334248268), method="RK23")``
    is the series of Gauthier et al. (2021) (RK23 at SciPy's default tolerances).

    Returns
    -------
    (n_steps, 3) float64: x, y, z.
    """
    n_steps = _positive_int(n_steps, "n_steps")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if x0 is not None:
        from .chaotic import _initial_state

        state = _initial_state(x0, 3)
    else:
        state = np.ones(3)
        if seed is not None:
            state = state + np.random.default_rng(seed).standard_normal(3)
    if method != "rk4":
        from .chaotic import _sample_flow

        def flow(s):
            return np.array([sigma * (s[1] - s[0]), s[0] * (rho - s[2]) - s[1], s[0] * s[1] - beta * s[2]])

        return _sample_flow(flow, state, n_steps, dt, 0, {"method": method, "rtol": 1e-3, "atol": 1e-6, **solver})
    if solver:
        raise TypeError(f"solver options {sorted(solver)} need a solve_ivp method (method='RK45', ...), not 'rk4'")

    def derivative(s):
        x, y, z = s
        return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])

    out = np.empty((n_steps, 3))
    for t in range(n_steps):
        out[t] = state
        k1 = derivative(state)
        k2 = derivative(state + 0.5 * dt * k1)
        k3 = derivative(state + 0.5 * dt * k2)
        k4 = derivative(state + dt * k3)
        state = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return out


#: Frequencies of the MSO tasks (Jaeger 2004; Jaeger et al. 2007): MSO-k takes the first k.
MSO_FREQUENCIES = (0.2, 0.311, 0.42, 0.51, 0.63, 0.74, 0.85, 0.97)


def mso(n_steps: int, frequencies=2, normalize: bool = True) -> np.ndarray:
    """Multiple superimposed oscillators: MSO(t) = sum_i sin(f_i t), t = 0, 1, ...

    Parameters
    ----------
    n_steps : int
    frequencies : int in 1..8 or sequence of floats
        k for the usual MSO-k (the first k of 0.2, 0.311, 0.42, 0.51, 0.63, 0.74,
        0.85, 0.97), or the frequencies themselves (radians per step).
    normalize : bool
        Scale the series to [-1, 1] (min to -1, max to 1), as ReservoirPy's ``mso``.

    Returns
    -------
    (n_steps, 1) float64
    """
    n_steps = _positive_int(n_steps, "n_steps")
    if isinstance(frequencies, (int, np.integer)) and not isinstance(frequencies, bool):
        if not 1 <= frequencies <= len(MSO_FREQUENCIES):
            raise ValueError(f"frequencies as a count must be in 1..{len(MSO_FREQUENCIES)}, got {frequencies}")
        frequencies = MSO_FREQUENCIES[:frequencies]
    values = np.asarray(frequencies, dtype=np.float64).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"frequencies must be a non-empty sequence of finite numbers, got {frequencies!r}")
    t = np.arange(n_steps, dtype=np.float64)
    y = np.sin(np.outer(t, values)).sum(axis=1, keepdims=True)
    if normalize:
        low, high = y.min(), y.max()
        if high == low:
            raise ValueError("a constant series (one step, or zero frequencies) cannot be normalised; normalize=False")
        y = (2 * y - low - high) / (high - low)
    return y
