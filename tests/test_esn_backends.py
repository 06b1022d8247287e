"""ESN on every available backend against the NumPy reference kernel and a plain NumPy loop.

The oracle for each backend is ``reservoir.kernels.reference`` run in float64 on the
very same (dtype-rounded) weights and inputs; the reference kernel itself is checked
against a hand-written loop of the ESN update equation (user guide).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir import backends
from reservoir.config import settings

BACKENDS = rs.backends.available()
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}
ACTIVATIONS = ["tanh", "identity", "sigmoid", "relu"]


def _weights(esn_weights, rng, units, n_in, dtype, **kwargs):
    """Weights rounded to `dtype` once, so model and oracle read identical numbers."""
    W, W_in, bias = esn_weights(rng, units, n_in, **kwargs)
    return W.astype(dtype), W_in.astype(dtype), bias.astype(dtype)


#: The Numba path's three ESN kernels, each forced through the settings that pick them:
#: the plain-CSR kernel of small reservoirs, and the SELL / batched kernels serial and parallel.
KERNELS = {
    "small": dict(small_max_work=10**15),
    "serial": dict(small_max_work=-1, parallel_min_work=10**15, parallel_min_work_float64=10**15),
    "parallel": dict(
        small_max_work=-1, parallel_min_work=0, parallel_min_work_float64=0, parallel_probe_seconds=float("inf")
    ),
}


def _use_kernel(monkeypatch, kernel):
    for name, value in KERNELS[kernel].items():
        monkeypatch.setattr(settings, name, value)


def _model(W, W_in, bias, *, leak_rate=1.0, activation="tanh", dtype, backend):
    return rs.ESN.from_weights(W, W_in, bias, leak_rate=leak_rate, activation=activation, dtype=dtype, backend=backend)


# --------------------------------------------------------------------------- the oracle itself
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("leak_rate", [1.0, 0.3])
def test_reference_kernel_matches_plain_loop(rng, esn_weights, esn_loop, activation, leak_rate, reference_esn):
    W, W_in, bias = esn_weights(rng, 40, 3)
    u = rng.uniform(-1, 1, (2, 30, 3))
    out, last = reference_esn(W, W_in, bias, u, leak_rate, activation)
    for b in range(2):
        expected, expected_last = esn_loop(W, W_in, bias, u[b], leak_rate=leak_rate, activation=activation)
        np.testing.assert_allclose(out[b], expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(last[b], expected_last, rtol=1e-12, atol=1e-12)


def test_first_step_from_zero_state_is_the_update_equation(rng, esn_weights):
    W, W_in, bias = esn_weights(rng, 25, 2)
    u0 = rng.uniform(-1, 1, 2)
    a = 0.3
    esn = _model(W, W_in, bias, leak_rate=a, dtype=np.float64, backend="numpy")
    first = esn.run(u0[None])[0]
    np.testing.assert_allclose(first, a * np.tanh(W_in @ u0 + bias), rtol=1e-14, atol=1e-15)
    # And the second step uses W on the first state.
    u1 = rng.uniform(-1, 1, 2)
    second = esn.run(u1[None])[0]
    np.testing.assert_allclose(
        second, (1 - a) * first + a * np.tanh(W @ first + W_in @ u1 + bias), rtol=1e-13, atol=1e-15
    )


# --------------------------------------------------------------------------- backends vs reference
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("leak_rate", [1.0, 0.3])
def test_activations_and_leak_rates(rng, esn_weights, backend, dtype, activation, leak_rate, reference_esn):
    W, W_in, bias = _weights(esn_weights, rng, 37, 3, dtype)
    u = rng.uniform(-1, 1, (60, 3)).astype(dtype)
    esn = _model(W, W_in, bias, leak_rate=leak_rate, activation=activation, dtype=dtype, backend=backend)
    states = esn.run(u)
    expected, last = reference_esn(W, W_in, bias, u[None], leak_rate, activation)
    assert states.shape == (60, 37)
    assert states.dtype == dtype
    np.testing.assert_allclose(states, expected[0], **TOL[dtype])
    np.testing.assert_allclose(esn.state, last[0], **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("units", [1, 7, 13, 257, 1031])
@pytest.mark.parametrize("n_in", [1, 3])
def test_single_sequence_odd_sizes(rng, esn_weights, backend, dtype, units, n_in, reference_esn):
    W, W_in, bias = _weights(esn_weights, rng, units, n_in, dtype, density=min(1.0, 8 / units))
    u = rng.uniform(-1, 1, (45, n_in)).astype(dtype)
    esn = _model(W, W_in, bias, leak_rate=0.3, dtype=dtype, backend=backend)
    states = esn.run(u)
    expected, _ = reference_esn(W, W_in, bias, u[None], 0.3, "tanh")
    assert states.shape == (45, units)
    assert states.dtype == dtype
    assert esn.state.shape == (units,)
    np.testing.assert_allclose(states, expected[0], **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [1, 2, 5])
@pytest.mark.parametrize("units", [1, 7, 257])
@pytest.mark.parametrize("n_in", [1, 3])
def test_batch_odd_sizes(rng, esn_weights, backend, dtype, batch, units, n_in, reference_esn):
    W, W_in, bias = _weights(esn_weights, rng, units, n_in, dtype, density=min(1.0, 8 / units))
    u = rng.uniform(-1, 1, (batch, 33, n_in)).astype(dtype)
    esn = _model(W, W_in, bias, leak_rate=0.7, dtype=dtype, backend=backend)
    states = esn.run(u)
    expected, last = reference_esn(W, W_in, bias, u, 0.7, "tanh")
    assert states.shape == (batch, 33, units)
    assert states.dtype == dtype
    assert esn.state.shape == (batch, units)
    np.testing.assert_allclose(states, expected, **TOL[dtype])
    np.testing.assert_allclose(esn.state, last, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_batch_activations(rng, esn_weights, backend, activation, reference_esn):
    W, W_in, bias = _weights(esn_weights, rng, 29, 2, np.float64)
    u = rng.uniform(-1, 1, (4, 25, 2))
    esn = _model(W, W_in, bias, leak_rate=0.5, activation=activation, dtype=np.float64, backend=backend)
    expected, _ = reference_esn(W, W_in, bias, u, 0.5, activation)
    np.testing.assert_allclose(esn.run(u), expected, **TOL[np.float64])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_dimensional_input_is_one_feature(rng, esn_weights, backend, dtype, reference_esn):
    W, W_in, bias = _weights(esn_weights, rng, 19, 1, dtype)
    u = rng.uniform(-1, 1, 40).astype(dtype)
    esn = _model(W, W_in, bias, dtype=dtype, backend=backend)
    states = esn.run(u)
    expected, _ = reference_esn(W, W_in, bias, u[None, :, None], 1.0, "tanh")
    assert states.shape == (40, 19)
    np.testing.assert_allclose(states, expected[0], **TOL[dtype])
    # A 1-D W_in is a single input column.
    esn_1d = _model(W, W_in[:, 0], bias, dtype=dtype, backend=backend)
    np.testing.assert_allclose(esn_1d.run(u), expected[0], **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("batch", [None, 3])
def test_parallel_and_serial_kernels(rng, esn_weights, monkeypatch, backend, dtype, kernel, batch, reference_esn):
    _use_kernel(monkeypatch, kernel)
    units = 211
    W, W_in, bias = _weights(esn_weights, rng, units, 2, dtype, density=0.05)
    u = rng.uniform(-1, 1, (30, 2) if batch is None else (batch, 30, 2)).astype(dtype)
    esn = _model(W, W_in, bias, leak_rate=0.6, dtype=dtype, backend=backend)
    states = esn.run(u)
    expected, _ = reference_esn(W, W_in, bias, u if batch else u[None], 0.6, "tanh")
    np.testing.assert_allclose(states, expected if batch else expected[0], **TOL[dtype])


@pytest.mark.parametrize("kernel", ["parallel", "serial"])
@pytest.mark.parametrize("parts", [1, 2, 3, 7])
@pytest.mark.parametrize("block_bytes", [8 * 37, 10**9], ids=["column-blocks", "one-block"])
def test_one_sequence_row_parts(rng, esn_weights, monkeypatch, kernel, parts, block_bytes, reference_esn):
    # The one-sequence layout cuts the rows into one range per thread (each thread sums
    # and finishes its own rows); any number of ranges, more or fewer than the threads,
    # and any column blocking must give the reference's states.
    from reservoir.kernels.cpu import esn as cpu_esn

    _use_kernel(monkeypatch, kernel)
    monkeypatch.setattr(settings, "sell_block_bytes", block_bytes)
    monkeypatch.setattr(cpu_esn, "get_num_threads", lambda: parts)
    W, W_in, bias = _weights(esn_weights, rng, 203, 2, np.float64, density=0.15)
    u = rng.uniform(-1, 1, (25, 2))
    model = _model(W, W_in, bias, leak_rate=0.6, dtype=np.float64, backend="numba")
    states = model.run(u)
    expected, _ = reference_esn(W, W_in, bias, u[None], 0.6, "tanh")
    np.testing.assert_allclose(states, expected[0], **TOL[np.float64])
    weights = model._kernels()[1]
    part_rows = weights.sell()[-1]
    assert len(part_rows) == parts + 1 and part_rows[0] == 0 and part_rows[-1] == 203
    row_nnz = np.diff(W.tocsr().indptr)
    shares = [row_nnz[a:b].sum() for a, b in zip(part_rows[:-1], part_rows[1:])]
    assert max(shares) - min(shares) <= 2 * row_nnz.max()  # about equal nonzeros per range


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_parallel_one_sequence_finish_in_chunks(rng, esn_weights, monkeypatch, dtype, activation, reference_esn):
    # The parallel one-sequence step finishes each thread's rows (input drive, activation,
    # leak) in chunks of _FINISH_ROWS rows: whole chunks and a short last one here.
    from reservoir.kernels.cpu.esn import _FINISH_ROWS

    _use_kernel(monkeypatch, "parallel")
    units = 2 * _FINISH_ROWS + 37
    W, W_in, bias = _weights(esn_weights, rng, units, 3, dtype, density=0.01)
    u = rng.uniform(-1, 1, (12, 3)).astype(dtype)
    states = _model(W, W_in, bias, leak_rate=0.6, activation=activation, dtype=dtype, backend="numba").run(u)
    expected, _ = reference_esn(W, W_in, bias, u[None], 0.6, activation)
    np.testing.assert_allclose(states, expected[0], **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel", ["parallel", "serial"])
@pytest.mark.parametrize("block_bytes", [1, 3 * 4 * 17, 10**9], ids=["one-column", "17-columns", "one-block"])
def test_batched_column_blocks(rng, esn_weights, monkeypatch, backend, kernel, block_bytes, reference_esn):
    # Batched steps sweep the matrix one column block at a time; every block size,
    # down to one column per block, must give the reference's states.
    _use_kernel(monkeypatch, kernel)
    monkeypatch.setattr(settings, "batch_state_block_bytes", block_bytes)
    W, W_in, bias = _weights(esn_weights, rng, 97, 2, np.float64, density=0.1)
    u = rng.uniform(-1, 1, (3, 20, 2))
    states = _model(W, W_in, bias, leak_rate=0.7, dtype=np.float64, backend=backend).run(u)
    expected, _ = reference_esn(W, W_in, bias, u, 0.7, "tanh")
    np.testing.assert_allclose(states, expected, **TOL[np.float64])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [8, 9, 33, 40])
def test_batch_widths_across_simd_vectors(rng, esn_weights, monkeypatch, backend, dtype, batch, reference_esn):
    # The Numba batched step pads the batch to whole vectors (8 float32, 4 float64 lanes)
    # and sweeps four vectors at a time, then one: full, remainder and padded lanes.
    _use_kernel(monkeypatch, "serial")
    W, W_in, bias = _weights(esn_weights, rng, 53, 2, dtype, density=0.2)
    u = rng.uniform(-1, 1, (batch, 15, 2)).astype(dtype)
    esn = _model(W, W_in, bias, leak_rate=0.8, dtype=dtype, backend=backend)
    first = esn.run(u[:, :7])
    second = esn.run(u[:, 7:])  # carry-over of the (unpadded) state
    expected, last = reference_esn(W, W_in, bias, u, 0.8, "tanh")
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), expected, **TOL[dtype])
    np.testing.assert_allclose(esn.state, last, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 8), (37, 16), (1000, 40)])
def test_batched_state_buffers_start_on_a_cache_line(shape, dtype):
    """The batched kernel gathers whole state rows as vectors; a buffer off a 64-byte line
    splits every other load (see cpu.layouts.cache_line_aligned_zeros)."""
    pytest.importorskip("numba")
    from reservoir.kernels.cpu.layouts import cache_line_aligned_zeros

    buffers = [cache_line_aligned_zeros(shape, dtype) for _ in range(4)]
    for buffer in buffers:
        assert buffer.ctypes.data % 64 == 0
        assert buffer.shape == shape and buffer.dtype == np.dtype(dtype) and buffer.flags.c_contiguous
        assert not buffer.any()


@pytest.mark.parametrize("parts", [1, 2, 5])
@pytest.mark.parametrize("block_bytes", [1, 8 * 13, 10**9], ids=["smallest", "13-columns", "one-block"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sell_layout_holds_the_matrix(rng, monkeypatch, block_bytes, dtype, parts):
    # The one-sequence layout (column blocks of SELL-8 slices, rows in `parts` ranges)
    # rebuilt into a dense matrix must be W, with every row in exactly one slot per
    # block, inside its range's slices.
    from reservoir.kernels.cpu.layouts import to_sell

    monkeypatch.setattr(settings, "sell_block_bytes", block_bytes)
    W = rs.random_sparse(101, 97, density=0.4, seed=int(rng.integers(1 << 30)), dtype=dtype)
    block_columns, block_slices, slice_ptr, columns, values, row_of, part_slices, part_rows = to_sell(W, 8, parts)
    assert (len(block_columns) > 2) == (block_bytes < 10**9)
    assert list(part_rows[[0, -1]]) == [0, 101] and len(part_rows) == parts + 1
    dense = np.zeros(W.shape)
    for block in range(len(block_columns) - 1):
        slices = range(block_slices[block], block_slices[block + 1])
        assert sorted(r for s in slices for r in row_of[8 * s : 8 * s + 8] if r >= 0) == list(range(101))
        assert part_slices[block, 0] == block_slices[block] and part_slices[block, -1] == block_slices[block + 1]
        for part in range(parts):
            own = range(part_slices[block, part], part_slices[block, part + 1])
            rows = sorted(r for s in own for r in row_of[8 * s : 8 * s + 8] if r >= 0)
            assert rows == list(range(part_rows[part], part_rows[part + 1]))
        for s in slices:
            entries = np.arange(slice_ptr[s], slice_ptr[s + 1]).reshape(-1, 8)
            for r, row in enumerate(row_of[8 * s : 8 * s + 8]):
                if row >= 0:
                    np.add.at(
                        dense[row],
                        block_columns[block] + columns[entries[:, r]].astype(np.int64),
                        values[entries[:, r]],
                    )
    np.testing.assert_array_equal(dense, W.toarray())


@pytest.mark.parametrize("block_bytes", [1, 4 * 8 * 13, 10**9], ids=["one-column", "13-columns", "one-block"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batched_layout_holds_the_matrix(rng, monkeypatch, block_bytes, dtype):
    # The batched layout (one CSR per column block, stored block after block) rebuilt
    # into a dense matrix must be W, every entry inside its block's columns.
    from reservoir.kernels import cpu

    monkeypatch.setattr(settings, "batch_state_block_bytes", block_bytes)
    W = rs.random_sparse(101, 97, density=0.4, seed=int(rng.integers(1 << 30)), dtype=dtype)
    weights = cpu.prepare_esn(W, np.zeros((101, 1), dtype), np.zeros(101, dtype))
    block_columns, segment_ptr, indices, data = weights.batched(8)
    n_blocks = len(block_columns) - 1
    assert (n_blocks > 1) == (block_bytes < 10**9) and segment_ptr.size == n_blocks * 101 + 1
    dense = np.zeros(W.shape)
    for block in range(n_blocks):
        for row in range(101):
            entries = slice(segment_ptr[block * 101 + row], segment_ptr[block * 101 + row + 1])
            local = indices[entries].astype(np.int64)
            assert np.all(local < block_columns[block + 1] - block_columns[block])
            np.add.at(dense[row], block_columns[block] + local, data[entries])
    np.testing.assert_array_equal(dense, W.toarray())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["parallel", "serial"])
def test_single_sequence_column_blocks(rng, esn_weights, monkeypatch, backend, dtype, kernel, reference_esn):
    # Many column blocks (a dozen columns each) on one sequence, and in closed loop.
    _use_kernel(monkeypatch, kernel)
    monkeypatch.setattr(settings, "sell_block_bytes", 12 * np.dtype(dtype).itemsize)
    W, W_in, bias = _weights(esn_weights, rng, 131, 2, dtype, density=0.6)
    u = rng.uniform(-1, 1, (40, 2)).astype(dtype)
    esn = _model(W, W_in, bias, leak_rate=0.4, dtype=dtype, backend=backend)
    states = np.concatenate([esn.run(u[:25]), esn.run(u[25:])])
    expected, last = reference_esn(W, W_in, bias, u[None], 0.4, "tanh")
    np.testing.assert_allclose(states, expected[0], **TOL[dtype])
    coef = rng.uniform(-0.05, 0.05, (2, 131)).astype(dtype)
    outputs = esn.generate(10, coef, np.zeros(2, dtype), u[-1], include_input=False)
    x = last[0]
    for t in range(10):
        x = 0.6 * x + 0.4 * np.tanh(W.astype(np.float64) @ x + W_in @ (u[-1] if t == 0 else outputs[t - 1]) + bias)
        np.testing.assert_allclose(outputs[t], coef @ x, **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [None, 2])
def test_large_reservoir_takes_the_parallel_path_unpatched(rng, backend, batch, reference_esn):
    # nnz = 2500 * 100 = 250,000 > the default parallel_min_work.
    assert 2500 * 100 >= settings.parallel_min_work
    W = rs.random_sparse(2500, fan_in=100, spectral_radius=0.9, seed=3)
    W_in = rng.uniform(-1, 1, (2500, 2)).astype(np.float32)
    bias = rng.uniform(-0.2, 0.2, 2500).astype(np.float32)
    u = rng.uniform(-1, 1, (12, 2) if batch is None else (batch, 12, 2)).astype(np.float32)
    esn = _model(W, W_in, bias, leak_rate=0.5, dtype=np.float32, backend=backend)
    expected, _ = reference_esn(W, W_in, bias, u if batch else u[None], 0.5, "tanh")
    np.testing.assert_allclose(esn.run(u), expected if batch else expected[0], **TOL[np.float32])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [None, 2])
@pytest.mark.parametrize("kernel", ["small", "serial"])
def test_non_canonical_csr_weights(rng, monkeypatch, backend, batch, kernel, reference_esn):
    """Duplicate entries (summed by W @ x) and unsorted column indices in the given W."""
    _use_kernel(monkeypatch, kernel)
    indptr = np.array([0, 3, 5, 5, 8])
    indices = np.array([2, 0, 2, 3, 1, 0, 3, 0])  # row 0: duplicate column 2, unsorted
    data = rng.uniform(-0.5, 0.5, 8)
    W = sp.csr_array((data, indices, indptr), shape=(4, 4))
    dense = np.zeros((4, 4))
    np.add.at(dense, (np.repeat(np.arange(4), np.diff(indptr)), indices), data)
    W_in = rng.uniform(-1, 1, (4, 1))
    bias = rng.uniform(-0.1, 0.1, 4)
    u = rng.uniform(-1, 1, (20, 1) if batch is None else (batch, 20, 1))
    esn = _model(W, W_in, bias, leak_rate=0.5, dtype=np.float64, backend=backend)
    expected, _ = reference_esn(sp.csr_array(dense), W_in, bias, u if batch else u[None], 0.5, "tanh")
    np.testing.assert_allclose(esn.run(u), expected if batch else expected[0], **TOL[np.float64])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("units", [65536, 65537])
@pytest.mark.parametrize("batch", [None, 2])
def test_column_index_width_boundary(rng, backend, units, batch, reference_esn):
    """More than 65,536 columns cannot use 16-bit column indices."""
    W = rs.random_sparse(units, fan_in=3, seed=1, dtype="float64")
    W.data *= 0.5
    # Make sure the last columns are used, where 16-bit indices would wrap around.
    W = sp.csr_array(
        W + sp.csr_array((np.full(3, 0.3), (np.array([0, 1, 2]), np.array([units - 1] * 3))), shape=(units, units))
    )
    W_in = rng.uniform(-1, 1, (units, 1))
    bias = rng.uniform(-0.1, 0.1, units)
    u = rng.uniform(-1, 1, (6, 1) if batch is None else (batch, 6, 1))
    esn = _model(W, W_in, bias, dtype=np.float64, backend=backend)
    expected, _ = reference_esn(W, W_in, bias, u if batch else u[None], 1.0, "tanh")
    np.testing.assert_allclose(esn.run(u), expected if batch else expected[0], **TOL[np.float64])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("kernel", ["small", "serial"])
def test_time_chunks(rng, esn_weights, monkeypatch, backend, dtype, batch, kernel, reference_esn):
    # Chunks of a batch are strided views of the caller's arrays.
    monkeypatch.setattr(settings, "time_chunk", 7)
    _use_kernel(monkeypatch, kernel)
    W, W_in, bias = _weights(esn_weights, rng, 31, 2, dtype)
    u = rng.uniform(-1, 1, (50, 2) if batch is None else (batch, 50, 2)).astype(dtype)
    esn = _model(W, W_in, bias, leak_rate=0.4, dtype=dtype, backend=backend)
    expected, last = reference_esn(W, W_in, bias, u if batch else u[None], 0.4, "tanh")
    np.testing.assert_allclose(esn.run(u), expected if batch else expected[0], **TOL[dtype])
    np.testing.assert_allclose(esn.state, last if batch else last[0], **TOL[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [None, 3])
def test_state_carries_over_between_runs(rng, esn_weights, backend, dtype, batch):
    W, W_in, bias = _weights(esn_weights, rng, 41, 2, dtype)
    u = rng.uniform(-1, 1, (120, 2) if batch is None else (batch, 120, 2)).astype(dtype)
    whole = _model(W, W_in, bias, leak_rate=0.5, dtype=dtype, backend=backend).run(u)
    split = _model(W, W_in, bias, leak_rate=0.5, dtype=dtype, backend=backend)
    first = split.run(u[..., :50, :])
    second = split.run(u[..., 50:, :])
    tight = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(np.concatenate([first, second], axis=-2), whole, **tight)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_gives_a_fresh_model(rng, esn_weights, backend):
    W, W_in, bias = _weights(esn_weights, rng, 23, 2, np.float64)
    u = rng.uniform(-1, 1, (40, 2))
    fresh = _model(W, W_in, bias, dtype=np.float64, backend=backend).run(u)
    esn = _model(W, W_in, bias, dtype=np.float64, backend=backend)
    esn.run(rng.uniform(-1, 1, (17, 2)))
    assert np.any(esn.state != 0)
    assert esn.reset() is esn
    np.testing.assert_array_equal(esn.state, np.zeros(23))
    np.testing.assert_allclose(esn.run(u), fresh, rtol=1e-14, atol=1e-15)
    # After a batch too: reset allows any number of sequences again.
    esn.reset()
    esn.run(rng.uniform(-1, 1, (4, 10, 2)))
    esn.reset()
    np.testing.assert_allclose(esn.run(u), fresh, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_of_another_size_needs_reset(rng, esn_weights, backend):
    W, W_in, bias = _weights(esn_weights, rng, 11, 2, np.float64)
    esn = _model(W, W_in, bias, dtype=np.float64, backend=backend)
    esn.run(rng.uniform(-1, 1, (20, 2)))
    assert esn.state.shape == (11,)
    with pytest.raises(ValueError, match="reset"):
        esn.run(rng.uniform(-1, 1, (3, 5, 2)))
    esn.reset()
    esn.run(rng.uniform(-1, 1, (3, 5, 2)))
    assert esn.state.shape == (3, 11)
    with pytest.raises(ValueError, match="reset"):
        esn.run(rng.uniform(-1, 1, (2, 5, 2)))
    with pytest.raises(ValueError, match="reset"):
        esn.run(rng.uniform(-1, 1, (5, 2)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_setter_and_continuation(rng, esn_weights, backend, reference_esn):
    W, W_in, bias = _weights(esn_weights, rng, 17, 2, np.float64)
    x0 = rng.uniform(-0.5, 0.5, 17)
    u = rng.uniform(-1, 1, (25, 2))
    esn = _model(W, W_in, bias, leak_rate=0.8, dtype=np.float64, backend=backend)
    esn.state = x0
    expected, _ = reference_esn(W, W_in, bias, u[None], 0.8, "tanh", state=x0)
    np.testing.assert_allclose(esn.run(u), expected[0], **TOL[np.float64])
    # `state` hands out a copy: changing it does not change the reservoir.
    state = esn.state
    state[:] = 123.0
    assert not np.any(esn.state == 123.0)


# --------------------------------------------------------------------------- closed loop
def _generate_loop(W, W_in, bias, coef, intercept, first_input, n_steps, leak_rate, activation, include_input, x0):
    """Plain float64 closed loop: x = (1-a) x + a f(W x + W_in u + b); y = coef @ [x, u] + c; u = y."""
    f = {
        "tanh": np.tanh,
        "identity": lambda z: z,
        "relu": lambda z: np.maximum(z, 0),
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    }[activation]
    W = np.asarray(W.toarray(), dtype=np.float64)
    W_in, bias, coef = (np.asarray(v, dtype=np.float64) for v in (W_in, bias, coef))
    x = np.asarray(x0, dtype=np.float64).copy()
    u = np.asarray(first_input, dtype=np.float64).copy()
    outputs = []
    for _ in range(n_steps):
        x = (1 - leak_rate) * x + leak_rate * f(W @ x + W_in @ u + bias)
        features = np.concatenate([x, u]) if include_input else x
        y = coef @ features + intercept
        outputs.append(y)
        u = y
    return np.array(outputs), x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("include_input", [True, False])
@pytest.mark.parametrize("activation, leak_rate", [("tanh", 1.0), ("tanh", 0.3), ("sigmoid", 0.6)])
@pytest.mark.parametrize("kernel", ["small", "serial"])
def test_generate_matches_plain_closed_loop(
    rng, esn_weights, monkeypatch, backend, dtype, include_input, activation, leak_rate, kernel
):
    _use_kernel(monkeypatch, kernel)
    units, n_in = 45, 2
    W, W_in, bias = _weights(esn_weights, rng, units, n_in, dtype)
    width = units + (n_in if include_input else 0)
    coef = (rng.standard_normal((n_in, width)) * 0.5 / np.sqrt(width)).astype(dtype)
    intercept = rng.uniform(-0.1, 0.1, n_in).astype(dtype)
    warm = rng.uniform(-1, 1, (20, n_in)).astype(dtype)
    first_input = rng.uniform(-1, 1, n_in).astype(dtype)

    esn = _model(W, W_in, bias, leak_rate=leak_rate, activation=activation, dtype=dtype, backend=backend)
    esn.run(warm)  # generate starts from the current state
    x0 = esn.state
    outputs = esn.generate(30, coef, intercept, first_input, include_input=include_input)
    expected, last = _generate_loop(
        W, W_in, bias, coef, intercept.astype(np.float64), first_input, 30, leak_rate, activation, include_input, x0
    )
    assert outputs.shape == (30, n_in)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(outputs, expected, **tol)
    np.testing.assert_allclose(esn.state, last, **tol)
    assert esn.state.shape == (units,)


@pytest.mark.parametrize("backend", BACKENDS)
def test_generate_from_zero_state_with_one_output(rng, esn_weights, backend):
    W, W_in, bias = _weights(esn_weights, rng, 30, 1, np.float64)
    coef = rng.standard_normal(31) * 0.1  # 1-D coef: one output
    esn = _model(W, W_in, bias, dtype=np.float64, backend=backend)
    outputs = esn.generate(15, coef, 0.05, [0.3])
    expected, _ = _generate_loop(
        W, W_in, bias, coef[None], np.array([0.05]), [0.3], 15, 1.0, "tanh", True, np.zeros(30)
    )
    np.testing.assert_allclose(outputs, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_generate_checks_the_readout_shape(rng, esn_weights, backend):
    W, W_in, bias = _weights(esn_weights, rng, 10, 2, np.float64)
    esn = _model(W, W_in, bias, dtype=np.float64, backend=backend)
    with pytest.raises(ValueError, match="features"):
        esn.generate(5, np.zeros((2, 11)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="as many outputs as inputs"):
        esn.generate(5, np.zeros((3, 12)), np.zeros(3), np.zeros(2))


# --------------------------------------------------------------------------- the ESN constructor
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_states(rng, backend):
    u = rng.uniform(-1, 1, (60, 2))
    kwargs = dict(density=0.05, spectral_radius=0.8, leak_rate=0.5, bias_scaling=0.3, seed=7, backend=backend)
    a = rs.ESN(150, **kwargs).run(u)
    b = rs.ESN(150, **kwargs).run(u)
    np.testing.assert_array_equal(a, b)
    c = rs.ESN(150, **{**kwargs, "seed": 8}).run(u)
    assert not np.allclose(a, c)


def test_seeded_esn_is_the_same_on_every_backend(rng):
    u = rng.uniform(-1, 1, (40, 2))
    runs = [rs.ESN(120, density=0.05, seed=3, dtype="float64", backend=name).run(u) for name in BACKENDS]
    for states in runs[1:]:
        np.testing.assert_allclose(states, runs[0], **TOL[np.float64])


@pytest.mark.parametrize(
    "units, kwargs, radius",
    [
        (200, dict(density=0.05), 0.9),
        (300, dict(fan_in=6), 1.1),
        (150, dict(density=0.1), 0.5),
    ],
)
def test_recurrent_matrix_has_the_requested_spectral_radius(dense_spectral_radius, units, kwargs, radius):
    esn = rs.ESN(units, spectral_radius=radius, seed=1, **kwargs)
    assert esn.W.shape == (units, units)
    assert dense_spectral_radius(esn.W) == pytest.approx(radius, rel=0.01)
    if "fan_in" in kwargs:
        np.testing.assert_array_equal(np.diff(esn.W.indptr), kwargs["fan_in"])


@pytest.mark.parametrize(
    "input_scaling, input_density, bias_scaling", [(1.0, 1.0, 0.0), (0.25, 0.5, 0.4), (3.0, 0.2, 1.0)]
)
def test_input_weights_and_bias_ranges(rng, input_scaling, input_density, bias_scaling):
    esn = rs.ESN(
        400, density=0.02, input_scaling=input_scaling, input_density=input_density, bias_scaling=bias_scaling, seed=2
    )
    assert esn.W_in is None  # drawn on the first run, when the input width is known
    esn.run(rng.uniform(-1, 1, (5, 3)))
    assert esn.W_in.shape == (400, 3)
    assert np.all(np.abs(esn.W_in) <= input_scaling)
    nonzero = np.count_nonzero(esn.W_in)
    expected = input_density * esn.W_in.size
    assert abs(nonzero - expected) <= 5 * np.sqrt(esn.W_in.size * input_density * (1 - input_density)) + 1e-9
    # Nonzero input weights are uniform over [-input_scaling, input_scaling).
    values = esn.W_in[esn.W_in != 0] / input_scaling
    assert abs(values.mean()) < 5 * np.sqrt(1 / 3 / values.size)
    assert values.max() > 0.9 and values.min() < -0.9
    assert esn.bias.shape == (400,)
    assert np.all(np.abs(esn.bias) <= bias_scaling)
    if bias_scaling > 0:
        assert np.abs(esn.bias).max() > 0.9 * bias_scaling


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_all_the_way(rng, backend, dtype, reference_esn):
    esn = rs.ESN(100, density=0.05, seed=0, dtype=dtype, backend=backend)
    assert esn.W.dtype == dtype
    assert esn.state.dtype == dtype
    u64 = rng.uniform(-1, 1, (20, 2))  # float64 inputs are converted
    states = esn.run(u64)
    assert states.dtype == dtype
    assert esn.W_in.dtype == dtype and esn.bias.dtype == dtype
    assert esn.state.dtype == dtype
    assert esn.run(rng.uniform(-1, 1, (20, 2)).astype(np.float32)).dtype == dtype
    esn.reset()
    assert esn.run(u64[None].repeat(2, axis=0)).dtype == dtype
    esn.reset()
    esn.run(u64[:3])
    out = esn.generate(4, np.zeros((2, 102)), np.zeros(2), np.zeros(2))
    assert out.dtype == dtype
    # And the states equal the reference run on the model's own weights.
    esn.reset()
    expected, _ = reference_esn(esn.W, esn.W_in, esn.bias, u64.astype(dtype)[None], 1.0, "tanh")
    np.testing.assert_allclose(esn.run(u64), expected[0], **TOL[dtype])


# --------------------------------------------------------------------------- bad input
@pytest.fixture
def small_esn():
    return rs.ESN(20, density=0.2, seed=0, backend="numpy")


@pytest.mark.parametrize("bad, step", [(np.nan, 17), (np.inf, 3), (-np.inf, 0)])
def test_non_finite_input_names_the_time_step(small_esn, rng, bad, step):
    u = rng.uniform(-1, 1, (30, 2))
    u[step, 1] = bad
    with pytest.raises(ValueError, match=f"time step {step}\\b"):
        small_esn.run(u)


def test_non_finite_input_in_a_batch_names_sequence_and_step(small_esn, rng):
    u = rng.uniform(-1, 1, (3, 30, 2))
    u[1, 17, 0] = np.nan
    with pytest.raises(ValueError, match="sequence 1, time step 17"):
        small_esn.run(u)


def test_a_list_of_sequences_of_different_lengths_is_named(small_esn, rng):
    with pytest.raises(ValueError, match=r"list of sequences of different shapes \[\(3, 1\), \(4, 1\)\]"):
        small_esn.run([rng.uniform(-1, 1, (3, 1)), rng.uniform(-1, 1, (4, 1))])


def test_wrong_input_width_on_second_run(small_esn, rng):
    small_esn.run(rng.uniform(-1, 1, (10, 2)))
    with pytest.raises(ValueError, match="3 features per step, expected 2"):
        small_esn.run(rng.uniform(-1, 1, (10, 3)))


def test_four_dimensional_input(small_esn):
    with pytest.raises(ValueError, match="shape"):
        small_esn.run(np.zeros((2, 3, 4, 1)))


def test_no_time_steps(small_esn):
    with pytest.raises(ValueError, match="no time steps"):
        small_esn.run(np.zeros((0, 2)))


@pytest.mark.parametrize("u", [np.array([["a", "b"], ["c", "d"]]), np.array([True, False])])
def test_non_real_input(small_esn, u):
    with pytest.raises(TypeError, match="real numbers"):
        small_esn.run(u)


def test_complex_and_object_input(small_esn):
    with pytest.raises(ValueError, match="Complex data not supported"):  # scikit-learn's convention
        small_esn.run(np.array([1 + 1j, 2j]))
    numbers = np.ones((3, 2))
    np.testing.assert_array_equal(small_esn.reset().run(numbers.astype(object)), small_esn.reset().run(numbers))
    with pytest.raises(TypeError):
        small_esn.run(np.array([[1.0, {"a": 1}]], dtype=object))


def test_sparse_input(small_esn):
    with pytest.raises(TypeError, match="dense"):
        small_esn.run(sp.csr_array(np.ones((4, 2))))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(activation="softmax"), ValueError, "unknown activation 'softmax'"),
        (dict(backend="tpu"), ValueError, "unknown backend 'tpu'"),
        (dict(leak_rate=0), ValueError, "leak_rate"),
        (dict(leak_rate=1.5), ValueError, "leak_rate"),
        (dict(leak_rate=float("nan")), ValueError, "leak_rate"),
        (dict(dtype=int), TypeError, "dtype must be float32 or float64"),
        (dict(dtype="int32"), TypeError, "dtype must be float32 or float64"),
        (dict(spectral_radius=0), ValueError, "spectral_radius"),
        (dict(input_density=0), ValueError, "input_density"),
        (dict(bias_scaling=-1), ValueError, "bias_scaling"),
        (dict(density=1.5), ValueError, "density"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rs.ESN(20, **{"density": 0.2, **kwargs})


@pytest.mark.parametrize("units, error", [(0, ValueError), (-5, ValueError), (2.0, TypeError)])
def test_bad_units(units, error):
    with pytest.raises(error, match="units"):
        rs.ESN(units)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(activation="gelu"), "unknown activation"),
        (dict(backend="nope"), "unknown backend"),
        (dict(leak_rate=0.0), "leak_rate"),
    ],
)
def test_bad_from_weights_arguments(rng, esn_weights, kwargs, match):
    W, W_in, bias = esn_weights(rng, 5, 1)
    with pytest.raises(ValueError, match=match):
        rs.ESN.from_weights(W, W_in, bias, **kwargs)


def test_from_weights_checks_shapes_and_values(rng, esn_weights):
    W, W_in, bias = esn_weights(rng, 5, 2)
    with pytest.raises(ValueError, match="square"):
        rs.ESN.from_weights(np.ones((5, 4)), W_in, bias)
    with pytest.raises(ValueError, match="W_in"):
        rs.ESN.from_weights(W, np.ones((4, 2)), bias)
    with pytest.raises(ValueError, match="bias"):
        rs.ESN.from_weights(W, W_in, np.ones(4))
    bad = W_in.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="W_in contains NaN"):
        rs.ESN.from_weights(W, bad, bias)


# --------------------------------------------------------------------------- backend registry
def test_registry_lists_the_cpu_backends():
    assert {"numpy", "numba"} <= set(backends.names())
    assert "numpy" in backends.available()
    assert set(backends.available()) <= set(backends.names())


def test_auto_resolves_to_an_available_backend():
    chosen = backends.resolve("auto")
    assert chosen.name in backends.available()
    assert chosen.priority == max(backends._REGISTRY[name].priority for name in backends.available())
    assert rs.ESN(10, density=0.5, seed=0).backend_name == chosen.name


def test_named_backend_resolves_to_itself():
    for name in backends.available():
        assert backends.resolve(name).name == name
        assert rs.ESN(10, density=0.5, seed=0, backend=name).backend_name == name


def test_unavailable_backend_names_the_missing_module(monkeypatch):
    fake = backends.Backend(
        "fakegpu", "reference", ("numpy", "surely_not_installed_module_xyz"), "a backend for tests", priority=1_000
    )
    monkeypatch.setitem(backends._REGISTRY, "fakegpu", fake)
    assert "fakegpu" in backends.names()
    assert "fakegpu" not in backends.available()
    assert fake.missing() == ["surely_not_installed_module_xyz"]
    with pytest.raises(RuntimeError, match="surely_not_installed_module_xyz"):
        backends.resolve("fakegpu")
    with pytest.raises(RuntimeError, match="surely_not_installed_module_xyz"):
        rs.ESN(10, density=0.5, backend="fakegpu")
    # "auto" skips it despite its priority.
    assert backends.resolve("auto").name != "fakegpu"


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="unknown backend 'cuda-x'"):
        backends.resolve("cuda-x")
    with pytest.raises(ValueError, match="unknown backend"):
        backends.resolve(3)


# --------------------------------------------------------------------------- compiled tanh
def test_compiled_tanh_against_numpy(rng):
    """The Numba kernels' tanh is plain arithmetic so that loops calling it vectorise: float64
    within 2 ulp of np.tanh (measured maximum on this grid), float32 within the rational fit's
    3.4e-7; NaN stays NaN and the infinities saturate (float64: to exactly +-1)."""
    from reservoir.kernels.activations import TANH
    from reservoir.kernels.cpu.activation import _activate_in_place

    z = np.concatenate(
        [
            np.linspace(-25, 25, 400_001),
            rng.standard_normal(100_000) * 3,
            rng.standard_normal(100_000) * 0.3,
            [0.625, -0.625, np.nextafter(0.625, 0), 1e-300, 5e-324, 19.5, 20.0, 1e300, np.inf, -np.inf, np.nan],
        ]
    )
    expected = np.tanh(z)
    got64 = z.copy()
    _activate_in_place(got64, TANH)
    finite = np.isfinite(z)
    ulps = np.abs(got64 - expected)[finite] / np.spacing(np.abs(expected[finite]))
    assert ulps.max() <= 2, ulps.max()
    assert np.isnan(got64[-1]) and got64[-3] == 1.0 and got64[-2] == -1.0
    with np.errstate(over="ignore"):  # 1e300 becomes inf in float32, on purpose
        got32 = z.astype(np.float32)
    _activate_in_place(got32, TANH)
    assert np.abs(got32[:-1] - expected[:-1]).max() <= 4e-7  # the infinities included
    assert np.isnan(got32[-1])
