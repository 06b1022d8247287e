"""Composed models (reservoir.models.Stack): the compiled stack loop against the NumPy
reference, a deep model against its layers run one by one, parallel layers, readouts,
reset, bad input, and parity with ReservoirPy 0.4.2's ``r1 >> r2`` on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir.kernels import reference
from reservoir.models import Stack

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def _layer(rng, n, width, n_fb, source, dtype, activation="tanh"):
    W = sp.random_array((n, n), density=0.3, rng=rng, format="csr", data_sampler=rng.standard_normal)
    W = sp.csr_array(W * (0.9 / max(1.0, np.sqrt(W.nnz / n))), dtype=dtype)
    W_in = rng.uniform(-1, 1, (n, width)).astype(dtype)
    W_in[rng.random((n, width)) < 0.3] = 0  # some zeros: the compiled path drops them
    W_fb = None if n_fb is None else rng.uniform(-1, 1, (n, n_fb)).astype(dtype)
    bias = rng.uniform(-0.5, 0.5, n).astype(dtype)
    return reference.StackLayer(W, W_in, W_fb, bias, float(rng.uniform(0.3, 1.0)), activation, source)


def _odd_layers(rng, dtype, n_in=2, n_fb=3):
    """Odd sizes, a stacked pair, a parallel layer, different activations, feedback on two."""
    return [
        _layer(rng, 7, n_in, n_fb, -1, dtype),
        _layer(rng, 5, 7, None, 0, dtype, "sigmoid"),
        _layer(rng, 3, n_in, n_fb, -1, dtype, "relu"),
        _layer(rng, 4, 3, None, 2, dtype, "identity"),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 3])
def test_compiled_stack_run_equals_the_reference(rng, dtype, batch):
    from reservoir.kernels.cpu import compose

    layers = _odd_layers(rng, dtype)
    steps, n = 13, 19
    inputs = rng.normal(size=(batch, steps, 2)).astype(dtype)
    feedback = rng.normal(size=(batch, steps, 3)).astype(dtype)
    start = (0.1 * rng.normal(size=(batch, n))).astype(dtype)
    expected_state, expected = start.astype(np.float64), np.empty((batch, steps, n))
    layers64 = [
        reference.StackLayer(
            layer.W.astype(np.float64),
            layer.W_in.astype(np.float64),
            layer.W_fb.astype(np.float64) if layer.W_fb is not None else None,
            layer.bias.astype(np.float64),
            layer.leak_rate,
            layer.activation,
            layer.source,
        )
        for layer in layers
    ]
    reference.stack_run(
        reference.prepare_stack(layers64, 2, 3),
        inputs.astype(np.float64),
        expected_state,
        feedback.astype(np.float64),
        expected,
    )
    state, out = start.copy(), np.empty((batch, steps, n), dtype=dtype)
    compose.stack_run(compose.prepare_stack(layers, 2, 3), inputs, state, feedback, out)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    np.testing.assert_allclose(state, expected_state, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_closed_loop_equals_the_reference(rng, dtype):
    from reservoir.kernels.cpu import compose

    layers = _odd_layers(rng, dtype)
    batch, steps, n = 2, 17, 19
    inputs = rng.normal(size=(batch, steps, 2)).astype(dtype)
    coef = (0.2 * rng.normal(size=(3, n + 2))).astype(dtype)
    intercept = rng.normal(size=3).astype(dtype)
    start = (0.1 * rng.normal(size=(batch, n))).astype(dtype)
    first = rng.normal(size=(batch, 3)).astype(dtype)
    results = []
    for module in (reference, compose):
        state, last = start.copy(), first.copy()
        out, outputs = np.empty((batch, steps, n), dtype), np.empty((batch, steps, 3), dtype)
        module.stack_generate(module.prepare_stack(layers, 2, 3), inputs, state, last, coef, intercept, out, outputs)
        results.append((outputs, out, state, last))
    for expected, got in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=50 * TOLERANCE[dtype], atol=50 * TOLERANCE[dtype])


def test_reference_closed_loop_is_the_step_equations(rng):
    """The reference closed loop written out: x[t] from y[t-1], y[t] from x[t] and u[t]."""
    layer = _layer(rng, 6, 1, 2, -1, np.float64)
    coef, intercept = 0.3 * rng.normal(size=(2, 7)), rng.normal(size=2)
    u = rng.normal(size=(1, 9, 1))
    state, last = np.zeros((1, 6)), np.zeros((1, 2))
    out, outputs = np.empty((1, 9, 6)), np.empty((1, 9, 2))
    reference.stack_generate([layer], u, state, last, coef, intercept, out, outputs)
    x, y = np.zeros(6), np.zeros(2)
    for t in range(9):
        pre = layer.W.toarray() @ x + layer.W_in @ u[0, t] + layer.W_fb @ y + layer.bias
        x = (1 - layer.leak_rate) * x + layer.leak_rate * np.tanh(pre)
        y = coef[:, :6] @ x + coef[:, 6:] @ u[0, t] + intercept
        np.testing.assert_allclose(outputs[0, t], y, atol=1e-12)
    np.testing.assert_allclose(last[0], y, atol=1e-12)


def _layers(dtype="float64", backend="numpy"):
    return [
        rs.ESN(30, seed=1, leak_rate=0.7, dtype=dtype, backend=backend),
        rs.ESN(23, seed=2, leak_rate=0.9, input_density=0.3, activation="sigmoid", dtype=dtype, backend=backend),
        rs.ESN(17, seed=3, dtype=dtype, backend=backend),
    ]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_deep_model_equals_its_layers_run_one_by_one(rng, backend, dtype):
    u = rng.normal(size=(3, 40, 2))
    stack = Stack(_layers(dtype, backend), backend=backend)
    states = stack.run(u)
    source = u.astype(dtype)
    alone = []
    for layer in _layers(dtype, backend):
        source = layer.run(source)
        alone.append(source)
    tolerance = 1e-10 if dtype == "float64" else 1e-5
    for got, expected in zip(stack.split(states), alone):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    # continuing a run continues every layer
    more = rng.normal(size=(3, 5, 2))
    np.testing.assert_allclose(
        stack.split(stack.run(more))[-1], _continue(alone, more, dtype, backend), rtol=tolerance, atol=tolerance
    )


def _continue(alone_states, more, dtype, backend):
    source = more.astype(dtype)
    for layer, states in zip(_layers(dtype, backend), alone_states):
        layer.state = states[:, -1]
        source = layer.run(source)
    return source


def test_parallel_layers_all_read_the_input(rng):
    u = rng.normal(size=(25, 2))
    stack = Stack(_layers()[:2], parallel=True)
    a, b = stack.split(stack.run(u))
    first, second = _layers()[:2]
    np.testing.assert_allclose(a, first.run(u), atol=1e-12)
    np.testing.assert_allclose(b, second.run(u), atol=1e-12)
    assert stack.readout_from == "all" and stack.n_features() == 53


def test_single_sequence_and_batch_agree(rng):
    u = rng.normal(size=(2, 30, 1))
    batch = Stack(_layers(backend="numba"), backend="numba").run(u)
    for b in range(2):
        single = Stack(_layers(backend="numba"), backend="numba").run(u[b])
        assert single.shape == (30, 70)
        np.testing.assert_allclose(single, batch[b], atol=1e-12)


def test_reset_clears_every_layer(rng):
    u = rng.normal(size=(20, 1))
    stack = Stack(_layers(backend="numba"), backend="numba")
    first = stack.run(u)
    assert np.abs(stack.state).max() > 0
    stack.reset()
    assert np.all(stack.state == 0)
    np.testing.assert_array_equal(stack.run(u), first)


def test_readouts_last_all_input_and_several(rng):
    u = rng.normal(size=(300, 1))
    y = np.roll(u[:, 0], 2)
    stack = Stack(_layers(), include_input=True, readout={"lag": rs.Ridge(1e-6), "sq": rs.Ridge(1e-3)})
    stack.fit(u, {"lag": y, "sq": u**2}, warmup=20)
    # the same readouts fitted by hand on the same features
    stack.reset()
    features = np.concatenate([stack.split(stack.run(u))[-1], u], axis=1)[20:]
    lag, sq = rs.Ridge(1e-6).fit(features, y[20:]), rs.Ridge(1e-3).fit(features, (u**2)[20:])
    np.testing.assert_allclose(stack.readout["lag"].coef_, lag.coef_, atol=1e-8)
    np.testing.assert_allclose(stack.readout["sq"].coef_, sq.coef_, atol=1e-8)
    stack.reset()
    predicted = stack.predict(u)
    np.testing.assert_allclose(predicted["lag"][20:], lag.predict(features), atol=1e-10)
    assert predicted["sq"].shape == (300, 1)
    full = stack.readout_coefficients(stack.readout["sq"].coef_)
    assert full.shape == (1, 71) and np.all(full[:, :53] == 0)


def test_fit_on_a_batch_learns_a_delay(rng):
    u = rng.uniform(-1, 1, size=(4, 200, 1))
    y = np.roll(u, 1, axis=1)
    stack = Stack(_layers(), readout=rs.Ridge(1e-8), readout_from="all")
    stack.fit(u, y, warmup=10)
    test = rng.uniform(-1, 1, size=(1, 200, 1))
    stack.reset()
    predicted = stack.predict(test)
    error = np.sqrt(np.mean((predicted[:, 10:] - np.roll(test, 1, axis=1)[:, 10:]) ** 2)) / test.std()
    assert error < 0.2


def test_config_is_plain_values():
    import json

    stack = Stack(_layers(), readout=rs.Ridge(1e-4))
    config = json.loads(json.dumps(stack.config()))
    assert config["model"] == "Stack" and len(config["layers"]) == 3 and config["readout"]["alpha"] == 1e-4


def test_bad_input(rng):
    with pytest.raises(ValueError, match="layers is empty"):
        Stack([])
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        Stack([rs.ESN(5), "x"])
    with pytest.raises(TypeError, match="dtype"):
        Stack([rs.ESN(5, dtype="float32"), rs.ESN(5, dtype="float64")])
    same = rs.ESN(5)
    with pytest.raises(ValueError, match="same ESN twice"):
        Stack([same, same])
    with pytest.raises(ValueError, match="readout_from"):
        Stack(_layers(), readout_from="first")
    with pytest.raises(TypeError, match="readout"):
        Stack(_layers(), readout="ridge")
    stack = Stack(_layers(), readout=rs.Ridge())
    u = rng.normal(size=(30, 2))
    bad = u.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="u contains NaN at time step 7"):
        stack.run(bad)
    stack.run(u)
    with pytest.raises(ValueError, match="u has 3 features per step, expected 2"):
        stack.run(rng.normal(size=(30, 3)))
    with pytest.raises(ValueError, match="call reset"):
        stack.run(rng.normal(size=(2, 30, 2)))
    with pytest.raises(ValueError, match="y has shape"):
        stack.fit(u, u[:-1, 0])
    with pytest.raises(ValueError, match="warmup=30"):
        stack.fit(u, u[:, 0], warmup=30)
    with pytest.raises(rs.NotFittedError):
        Stack(_layers(), readout=rs.Ridge()).predict(u)
    with pytest.raises(ValueError, match="no readout"):
        Stack(_layers()).fit(u, u)
    with pytest.raises(ValueError, match="one target array per readout"):
        Stack(_layers(), readout={"a": rs.Ridge()}).fit(u, u)


@pytest.mark.parametrize("gpu", ["cupy", "numba-cuda"])
def test_gpu_backends_say_they_lack_the_kernels(gpu):
    with pytest.raises(RuntimeError, match=f"Stack has no kernels for backend '{gpu}'"):
        Stack(_layers(), backend=gpu)


def test_parity_with_reservoirpy_deep_model(rng):
    nodes = pytest.importorskip("reservoirpy.nodes")
    first, second = (
        rs.ESN(40, seed=5, leak_rate=0.6, dtype="float64"),
        rs.ESN(31, seed=6, leak_rate=0.3, input_density=0.2, dtype="float64"),
    )
    u = rng.normal(size=(150, 2))
    y = np.roll(u[:, :1], 3, axis=0)
    stack = Stack([first, second], include_input=True, readout=rs.Ridge(1e-5), backend="numba")
    states = stack.split(stack.run(u))
    r1 = nodes.Reservoir(W=first.W, Win=first.W_in, bias=first.bias, lr=0.6)
    r2 = nodes.Reservoir(W=second.W, Win=second.W_in, bias=second.bias, lr=0.3)
    assert np.abs((r1 >> r2).run(u) - states[1]).max() <= 1e-9
    assert np.abs(r1.state["out"] - states[0][-1]).max() <= 1e-9
    # r1 >> r2 >> readout with the input to the readout too, trained with a warmup
    from reservoirpy.model import Model

    r1, r2 = (nodes.Reservoir(W=e.W, Win=e.W_in, bias=e.bias, lr=e.leak_rate) for e in (first, second))
    source, readout = nodes.Input(), nodes.Ridge(ridge=1e-5)
    model = Model([source, r1, r2, readout], [(source, 0, r1), (r1, 0, r2), (r2, 0, readout), (source, 0, readout)])
    model.fit(u, y, warmup=10)
    stack.fit(u, y, warmup=10)
    assert np.abs(readout.Wout.T - stack.readout.coef_).max() <= 1e-9
    assert np.abs(readout.bias - stack.readout.intercept_).max() <= 1e-9
    test = rng.normal(size=(50, 2))
    assert np.abs(model.run(test) - stack.predict(test)).max() <= 1e-9


def test_saturated_layer_warns(rng):
    layers = [rs.ESN(30, seed=1, dtype="float64"), rs.ESN(20, seed=2, input_scaling=100.0, dtype="float64")]
    with pytest.warns(rs.ReservoirWarning, match="In layer 1"):
        Stack(layers).run(rng.normal(size=(100, 1)))


def test_a_layer_with_input_weights_of_another_width_is_named(rng):
    second = rs.ESN(10, seed=2, dtype="float64")
    second.run(rng.normal(size=(5, 3)))  # W_in drawn for 3 inputs
    with pytest.raises(
        ValueError, match="layer 1 is driven by layer 0 \\(30 features per step\\), but its W_in expects 3"
    ):
        Stack([rs.ESN(30, seed=1, dtype="float64"), second]).run(rng.normal(size=(5, 1)))


def test_parity_with_reservoirpy_parallel_model(rng):
    nodes = pytest.importorskip("reservoirpy.nodes")
    first, second = rs.ESN(25, seed=7, leak_rate=0.4, dtype="float64"), rs.ESN(20, seed=8, dtype="float64")
    u = rng.normal(size=(200, 1))
    y = np.roll(u, 2, axis=0) ** 2
    stack = Stack([first, second], parallel=True, readout=rs.Ridge(1e-5)).fit(u, y, warmup=5)
    r1, r2 = (nodes.Reservoir(W=e.W, Win=e.W_in, bias=e.bias, lr=e.leak_rate) for e in (first, second))
    readout = nodes.Ridge(ridge=1e-5)
    model = nodes.Input() >> [r1, r2] >> readout
    model.fit(u, y, warmup=5)
    assert np.abs(readout.Wout.T - stack.readout.coef_).max() <= 1e-9
    test = rng.normal(size=(40, 1))
    assert np.abs(model.run(test) - stack.predict(test)).max() <= 1e-9
