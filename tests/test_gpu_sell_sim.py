"""Warps sharing a SELL slice, under the CUDA simulator, against the reference.

The one-sequence kernels of the Numba-CUDA path (``run_sell``, ``generate_sell``) split
a slice's entries over ``settings.gpu_sell_warps_per_slice`` warps, four load chains a
lane, and add the pieces up in shared memory. Here every split a block of 64 or 128
threads allows (1, 2 or 4 warps a slice) runs under the simulator in every placement of
the matrix and state, on rows long enough that the four-chain loop and its remainder
both run, and must give the reference's states. As in tests/test_gpu_cuda_sim.py, the
simulator must be switched on before numba is imported: in the main run this file
holds one test that runs it again in a subprocess with ``NUMBA_ENABLE_CUDASIM=1``.

The thread-block-cluster kernels exist on the CuPy path only (numba.cuda launches no
clusters and has no distributed shared memory; the simulator emulates neither): their
planner and launches are tested in tests/test_gpu_sell_layout.py, their numbers on a
GPU in tests/test_gpu.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from cuda_simulator import SIMULATED, run_file_under_simulator

if not SIMULATED:

    def test_warps_sharing_a_slice_under_the_cuda_simulator():
        run_file_under_simulator(__file__, timeout=2400)

else:
    from reservoir.config import settings
    from reservoir.kernels import _gpu_layout as layout
    from reservoir.kernels import cuda as gpu
    from reservoir.kernels import reference
    from reservoir.kernels.cuda import esn as esn_kernels

    TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
    PLACEMENTS = {
        "on-chip": {},
        "matrix-on-chip": {"gpu_single_block_max_entries": 0},
        "global": {"gpu_shared_bytes": 0},
    }
    # (threads per block, warps per slice): 2 or 4 warps a block.
    SPLITS = [(64, 1), (64, 2), (128, 4), (128, 2)]

    @pytest.fixture
    def rng():
        return np.random.default_rng(20261206)

    def _weights(rng, n, n_in, dtype, density):
        W = sp.random_array((n, n), density=density, rng=rng, format="csr", data_sampler=rng.standard_normal)
        W = sp.csr_array(W * (0.9 / np.sqrt(max(W.nnz, 1) / n)), dtype=dtype)
        return W, rng.uniform(-1, 1, (n, n_in)).astype(dtype), rng.uniform(-0.3, 0.3, n).astype(dtype)

    def _settings(monkeypatch, threads, warps_per_slice, placement):
        monkeypatch.setattr(settings, "gpu_threads_per_block", threads)
        monkeypatch.setattr(settings, "gpu_sell_warps_per_slice", warps_per_slice)
        for key, value in PLACEMENTS[placement].items():
            monkeypatch.setattr(settings, key, value)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("threads, warps_per_slice", SPLITS)
    @pytest.mark.parametrize("placement", PLACEMENTS)
    def test_run_with_warps_sharing_a_slice_matches_reference(
        rng, monkeypatch, dtype, threads, warps_per_slice, placement, reference_esn
    ):
        # 45 rows (a full slice and 13 rows of a second) of about 27 entries: with 4 warps a
        # slice each piece has 6-7 entries a lane, one pass of four chains and a remainder.
        _settings(monkeypatch, threads, warps_per_slice, placement)
        W, W_in, bias = _weights(rng, 45, 2, dtype, density=0.6)
        u = rng.uniform(-1, 1, (1, 4, 2)).astype(dtype)
        x0 = rng.uniform(-0.5, 0.5, (1, 45)).astype(dtype)
        expected, expected_last = reference_esn(W, W_in, bias, u, 0.6, "tanh", x0)
        state = x0.copy()
        out = np.full((1, 4, 45), np.nan, dtype=dtype)  # every element must be written
        gpu.esn_run(gpu.prepare_esn(W, W_in, bias), u, state, 0.6, "tanh", out)
        np.testing.assert_allclose(out, expected, **TOL[dtype])
        np.testing.assert_allclose(state, expected_last, **TOL[dtype])

    @pytest.mark.parametrize("threads, warps_per_slice", [(64, 2), (128, 4)])
    def test_rows_of_uneven_lengths_and_empty_rows(rng, monkeypatch, threads, warps_per_slice, reference_esn):
        """Rows from 0 to 40 entries: slices wider than their short rows (padding read as zeros)."""
        _settings(monkeypatch, threads, warps_per_slice, "global")
        n = 40
        dense = rng.standard_normal((n, n)) * (np.arange(n)[:, None] > np.arange(n)[None, :] * 1.0)
        W = sp.csr_array(dense * 0.1)
        W_in, bias = rng.uniform(-1, 1, (n, 1)), rng.uniform(-0.3, 0.3, n)
        u = rng.uniform(-1, 1, (1, 3, 1))
        expected, _ = reference_esn(W, W_in, bias, u, 0.8, "tanh", np.zeros((1, n)))
        out = np.empty((1, 3, n))
        gpu.esn_run(gpu.prepare_esn(W, W_in, bias), u, np.zeros((1, n)), 0.8, "tanh", out)
        np.testing.assert_allclose(out, expected, **TOL[np.float64])

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("placement", ["on-chip", "global"])
    def test_closed_loop_with_warps_sharing_a_slice_matches_reference(rng, monkeypatch, dtype, placement):
        _settings(monkeypatch, 128, 4, placement)
        n, n_in = 45, 2
        W, W_in, bias = _weights(rng, n, n_in, dtype, density=0.6)
        coef = (rng.standard_normal((n_in, n + n_in)) * 0.3 / np.sqrt(n + n_in)).astype(dtype)
        intercept = rng.uniform(-0.1, 0.1, n_in).astype(dtype)
        first = rng.uniform(-1, 1, n_in).astype(dtype)
        x0 = rng.uniform(-0.5, 0.5, n).astype(dtype)
        ref_state = x0.astype(np.float64)
        expected = reference.esn_generate(
            reference.prepare_esn(W.astype(np.float64), W_in.astype(np.float64), bias.astype(np.float64)),
            coef.astype(np.float64),
            intercept.astype(np.float64),
            True,
            ref_state,
            first.astype(np.float64),
            4,
            0.7,
            "tanh",
        )
        state = x0.copy()
        outputs = gpu.esn_generate(gpu.prepare_esn(W, W_in, bias), coef, intercept, True, state, first, 4, 0.7, "tanh")
        tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else TOL[np.float64]
        np.testing.assert_allclose(outputs, expected, **tol)
        np.testing.assert_allclose(state, ref_state, **tol)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("blocks, warps_per_slice", [(2, 2), (4, 1), (3, 2)])
    def test_one_step_over_balanced_slices_in_several_blocks(rng, dtype, blocks, warps_per_slice, reference_esn):
        """The slice order of the cluster path (layout.balanced_slice_order), each block over its
        range of it as a block of a cluster owns its. One step reads only the start state, so the
        simulator (which runs a grid's blocks one after another) can run it on several blocks."""
        n = 150  # 5 slices, the last partial
        W, W_in, bias = _weights(rng, n, 2, dtype, density=0.3)
        sell = layout.sell32(W)
        sell = layout.reorder_slices(sell, layout.balanced_slice_order(np.diff(sell.slice_ptr), blocks))
        u = rng.uniform(-1, 1, (1, 1, 2)).astype(dtype)
        x0 = rng.uniform(-0.5, 0.5, (1, n)).astype(dtype)
        expected, _ = reference_esn(W, W_in, bias, u, 0.6, "tanh", x0)
        states = np.full((1, n), np.nan, dtype=dtype)
        keep, leak, act = layout.esn_scalars(dtype, 0.6, "tanh")
        threads = 64
        esn_kernels.run_sell[blocks, threads, 0, threads * np.dtype(dtype).itemsize](
            sell.slice_ptr,
            sell.columns,
            sell.values,
            sell.row_of,
            W_in,
            bias,
            u[0],
            x0[0],
            states,
            keep,
            leak,
            act,
            np.int32(warps_per_slice),
            np.int32(0),
            np.int32(0),
        )
        np.testing.assert_allclose(states, expected[0], **TOL[dtype])
