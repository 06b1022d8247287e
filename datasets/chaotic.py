"""Chaotic maps and flows: Hénon, logistic, Rössler, Lorenz-96, double scroll, multiscroll.

The flows are integrated by ``scipy.integrate.solve_ivp`` (DOP853, ``rtol = atol =
1e-10`` unless told otherwise: solver options pass through) and sampled every
``dt``: row i is the state at t = (warmup + i) dt, row 0 the initial condition
when ``warmup`` is 0. Parameter names and defaults follow ReservoirPy 0.4.2's
``reservoirpy.datasets`` (``n_timesteps`` is ``n_steps`` here, ``h`` is ``dt``),
except that the samples are exactly ``dt`` apart (ReservoirPy spreads its
n samples over n·h, so they lie n·h/(n-1) apart) and the default solver keeps a
local tolerance of 1e-10 (ReservoirPy's RK45 default keeps 1e-3); on a chaotic
attractor any integration error grows with time, at the largest Lyapunov exponent.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from .synthetic import _positive_int

__all__ = ["henon_map", "logistic_map", "rossler", "lorenz96", "doublescroll", "multiscroll"]

_SOLVER = {"method": "DOP853", "rtol": 1e-10, "atol": 1e-10}


def _non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _finite_float(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _initial_state(x0, size, name="x0"):
    state = np.array(x0, dtype=np.float64).reshape(-1)
    if state.shape != (size,):
        raise ValueError(f"{name} must hold {size} values, got shape {np.shape(x0)}")
    if not np.all(np.isfinite(state)):
        raise ValueError(f"{name} contains NaN or Inf: {state}")
    return state


def _sample_flow(derivative, x0, n_steps, dt, warmup, solver):
    """States of dx/dt = derivative(x) at t = (warmup + i) dt, i < n_steps, as (n_steps, dim)."""
    n_steps = _positive_int(n_steps, "n_steps")
    warmup = _non_negative_int(warmup, "warmup")
    dt = _finite_float(dt, "dt")
    if dt <= 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    options = {**_SOLVER, **solver}
    total = n_steps + warmup
    times = np.linspace(0.0, (total - 1) * dt, total)
    if total == 1:
        return x0[None].copy()
    solution = solve_ivp(lambda t, x: derivative(x), (0.0, times[-1]), x0, t_eval=times, **options)
    if not solution.success:
        raise ArithmeticError(f"the integration failed: {solution.message}")
    states = solution.y.T[warmup:]
    if not np.all(np.isfinite(states)):
        raise ArithmeticError("the integration diverged (NaN or Inf); try a smaller dt or other parameters")
    return np.ascontiguousarray(states)


# --------------------------------------------------------------------------- maps
def henon_map(n_steps: int, a: float = 1.4, b: float = 0.3, x0=(0.0, 0.0)) -> np.ndarray:
    """Hénon map (Hénon 1976).

        x[n+1] = 1 - a x[n]² + y[n],    y[n+1] = b x[n]

    Parameters
    ----------
    n_steps : int
        Number of points, the first being ``x0``.
    a, b : float
        The map's parameters (1.4 and 0.3: the chaotic attractor).
    x0 : (2,) array-like
        Initial point (x, y).

    Returns
    -------
    (n_steps, 2) float64: x, y.
    """
    n_steps = _positive_int(n_steps, "n_steps")
    a, b = _finite_float(a, "a"), _finite_float(b, "b")
    out = np.empty((n_steps, 2))
    out[0] = _initial_state(x0, 2)
    with np.errstate(over="ignore", invalid="ignore"):  # an escaping orbit is reported below
        for n in range(1, n_steps):
            x, y = out[n - 1]
            out[n] = 1.0 - a * x**2 + y, b * x  # a * x**2, as ReservoirPy rounds it
    if not np.all(np.isfinite(out)):
        raise ArithmeticError(f"the Hénon map escaped to infinity from x0={tuple(out[0])} (a={a}, b={b})")
    return out


def logistic_map(n_steps: int, r: float = 3.9, x0: float = 0.5) -> np.ndarray:
    """Logistic map (May 1976): x[n+1] = r x[n] (1 - x[n]).

    Parameters
    ----------
    n_steps : int
        Number of points, the first being ``x0``.
    r : float in (0, 4]
        Growth rate (3.9: chaotic); beyond 4 the orbit leaves [0, 1].
    x0 : float in (0, 1)
        Initial value.

    Returns
    -------
    (n_steps, 1) float64
    """
    n_steps = _positive_int(n_steps, "n_steps")
    r, x0 = _finite_float(r, "r"), _finite_float(x0, "x0")
    if not 0.0 < r <= 4.0:
        raise ValueError(f"r must be in (0, 4] (the orbit leaves [0, 1] beyond), got {r}")
    if not 0.0 < x0 < 1.0:
        raise ValueError(f"x0 must be in (0, 1), got {x0}")
    out = np.empty(n_steps)
    out[0] = x0
    for n in range(1, n_steps):
        out[n] = r * out[n - 1] * (1.0 - out[n - 1])
    return out.reshape(-1, 1)


# --------------------------------------------------------------------------- flows
def rossler(
    n_steps: int,
    a: float = 0.2,
    b: float = 0.2,
    c: float = 5.7,
    x0=(-0.1, 0.0, 0.02),
    dt: float = 0.1,
    *,
    warmup: int = 0,
    **solver,
) -> np.ndarray:
    """Rössler attractor (Rössler 1976).

        dx/dt = -y - z,    dy/dt = x + a y,    dz/dt = b + z (x - c)

    Parameters
    ----------
    n_steps : int
    a, b, c : float
    x0 : (3,) array-like
        Initial state.
    dt : float
        Time between samples.
    warmup : int
        Samples computed and left out before the first one returned.
    **solver
        Options of ``scipy.integrate.solve_ivp`` (``method``, ``rtol``, ``atol``, ...).

    Returns
    -------
    (n_steps, 3) float64: x, y, z.
    """
    a, b, c = (_finite_float(v, n) for v, n in ((a, "a"), (b, "b"), (c, "c")))

    def derivative(s):
        x, y, z = s
        return np.array([-y - z, x + a * y, b + z * (x - c)])

    return _sample_flow(derivative, _initial_state(x0, 3), n_steps, dt, warmup, solver)


def lorenz96(
    n_steps: int,
    warmup: int = 0,
    N: int = 36,
    F: float = 8.0,
    dF: float = 0.01,
    dt: float = 0.01,
    x0=None,
    *,
    seed=None,
    **solver,
) -> np.ndarray:
    """Lorenz-96 model (Lorenz 1996), N variables on a ring.

        dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F,    indices modulo N

    Parameters
    ----------
    n_steps : int
    warmup : int
        Samples computed and left out before the first one returned.
    N : int >= 4
        Number of variables.
    F : float
        Forcing; x_i = F for all i is a fixed point (8: chaotic).
    dF : float
        Perturbation of x_0 in the default initial state (F, ..., F) + (dF, 0, ..., 0).
    dt : float
        Time between samples.
    x0 : (N,) array-like, optional
        Initial state (overrides the default and ``seed``).
    seed : int or numpy.random.Generator, optional
        Start at F plus normal noise of standard deviation ``dF`` on every variable.
    **solver
        Options of ``scipy.integrate.solve_ivp``.

    Returns
    -------
    (n_steps, N) float64
    """
    N = _positive_int(N, "N")
    if N < 4:
        raise ValueError(f"N must be >= 4 (each variable couples to i-2, i-1 and i+1), got {N}")
    F, dF = _finite_float(F, "F"), _finite_float(dF, "dF")
    if x0 is None:
        x0 = np.full(N, F)
        if seed is None:
            x0[0] += dF
        else:
            x0 += dF * np.random.default_rng(seed).standard_normal(N)

    def derivative(x):
        return (np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + F

    return _sample_flow(derivative, _initial_state(x0, N), n_steps, dt, warmup, solver)


def doublescroll(
    n_steps: int,
    r1: float = 1.2,
    r2: float = 3.44,
    r4: float = 0.193,
    ir: float = 2 * 2.25e-5,
    beta: float = 11.6,
    x0=(0.37926545, 0.058339, -0.08167691),
    dt: float = 0.25,
    *,
    warmup: int = 0,
    **solver,
) -> np.ndarray:
    """Double-scroll electronic circuit (Chua-like, as used by Gauthier et al. 2021).

        dV1/dt = V1/R1 - ΔV/R2 - 2 I_r sinh(β ΔV)
        dV2/dt = ΔV/R2 + 2 I_r sinh(β ΔV) - I
        dI/dt  = V2 - R4 I,        ΔV = V1 - V2

    ``ir`` is 2 I_r (ReservoirPy's convention).

    Parameters
    ----------
    n_steps : int
    r1, r2, r4, ir, beta : float
        Circuit parameters.
    x0 : (3,) array-like
        Initial (V1, V2, I).
    dt : float
        Time between samples.
    warmup : int
        Samples computed and left out before the first one returned.
    **solver
        Options of ``scipy.integrate.solve_ivp``.

    Returns
    -------
    (n_steps, 3) float64: V1, V2, I.
    """
    r1, r2, r4, ir, beta = (
        _finite_float(v, n) for v, n in ((r1, "r1"), (r2, "r2"), (r4, "r4"), (ir, "ir"), (beta, "beta"))
    )
    for value, name in ((r1, "r1"), (r2, "r2")):
        if value == 0:
            raise ValueError(f"{name} must be nonzero (a resistance)")

    def derivative(s):
        v1, v2, current = s
        dv = v1 - v2
        through = dv / r2 + ir * np.sinh(beta * dv)
        return np.array([v1 / r1 - through, through - current, v2 - r4 * current])

    return _sample_flow(derivative, _initial_state(x0, 3), n_steps, dt, warmup, solver)


def multiscroll(
    n_steps: int,
    a: float = 40.0,
    b: float = 3.0,
    c: float = 28.0,
    x0=(-0.1, 0.5, -0.6),
    dt: float = 0.01,
    *,
    warmup: int = 0,
    **solver,
) -> np.ndarray:
    """Chen's multiscroll attractor (Chen & Ueta 1999).

        dx/dt = a (y - x),    dy/dt = (c - a) x - x z + c y,    dz/dt = x y - b z

    Parameters
    ----------
    n_steps : int
    a, b, c : float
    x0 : (3,) array-like
        Initial state.
    dt : float
        Time between samples.
    warmup : int
        Samples computed and left out before the first one returned.
    **solver
        Options of ``scipy.integrate.solve_ivp``.

    Returns
    -------
    (n_steps, 3) float64: x, y, z.
    """
    a, b, c = (_finite_float(v, n) for v, n in ((a, "a"), (b, "b"), (c, "c")))

    def derivative(s):
        x, y, z = s
        return np.array([a * (y - x), (c - a) * x - x * z + c * y, x * y - b * z])

    return _sample_flow(derivative, _initial_state(x0, 3), n_steps, dt, warmup, solver)
