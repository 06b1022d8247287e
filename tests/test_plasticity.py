"""Intrinsic plasticity (reservoir.models.IPReservoir): kernels against the NumPy reference,
the reference against the equations, ReservoirPy 0.4.2 parity, behaviour and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir.kernels import reference
from reservoir.kernels.cpu import plasticity as cpu
from reservoir.models import IPReservoir
from reservoir.readouts import Ridge

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _weights(rng, n=40, n_in=2, density=0.15, radius=0.9, dtype=np.float64):
    W = sp.random_array((n, n), density=density, rng=rng, format="csr", data_sampler=rng.standard_normal)
    W = W * (radius / np.abs(np.linalg.eigvals(W.toarray())).max())
    W_in = rng.uniform(-1, 1, (n, n_in))
    bias = rng.uniform(-0.3, 0.3, n)
    return sp.csr_array(W, dtype=dtype), W_in.astype(dtype), bias.astype(dtype)


def _equations_fit(W, W_in, bias, a, b, sequences, lr, activation, mu, sigma, eta, epochs, warmup):
    """The IP rule written from the papers, one unit-vector step at a time (float64, dense W)."""
    W = W.toarray()
    f = np.tanh if activation == "tanh" else (lambda z: 1 / (1 + np.exp(-z)))
    r, x = np.zeros(len(a)), np.zeros(len(a))
    for _ in range(epochs):
        for sequence in sequences:
            for t, u in enumerate(sequence):
                r = (1 - lr) * r + lr * (W @ x + W_in @ u + bias)
                x = f(a * r + b)
                if t >= warmup:
                    if activation == "tanh":  # Schrauwen et al. 2008, eq. for a Gaussian target
                        db = -(-mu / sigma**2 + x / sigma**2 * (2 * sigma**2 + 1 - x**2 + mu * x))
                    else:  # Triesch 2005, exponential target of mean mu
                        db = 1 - (2 + 1 / mu) * x + x**2 / mu
                    a, b = a + eta * (1 / a + db * r), b + eta * db
    return a, b, r, x


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("batch", [1, 3])
def test_cpu_kernels_match_the_reference(rng, dtype, activation, batch):
    W, W_in, bias = _weights(rng, n=37, dtype=dtype)
    inputs = rng.uniform(-1, 1, (batch, 60, 2)).astype(dtype)
    gain = rng.uniform(0.5, 1.5, 37).astype(dtype)
    offset = rng.uniform(-0.2, 0.2, 37).astype(dtype)
    results = []
    for kernels in (reference, cpu):
        weights = kernels.prepare_ip(W, W_in, bias)
        internal = np.full((batch, 37), 0.1, dtype)
        state = np.zeros((batch, 37), dtype)
        out = np.empty((batch, 60, 37), dtype)
        kernels.ip_run(weights, gain, offset, inputs, internal, state, 0.7, activation, out)
        g, o = gain.copy(), offset.copy()
        r, x = np.zeros(37, dtype), np.full(37, 0.05, dtype)
        kernels.ip_fit(weights, g, o, inputs, r, x, 0.7, activation, 0.2, 0.3, 1e-2, 2, 5)
        results.append((out, internal, state, g, o, r, x))
    for ours, oracle in zip(results[1], results[0]):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, oracle, **TOL[dtype])
    assert not np.allclose(results[0][3], gain)  # the rule did move the gains


def test_reference_fit_follows_the_equations(rng):
    W, W_in, bias = _weights(rng, n=20)
    sequences = rng.uniform(-1, 1, (2, 50, 2))
    for activation, mu in (("tanh", 0.1), ("sigmoid", 0.3)):
        gain, offset = np.ones(20), np.zeros(20)
        r, x = np.zeros(20), np.zeros(20)
        reference.ip_fit(
            reference.prepare_ip(W, W_in, bias), gain, offset, sequences, r, x, 0.5, activation, mu, 0.4, 5e-3, 3, 4
        )
        expected = _equations_fit(
            W, W_in, bias, np.ones(20), np.zeros(20), sequences, 0.5, activation, mu, 0.4, 5e-3, 3, 4
        )
        for got, want in zip((gain, offset, r, x), expected):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- the model
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_backends_agree_single_and_batch(rng, dtype):
    u = rng.uniform(-1, 1, (3, 80, 2))
    models = [
        IPReservoir(50, sigma=0.3, learning_rate=5e-3, epochs=2, leak_rate=0.8, seed=4, dtype=dtype, backend=b)
        for b in ("numpy", "numba")
    ]
    results = []
    for model in models:
        model.fit(u, warmup=10)
        model.reset()
        results.append((model.gain, model.offset, model.run(u[0]), model.reset().run(u)))
    tol = TOL[np.dtype(dtype).type]
    for ours, oracle in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, oracle, **tol)
    assert results[1][2].shape == (80, 50) and results[1][3].shape == (3, 80, 50)
    np.testing.assert_allclose(results[1][3][0], results[1][2], **tol)  # a batch's sequences are independent


def test_untrained_is_the_esn_with_the_same_seed(rng):
    u = rng.uniform(-1, 1, (100, 2))
    esn = rs.ESN(60, seed=9, dtype="float64")
    ip = IPReservoir(60, seed=9, dtype="float64")
    np.testing.assert_allclose(ip.run(u), esn.run(u), rtol=1e-12, atol=1e-12)
    assert (ip.W != esn.W).nnz == 0 and np.array_equal(ip.W_in, esn.W_in)


@pytest.mark.parametrize("sigma", [0.1, 0.3])
def test_training_moves_the_outputs_towards_the_target(rng, sigma):
    """After IP the outputs' spread is near sigma and their mean near mu; untrained, far from it."""
    u = rng.uniform(-1, 1, (2000, 1))
    ip = IPReservoir(100, mu=0.0, sigma=sigma, learning_rate=5e-3, epochs=2, seed=2, dtype="float64")
    before = ip.run(u[1000:])
    ip.reset().fit(u[:1000], warmup=100)
    after = ip.reset().run(u[1000:])
    assert abs(after.std() - sigma) < 0.25 * abs(before.std() - sigma)
    assert abs(after.std() - sigma) < 0.03
    # per unit, too: most units' own spread is near sigma
    assert np.median(np.abs(after.std(axis=0) - sigma)) < 0.05
    assert abs(after.mean()) < 0.05


