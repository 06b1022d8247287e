"""Shared fixtures and independent NumPy oracles for the test suite.

Everything here is written from the model equations (the user guide), not from the package
code, so that the tests compare the package against an independent reference; the
one exception is ``reference_esn``, which runs ``reservoir.kernels.reference`` (the
oracle every backend is compared with, itself checked against ``esn_loop``) in
float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import reservoir as rs

#: Every backend that can run on this machine ("numpy" is the reference path).
BACKENDS = rs.backends.available()

ACTIVATIONS = {
    "tanh": np.tanh,
    "identity": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
}


@pytest.fixture
def rng():
    """A fresh, seeded generator per test (deterministic, independent between tests)."""
    return np.random.default_rng(12345)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def _dense_spectral_radius(W) -> float:
    """Largest eigenvalue modulus from dense LAPACK eigvals in float64."""
    dense = W.toarray() if hasattr(W, "toarray") else np.asarray(W)
    return float(np.abs(np.linalg.eigvals(dense.astype(np.float64))).max())


def _esn_weights(
    rng, units, n_in, *, density=0.2, spectral_radius=0.9, input_scaling=1.0, bias_scaling=0.2, dtype=np.float64
):
    """Random (W, W_in, bias) built with scipy/numpy only (not with the package)."""
    import scipy.sparse as sp

    W = sp.random_array((units, units), density=density, rng=rng, format="csr", data_sampler=rng.standard_normal)
    if W.nnz == 0:  # tiny reservoirs: make sure there is at least one connection
        W = sp.csr_array(
            np.array(rng.standard_normal((units, units)) * (rng.random((units, units)) < 0.5) + np.eye(units) * 0.5)
        )
    # Dense eigvals for small reservoirs; the circular law (radius ~ std * sqrt(n * p))
    # for larger ones, where only a contractive scale matters, not the exact radius.
    radius = _dense_spectral_radius(W) if units <= 300 else np.sqrt(W.nnz / units)
    if radius > 0:
        W = W * (spectral_radius / radius)
    W = sp.csr_array(W, dtype=dtype)
    W_in = (rng.uniform(-1, 1, (units, n_in)) * input_scaling).astype(dtype)
    bias = (rng.uniform(-1, 1, units) * bias_scaling).astype(dtype)
    return W, W_in, bias


def _esn_loop(W, W_in, bias, u, *, leak_rate=1.0, activation="tanh", x0=None):
    """Plain float64 loop: x[t] = (1 - a) x[t-1] + a f(W x[t-1] + W_in u[t] + b).

    u is (T, n_in); returns (T, units) and the last state.
    """
    W = W.toarray() if hasattr(W, "toarray") else np.asarray(W)
    W = W.astype(np.float64)
    W_in = np.asarray(W_in, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    f = ACTIVATIONS[activation]
    x = np.zeros(W.shape[0]) if x0 is None else np.asarray(x0, dtype=np.float64).copy()
    out = np.empty((u.shape[0], W.shape[0]))
    for t in range(u.shape[0]):
        x = (1.0 - leak_rate) * x + leak_rate * f(W @ x + W_in @ np.asarray(u[t], dtype=np.float64) + bias)
        out[t] = x
    return out, x


def _reference_esn(W, W_in, bias, u, leak_rate, activation, state=None):
    """reservoir.kernels.reference in float64 on the given (dtype-rounded) weights and
    (B, T, n_in) inputs, from `state` (B, units) or zeros; returns (out, last state)."""
    import scipy.sparse as sp

    from reservoir.kernels import reference

    u = np.asarray(u, dtype=np.float64)
    weights = reference.prepare_esn(
        sp.csr_array(W, dtype=np.float64), np.asarray(W_in, np.float64), np.asarray(bias, np.float64)
    )
    batch, steps = u.shape[:2]
    x = np.zeros((batch, W.shape[0])) if state is None else np.array(state, dtype=np.float64).reshape(batch, -1)
    out = np.empty((batch, steps, W.shape[0]))
    reference.esn_run(weights, u, x, leak_rate, activation, out)
    return out, x


# Oracles as fixtures, so test modules need not import conftest.
@pytest.fixture
def dense_spectral_radius():
    return _dense_spectral_radius


@pytest.fixture
def esn_weights():
    return _esn_weights


@pytest.fixture
def esn_loop():
    return _esn_loop


@pytest.fixture
def reference_esn():
    return _reference_esn


# ----------------------------------------------------------------------------- slow tests
def pytest_addoption(parser):
    parser.addoption(
        "--runslow", action="store_true", default=False, help="also run tests marked slow (or select them with -m slow)"
    )


def pytest_collection_modifyitems(config, items):
    # The default run stays within a few minutes on 2 cores: slow tests run only on
    # request (--runslow, or a -m expression that names the marker).
    if config.getoption("--runslow") or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
