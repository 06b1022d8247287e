"""The compiled online-learning loops (kernels/cpu/online.py) against the NumPy reference.

The reference itself is checked against closed forms in tests/test_online_readouts.py
and against ReservoirPy 0.4.2 in tests/test_online_parity.py.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from reservoir.config import settings
from reservoir.kernels import reference

cpu = pytest.importorskip("reservoir.kernels.cpu.online")

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def _close(actual, expected, dtype):
    # relative to the largest value, at least 1 (states and outputs are of order 1)
    scale = max(float(np.max(np.abs(expected))), 1.0)
    assert float(np.max(np.abs(np.asarray(actual, np.float64) - expected))) <= TOLERANCE[dtype] * scale


def _stream(rng, T, n_features, n_targets, dtype):
    X = np.tanh(rng.standard_normal((T, n_features))).astype(dtype)
    Y = (X @ rng.standard_normal((n_features, n_targets)) + 0.1 * rng.standard_normal((T, n_targets))).astype(dtype)
    return X, Y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("n_features", "forgetting", "fit_intercept", "parallel"),
    [(7, 1.0, True, False), (33, 0.99, False, False), (130, 1.0, True, True)],
)
def test_rls_matches_reference(rng, monkeypatch, dtype, n_features, forgetting, fit_intercept, parallel):
    if parallel:  # the passes over P in parallel over rows, as for a large P
        monkeypatch.setattr(cpu, "PARALLEL_MIN_ENTRIES", 100)
        monkeypatch.setattr(settings, "parallel_probe_seconds", float("inf"))  # even on a busy machine
    T = 3 * n_features if n_features < 100 else 120
    X, Y = _stream(rng, T, n_features, 2, dtype)
    results = []
    for module, work in ((reference, np.float64), (cpu, dtype)):
        coef, intercept = np.zeros((2, n_features), work), np.zeros(2, work)
        P = np.eye(n_features, dtype=work)  # alpha = 1: well conditioned in float32 too
        out = np.empty((T, 2), work)
        half = T // 2  # two calls: the count and P carry over
        count = module.rls_train(
            X[:half].astype(work), Y[:half].astype(work), coef, intercept, P, 0.0, forgetting, fit_intercept, out[:half]
        )
        count = module.rls_train(
            X[half:].astype(work),
            Y[half:].astype(work),
            coef,
            intercept,
            P,
            count,
            forgetting,
            fit_intercept,
            out[half:],
        )
        results.append((coef, intercept, P, out, count))
    (coef, intercept, P, out, count), expected = results[1], results[0]
    for got, want in zip((coef, intercept, P, out), expected[:4]):
        _close(got, want, dtype)
    assert count == pytest.approx(expected[4], rel=TOLERANCE[dtype])
    if not fit_intercept:
        assert not intercept.any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lms_matches_reference(rng, dtype, fit_intercept):
    X, Y = _stream(rng, 400, 19, 3, dtype)
    results = []
    for module, work in ((reference, np.float64), (cpu, dtype)):
        coef, intercept, out = np.zeros((3, 19), work), np.zeros(3, work), np.empty((400, 3), work)
        module.lms_train(X.astype(work), Y.astype(work), coef, intercept, 0.02, fit_intercept, out)
        results.append((coef, intercept, out))
    for got, want in zip(results[1], results[0]):
        _close(got, want, dtype)


def _esn(rng, n, n_in, n_out, dtype):
    W = sp.random(n, n, density=0.1, random_state=int(rng.integers(1 << 30)), data_rvs=rng.standard_normal)
    W = (W * (0.9 / max(abs(np.linalg.eigvals(W.toarray()))))).astype(dtype)
    W_in = rng.uniform(-1, 1, (n, n_in)).astype(dtype)
    W_fb = rng.uniform(-1, 1, (n, n_out)).astype(dtype)
    bias = rng.uniform(-0.3, 0.3, n).astype(dtype)
    return W, W_in, W_fb, bias


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("rule", "batch", "n_in", "include_input", "update_every", "activation"),
    [
        (reference.RLS, 1, 2, False, 1, "tanh"),
        (reference.RLS, 3, 1, True, 3, "tanh"),
        (reference.RLS, 1, 0, False, 2, "sigmoid"),
        (reference.LMS, 2, 2, True, 1, "tanh"),
    ],
)
def test_online_esn_matches_reference(
    rng, monkeypatch, dtype, rule, batch, n_in, include_input, update_every, activation
):
    if update_every == 3:  # this case also runs the parallel passes over P
        monkeypatch.setattr(cpu, "PARALLEL_MIN_ENTRIES", 100)
        monkeypatch.setattr(settings, "parallel_probe_seconds", float("inf"))  # even on a busy machine
    n, n_out, T = 41, 2, 150
    W, W_in, W_fb, bias = _esn(rng, n, n_in, n_out, dtype)
    inputs = rng.uniform(-1, 1, (batch, T, n_in)).astype(dtype)
    targets = np.sin(0.1 * np.arange(T))[None, :, None] * np.ones((batch, 1, n_out))
    targets = targets.astype(dtype)
    n_features = n + (n_in if include_input else 0)
    results = []
    for module, work in ((reference, np.float64), (cpu, dtype)):
        weights = module.prepare_online_esn(W.astype(work), W_in.astype(work), W_fb.astype(work), bias.astype(work))
        state = np.zeros((batch, n), work)
        feedback = np.zeros((batch, n_out), work)
        coef, intercept = np.zeros((n_out, n_features), work), np.zeros(n_out, work)
        P = np.eye(n_features, dtype=work) if rule == reference.RLS else np.zeros((0, 0), work)
        out = np.empty((batch, T, n_out), work)
        states = np.empty((batch, T, n), work)
        count, phase = 0.0, 0
        for start, stop, learn in ((0, 100, True), (100, T, False)):  # learning, then running on
            count, phase = module.online_esn_run(
                weights,
                inputs[:, start:stop].astype(work),
                targets[:, start:stop].astype(work),
                state,
                feedback,
                0.6,
                activation,
                include_input,
                rule,
                learn,
                coef,
                intercept,
                P,
                count,
                0.999,
                0.01,
                True,
                update_every,
                phase,
                out[:, start:stop],
                states[:, start:stop],
            )
        results.append((out, states, coef, intercept, P, state, feedback, count, phase))
    for got, want in zip(results[1][:7], results[0][:7]):
        if want.size:
            _close(got, want, dtype)
    assert results[1][8] == results[0][8] == T
    assert results[1][7] == pytest.approx(results[0][7], rel=TOLERANCE[dtype])