def test_sigmoid_units_move_towards_the_exponential_mean(rng):
    u = rng.uniform(-1, 1, (2000, 1))
    ip = IPReservoir(80, activation="sigmoid", mu=0.15, learning_rate=5e-3, epochs=2, seed=3, dtype="float64")
    before = ip.run(u[1000:]).mean()
    after = ip.fit(u[:1000]).reset().run(u[1000:]).mean()
    assert abs(after - 0.15) < 0.2 * abs(before - 0.15)


def test_states_feed_a_ridge_readout(rng):
    u = rng.uniform(-1, 1, (1500, 1))
    target = np.roll(u[:, 0], 3)  # recall the input 3 steps back
    ip = IPReservoir(100, sigma=0.2, learning_rate=5e-3, seed=5, dtype="float64").fit(u[:500])
    states = ip.reset().run(u)
    readout = Ridge(alpha=1e-6).fit(states[100:1000], target[100:1000])
    assert readout.score(states[1000:], target[1000:]) > 0.9


def test_state_carries_over_and_reset_clears_it(rng):
    u = rng.uniform(-1, 1, (60, 2))
    ip = IPReservoir(30, leak_rate=0.5, learning_rate=1e-2, seed=1, dtype="float64").fit(u)
    ip.reset()
    whole = ip.run(u)
    ip.reset()
    first, second = ip.run(u[:25]), ip.run(u[25:])
    np.testing.assert_allclose(np.vstack([first, second]), whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ip.internal_state, np.arctanh(ip.state) / ip.gain - ip.offset / ip.gain, atol=1e-8)
    ip.reset()
    assert not ip.state.any() and not ip.internal_state.any()
    np.testing.assert_allclose(ip.run(u), whole, rtol=1e-12, atol=1e-12)


