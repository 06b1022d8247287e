"""Every registered backend's kernel module keeps the kernel contract (``kernels/contract.py``).

The signatures of every module are checked against ``contract.KernelModule`` by name and
order of parameters (the GPU modules too: Numba-CUDA imports without a GPU, CuPy's module
is imported on the NumPy-backed stand-in of tests/cupy_stand_in.py). Every backend that can
run here also makes one small call of each function, checked against the reference.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from cupy_stand_in import stand_in_modules

import reservoir as rs
from reservoir import backends
from reservoir.kernels import contract, reference
from reservoir.kernels.lif import LifState

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _kernel_module(name: str, monkeypatch):
    backend = backends._REGISTRY[name]
    if name == "cupy" and importlib.util.find_spec("cupy") is None:
        for module_name, module in stand_in_modules().items():
            monkeypatch.setitem(sys.modules, module_name, module)
        monkeypatch.delitem(sys.modules, "reservoir.kernels.cupy_raw", raising=False)
    missing = [module for module in backend.requires if backends._find_spec(module) is None]
    if missing:
        pytest.skip(f"{name}: {missing} not installed")
    module = importlib.import_module(f"reservoir.kernels.{backend.kernel_module}")
    if name == "cupy" and importlib.util.find_spec("cupy") is None:
        monkeypatch.delitem(sys.modules, "reservoir.kernels.cupy_raw")  # never leave the stand-in's module behind
    return module


def test_the_contract_names_the_functions_the_models_call():
    assert set(contract.FUNCTIONS) == {
        "prepare_esn",
        "esn_run",
        "esn_generate",
        "prepare_lsm",
        "lsm_run",
        "prepare_elm",
        "elm_hidden",
    }


def test_a_module_that_breaks_the_contract_is_told_what_is_wrong():
    import types

    broken = types.ModuleType("broken")
    broken.esn_run = lambda weights, inputs, state, leak, activation, out: out  # `leak`, not `leak_rate`
    problems = contract.conformance_problems(broken)
    assert "broken.prepare_esn is missing" in problems
    assert any(p.startswith("broken.esn_run(") and "leak_rate" in p for p in problems), problems


def test_trailing_parameters_conform_only_when_they_have_defaults():
    import types

    def lsm_run_with(extra_default):
        module = types.ModuleType("extended")
        for name in contract.FUNCTIONS:
            setattr(module, name, getattr(reference, name))
        if extra_default:

            def lsm_run(weights, params, inputs, input_spikes, state, out, window, record_spikes, sample_every=1):
                return None
        else:

            def lsm_run(weights, params, inputs, input_spikes, state, out, window, record_spikes, sample_every):
                return None

        module.lsm_run = lsm_run
        return contract.conformance_problems(module)

    assert lsm_run_with(extra_default=True) == []
    assert any("lsm_run" in p for p in lsm_run_with(extra_default=False))


@pytest.mark.parametrize("name", backends.names())
def test_every_backend_module_has_the_contracts_signatures(name, monkeypatch):
    assert contract.conformance_problems(_kernel_module(name, monkeypatch)) == []


@pytest.fixture
def rng():
    return np.random.default_rng(20261203)


def _runnable(name):
    reason = backends._REGISTRY[name].unavailable_reason()
    if reason:
        pytest.skip(f"{name}: {reason}")
    return backends._REGISTRY[name].kernels()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", backends.names())
def test_esn_functions_match_the_reference(name, dtype, rng):
    kernels = _runnable(name)
    n, n_in = 13, 2
    W = sp.csr_array(sp.random_array((n, n), density=0.3, rng=rng, format="csr") * 0.4, dtype=dtype)
    W_in, bias = rng.uniform(-1, 1, (n, n_in)).astype(dtype), rng.uniform(-0.2, 0.2, n).astype(dtype)
    prepared, expected_weights = kernels.prepare_esn(W, W_in, bias), reference.prepare_esn(W, W_in, bias)
    assert isinstance(prepared, contract.EsnWeights)
    assert sp.issparse(prepared.W) and prepared.W.shape == (n, n) and prepared.W.dtype == dtype
    for batch in (1, 2):
        u = rng.uniform(-1, 1, (batch, 6, n_in)).astype(dtype)
        x0 = rng.uniform(-0.5, 0.5, (batch, n)).astype(dtype)
        state, expected_state = x0.copy(), x0.copy()
        out = np.full((batch, 6, n), np.nan, dtype)
        assert kernels.esn_run(prepared, u, state, 0.4, "tanh", out) is out
        expected = reference.esn_run(expected_weights, u, expected_state, 0.4, "tanh", np.empty_like(out))
        np.testing.assert_allclose(out, expected, **TOL[dtype])
        np.testing.assert_allclose(state, expected_state, **TOL[dtype])
    coef, intercept = (rng.standard_normal((n_in, n + n_in)) * 0.2).astype(dtype), np.zeros(n_in, dtype)
    state, expected_state = x0[0].copy(), x0[0].copy()
    outputs = kernels.esn_generate(prepared, coef, intercept, True, state, u[0, 0].copy(), 5, 0.4, "tanh")
    expected = reference.esn_generate(
        expected_weights, coef, intercept, True, expected_state, u[0, 0].copy(), 5, 0.4, "tanh"
    )
    assert outputs.shape == (5, n_in)
    np.testing.assert_allclose(outputs, expected, **TOL[dtype])
    np.testing.assert_allclose(state, expected_state, **TOL[dtype])


@pytest.mark.parametrize("name", backends.names())
def test_elm_functions_match_the_reference(name, rng):
    kernels = _runnable(name)
    W = sp.csr_array(sp.random_array((11, 5), density=0.4, rng=rng, format="csr"))
    bias = rng.uniform(-1, 1, 11)
    X = rng.standard_normal((7, 5)) * (rng.random((7, 5)) < 0.6)
    prepared = kernels.prepare_elm(W, bias)
    expected = reference.elm_hidden(reference.prepare_elm(W, bias), X, "relu")
    for given in (X, sp.csr_array(X)):
        np.testing.assert_allclose(kernels.elm_hidden(prepared, given, "relu"), expected, **TOL[np.float64])


@pytest.mark.parametrize("name", backends.names())
def test_lsm_functions_match_the_reference(name):
    kernels = _runnable(name)
    net = rs.LSM(
        30,
        8,
        density=0.25,
        v_rest=-30e-3,
        tau_m=5e-3,
        refractory=3e-4,
        w_exc=3e-3,
        w_inh=-5e-3,
        delay=(1e-4, 3e-4),
        seed=5,
        dtype="float64",
        backend="numpy",
    )
    W_in = sp.csr_array((net.n_neurons, 0))
    params = net.params(trace_tau=2e-3).as_tuple(net.dtype)
    inputs = np.zeros((2, 15, 0))
    results = []
    for module in (reference, kernels):
        state = LifState.initial(net._v0, 2, net.ring_slots)
        out = np.zeros((2, 15, net.n_neurons))
        spikes = module.lsm_run(
            module.prepare_lsm(net.W_push, net.delays, net.n_exc, W_in), params, inputs, False, state, out, 0, True
        )
        results.append((spikes, out, state))
    (expected_spikes, expected_out, expected_state), (spikes, out, state) = results
    assert sum(len(trial) for trial in expected_spikes) >= 10, "the test network should fire"
    for expected_trial, trial in zip(expected_spikes, spikes, strict=True):
        np.testing.assert_array_equal(trial, expected_trial)
    np.testing.assert_allclose(out, expected_out, rtol=1e-10, atol=1e-14)
    assert state.step == expected_state.step == 15
