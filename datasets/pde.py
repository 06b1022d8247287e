"""Kuramoto-Sivashinsky equation by ETDRK4 (Kassam & Trefethen 2005)."""

from __future__ import annotations

import numpy as np

from .chaotic import _finite_float, _initial_state, _non_negative_int
from .synthetic import _positive_int

__all__ = ["kuramoto_sivashinsky"]


def _etdrk4_coefficients(wavenumbers, dt, contour_points):
    """E, E/2, Q, f1, f2, f3 of ETDRK4 for the linear operator k² - k⁴.

    The phi-functions are means over a circle of radius 1 around each dt·L in the
    complex plane (Kassam & Trefethen's contour integral), which avoids the
    cancellation of their closed forms near dt·L = 0.
    """
    linear = wavenumbers**2 - wavenumbers**4
    roots = np.exp(1j * np.pi * (np.arange(1, contour_points + 1) - 0.5) / contour_points)
    z = dt * linear[:, None] + roots[None, :]
    ez = np.exp(z)

    def mean(values):
        return dt * np.real(values.mean(axis=1))

    q = mean((np.exp(z / 2) - 1) / z)
    f1 = mean((-4 - z + ez * (4 - 3 * z + z**2)) / z**3)
    f2 = mean((2 + z + ez * (z - 2)) / z**3)
    f3 = mean((-4 - 3 * z - z**2 + ez * (4 - z)) / z**3)
    return np.exp(dt * linear), np.exp(dt * linear / 2), q, f1, f2, f3


def kuramoto_sivashinsky(
    n_steps: int,
    warmup: int = 0,
    N: int = 128,
    length: float = 32 * np.pi,
    x0=None,
    dt: float = 0.25,
    *,
    contour_points: int = 16,
    seed=None,
) -> np.ndarray:
    """Kuramoto-Sivashinsky equation on a periodic domain of ``length``, N grid points.

        u_t = -u u_x - u_xx - u_xxxx

    Pseudo-spectral in space, ETDRK4 in time (Kassam & Trefethen 2005, their
    ``kursiv.m``: the Nyquist mode's derivative is zero). The spatial mean of u is
    conserved. With ``length = 2πM`` and ``contour_points = M`` this is ReservoirPy's
    ``kuramoto_sivashinsky(..., M=M)`` (default M = 16), where ``n_steps`` there counts
    the warm-up samples too.

    Parameters
    ----------
    n_steps : int
        Samples returned; row 0 is the initial field when ``warmup`` is 0.
    warmup : int
        Samples computed and left out first.
    N : int >= 4
        Grid points (even).
    length : float > 0
        Domain length (32π by default: chaotic).
    x0 : (N,) array-like, optional
        Initial field; by default cos(2πx/length)(1 + sin(2πx/length)) at
        x = length·(1..N)/N, the paper's.
    dt : float > 0
        Time between samples (one ETDRK4 step).
    contour_points : int
        Points of the contour integral of the ETDRK4 coefficients.
    seed : int or numpy.random.Generator, optional
        Add normal noise of standard deviation 0.01 to the default initial field.

    Returns
    -------
    (n_steps, N) float64
    """
    n_steps = _positive_int(n_steps, "n_steps")
    warmup = _non_negative_int(warmup, "warmup")
    N = _positive_int(N, "N")
    if N < 4 or N % 2:
        raise ValueError(f"N must be an even number >= 4, got {N}")
    contour_points = _positive_int(contour_points, "contour_points")
    length, dt = _finite_float(length, "length"), _finite_float(dt, "dt")
    if length <= 0:
        raise ValueError(f"length must be > 0, got {length}")
    if dt <= 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if x0 is None:
        x = length * np.arange(1, N + 1) / N
        x0 = np.cos(2 * np.pi * x / length) * (1 + np.sin(2 * np.pi * x / length))
        if seed is not None:
            x0 = x0 + 0.01 * np.random.default_rng(seed).standard_normal(N)
    u0 = _initial_state(x0, N)

    modes = np.r_[np.arange(0, N // 2), 0, np.arange(-N // 2 + 1, 0)]
    wavenumbers = 2 * np.pi / length * modes
    E, E2, Q, f1, f2, f3 = _etdrk4_coefficients(wavenumbers, dt, contour_points)
    g = -0.5j * wavenumbers  # the nonlinear term -u u_x = -(u²)_x / 2

    def nonlinear(v):
        return g * np.fft.fft(np.real(np.fft.ifft(v)) ** 2)

    out = np.empty((n_steps, N))
    v = np.fft.fft(u0)
    for step in range(warmup + n_steps):
        if step >= warmup:
            out[step - warmup] = np.real(np.fft.ifft(v))
        Nv = nonlinear(v)
        a = E2 * v + Q * Nv
        Na = nonlinear(a)
        b = E2 * v + Q * Na
        Nb = nonlinear(b)
        c = E2 * a + Q * (2 * Nb - Nv)
        v = E * v + Nv * f1 + 2 * (Na + Nb) * f2 + nonlinear(c) * f3
    if not np.all(np.isfinite(out)):
        raise ArithmeticError("the integration diverged (NaN or Inf); try a smaller dt")
    return out
