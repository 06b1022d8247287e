"""Gated recurrent readouts (GRU, LSTM): equations, gradients, training, storage, validation.

The references here are written from the gate equations (user guide) with one weight
matrix per gate acting on the concatenation [x_t, h_{t-1}] (the package stacks them and
splits the product into an input half and a recurrent half), and the gradients are
checked against central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

import reservoir as rs
from reservoir._arrays import namespace
from reservoir.readouts import gated_cells, optimizers, sequences, windows
from reservoir.readouts import gated_network as network
from reservoir.readouts.gated import GRUReadout, LSTMReadout
from reservoir.storage import StateStore, save_run

READOUTS = [GRUReadout, LSTMReadout]
LOOPS = ["numba", "numpy"]


@pytest.fixture(params=LOOPS)
def loops(request, monkeypatch):
    """Run a test with the compiled step loops and with the plain NumPy ones."""
    monkeypatch.setattr(gated_cells, "USE_NUMBA", request.param == "numba")
    return request.param


# ----------------------------------------------------------------------------- independent references
def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _reference_layer(kind, gates, X, h0=None, c0=None):
    """One layer over X (T, n) from the per-gate (W (m, n + m), b) of the gate equations; returns (T, m)."""
    m = gates[next(iter(gates))][1].shape[0]
    h = np.zeros(m) if h0 is None else np.array(h0, dtype=np.float64)
    c = np.zeros(m) if c0 is None else np.array(c0, dtype=np.float64)
    out = np.empty((X.shape[0], m))
    for t, x in enumerate(np.asarray(X, dtype=np.float64)):
        xh = np.concatenate([x, h])
        if kind == "lstm":
            (Wf, bf), (Wi, bi), (Wg, bg), (Wo, bo) = (gates[k] for k in ("forget", "input", "candidate", "output"))
            f, i = _sigmoid(Wf @ xh + bf), _sigmoid(Wi @ xh + bi)
            g, o = np.tanh(Wg @ xh + bg), _sigmoid(Wo @ xh + bo)
            c = f * c + i * g
            h = o * np.tanh(c)
        else:
            (Wz, bz), (Wr, br), (Wc, bc) = (gates[k] for k in ("update", "reset", "candidate"))
            z, r = _sigmoid(Wz @ xh + bz), _sigmoid(Wr @ xh + br)
            candidate = np.tanh(Wc @ np.concatenate([x, r * h]) + bc)
            h = z * h + (1.0 - z) * candidate
        out[t] = h
    return out


def _reference_outputs(model, X):
    """Per-step outputs of a fitted readout on one sequence (T, n), from its gate weights."""
    layers = model.gate_weights()
    kind = "lstm" if isinstance(model, LSTMReadout) else "gru"
    A = np.asarray(X, dtype=np.float64)
    for gates in layers[:-1]:
        gates = {name: (np.asarray(W, np.float64), np.asarray(b, np.float64)) for name, (W, b) in gates.items()}
        A = _reference_layer(kind, gates, A)
    W_out, b_out = layers[-1]["output"]
    return A @ W_out.T + b_out


def _random_parameters(cell, n, m, n_layers, n_out, rng):
    """Initial parameters with every bias and weight moved off its initial value (float64)."""
    params = network.initial_parameters(cell, n, m, n_layers, n_out, rng)
    return [p + 0.3 * rng.standard_normal(p.shape) for p in params]


# ----------------------------------------------------------------------------- equations
@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("n_layers", [1, 2])
def test_predict_matches_the_gate_equations(readout, n_layers, loops, rng):
    """predict() over windows shorter than the series (state carried) equals the per-gate reference."""
    X = rng.standard_normal((50, 4))
    model = readout(
        5, n_layers=n_layers, epochs=1, window=7, batch_size=2, validation_fraction=0, seed=0, dtype="float64"
    ).fit(X, rng.standard_normal((50, 2)))
    model.parameters_ = _random_parameters(model._cell, 4, 5, n_layers, 2, rng)
    np.testing.assert_allclose(model.predict(X), _reference_outputs(model, X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("readout", READOUTS)
def test_windowed_prediction_equals_whole_sequence_prediction(readout, rng):
    X = rng.standard_normal((3, 40, 3))
    model = readout(4, epochs=1, window=6, validation_fraction=0, seed=1, dtype="float64").fit(
        X, rng.standard_normal((3, 40))
    )
    whole = clone(model).set_params(window=None).fit(X, rng.standard_normal((3, 40)))
    whole.parameters_ = model.parameters_
    np.testing.assert_allclose(model.predict(X), whole.predict(X), rtol=1e-12, atol=1e-13)
    assert model.predict(X).shape == (3, 40)


def test_lstm_forget_bias_starts_at_one_and_gates_have_the_documented_shapes():
    model = LSTMReadout(6, n_layers=2, epochs=1, validation_fraction=0, seed=0).fit(
        np.zeros((10, 3)), np.zeros((10, 1))
    )
    first, second, output = model.gate_weights()
    W, b = first["forget"]
    assert W.shape == (6, 3 + 6) and np.all(b == 1.0)
    assert second["candidate"][0].shape == (6, 6 + 6)
    assert output["output"][0].shape == (1, 6)
    gru = GRUReadout(6, epochs=1, validation_fraction=0, seed=0).fit(np.zeros((10, 3)), np.zeros((10, 1)))
    assert sorted(gru.gate_weights()[0]) == ["candidate", "reset", "update"]


# ----------------------------------------------------------------------------- gradients
def _finite_difference_check(cell, mode, n_layers, rng, eps=1e-6):
    """Relative error ||g - fd|| / max(||g||, ||fd||) of every parameter array."""
    B, T, n, m, n_out = 3, 6, 3, 4, 2
    params = _random_parameters(cell, n, m, n_layers, n_out, rng)
    X = rng.standard_normal((B, T, n))
    lengths = np.array([6, 4, 1])  # ragged: padded steps must not count
    # A nonzero starting state (as a carried state would be); the gradient stops at it.
    state = [tuple(0.5 * rng.standard_normal((B, m)) for _ in range(cell.n_states)) for _ in range(n_layers)]
    target = rng.standard_normal((B, T, n_out)) if mode == network.MANY_TO_MANY else np.array([1, 0, 1])

    def loss():
        return float(network.loss_and_gradients(cell, np, params, X, lengths, state, target, mode)[0])

    _, grads, _ = network.loss_and_gradients(cell, np, params, X, lengths, state, target, mode)
    errors = []
    for p, g in zip(params, grads):
        numeric = np.empty_like(p)
        for index in np.ndindex(p.shape):
            saved = p[index]
            p[index] = saved + eps
            up = loss()
            p[index] = saved - eps
            down = loss()
            p[index] = saved
            numeric[index] = (up - down) / (2 * eps)
        errors.append(np.linalg.norm(g - numeric) / max(np.linalg.norm(g), np.linalg.norm(numeric)))
    return errors


@pytest.mark.parametrize("cell", [gated_cells.GRUCell, gated_cells.LSTMCell], ids=["gru", "lstm"])
@pytest.mark.parametrize("mode", [network.MANY_TO_MANY, network.MANY_TO_ONE])
@pytest.mark.parametrize("n_layers", [1, 2])
def test_gradients_match_finite_differences(cell, mode, n_layers, loops, rng):
    errors = _finite_difference_check(cell, mode, n_layers, rng)
    assert len(errors) == 2 * n_layers + 2  # every W, b and the output layer
    assert max(errors) < 1e-6, errors


@pytest.mark.parametrize("cell", [gated_cells.GRUCell, gated_cells.LSTMCell], ids=["gru", "lstm"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_compiled_loops_match_numpy_loops(cell, dtype, rtol, monkeypatch, rng):
    params = [p.astype(dtype) for p in _random_parameters(cell, 5, 8, 2, 3, rng)]
    X = rng.standard_normal((4, 9, 5)).astype(dtype)
    lengths = np.array([9, 9, 5, 2])
    state = [tuple(rng.standard_normal((4, 8)).astype(dtype) for _ in range(cell.n_states)) for _ in range(2)]
    target = rng.standard_normal((4, 9, 3)).astype(dtype)
    results = {}
    for use_numba in (True, False):
        monkeypatch.setattr(gated_cells, "USE_NUMBA", use_numba)
        results[use_numba] = network.loss_and_gradients(
            cell, np, params, X, lengths, state, target, network.MANY_TO_MANY
        )
    (loss_a, grads_a, final_a), (loss_b, grads_b, final_b) = results[True], results[False]
    np.testing.assert_allclose(loss_a, loss_b, rtol=rtol)
    for a, b in zip(grads_a, grads_b):
        np.testing.assert_allclose(a, b, rtol=rtol * 10, atol=rtol * np.abs(b).max())
    for layer_a, layer_b in zip(final_a, final_b):
        for a, b in zip(layer_a, layer_b):
            np.testing.assert_allclose(a, b, rtol=rtol * 10, atol=rtol)


# ----------------------------------------------------------------------------- optimiser
def test_adam_matches_its_update_rule_and_decays_weights_only():
    p, b = np.array([[1.0, -2.0]]), np.array([0.5])
    optimizer = optimizers.Adam(np, [p, b], learning_rate=0.1, weight_decay=0.5)
    g_p, g_b = np.array([[0.2, 0.4]]), np.array([1.0])
    expected_p, expected_b = p.copy(), b.copy()
    m_p, v_p, m_b, v_b = 0.0, 0.0, 0.0, 0.0
    for step in (1, 2, 3):
        decayed = g_p + 0.5 * expected_p  # L2 on the weight matrix, not on the bias
        m_p, v_p = 0.9 * m_p + 0.1 * decayed, 0.999 * v_p + 0.001 * decayed**2
        m_b, v_b = 0.9 * m_b + 0.1 * g_b, 0.999 * v_b + 0.001 * g_b**2
        expected_p = expected_p - 0.1 * (m_p / (1 - 0.9**step)) / (np.sqrt(v_p / (1 - 0.999**step)) + 1e-8)
        expected_b = expected_b - 0.1 * (m_b / (1 - 0.9**step)) / (np.sqrt(v_b / (1 - 0.999**step)) + 1e-8)
        optimizer.step([p, b], [g_p.copy(), g_b.copy()])
    np.testing.assert_allclose(p, expected_p, rtol=1e-12)
    np.testing.assert_allclose(b, expected_b, rtol=1e-12)


def test_clipping_bounds_the_global_norm_and_keeps_small_gradients():
    grads = [np.full((2, 2), 3.0), np.full(3, 4.0)]  # norm sqrt(4*9 + 3*16) = sqrt(84)
    optimizers.clip_by_global_norm(np, grads, 1.0)
    assert np.sqrt(sum((g**2).sum() for g in grads)) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(grads[0] / grads[1][0], 0.75)  # direction kept
    small = [np.array([0.1, 0.2])]
    optimizers.clip_by_global_norm(np, small, 1.0)
    np.testing.assert_array_equal(small[0], [0.1, 0.2])


# ----------------------------------------------------------------------------- schedules
def test_training_chains_cover_every_step_once_with_carried_windows(rng):
    lengths = [1000, 37, 5, 0]
    chains = windows.training_chains(lengths, 16, 8, rng)
    covered = {s: np.zeros(n, int) for s, n in enumerate(lengths)}
    for chain in chains:
        for (_, b), (c, _) in zip(chain.windows, chain.windows[1:]):
            assert b == c  # consecutive: the state carries from one window to the next
        for a, b in chain.windows:
            assert 0 < b - a <= 16
            covered[chain.sequence][a:b] += 1
        start = chain.windows[0][0]
        assert chain.burn_in == (None if start == 0 else (max(0, start - 16), start))
    assert all(np.all(c == 1) for c in covered.values())
    assert 8 <= len(chains) <= 8 + 3  # about one chain per lane
    # boundaries move between epochs
    again = windows.training_chains(lengths, 16, 8, rng)
    assert {w for c in chains for w in c.windows} != {w for c in again for w in c.windows}


def test_small_data_sets_train_in_smaller_minibatches():
    """An epoch makes at least `min_minibatches` updates when the data are short; long data keep batch_size."""
    assert windows.training_lanes(20, 32, 8) == 2  # 20 windows: 10 minibatches of 2
    assert windows.training_lanes(5, 32, 8) == 1
    assert windows.training_lanes(10_000, 32, 8) == 32
    assert windows.windows_per_epoch([1000, 37, 0], 16) == 63 + 3
    assert windows.windows_per_epoch([1000, 37, 0], None) == 2
    rng = np.random.default_rng(0)
    lengths = [1200]
    lanes = windows.training_lanes(windows.windows_per_epoch(lengths, 64), 32, 8)
    chains = windows.training_chains(lengths, 64, lanes, rng)
    assert len(list(windows.lane_steps(windows.lane_plan(chains, lanes)))) >= 8
    model = GRUReadout(4, epochs=1, validation_fraction=0, seed=0).fit(
        rng.standard_normal((1200, 3)), rng.standard_normal(1200)
    )
    assert model.batch_size_ == lanes == 2


def test_lanes_keep_busy_lanes_first():
    chains = [windows.Chain(s, [(0, 1)] * k) for s, k in enumerate([1, 5, 3, 2, 4])]
    steps = list(windows.lane_steps(windows.lane_plan(chains, 2)))
    # lanes get chains 0, 2, 4 (8 windows) and 1, 3 (7 windows): the longer lane is lane 0
    assert [len(step) for step in steps] == [2] * 7 + [1]
    assert steps[-1][0][0].sequence == 4
    seen = [chain.sequence for step in steps for chain, k in step if k == 0]
    assert sorted(seen) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("readout", [GRUReadout, LSTMReadout])
def test_states_carried_across_windows_in_training_match_the_reference(readout, rng, monkeypatch):
    """The state a window starts from is the reference state at that step: carried from the
    previous window, or warmed up over the `window` steps before a chain's first window."""
    X = rng.standard_normal((120, 3))
    model = readout(4, epochs=1, window=10, batch_size=3, validation_fraction=0, seed=0, dtype="float64")
    model.fit(X, rng.standard_normal((120, 1)))
    model.parameters_ = _random_parameters(model._cell, 3, 4, 1, 1, rng)
    data = sequences.build_data([(X, None, None)], None, [np.zeros((120, 1))], np.dtype(np.float64))
    chains = windows.training_chains([120], 10, 3, np.random.default_rng(0))
    seen = []

    def visit(requests, items, state):
        seen.extend((request, state[0][0][i].copy()) for i, request in enumerate(requests))
        _, final, _ = network.network_forward(
            model._cell,
            np,
            model.parameters_,
            data.read(requests, False)[0],
            state,
            np.array([b - a for _, a, b in requests]),
            keep=False,
        )
        return final

    model._run_lanes(data, chains, 3, visit)
    layers = model.gate_weights()
    kind = "lstm" if readout is LSTMReadout else "gru"
    origin = {}  # window start -> the step its chain's state was started from (zeros there)
    for chain in chains:
        for start, _ in chain.windows:
            origin[start] = 0 if chain.burn_in is None else chain.burn_in[0]
    assert len(seen) == sum(len(chain.windows) for chain in chains) == len(origin)
    assert any(origin[start] > 0 for (_, start, _), _ in seen)  # some chains start mid-series
    for (_, start, _), h in seen:
        if start == 0:
            np.testing.assert_array_equal(h, 0.0)
        else:
            reference = _reference_layer(kind, layers[0], X[origin[start] : start])[-1]
            np.testing.assert_allclose(h, reference, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- tasks
def _hold_task(steps, rate, seed):
    """Sparse events carrying a value; the target is the value of the latest event (sample and hold)."""
    rng = np.random.default_rng(seed)
    events = rng.random(steps) < rate
    values = rng.uniform(-1.0, 1.0, steps)
    u = np.stack([events.astype(float), np.where(events, values, 0.0)], axis=1)
    held, last = np.empty(steps), 0.0
    for t in range(steps):
        last = values[t] if events[t] else last
        held[t] = last
    return u, held


@pytest.mark.parametrize("readout", READOUTS)
def test_gated_readout_holds_what_the_reservoir_forgets(readout):
    """Hold the value of the last event, on average 25 steps back, far beyond the memory of a
    reservoir at spectral radius 0.5. Measured: ridge on [state, input] NRMSE 1.03; GRU 0.12, LSTM 0.10."""
    u, y = _hold_task(3000, 0.04, seed=0)
    states = rs.ESN(50, density=0.2, spectral_radius=0.5, seed=0, dtype="float64").run(u)
    train, test = slice(100, 2000), slice(2000, None)
    features = np.concatenate([states, u], axis=1)
    ridge = rs.Ridge(alpha=1e-6).fit(features[train], y[train])
    ridge_nrmse = rs.metrics.nrmse(y[test], ridge.predict(features[test]))
    model = readout(16, epochs=30, window=64, batch_size=8, learning_rate=1e-2, patience=10, seed=0)
    model.fit(states[train], y[train])
    # run over the whole series so that the held value at the start of the test span is known
    gated_nrmse = rs.metrics.nrmse(y[test], model.predict(states[100:])[1900:])
    print(f"\nsample-and-hold NRMSE: ridge {ridge_nrmse:.3f}, {readout.__name__} {gated_nrmse:.3f}")
    assert ridge_nrmse > 0.9
    assert gated_nrmse < 0.3


def _count_task(n, steps, seed):
    """Sequences with 0-3 events; the label is the number of events (the last one >= 5 steps from the end)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, n)
    u = rng.normal(0.0, 0.05, (n, steps, 1))
    for i, k in enumerate(counts):
        u[i, rng.choice(steps - 5, k, replace=False), 0] += 1.0
    return u, counts


@pytest.mark.parametrize("readout", READOUTS)
def test_gated_readout_counts_events_a_linear_readout_cannot(readout):
    """Four classes (0-3 events). Measured accuracy: ridge on the last state 0.26, ridge on the
    time-averaged state 0.62; GRU 0.995, LSTM 0.985."""
    u, counts = _count_task(600, 40, seed=0)
    states = rs.ESN(50, density=0.2, spectral_radius=0.5, seed=0, dtype="float64").run(u)
    train, test = slice(0, 400), slice(400, None)
    one_hot = np.eye(4)[counts]
    last = rs.Ridge(alpha=1e-6).fit(states[train, -1], one_hot[train]).predict(states[test, -1])
    ridge_accuracy = np.mean(last.argmax(axis=1) == counts[test])
    pooled = states.mean(axis=1)
    mean = rs.Ridge(alpha=1e-6).fit(pooled[train], one_hot[train]).predict(pooled[test])
    pooled_accuracy = np.mean(mean.argmax(axis=1) == counts[test])
    model = readout(16, epochs=40, window=None, batch_size=16, learning_rate=1e-2, patience=10, seed=0)
    model.fit(list(states[train]), counts[train])
    accuracy = model.score(list(states[test]), counts[test])
    print(
        f"\nevent counting accuracy: ridge (last state) {ridge_accuracy:.3f}, ridge (mean state) "
        f"{pooled_accuracy:.3f}, {readout.__name__} {accuracy:.3f}"
    )
    assert ridge_accuracy < 0.5 and pooled_accuracy < 0.8
    assert accuracy > 0.9
    probabilities = model.predict_proba(states[test])
    assert probabilities.shape == (200, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.classes_[probabilities.argmax(axis=1)], model.predict(states[test]))


# ----------------------------------------------------------------------------- training behaviour
@pytest.mark.parametrize("readout", READOUTS)
def test_same_seed_same_parameters_other_seed_other_parameters(readout, rng):
    X, y = rng.standard_normal((200, 5)), rng.standard_normal(200)
    settings = dict(epochs=3, window=16, batch_size=4)
    a = readout(6, seed=7, **settings).fit(X, y)
    b = readout(6, seed=7, **settings).fit(X, y)
    c = readout(6, seed=8, **settings).fit(X, y)
    for p, q in zip(a.parameters_, b.parameters_):
        np.testing.assert_array_equal(p, q)
    assert not np.allclose(a.parameters_[0], c.parameters_[0])
    assert a.loss_curve_ == b.loss_curve_


def test_early_stopping_keeps_the_best_epoch(rng):
    """Noise targets: the validation loss stops improving; the kept parameters are those of the
    best epoch (their validation loss recomputed equals the curve's minimum)."""
    X, y = rng.standard_normal((400, 10)), rng.standard_normal((400, 1))
    model = GRUReadout(
        32,
        epochs=60,
        learning_rate=3e-2,
        window=20,
        batch_size=4,
        validation_fraction=0.25,
        patience=3,
        seed=0,
        dtype="float64",
    ).fit(X, y)
    assert model.n_iter_ < 60
    assert model.n_iter_ == model.best_epoch_ + 1 + 3
    assert model.best_validation_loss_ == min(model.validation_loss_curve_)
    data = sequences.build_data([(X, None, None)], None, [y], np.dtype(np.float64))
    recomputed = model._regression_loss(data, [(0, 300, 400)])
    assert recomputed == pytest.approx(model.best_validation_loss_, rel=1e-10)
    assert recomputed < model.validation_loss_curve_[-1]


def test_training_lowers_the_loss_and_fits_a_learnable_target(rng):
    """y_t = x_{t-3}[0] (a delay line), learnable exactly by a recurrent readout."""
    X = rng.uniform(-1, 1, (1500, 2))
    y = np.concatenate([np.zeros(3), X[:-3, 0]])
    model = GRUReadout(16, epochs=40, learning_rate=1e-2, window=16, batch_size=8, seed=0).fit(X[:1000], y[:1000])
    assert model.loss_curve_[-1] < 0.1 * model.loss_curve_[0]
    assert model.score(X[1000:], y[1000:]) > 0.95


def test_input_to_readout_equals_appending_the_inputs_to_the_states(rng):
    S, u, y = rng.standard_normal((150, 4)), rng.standard_normal((150, 2)), rng.standard_normal((150, 1))
    settings = dict(epochs=2, window=16, batch_size=4, seed=3, dtype="float64")
    with_inputs = LSTMReadout(5, input_to_readout=True, **settings).fit(S, y, inputs=u)
    appended = LSTMReadout(5, **settings).fit(np.concatenate([S, u], axis=1), y)
    for p, q in zip(with_inputs.parameters_, appended.parameters_):
        np.testing.assert_array_equal(p, q)
    assert with_inputs.n_features_in_ == 4
    np.testing.assert_array_equal(with_inputs.predict(S, inputs=u), appended.predict(np.concatenate([S, u], axis=1)))
    with pytest.raises(ValueError, match="inputs"):
        with_inputs.predict(S)
    with pytest.raises(ValueError, match="input_to_readout"):
        appended.predict(S, inputs=u)


def test_output_shapes_follow_the_targets(rng):
    X3 = rng.standard_normal((3, 30, 4))
    model = GRUReadout(4, epochs=1, validation_fraction=0).fit(X3, rng.standard_normal((3, 30, 2)))
    assert model.predict(X3).shape == (3, 30, 2)
    assert model.predict(X3[0]).shape == (30, 2)
    ragged = [rng.standard_normal((n, 4)) for n in (10, 25)]
    model = GRUReadout(4, epochs=1, validation_fraction=0).fit(ragged, [rng.standard_normal(n) for n in (10, 25)])
    assert [p.shape for p in model.predict(ragged)] == [(10,), (25,)]
    assert model.predict(ragged[0]).dtype == np.float32


# ----------------------------------------------------------------------------- storage
@pytest.mark.parametrize("readout", READOUTS)
def test_fit_from_a_store_run_equals_fit_from_the_arrays(readout, rng, tmp_path):
    S = rng.standard_normal((300, 6)).astype(np.float32)
    y = rng.standard_normal((300, 2)).astype(np.float32)
    path = save_run(tmp_path / "states.h5", "narma", S, targets=y)
    settings = dict(epochs=3, window=16, batch_size=4, seed=5)
    from_arrays = readout(5, **settings).fit(S, y)
    with StateStore(path, "r") as store:
        from_store = readout(5, **settings).fit(store["narma"])  # targets from the run
        prediction = from_store.predict(store["narma"])
    for p, q in zip(from_arrays.parameters_, from_store.parameters_):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(prediction, from_arrays.predict(S), rtol=1e-4, atol=1e-5)
    assert from_store.validation_loss_curve_ == pytest.approx(from_arrays.validation_loss_curve_, rel=1e-4)


class _RecordingDataset:
    """An array read only by slices (like an h5py dataset) that records every read."""

    def __init__(self, array):
        self.array, self.shape, self.reads = array, array.shape, []

    def __getitem__(self, index):
        self.reads.append(index)
        return self.array[index]


def _steps_read(index):
    index = index[-1] if isinstance(index, tuple) else index
    assert isinstance(index, slice), "reads must be contiguous time slices"
    return index.stop - index.start


def test_stored_states_are_read_window_by_window(rng):
    S = rng.standard_normal((4, 200, 5)).astype(np.float32)
    y = rng.standard_normal((4, 200, 1)).astype(np.float32)
    recording = _RecordingDataset(S)
    settings = dict(epochs=2, window=16, batch_size=4, seed=2)
    model = GRUReadout(4, **settings).fit(recording, y)
    assert recording.reads and max(_steps_read(index) for index in recording.reads) <= 16
    assert all(isinstance(index, tuple) and isinstance(index[0], int) for index in recording.reads)
    reference = GRUReadout(4, **settings).fit(S, y)
    np.testing.assert_allclose(model.parameters_[0], reference.parameters_[0], rtol=1e-5, atol=1e-6)


def test_classification_from_a_batched_run_and_from_a_list_of_runs(rng, tmp_path):
    u, counts = _count_task(40, 20, seed=1)
    S = u.astype(np.float32)  # the inputs themselves stand in for states
    settings = dict(epochs=2, window=8, batch_size=8, seed=4)
    from_arrays = LSTMReadout(4, **settings).fit(S, counts)
    with StateStore(tmp_path / "batch.h5", "w") as store:
        rs.ESN(8, density=0.5, seed=0).run(u[:2], store=store, name="tiny")  # a real ESN run in the same file
        run = store.create_run("sequences", steps=20, units=1, batch=40)
        run.write(0, S)
        run.commit(20, np.zeros((40, 1)))
        from_run = LSTMReadout(4, **settings).fit(store["sequences"], counts)
        np.testing.assert_array_equal(from_run.predict(store["sequences"]), from_arrays.predict(S))
    for p, q in zip(from_arrays.parameters_, from_run.parameters_):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    paths = [save_run(tmp_path / f"{i}.h5", "run", S[i], targets=np.zeros((20, 1))) for i in range(40)]
    stores = [StateStore(p, "r") for p in paths]
    try:
        from_runs = LSTMReadout(4, **settings).fit([s["run"] for s in stores], counts)
    finally:
        for s in stores:
            s.close()
    np.testing.assert_allclose(from_runs.parameters_[0], from_arrays.parameters_[0], rtol=1e-5, atol=1e-6)


def test_targets_and_inputs_from_runs(rng, tmp_path):
    u = rng.uniform(-1, 1, (2, 150, 1))
    with StateStore(tmp_path / "esn.h5", "w") as store:
        run = rs.ESN(20, density=0.2, seed=0).run(u, store=store, name="esn", targets=np.roll(u, 1, axis=1))
        model = GRUReadout(4, epochs=2, window=16, input_to_readout=True, seed=0).fit(run)
        assert model.parameters_[0].shape == (3 * 4, 20 + 1 + 4)
        states = run.states[...]
    reference = GRUReadout(4, epochs=2, window=16, input_to_readout=True, seed=0).fit(
        states, np.roll(u, 1, axis=1).astype(np.float32), inputs=u
    )
    np.testing.assert_allclose(model.parameters_[0], reference.parameters_[0], rtol=1e-5, atol=1e-6)


def test_nan_in_stored_states_names_the_run_and_step(rng, tmp_path):
    S = rng.standard_normal((100, 3))
    S[57, 1] = np.nan
    path = save_run(tmp_path / "bad.h5", "bad", S, targets=np.zeros((100, 1)))
    with StateStore(path, "r") as store, pytest.raises(ValueError, match=r"'bad'.*NaN.*57"):
        GRUReadout(4, epochs=1, window=200, validation_fraction=0).fit(store["bad"])


# ----------------------------------------------------------------------------- validation and API
def test_predict_before_fit_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    assert rs.NotFittedError is NotFittedError  # scikit-learn's, so sklearn's own checks recognise it
    for readout in READOUTS:
        for call in (
            lambda m: m.predict(np.zeros((5, 3))),
            lambda m: m.predict_proba([np.zeros((5, 3))]),
            lambda m: m.score(np.zeros((5, 3)), np.zeros(5)),
            lambda m: m.gate_weights(),
        ):
            with pytest.raises(NotFittedError, match="not fitted"):
                call(readout())


@pytest.mark.parametrize(
    "name, value, error",
    [
        ("hidden", 0, ValueError),
        ("hidden", 2.5, TypeError),
        ("n_layers", 0, ValueError),
        ("epochs", -1, ValueError),
        ("learning_rate", 0.0, ValueError),
        ("learning_rate", np.nan, ValueError),
        ("window", 0, ValueError),
        ("batch_size", 0, ValueError),
        ("weight_decay", -1e-3, ValueError),
        ("clip", 0.0, ValueError),
        ("validation_fraction", 1.0, ValueError),
        ("validation_fraction", -0.1, ValueError),
        ("patience", 0, ValueError),
        ("seed", -3, ValueError),
        ("seed", "x", TypeError),
        ("dtype", "int32", TypeError),
        ("input_to_readout", "yes", TypeError),
    ],
)
def test_bad_hyper_parameters_raise_naming_them(name, value, error):
    with pytest.raises(error, match=name):
        GRUReadout(**{name: value}).fit(np.zeros((20, 2)), np.zeros(20))


def test_bad_data_raise_naming_the_problem(rng):
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    model = LSTMReadout(4, epochs=1)
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN at time step 7"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(X, np.where(np.arange(50) == 3, np.nan, y))
    with pytest.raises(ValueError, match="time steps"):
        model.fit(X, y[:40])
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((2, 3, 4, 5)), y)
    with pytest.raises(ValueError, match="sequences but X has 2"):
        model.fit([X, X], [y])
    with pytest.raises(ValueError, match="labels|label per sequence"):
        model.fit([X, X, X], np.array([0, 1]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        model.fit([X, X], [1, 1])
    with pytest.raises(ValueError, match="Unknown label type"):
        model.fit([X, X], [0.5, 1.5])
    with pytest.raises(ValueError, match="same number of features"):
        model.fit([X, X[:, :2]], [0, 1])
    with pytest.raises(TypeError, match="real numbers"):
        model.fit(X.astype(bool), y)
    with pytest.raises(ValueError, match="validation"):
        LSTMReadout(4, validation_fraction=0.2).fit(X[:2], y[:2])
    fitted = LSTMReadout(4, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="3"):
        fitted.predict(X[:, :2])
    with pytest.raises(AttributeError, match="many-to-one"):
        fitted.predict_proba(X)


def test_estimator_api_parameters_are_stored_unchanged():
    model = GRUReadout(12, n_layers=2, window=None, clip=None, seed=3)
    params = model.get_params()
    assert params["hidden"] == 12 and params["window"] is None and params["clip"] is None
    assert set(params) == {
        "hidden",
        "n_layers",
        "epochs",
        "learning_rate",
        "window",
        "batch_size",
        "weight_decay",
        "clip",
        "validation_fraction",
        "patience",
        "input_to_readout",
        "seed",
        "dtype",
    }
    copy = clone(model).set_params(hidden=7)
    assert copy.hidden == 7 and model.hidden == 12 and type(copy) is GRUReadout
    unvalidated = GRUReadout(hidden=-1)  # no work, no validation before fit
    assert unvalidated.hidden == -1


def test_float64_parameters_when_asked(rng):
    model = GRUReadout(3, epochs=1, dtype="float64").fit(rng.standard_normal((30, 2)), rng.standard_normal(30))
    assert all(p.dtype == np.float64 for p in model.parameters_)
    assert model.predict(rng.standard_normal((30, 2))).dtype == np.float64


def test_cupy_is_not_imported_on_the_cpu_path(tmp_path):
    """A stand-in cupy that reports being imported: fitting and predicting NumPy arrays never import it."""
    import os
    import subprocess
    import sys

    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text(
        "import sys\nsys.stderr.write('STAND-IN CUPY IMPORTED\\n')\nraise ImportError('stand-in cupy')\n"
    )
    code = (
        "import numpy as np; from reservoir.readouts.gated import GRUReadout;"
        "GRUReadout(3, epochs=1).fit(np.zeros((20, 2)), np.zeros(20)).predict(np.zeros((5, 2)))"
    )
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    assert "STAND-IN CUPY IMPORTED" not in result.stderr
    probe = subprocess.run([sys.executable, "-c", "import cupy"], capture_output=True, text=True, env=environment)
    assert "STAND-IN CUPY IMPORTED" in probe.stderr  # the stand-in is the cupy Python would import


# ----------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.parametrize("readout", READOUTS)
def test_cupy_arrays_train_on_the_gpu_like_numpy(readout, rng):
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - any CUDA error means no usable GPU
        pytest.skip("no CUDA GPU")
    X, y = rng.standard_normal((300, 8)), rng.standard_normal((300, 1))
    settings = dict(epochs=3, window=16, batch_size=4, seed=0, dtype="float64")
    on_cpu = readout(6, **settings).fit(X, y)
    on_gpu = readout(6, **settings).fit(cupy.asarray(X), cupy.asarray(y))
    assert namespace(on_gpu.parameters_[0]) is cupy
    for p, q in zip(on_cpu.parameters_, on_gpu.parameters_):
        np.testing.assert_allclose(p, cupy.asnumpy(q), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(cupy.asnumpy(on_gpu.predict(cupy.asarray(X))), on_cpu.predict(X), rtol=1e-8, atol=1e-10)