def test_fit_continues_from_the_state_and_repeats_epochs(rng):
    """fit with epochs=2 is two fits of one epoch (the state and the gains carry over)."""
    u = rng.uniform(-1, 1, (2, 40, 1))
    twice = IPReservoir(25, epochs=2, learning_rate=1e-2, seed=6, dtype="float64").fit(u)
    once = IPReservoir(25, epochs=1, learning_rate=1e-2, seed=6, dtype="float64")
    once.fit(u).fit(u)
    np.testing.assert_allclose(twice.gain, once.gain, rtol=1e-12)
    np.testing.assert_allclose(twice.state, once.state, rtol=1e-12, atol=1e-14)


def test_config_rebuilds_the_same_reservoir(rng):
    import json

    ip = IPReservoir(40, mu=0.1, sigma=0.25, learning_rate=1e-3, epochs=3, leak_rate=0.9, seed=11, dtype="float64")
    config = json.loads(json.dumps(ip.config()))
    assert config.pop("model") == "IPReservoir"
    twin = IPReservoir(**config)
    u = rng.uniform(-1, 1, (50, 2))
    np.testing.assert_array_equal(twin.fit(u).gain, ip.fit(u).gain)
    restored = IPReservoir.from_weights(ip.W, ip.W_in, ip.bias, gain=ip.gain, offset=ip.offset, leak_rate=0.9)
    np.testing.assert_allclose(restored.run(u), ip.reset().run(u), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": -1.0}, "sigma"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"activation": "relu"}, "activation"),
        ({"activation": "identity"}, "activation"),
        ({"activation": "sigmoid", "mu": 0.0}, "mu"),
        ({"activation": "sigmoid", "mu": 1.5}, "mu"),
        ({"mu": float("nan")}, "mu"),
        ({"epochs": 0}, "epochs"),
        ({"leak_rate": 0.0}, "leak_rate"),
    ],
)
def test_bad_parameters_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        IPReservoir(20, **kwargs)
    with pytest.raises(ValueError, match=name):
        IPReservoir.from_weights(sp.eye_array(20) * 0.5, np.ones((20, 1)), **kwargs)


def test_bad_inputs_raise_and_change_nothing(rng):
    u = rng.uniform(-1, 1, (50, 1))
    ip = IPReservoir(20, learning_rate=1e-2, seed=0, dtype="float64").fit(u)
    gain, state = ip.gain.copy(), ip.state.copy()
    bad = u.copy()
    bad[7] = np.nan
    with pytest.raises(ValueError, match="u contains NaN at time step 7"):
        ip.fit(bad)
    with pytest.raises(ValueError, match="u contains NaN at time step 7"):
        ip.run(bad)
    with pytest.raises(ValueError, match="warmup"):
        ip.fit(u, warmup=50)
    with pytest.raises(ValueError, match="features"):
        ip.fit(rng.uniform(size=(30, 2)))
    with pytest.raises(ValueError, match="different widths|features"):
        ip.fit([u[:10], rng.uniform(size=(12, 2))])
    np.testing.assert_array_equal(ip.gain, gain)
    np.testing.assert_array_equal(ip.state, state)
    ip.reset().run(np.stack([u, u]))
    with pytest.raises(ValueError, match="holds the state of 2 sequences.*call reset"):
        ip.fit(u)


def test_a_learning_rate_that_overshoots_warns(rng):
    u = rng.uniform(-1, 1, (1000, 1))
    with pytest.warns(rs.ReservoirWarning, match="learning_rate"):
        IPReservoir(60, sigma=0.2, learning_rate=0.1, seed=1, dtype="float64").fit(u)
    with warnings.catch_warnings():
        warnings.simplefilter("error", rs.ReservoirWarning)
        IPReservoir(60, sigma=0.2, learning_rate=5e-3, seed=1, dtype="float64").fit(u)


def test_a_diverging_rule_raises_and_keeps_the_reservoir(rng):
    """Gains that reach Inf (here: 1 / gain overflows from a subnormal start) raise; nothing changes."""
    W, W_in, bias = _weights(rng, n=30, n_in=1)
    start = np.full(30, 1e-320)
    ip = IPReservoir.from_weights(W, W_in, bias, gain=start, learning_rate=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rs.ReservoirWarning)
        with pytest.raises(FloatingPointError, match="learning_rate"):
            ip.fit(rng.uniform(-1, 1, (50, 1)))
    np.testing.assert_array_equal(ip.gain, start)
    assert not ip.state.any()
    with pytest.raises(ValueError, match="gain contains 0"):
        IPReservoir.from_weights(W, W_in, bias, gain=np.zeros(30))


