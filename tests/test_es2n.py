"""ES2N (reservoir.models.ES2N): the Numba kernel against the NumPy reference, the reference
against the equation, ReservoirPy 0.4.2 parity, its memory, and bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir.connectivity import orthogonal
from reservoir.kernels import reference
from reservoir.kernels.cpu import es2n as cpu
from reservoir.models import ES2N
from reservoir.readouts import Ridge

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _weights(rng, n=40, n_in=2, dtype=np.float64):
    W = sp.random_array((n, n), density=0.15, rng=rng, format="csr", data_sampler=rng.standard_normal)
    W = W * (0.9 / np.abs(np.linalg.eigvals(W.toarray())).max())
    O, _ = np.linalg.qr(rng.standard_normal((n, n)))  # orthogonal, drawn without the package
    return (
        sp.csr_array(W, dtype=dtype),
        rng.uniform(-1, 1, (n, n_in)).astype(dtype),
        rng.uniform(-0.3, 0.3, n).astype(dtype),
        O.astype(dtype),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 4])
def test_cpu_kernel_matches_the_reference(rng, dtype, batch):
    W, W_in, bias, O = _weights(rng, n=33, dtype=dtype)
    inputs = rng.uniform(-1, 1, (batch, 70, 2)).astype(dtype)
    proximity = rng.uniform(0.05, 1.0, 33).astype(dtype)
    outs = []
    for kernels in (reference, cpu):
        state = np.full((batch, 33), 0.1, dtype)
        out = np.empty((batch, 70, 33), dtype)
        kernels.es2n_run(kernels.prepare_es2n(W, W_in, bias, O), proximity, inputs, state, "tanh", out)
        outs.append((out, state))
    for ours, oracle in zip(outs[1], outs[0]):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, oracle, **TOL[dtype])


def test_reference_follows_the_equation(rng):
    W, W_in, bias, O = _weights(rng, n=20)
    u = rng.uniform(-1, 1, (1, 30, 2))
    beta = 0.3
    x, expected = np.zeros(20), []
    for u_t in u[0]:
        x = beta * np.tanh(W.toarray() @ x + W_in @ u_t + bias) + (1 - beta) * O @ x
        expected.append(x)
    out = np.empty((1, 30, 20))
    reference.es2n_run(reference.prepare_es2n(W, W_in, bias, O), np.full(20, beta), u, np.zeros((1, 20)), "tanh", out)
    np.testing.assert_allclose(out[0], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_backends_agree_single_and_batch(rng, dtype):
    u = rng.uniform(-1, 1, (3, 90, 1))
    runs = []
    for backend in ("numpy", "numba"):
        model = ES2N(45, proximity=0.2, seed=5, dtype=dtype, backend=backend)
        runs.append((model.run(u[1]), model.reset().run(u)))
    tol = TOL[np.dtype(dtype).type]
    for ours, oracle in zip(runs[1], runs[0]):
        np.testing.assert_allclose(ours, oracle, **tol)
    assert runs[1][1].shape == (3, 90, 45) and runs[1][1].dtype == np.dtype(dtype)
    np.testing.assert_allclose(runs[1][1][1], runs[1][0], **tol)


def test_proximity_one_is_the_esn_with_the_same_seed(rng):
    u = rng.uniform(-1, 1, (80, 2))
    esn = rs.ESN(50, spectral_radius=1.0, seed=3, dtype="float64")
    es2n = ES2N(50, proximity=1.0, seed=3, dtype="float64")
    np.testing.assert_allclose(es2n.run(u), esn.run(u), rtol=1e-12, atol=1e-12)


def test_O_is_orthogonal_and_reproducible():
    a, b = ES2N(60, seed=2, dtype="float64"), ES2N(60, seed=2, dtype="float64")
    np.testing.assert_array_equal(a.O, b.O)
    np.testing.assert_allclose(a.O @ a.O.T, np.eye(60), atol=1e-12)
    assert not np.allclose(a.O, ES2N(60, seed=3, dtype="float64").O)
    assert orthogonal(1, seed=0, dense=True).shape == (1, 1) and abs(orthogonal(1, seed=0, dense=True)[0, 0]) == 1


def test_small_proximity_remembers_longer_than_the_esn(rng):
    """Ceni & Gallicchio's point: near the edge of stability, a 30-step-old input is still recoverable."""
    u = rng.uniform(-1, 1, (3000, 1))
    target = np.roll(u[:, 0], 30)
    scores = []
    for model in (
        rs.ESN(100, spectral_radius=0.95, input_scaling=0.1, seed=1, dtype="float64"),
        ES2N(100, proximity=0.1, input_scaling=0.1, seed=1, dtype="float64"),
    ):
        states = model.run(u)
        readout = Ridge(alpha=1e-8).fit(states[100:2000], target[100:2000])
        scores.append(readout.score(states[2000:], target[2000:]))
    assert scores[0] < 0.5 < 0.95 < scores[1]


