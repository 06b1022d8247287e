"""Fully connected reservoirs: the dense CPU kernels against the NumPy reference, the
automatic switch from ``settings.dense_min_density``, and the "full" connectivity kind."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir.config import settings
from reservoir.kernels import reference
from reservoir.kernels.cpu import esn as cpu
from reservoir.kernels.cpu.dense import DenseEsnWeights

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def _weights(rng, n, n_in, dtype, density=1.0):
    W = rng.standard_normal((n, n)) * (rng.random((n, n)) < density) * (0.9 / np.sqrt(n * density))
    return (
        sp.csr_array(W.astype(dtype)),
        rng.uniform(-1, 1, (n, n_in)).astype(dtype),
        rng.uniform(-0.5, 0.5, n).astype(dtype),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "identity"])
def test_dense_run_matches_reference(rng, dtype, batch, activation):
    W, W_in, bias = _weights(rng, 40, 2, dtype)
    inputs = rng.standard_normal((batch, 30, 2)).astype(dtype)
    start = (0.1 * rng.standard_normal((batch, 40))).astype(dtype)
    expected_state = start.copy()
    expected = reference.esn_run(
        reference.prepare_esn(W, W_in, bias), inputs, expected_state, 0.6, activation, np.empty((batch, 30, 40), dtype)
    )
    prepared = cpu.prepare_esn(W, W_in, bias, "dense")
    assert isinstance(prepared, DenseEsnWeights)
    state = start.copy()
    out = np.empty((batch, 30, 40), dtype)
    cpu.esn_run(prepared, inputs, state, 0.6, activation, out)
    scale = np.abs(expected).max()
    assert np.abs(out - expected).max() <= TOLERANCE[dtype] * max(scale, 1.0)
    assert np.abs(state - expected_state).max() <= TOLERANCE[dtype] * max(scale, 1.0)


def test_dense_run_into_a_strided_time_chunk(rng):
    W, W_in, bias = _weights(rng, 30, 1, np.float64)
    inputs = rng.standard_normal((2, 20, 1))
    expected = reference.esn_run(
        reference.prepare_esn(W, W_in, bias), inputs, np.zeros((2, 30)), 1.0, "tanh", np.empty((2, 20, 30))
    )
    whole = np.empty((2, 40, 30))
    state = np.zeros((2, 30))
    prepared = cpu.prepare_esn(W, W_in, bias, "dense")
    cpu.esn_run(prepared, inputs[:, :10], state, 1.0, "tanh", whole[:, :10])
    cpu.esn_run(prepared, inputs[:, 10:], state, 1.0, "tanh", whole[:, 10:20])
    np.testing.assert_allclose(whole[:, :20], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("include_input", [True, False])
def test_dense_generate_matches_reference(rng, dtype, include_input):
    W, W_in, bias = _weights(rng, 30, 2, dtype)
    coef = (0.1 * rng.standard_normal((2, 30 + (2 if include_input else 0)))).astype(dtype)
    intercept = np.array([0.1, -0.2], dtype)
    start = (0.1 * rng.standard_normal(30)).astype(dtype)
    first = np.array([0.5, -0.5], dtype)
    state_ref, state = start.copy(), start.copy()
    expected = reference.esn_generate(
        reference.prepare_esn(W, W_in, bias), coef, intercept, include_input, state_ref, first, 25, 0.8, "tanh"
    )
    got = cpu.esn_generate(
        cpu.prepare_esn(W, W_in, bias, "dense"), coef, intercept, include_input, state, first, 25, 0.8, "tanh"
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE[dtype])
    np.testing.assert_allclose(state, state_ref, rtol=0, atol=TOLERANCE[dtype])


def test_automatic_switch_is_logged_and_follows_the_setting(rng, monkeypatch, caplog):
    W, W_in, bias = _weights(rng, 30, 1, np.float64, density=0.5)
    density = W.nnz / 900
    monkeypatch.setattr(settings, "dense_min_density", density - 0.01)
    assert isinstance(cpu.prepare_esn(W, W_in, bias), cpu.CpuEsnWeights)  # small: the small-reservoir kernel
    monkeypatch.setattr(settings, "small_max_work", W.nnz - 1)
    with caplog.at_level("INFO", logger="reservoir"):
        assert isinstance(cpu.prepare_esn(W, W_in, bias), DenseEsnWeights)
    assert any(f"dense recurrent kernel: density {density:.3g} >= " in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(settings, "dense_min_density", density + 0.01)
    assert isinstance(cpu.prepare_esn(W, W_in, bias), cpu.CpuEsnWeights)
    assert isinstance(cpu.prepare_esn(W, W_in, bias, "dense"), DenseEsnWeights)
    monkeypatch.setattr(settings, "dense_min_density", 0.0)
    assert isinstance(cpu.prepare_esn(W, W_in, bias, "sparse"), cpu.CpuEsnWeights)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_esn_dense_and_sparse_kernels_agree(rng, dtype):
    u = rng.standard_normal((3, 60, 2))
    runs = {}
    for kernel in ("sparse", "dense", "auto"):
        esn = rs.ESN(60, connectivity="full", seed=3, dtype=dtype, backend="numba", recurrent_kernel=kernel)
        runs[kernel] = esn.run(u)
        kind = type(esn._kernels()[1])
        assert (kind is DenseEsnWeights) == (kernel == "dense")  # "auto": 3600 nonzeros, a small reservoir
    reference_states = rs.ESN(60, connectivity="full", seed=3, dtype=dtype, backend="numpy").run(u)
    tol = TOLERANCE[np.dtype(dtype).type]
    for kernel in runs:
        np.testing.assert_allclose(runs[kernel], reference_states, rtol=0, atol=tol)


def test_esn_recurrent_kernel_in_config_and_errors():
    esn = rs.ESN(20, connectivity="full", seed=0, recurrent_kernel="dense")
    assert json.loads(json.dumps(esn.config()))["recurrent_kernel"] == "dense"
    assert "recurrent_kernel" not in rs.ESN(20, seed=0).config()
    with pytest.raises(ValueError, match="recurrent_kernel"):
        rs.ESN(20, recurrent_kernel="blas")
    esn._backend = types.SimpleNamespace(name="cupy")  # a GPU backend without the dense kernel
    with pytest.raises(NotImplementedError, match="'cupy'.*dense"):
        esn._prepare(types.SimpleNamespace(prepare_esn=None))


def test_full_connectivity_kind():
    W = rs.ESN(
        40, connectivity={"kind": "full", "symmetric": True}, spectral_radius=0.8, seed=1, dtype="float64"
    ).W.toarray()
    np.testing.assert_array_equal(W, W.T)
    assert np.all(np.diag(W) == 0)  # Hopfield-style: no self-connections
    assert np.count_nonzero(W) == 40 * 39
    eigenvalues = np.linalg.eigvalsh(W)
    assert abs(np.abs(eigenvalues).max() - 0.8) < 1e-6
    W = rs.ESN(40, connectivity="full", spectral_radius=0.8, seed=1, dtype="float64").W.toarray()
    assert np.count_nonzero(W) == 1600 and not np.allclose(W, W.T)
    assert abs(np.abs(np.linalg.eigvals(W)).max() - 0.8) < 1e-6
    again = rs.connectivity.full(40, symmetric=True, self_connections=True, seed=5)
    assert again.nnz == 1600
    with pytest.raises(ValueError, match="'full' takes the options"):
        rs.ESN(10, connectivity={"kind": "full", "hopfield": True})


def test_a_fully_connected_esn_switches_to_dense_on_its_own(rng, caplog):
    u = rng.standard_normal((40, 1))
    with caplog.at_level("INFO", logger="reservoir"):
        esn = rs.ESN(200, connectivity="full", seed=2, dtype="float64", backend="numba")
        states = esn.run(u)
    assert isinstance(esn._kernels()[1], DenseEsnWeights)
    assert any(r.getMessage().startswith("dense recurrent kernel: density 1 >= ") for r in caplog.records)
    expected = rs.ESN(200, connectivity="full", seed=2, dtype="float64", backend="numpy").run(u)
    np.testing.assert_allclose(states, expected, rtol=0, atol=1e-10)
