"""Time-delayed ESN connections: the Numba ring-buffer kernel against the NumPy reference and
a hand-written loop, all-ones delays against the plain ESN, state carry-over and errors."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir.kernels import reference
from reservoir.kernels.cpu import delays as cpu_delays

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def _network(rng, n, n_in, dtype, density=0.2):
    W = sp.random_array((n, n), density=density, rng=rng, data_sampler=rng.standard_normal, format="csr")
    W = sp.csr_array(W * (0.9 / np.sqrt(n * density))).astype(dtype)
    W.sort_indices()
    return W, rng.uniform(-1, 1, (n, n_in)).astype(dtype), rng.uniform(-0.5, 0.5, n).astype(dtype)


def _hand_written(W, W_in, bias, delays, inputs, leak, f):
    """Element by element from the equation, one sequence, zero history."""
    W = sp.coo_array(W)
    T, n = inputs.shape[0], W.shape[0]
    x = np.zeros((T + 1, n))  # x[0] is the state before the first step
    order = np.argsort(W.row, kind="stable")  # CSR order of the nonzeros
    rows, cols, vals = W.row[order], W.col[order], W.data[order]
    for t in range(1, T + 1):
        pre = W_in @ inputs[t - 1] + bias
        for i, j, w, d in zip(rows, cols, vals, delays):
            if t - d >= 0:
                pre[i] += w * x[t - d, j]
        x[t] = (1 - leak) * x[t - 1] + leak * f(pre)
    return x[1:]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 3])
def test_kernel_matches_reference(rng, dtype, batch):
    W, W_in, bias = _network(rng, 50, 2, dtype)
    delays = rng.integers(1, 6, W.nnz)
    inputs = rng.standard_normal((batch, 40, 2)).astype(dtype)
    history = (0.1 * rng.standard_normal((batch, 5, 50))).astype(dtype)
    expected_history = history.copy()
    expected = reference.delayed_esn_run(
        reference.prepare_delayed_esn(W, W_in, bias, delays),
        inputs,
        expected_history,
        0.7,
        "tanh",
        np.empty((batch, 40, 50), dtype),
    )
    out = np.empty((batch, 40, 50), dtype)
    cpu_delays.delayed_esn_run(cpu_delays.prepare_delayed_esn(W, W_in, bias, delays), inputs, history, 0.7, "tanh", out)
    np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype])
    np.testing.assert_allclose(history, expected_history, rtol=0, atol=TOLERANCE[dtype])
    np.testing.assert_array_equal(history[:, 0], out[:, -1])


def test_kernels_match_a_hand_written_loop(rng):
    W, W_in, bias = _network(rng, 12, 1, np.float64, density=0.4)
    delays = rng.integers(1, 4, W.nnz)
    inputs = rng.standard_normal((25, 1))
    expected = _hand_written(W, W_in, bias, delays, inputs, 0.5, np.tanh)
    for module in (reference, cpu_delays):
        out = np.empty((1, 25, 12))
        module.delayed_esn_run(
            module.prepare_delayed_esn(W, W_in, bias, delays), inputs[None], np.zeros((1, 3, 12)), 0.5, "tanh", out
        )
        np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-12)
    for backend in ("numpy", "numba"):
        esn = rs.ESN.from_weights(W, W_in, bias, leak_rate=0.5, backend=backend, delays=delays)
        np.testing.assert_allclose(esn.run(inputs), expected, rtol=0, atol=1e-12)
    assert rs.ESN.from_weights(W, W_in, bias, delays=np.int64(3), seed=0).config()["delays"] == 3


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_all_ones_delays_are_the_plain_esn(rng, backend):
    u = rng.standard_normal((2, 50, 2))
    plain = rs.ESN(60, seed=4, dtype="float64", backend=backend)
    delayed = rs.ESN(60, seed=4, dtype="float64", backend=backend, delays=np.ones(plain.W.nnz, dtype=int))
    np.testing.assert_allclose(delayed.run(u), plain.run(u), rtol=0, atol=1e-12)
    assert delayed.config()["delays"] == "array"
    np.testing.assert_array_equal(delayed.connection_delays_array, 1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_esn_backends_agree_and_state_carries_over(rng, dtype):
    u = rng.standard_normal((2, 60, 1))
    runs = {}
    for backend in ("numpy", "numba"):
        esn = rs.ESN(40, seed=7, dtype=dtype, backend=backend, delays=(2, 6))
        first, second = esn.run(u[:, :25]), esn.run(u[:, 25:])
        esn.reset()
        whole = esn.run(u)
        np.testing.assert_array_equal(np.concatenate([first, second], axis=1), whole)
        runs[backend] = whole
        assert esn._history.shape == (2, 6, 40)
        np.testing.assert_array_equal(esn.state, whole[:, -1])
    np.testing.assert_allclose(runs["numba"], runs["numpy"], rtol=0, atol=TOLERANCE[np.dtype(dtype).type])


def test_reset_and_state_clear_the_values_in_flight(rng):
    u = rng.standard_normal((30, 1))
    esn = rs.ESN(30, seed=1, dtype="float64", delays=4)
    first = esn.run(u)
    esn.reset()
    np.testing.assert_array_equal(esn.run(u), first)  # nothing of the earlier run is left
    esn.state = np.zeros(30)  # setting the state clears the older states: the same as reset
    np.testing.assert_array_equal(esn.run(u), first)


def test_delays_drawn_from_the_seed_and_kept_in_config():
    a = rs.ESN(50, seed=11, delays=5)
    b = rs.ESN(50, seed=11, delays=5)
    np.testing.assert_array_equal(a.connection_delays_array, b.connection_delays_array)
    assert a.connection_delays_array.min() >= 1 and a.connection_delays_array.max() <= 5
    assert len(np.unique(a.connection_delays_array)) == 5
    np.testing.assert_array_equal(a.W.toarray(), rs.ESN(50, seed=11).W.toarray())  # same weights as without delays
    ranged = rs.ESN(50, seed=11, delays=(3, 4))
    assert set(np.unique(ranged.connection_delays_array)) == {3, 4}
    assert json.loads(json.dumps(ranged.config()))["delays"] == [3, 4]
    assert a.config()["delays"] == 5
    assert "delays" not in rs.ESN(50, seed=11).config()


def test_bad_delays_raise_clear_errors():
    nnz = rs.ESN(30, seed=0).W.nnz
    with pytest.raises(ValueError, match="delays must be >= 1"):
        rs.ESN(30, seed=0, delays=np.zeros(nnz, dtype=int))
    with pytest.raises(ValueError, match=rf"delays as an array .* \({nnz},\)"):
        rs.ESN(30, seed=0, delays=np.ones(nnz + 1, dtype=int))
    with pytest.raises(ValueError, match="whole numbers"):
        rs.ESN(30, seed=0, delays=np.full(nnz, 1.5))
    with pytest.raises(ValueError, match="1 <= low <= high"):
        rs.ESN(30, seed=0, delays=0)
    with pytest.raises(ValueError, match="1 <= low <= high"):
        rs.ESN(30, seed=0, delays=(4, 2))
    with pytest.raises(ValueError, match="pair of ints"):
        rs.ESN(30, seed=0, delays=(1, 2, 3))


def test_unsupported_paths_name_the_capability():
    esn = rs.ESN(20, seed=0, delays=3)
    esn.run(np.zeros((5, 1)))
    with pytest.raises(NotImplementedError, match="generate.*delays"):
        esn.generate(3, np.zeros((1, 21)), 0.0, np.zeros(1))
    esn._backend = types.SimpleNamespace(name="cupy")  # a GPU backend has no delayed kernel
    with pytest.raises(NotImplementedError, match="'cupy'.*time-delayed"):
        esn._prepare(types.SimpleNamespace(prepare_esn=None))