def test_state_carries_over_and_reset_clears_it(rng):
    u = rng.uniform(-1, 1, (60, 2))
    model = ES2N(30, seed=1, dtype="float64")
    whole = model.run(u)
    model.reset()
    np.testing.assert_allclose(np.vstack([model.run(u[:20]), model.run(u[20:])]), whole, rtol=1e-12, atol=1e-12)
    model.reset()
    assert not model.state.any()
    np.testing.assert_allclose(model.run(u), whole, rtol=1e-12, atol=1e-12)


def test_config_rebuilds_the_same_reservoir(rng):
    model = ES2N(40, proximity=np.linspace(0.1, 1.0, 40), spectral_radius=0.8, seed=4, dtype="float64")
    config = json.loads(json.dumps(model.config()))
    assert config.pop("model") == "ES2N"
    twin = ES2N(**config)
    u = rng.uniform(-1, 1, (40, 1))
    np.testing.assert_array_equal(twin.run(u), model.run(u))
    restored = ES2N.from_weights(model.W, model.W_in, model.bias, sp.csr_array(model.O), proximity=model.proximity)
    np.testing.assert_allclose(restored.run(u), model.reset().run(u), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("proximity", [0.0, -0.1, 1.5, float("nan"), [0.5, 0.5], np.r_[np.full(19, 0.5), 0.0]])
def test_proximity_outside_0_1_raises(proximity):
    with pytest.raises(ValueError, match="proximity"):
        ES2N(20, proximity=proximity)


def test_bad_inputs_raise(rng):
    model = ES2N(20, seed=0, dtype="float64")
    u = rng.uniform(-1, 1, (30, 1))
    u[4] = np.inf
    with pytest.raises(ValueError, match="u contains inf at time step 4"):
        model.run(u)
    W, W_in, bias, O = _weights(rng, n=20)
    with pytest.raises(ValueError, match="O must have shape"):
        ES2N.from_weights(W, W_in, bias, O[:5])
    with pytest.warns(rs.ReservoirWarning, match="not orthogonal"):
        ES2N.from_weights(W, W_in, bias, 2 * O)
    with warnings.catch_warnings():
        warnings.simplefilter("error", rs.ReservoirWarning)
        ES2N.from_weights(W, W_in, bias, O)


@pytest.mark.parametrize("backend", ["cupy", "numba-cuda"])
def test_gpu_backends_name_the_missing_kernels(backend):
    with pytest.raises(RuntimeError, match=f"{backend}.*ES2N"):
        ES2N(20, backend=backend)


# --------------------------------------------------------------------------- ReservoirPy 0.4.2
@pytest.mark.parametrize("layout", ["single-sparse", "single-dense", "batch", "per-unit"])
def test_matches_reservoirpy(rng, layout):
    nodes = pytest.importorskip("reservoirpy.nodes")
    u = rng.uniform(-1, 1, (3, 100, 2))
    X = u if layout == "batch" else u[0]
    ours = ES2N(50, proximity=0.25, seed=7, dtype="float64")
    ours.run(u[0, :1])  # draws W_in and bias
    ours.reset()
    if layout == "per-unit":
        ours = ES2N.from_weights(ours.W, ours.W_in, ours.bias, ours.O, proximity=rng.uniform(0.05, 1, 50))
    theirs = nodes.ES2N(
        W=ours.W.toarray() if layout == "single-dense" else ours.W,
        Win=ours.W_in,
        bias=ours.bias,
        O=ours.O,
        proximity=ours.proximity,
    )
    np.testing.assert_allclose(ours.run(X), theirs.run(X), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.state if layout != "batch" else ours.state[-1], theirs.state["out"], atol=1e-9)


def test_chunks_store_and_iter_states_give_the_same_states(rng, tmp_path, monkeypatch):
    """run() in time chunks, streamed into a StateStore, and iter_states all run the ES2N kernel."""
    from reservoir.config import settings

    u = rng.uniform(-1, 1, (3, 40, 2))
    model = ES2N(25, proximity=0.3, seed=2, dtype="float64")
    whole = model.run(u)
    assert not np.allclose(whole, rs.ESN.from_weights(model.W, model.W_in, model.bias).run(u), atol=1e-3)
    monkeypatch.setattr(settings, "time_chunk", 6)
    np.testing.assert_allclose(model.reset().run(u), whole, rtol=1e-12, atol=1e-12)
    chunks = [block.copy() for _, _, block in model.reset().iter_states(u, chunk_steps=11)]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, rtol=1e-12, atol=1e-12)
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        run = model.reset().run(u, store=store, name="es2n", checkpoint_every=16)
        np.testing.assert_allclose(run.states[...], whole, rtol=1e-12, atol=1e-12)
        assert run.config["model"] == "ES2N"
