"""Activations for the compiled kernels: tanh and the logistic in plain arithmetic.

libm's tanh is a call per element, and a loop that calls it stays scalar; in a
batched step it cost more than the sparse product. Here tanh is arithmetic that
vectorises: in float32 a rational function, in float64 a rational form near zero
and exp by range reduction and a polynomial beyond. The logistic is
``0.5 * (1 + tanh(z / 2))`` (no overflow in exp).

``_tanh`` and ``_sigmoid`` are plain NumPy functions that Numba replaces by these
forms for float arguments (``overload``), so they can be called from compiled code
and, outside it, give NumPy's result. ``_activate_in_place`` applies an activation
to a whole array, one loop per activation so that each vectorises; the kernels
pass the activation as a compile-time constant (``_compile.call``), and
``_activate`` / ``_activate_in_place`` pick its function while compiling, so only the
activation asked for is compiled (a branch on a constant is still typed and compiled
by Numba; a choice made in an ``overload`` is not).

Measured: see the asv benchmarks (asv_bench/benchmarks/esn.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._simd import power_of_two
from ..activations import IDENTITY, RELU, SIGMOID, TANH
from ._compile import FASTMATH

# float32 tanh as a rational function (the minimax fit used by Eigen's fast tanh;
# max error 3.4e-7 on a 2e6-point grid over [-12, 12]).
_TANH_CLAMP = np.float32(7.90531110763549805)
_TANH_P = tuple(
    np.float32(c)
    for c in (
        4.89352455891786e-03,
        6.37261928875436e-04,
        1.48572235717979e-05,
        5.12229709037114e-08,
        -8.60467152213735e-11,
        2.00018790482477e-13,
        -2.76076847742355e-16,
    )
)
_TANH_Q = tuple(
    np.float32(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06)
)
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = _TANH_P
_Q0, _Q1, _Q2, _Q3 = _TANH_Q

# float64 tanh. Below |z| = 0.625 the rational form of Moshier's Cephes library (its
# coefficients), z + z^3 P(z^2) / Q(z^2); above it (1 - t) / (1 + t) with
# t = exp(-2|z|): Cody-Waite reduction by ln 2, a degree-13 Taylor polynomial on
# |r| <= ln(2) / 2, and 2^k from the exponent bits. At most 2 ulp from np.tanh on
# 4e6 points over [-25, 25]; one division for both branches.
_TANH64_P = (-9.64399179425052238628e-01, -9.92877231001918586564e01, -1.61468768441708447952e03)
_TANH64_Q = (1.12811678491632931402e02, 2.23548839060100448583e03, 4.84406305325125486048e03)
_TP0, _TP1, _TP2 = _TANH64_P
_TQ0, _TQ1, _TQ2 = _TANH64_Q
_LOG2_E = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # ln 2 = HI + LO, HI exact in k * HI
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = (1.0 / math.factorial(i) for i in range(14))
_TANH64_SATURATES = 19.5  # exp(-39) < 2**-55: (1 - t) / (1 + t) rounds to 1.0 from here on


def _tanh(z):
    return np.tanh(z)


@overload(_tanh, inline="always")
def _tanh_typed(z):
    if isinstance(z, types.Float) and z.bitwidth == 32:

        def rational_tanh(z):
            z = min(max(z, -_TANH_CLAMP), _TANH_CLAMP)
            z2 = z * z
            p = z * (_P0 + z2 * (_P1 + z2 * (_P2 + z2 * (_P3 + z2 * (_P4 + z2 * (_P5 + z2 * _P6))))))
            q = _Q0 + z2 * (_Q1 + z2 * (_Q2 + z2 * _Q3))
            return p / q

        return rational_tanh
    if isinstance(z, types.Float) and z.bitwidth == 64:

        def arithmetic_tanh(z):
            # Both branches are computed and one is taken by multiplying with 0.0 or 1.0 (exact,
            # as both are finite): a conditional expression here made Numba warn about its SSA
            # form. Each branch sees a clamped |z|, and np.minimum carries a NaN through.
            a = abs(z)
            near = np.float64(a < 0.625)
            s = np.minimum(a, 0.625)  # the rational branch's |z|
            s2 = s * s
            y = -2.0 * np.minimum(a, _TANH64_SATURATES)  # the exponential branch's -2|z|
            k = np.floor(y * _LOG2_E + 0.5)
            r = (y - k * _LN2_HI) - k * _LN2_LO
            e = ((((((_E13 * r + _E12) * r + _E11) * r + _E10) * r + _E9) * r + _E8) * r + _E7) * r + _E6
            e = (((((e * r + _E5) * r + _E4) * r + _E3) * r + _E2) * r + _E1) * r + _E0
            t = e * power_of_two(np.int32(k))  # exp(y); an int32 k converts in vector registers
            num = near * (s * s2 * ((_TP0 * s2 + _TP1) * s2 + _TP2)) + (1.0 - near) * (1.0 - t)
            den = near * (((s2 + _TQ0) * s2 + _TQ1) * s2 + _TQ2) + (1.0 - near) * (1.0 + t)
            return math.copysign(near * s + num / den, z)  # tanh(|z|) with z's sign

        return arithmetic_tanh
    return lambda z: np.tanh(z)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@overload(_sigmoid, inline="always")
def _sigmoid_typed(z):
    # Constants of the argument's own type: a float64 literal would promote the whole
    # activation (and the leaky update after it) to float64.
    half = np.float32(0.5) if isinstance(z, types.Float) and z.bitwidth == 32 else 0.5
    one = half + half

    def logistic(z):
        return half * (one + _tanh(half * z))

    return logistic


def _activate(z, activation):
    """f(z) for the activation of integer code `activation` (``kernels.activations``)."""
    if activation == TANH:
        return _tanh(z)
    if activation == SIGMOID:
        return _sigmoid(z)
    if activation == RELU:
        return z if z > 0 else z - z
    return z  # IDENTITY


def _relu(z):
    return z if z > 0 else z - z


def _identity(z):
    return z


_SCALAR = {TANH: _tanh, SIGMOID: _sigmoid, RELU: _relu, IDENTITY: _identity}


@overload(_relu, inline="always")
def _relu_typed(z):
    return lambda z: z if z > 0 else z - z


@overload(_identity, inline="always")
def _identity_typed(z):
    return lambda z: z


@overload(_activate, prefer_literal=True)
def _activate_typed(z, activation):
    # A constant activation (a literal, see _compile.call) compiles its own function only;
    # inlined code cannot drop the other branches of a runtime choice before typing them.
    if isinstance(activation, types.IntegerLiteral):
        chosen = _SCALAR[activation.literal_value]
        return lambda z, activation: chosen(z)

    def any_activation(z, activation):
        if activation == TANH:
            return _tanh(z)
        if activation == SIGMOID:
            return _sigmoid(z)
        if activation == RELU:
            return _relu(z)
        return z

    return any_activation


# z[:] = f(z) for a 1-D array, one function per activation so that each loop vectorises (a
# choice inside one loop kept it scalar). Compiled with NumPy's error model: Python's
# zero-division check on the rational tanh's division kept loops calling it from
# vectorising. Functions of their own, never inlined, and their loops start at index 0:
# inlined into a parallel loop's body, or run from a start Numba cannot prove
# non-negative (its negative-index wraparound then stays in the loop), loops like these
# stayed scalar.
@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _tanh_in_place(z):
    for i in range(z.shape[0]):
        z[i] = _tanh(z[i])


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _sigmoid_in_place(z):
    for i in range(z.shape[0]):
        z[i] = _sigmoid(z[i])


@njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def _relu_in_place(z):
    for i in range(z.shape[0]):
        z[i] = _relu(z[i])


@njit(cache=True)
def _identity_in_place(z):
    return


_IN_PLACE = {TANH: _tanh_in_place, SIGMOID: _sigmoid_in_place, RELU: _relu_in_place, IDENTITY: _identity_in_place}


def _activate_in_place(z, activation):
    """z[:] = f(z) for a 1-D array and the activation of code `activation`."""
    _IN_PLACE[activation](z)


@overload(_activate_in_place, prefer_literal=True)
def _activate_in_place_typed(z, activation):
    if isinstance(activation, types.IntegerLiteral):
        chosen = _IN_PLACE[activation.literal_value]
        return lambda z, activation: chosen(z)

    def any_activation(z, activation):
        if activation == TANH:
            _tanh_in_place(z)
        elif activation == SIGMOID:
            _sigmoid_in_place(z)
        elif activation == RELU:
            _relu_in_place(z)

    return any_activation