@pytest.mark.parametrize("backend", ["cupy", "numba-cuda"])
def test_gpu_backends_name_the_missing_kernels(backend):
    with pytest.raises(RuntimeError, match=f"{backend}.*intrinsic-plasticity.*IPReservoir"):
        IPReservoir(20, backend=backend)


# --------------------------------------------------------------------------- ReservoirPy 0.4.2
@pytest.mark.parametrize("activation, mu", [("tanh", 0.1), ("sigmoid", 0.3)])
@pytest.mark.parametrize("layout", ["single", "batch", "ragged"])
def test_matches_reservoirpy(rng, activation, mu, layout):
    nodes = pytest.importorskip("reservoirpy.nodes")
    u = rng.uniform(-1, 1, (3, 120, 2))
    X = {"single": u[0], "batch": u, "ragged": [u[0, :70], u[1], u[2, :90]]}[layout]
    ours = IPReservoir(
        50,
        activation=activation,
        mu=mu,
        sigma=0.3,
        learning_rate=1e-2,
        epochs=2,
        leak_rate=0.7,
        seed=8,
        dtype="float64",
    )
    ours.run(u[0, :1])
    ours.reset()
    W = ours.W if layout == "single" else ours.W.toarray()  # sparse and dense W both work there
    theirs = nodes.IPReservoir(
        W=W,
        Win=ours.W_in,
        bias=ours.bias,
        lr=0.7,
        mu=mu,
        sigma=0.3,
        learning_rate=1e-2,
        epochs=2,
        activation=activation,
    )
    theirs.fit(X)
    ours.fit(X)
    np.testing.assert_allclose(ours.gain, theirs.a, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.offset, theirs.b, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.state, theirs.state["out"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.internal_state, theirs.state["internal"], rtol=0, atol=1e-9)
    # the states after training, continuing from the state training left
    np.testing.assert_allclose(ours.run(u[0]), theirs.run(u[0]), rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- the ESN's running machinery
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_chunks_store_and_iter_states_give_the_same_states(rng, tmp_path, monkeypatch, backend):
    """run() in time chunks, streamed into a StateStore, and iter_states all run the IP kernels."""
    from reservoir.config import settings

    u = rng.uniform(-1, 1, (2, 50, 1))
    ip = IPReservoir(30, learning_rate=1e-2, leak_rate=0.6, seed=2, dtype="float64", backend=backend)
    ip.fit(u[0])
    ip.reset()
    whole = ip.run(u)
    esn_states = rs.ESN.from_weights(ip.W, ip.W_in, ip.bias, leak_rate=0.6).run(u)
    assert not np.allclose(whole, esn_states, atol=1e-3)  # adapted gains: not the ESN's states
    monkeypatch.setattr(settings, "time_chunk", 7)
    np.testing.assert_allclose(ip.reset().run(u), whole, rtol=1e-12, atol=1e-12)
    chunks = [block.copy() for _, _, block in ip.reset().iter_states(u, chunk_steps=9)]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, rtol=1e-12, atol=1e-12)
    internal_after_chunks = ip.internal_state.copy()
    ip.reset().run(u)
    np.testing.assert_allclose(internal_after_chunks, ip.internal_state, rtol=1e-12, atol=1e-12)
    buffer = np.empty_like(whole)
    assert ip.reset().run(u, out=buffer) is buffer
    np.testing.assert_allclose(buffer, whole, rtol=1e-12, atol=1e-12)
    with rs.StateStore(tmp_path / "s.h5", "w") as store:
        run = ip.reset().run(u, store=store, name="ip", checkpoint_every=16)
        np.testing.assert_allclose(run.states[...], whole, rtol=1e-12, atol=1e-12)
        assert run.config["model"] == "IPReservoir"
        with pytest.raises(ValueError, match="leak_rate=1"):
            ip.run(u, store=store, name="ip", resume=True)
