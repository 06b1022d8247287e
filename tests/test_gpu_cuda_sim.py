"""The Numba-CUDA kernels (``reservoir.kernels.cuda``) under the CUDA simulator, against the reference.

``NUMBA_ENABLE_CUDASIM=1`` must be set before numba is imported, and the main pytest
process imported it long ago; so in the main run this file holds one test that runs
this same file again in a subprocess with the variable set, where the tests below
are defined. The simulator runs every CUDA thread as a Python thread: sizes are
small (n = 37, B = 3, T = 5; LIF: n = 50, T = 2 x 12) and blocks have 64 threads (LIF:
32). It runs one block per launch (per trial for LIF), which is the one-block path of
the persistent kernels: the simulator runs blocks one after another, so its grid sync
(``cuda.cg.this_grid().sync()``) is a block barrier and cross-block waiting is
exercised on a real GPU only (tests/test_gpu.py). The device functions of
``reservoir.kernels.cuda`` are also run alone here, each in a small test kernel.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from cuda_simulator import SIMULATED, run_file_under_simulator, self_firing_lsm

if not SIMULATED:

    def test_numba_cuda_kernels_under_the_cuda_simulator():
        run_file_under_simulator(__file__, timeout=2400)

else:
    from numba import cuda

    import reservoir as rs
    from reservoir.config import settings
    from reservoir.kernels import _gpu_layout as layout
    from reservoir.kernels import cuda as gpu
    from reservoir.kernels import reference
    from reservoir.kernels.activations import NUMPY, code
    from reservoir.kernels.cuda import barrier, device, elm
    from reservoir.kernels.cuda import lif as lif_kernels

    ACTIVATIONS = ["tanh", "identity", "sigmoid", "relu"]
    TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
    N, N_IN, B, T = 37, 2, 3, 5

    @pytest.fixture(autouse=True)
    def small_blocks(monkeypatch):
        monkeypatch.setattr(settings, "gpu_threads_per_block", 64)

    @pytest.fixture
    def rng():
        return np.random.default_rng(20261121)

    def _weights(rng, n, n_in, dtype, density=0.2):
        W = sp.random_array((n, n), density=density, rng=rng, format="csr", data_sampler=rng.standard_normal)
        W = sp.csr_array(W * (0.9 / np.sqrt(max(W.nnz, 1) / n)), dtype=dtype)
        return W, rng.uniform(-1, 1, (n, n_in)).astype(dtype), rng.uniform(-0.3, 0.3, n).astype(dtype)

    # The three launch shapes of the simulator's single block: matrix and state on chip;
    # matrix on chip, state in global memory (not the one-block shortcut); nothing staged.
    PLACEMENTS = {
        "on-chip": {},
        "matrix-on-chip": {"gpu_single_block_max_entries": 0},
        "global": {"gpu_shared_bytes": 0},
    }

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("batch", [1, B])
    @pytest.mark.parametrize("placement", PLACEMENTS)
    def test_esn_run_matches_reference(rng, monkeypatch, dtype, batch, placement, reference_esn):
        for key, value in PLACEMENTS[placement].items():
            monkeypatch.setattr(settings, key, value)
        W, W_in, bias = _weights(rng, N, N_IN, dtype)
        u = rng.uniform(-1, 1, (batch, T, N_IN)).astype(dtype)
        x0 = rng.uniform(-0.5, 0.5, (batch, N)).astype(dtype)
        expected, expected_last = reference_esn(W, W_in, bias, u, 0.6, "tanh", x0)
        state = x0.copy()
        out = np.full((batch, T, N), np.nan, dtype=dtype)  # every element must be written
        gpu.esn_run(gpu.prepare_esn(W, W_in, bias), u, state, 0.6, "tanh", out)
        np.testing.assert_allclose(out, expected, **TOL[dtype])
        np.testing.assert_allclose(state, expected_last, **TOL[dtype])

    @pytest.mark.parametrize("activation", ACTIVATIONS)
    @pytest.mark.parametrize("batch", [1, 2])
    def test_activations(rng, activation, batch, reference_esn):
        W, W_in, bias = _weights(rng, 19, 1, np.float64)
        u = rng.uniform(-1, 1, (batch, 4, 1))
        x0 = np.zeros((batch, 19))
        expected, _ = reference_esn(W, W_in, bias, u, 1.0, activation, x0)
        out = np.empty((batch, 4, 19))
        gpu.esn_run(gpu.prepare_esn(W, W_in, bias), u, x0.copy(), 1.0, activation, out)
        np.testing.assert_allclose(out, expected, **TOL[np.float64])

    @pytest.mark.parametrize("units, batch", [(1, 1), (33, 1), (7, 5), (65, 2)])
    def test_odd_sizes(rng, units, batch, reference_esn):
        # 1 row; 33 rows = a full SELL slice and one lane of the next; batches that are no power of two.
        W, W_in, bias = _weights(rng, units, 3, np.float32, density=min(1.0, 6 / units))
        u = rng.uniform(-1, 1, (batch, 3, 3)).astype(np.float32)
        x0 = rng.uniform(-0.5, 0.5, (batch, units)).astype(np.float32)
        expected, _ = reference_esn(W, W_in, bias, u, 0.3, "tanh", x0)
        out = np.full((batch, 3, units), np.nan, dtype=np.float32)
        gpu.esn_run(gpu.prepare_esn(W, W_in, bias), u, x0.copy(), 0.3, "tanh", out)
        np.testing.assert_allclose(out, expected, **TOL[np.float32])

    @pytest.mark.parametrize("batch", [None, B])
    def test_state_carries_over_through_the_model(rng, batch):
        """ESN on backend "numba-cuda": two runs equal one, and both equal the reference backend."""
        u = rng.uniform(-1, 1, (T + 3, N_IN) if batch is None else (batch, T + 3, N_IN))
        kwargs = dict(density=0.2, leak_rate=0.5, bias_scaling=0.2, seed=4, dtype="float64")
        expected = rs.ESN(N, backend="numpy", **kwargs).run(u)
        esn = rs.ESN(N, backend="numba-cuda", **kwargs)
        first, second = esn.run(u[..., :3, :]), esn.run(u[..., 3:, :])
        np.testing.assert_allclose(np.concatenate([first, second], axis=-2), expected, **TOL[np.float64])
        assert esn.backend_name == "numba-cuda"

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("include_input", [True, False])
    @pytest.mark.parametrize("placement", ["on-chip", "global"])
    def test_generate_matches_reference(rng, monkeypatch, dtype, include_input, placement):
        for key, value in PLACEMENTS[placement].items():
            monkeypatch.setattr(settings, key, value)
        W, W_in, bias = _weights(rng, N, N_IN, dtype)
        width = N + (N_IN if include_input else 0)
        coef = (rng.standard_normal((N_IN, width)) * 0.3 / np.sqrt(width)).astype(dtype)
        intercept = rng.uniform(-0.1, 0.1, N_IN).astype(dtype)
        first = rng.uniform(-1, 1, N_IN).astype(dtype)
        x0 = rng.uniform(-0.5, 0.5, N).astype(dtype)
        ref_weights = reference.prepare_esn(W.astype(np.float64), W_in.astype(np.float64), bias.astype(np.float64))
        ref_state = x0.astype(np.float64)
        expected = reference.esn_generate(
            ref_weights,
            coef.astype(np.float64),
            intercept.astype(np.float64),
            include_input,
            ref_state,
            first.astype(np.float64),
            T,
            0.7,
            "tanh",
        )
        state = x0.copy()
        outputs = gpu.esn_generate(
            gpu.prepare_esn(W, W_in, bias), coef, intercept, include_input, state, first, T, 0.7, "tanh"
        )
        tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else TOL[np.float64]
        np.testing.assert_allclose(outputs, expected, **tol)
        np.testing.assert_allclose(state, ref_state, **tol)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("sparse_input", [False, True])
    @pytest.mark.parametrize("activation", ["tanh", "relu"])
    def test_elm_hidden_matches_reference(rng, dtype, sparse_input, activation):
        W = sp.random_array((29, 11), density=0.3, rng=rng, format="csr", data_sampler=rng.standard_normal)
        W = sp.csr_array(W, dtype=dtype)
        bias = rng.uniform(-1, 1, 29).astype(dtype)
        X = (rng.standard_normal((7, 11)) * (rng.random((7, 11)) < 0.5)).astype(dtype)
        expected = reference.elm_hidden(
            reference.prepare_elm(W.astype(np.float64), bias.astype(np.float64)), X.astype(np.float64), activation
        )
        H = gpu.elm_hidden(gpu.prepare_elm(W, bias), sp.csr_array(X) if sparse_input else X, activation)
        assert H.shape == (7, 29) and H.dtype == dtype
        np.testing.assert_allclose(H, expected, **TOL[dtype])

    def test_device_arrays_in_and_out(rng, reference_esn):
        """Simulated device arrays stay device arrays: inputs, state and states all on the 'GPU'."""
        W, W_in, bias = _weights(rng, N, N_IN, np.float32)
        u = rng.uniform(-1, 1, (B, T, N_IN)).astype(np.float32)
        x0 = rng.uniform(-0.5, 0.5, (B, N)).astype(np.float32)
        expected, expected_last = reference_esn(W, W_in, bias, u, 0.4, "tanh", x0)
        state, out = cuda.to_device(x0), cuda.device_array((B, T, N), np.float32)
        gpu.esn_run(gpu.prepare_esn(W, W_in, bias), cuda.to_device(u), state, 0.4, "tanh", out)
        np.testing.assert_allclose(out.copy_to_host(), expected, **TOL[np.float32])
        np.testing.assert_allclose(state.copy_to_host(), expected_last, **TOL[np.float32])

    def test_hidden_layer_on_the_backend(rng):
        layer = rs.elm.HiddenLayer(40, 9, density=0.3, seed=2, dtype="float64", backend="numba-cuda")
        X = rng.standard_normal((6, 9))
        expected = np.tanh(X @ layer.W.toarray().T + layer.bias)
        np.testing.assert_allclose(layer.transform(X), expected, **TOL[np.float64])

    # ----------------------------------------------------------------------- device functions alone
    @cuda.jit
    def _grid_sync_kernel(values, shifted):
        i = cuda.threadIdx.x
        values[i] = 2 * i + 1
        barrier.grid_sync()
        shifted[i] = values[(i + 1) % values.shape[0]]

    @cuda.jit
    def _block_sync_kernel(values, shifted):
        i = cuda.threadIdx.x
        values[i] = 2 * i + 1
        barrier.block_sync()
        shifted[i] = values[(i + 1) % values.shape[0]]

    @pytest.mark.parametrize("kernel", ["grid_sync", "block_sync"])
    def test_barrier_makes_every_write_before_it_visible(kernel):
        """Each thread reads what its neighbour wrote before the barrier, launched as the persistent
        kernels are (grid_sync: through launch_cooperative, a grid of one block here)."""
        values, shifted = np.zeros(64, np.int64), np.full(64, -1, np.int64)
        if kernel == "grid_sync":
            barrier.launch_cooperative(_grid_sync_kernel, "grid_sync", 1, 64, 0, (values, shifted))
        else:
            _block_sync_kernel[1, 64](values, shifted)
        np.testing.assert_array_equal(shifted, np.roll(2 * np.arange(64) + 1, -1))

    @cuda.jit
    def _activate_kernel(z, activation, out):
        i = cuda.threadIdx.x
        if i < z.shape[0]:
            out[i] = device.activate(z[i], activation)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("activation", ACTIVATIONS)
    def test_activate_alone_matches_the_numpy_activation(dtype, activation):
        z = np.array([-30.0, -2.5, -1e-3, 0.0, 1e-3, 0.7, 4.0, 30.0, np.nan], dtype=dtype)
        out = np.zeros_like(z)
        _activate_kernel[1, 32](z, np.int32(code(activation)), out)
        np.testing.assert_allclose(out, NUMPY[activation](z.astype(np.float64)), **TOL[dtype])
        assert np.isnan(out[-1]), "a NaN pre-activation stays NaN"

    def test_cast_like_keeps_the_float_type():
        for dtype in (np.float32, np.float64):
            half = device.cast_like(0.5, dtype(3))
            assert type(half) is dtype and half == 0.5

    @cuda.jit
    def _block_sum_kernel(values, totals):
        scratch = cuda.shared.array(64, values.dtype)
        i = cuda.threadIdx.x
        totals[i] = device.block_sum(values[i], scratch)

    def test_block_sum_gives_every_thread_the_total(rng):
        values = rng.standard_normal(64)
        totals = np.zeros(64)
        _block_sum_kernel[1, 64](values, totals)
        np.testing.assert_allclose(totals, np.full(64, values.sum()), rtol=1e-13)

    @cuda.jit
    def _row_kernel(indptr, indices, values, bias, x, activation, out):
        unit = cuda.threadIdx.x
        if unit < out.shape[0]:
            out[unit] = elm.dense_row(indptr, indices, values, bias, x, unit, activation)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_one_hidden_row_alone(rng, dtype):
        """elm.dense_row, one unit of f(W x + b) per thread, against the reference on a random sparse W."""
        W = sp.csr_array(sp.random_array((23, 9), density=0.4, rng=rng, format="csr"), dtype=dtype)
        bias, x = rng.uniform(-1, 1, 23).astype(dtype), rng.standard_normal(9).astype(dtype)
        out = np.zeros(23, dtype)
        _row_kernel[1, 32](
            W.indptr.astype(np.int32), W.indices.astype(np.int32), W.data, bias, x, np.int32(code("tanh")), out
        )
        expected = reference.elm_hidden(
            reference.prepare_elm(W.astype(np.float64), bias.astype(np.float64)), x[None].astype(np.float64), "tanh"
        )[0]
        np.testing.assert_allclose(out, expected, **TOL[dtype])

    # ----------------------------------------------------------------------- LIF (spiking) kernels
    from reservoir.kernels import lif as lif_module

    LIF_STEPS = 12  # per call; two calls, so the second starts from carried-over state
    LIF_CASES = {
        # name: (trials, input encoding or None, delay in steps: None, int or (low, high))
        "current+delays": (1, "current", (1, 4)),
        "poisson+delay": (3, "poisson", 2),
        "autonomous": (2, None, None),
    }

    def _lif_network(case, dtype):
        """A small LIF network that fires on its own (rest above threshold) and its inputs."""
        trials, encoding, delay = LIF_CASES[case]
        return self_firing_lsm(
            40, 10, trials, encoding, delay, 2 * LIF_STEPS, density=0.2, seed=11, input_seed=5, dtype=dtype
        )

    def _lif_both(case, dtype, window=0, device=False):
        """Two calls of reference.lsm_run and of the Numba-CUDA kernel from the same state."""
        net, W_in, inputs, spikes_in = _lif_network(case, dtype)
        params = net.params(trace_tau=2e-3).as_tuple(net.dtype)
        start = lif_module.LifState.initial(net._v0, inputs.shape[0], net.ring_slots)
        rows = -(-LIF_STEPS // window) if window else LIF_STEPS
        results = {}
        for name, module in (("reference", reference), ("gpu", gpu)):
            weights = module.prepare_lsm(net.W_push, net.delays, net.n_exc, W_in)
            state = start.copy()
            if device and name == "gpu":
                for array in lif_module.LifState.ARRAYS:
                    setattr(state, array, cuda.to_device(getattr(state, array)))
            calls = []
            for half in (inputs[:, :LIF_STEPS], inputs[:, LIF_STEPS:]):
                out = np.zeros((inputs.shape[0], rows, net.n_neurons), dtype=net.dtype)
                spikes = module.lsm_run(
                    weights, params, np.ascontiguousarray(half), spikes_in, state, out, window, True
                )
                calls.append((spikes, out))
            if device and name == "gpu":
                for array in lif_module.LifState.ARRAYS:
                    setattr(state, array, getattr(state, array).copy_to_host())
            results[name] = (calls, state)
        return results

    def _assert_same_lif(results, exact, dtype):
        (expected_calls, expected_state), (calls, state) = results["reference"], results["gpu"]
        tol = (
            dict(rtol=0, atol=0)
            if exact
            else (dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-14))
        )
        total = 0
        for (expected_spikes, expected_out), (spikes, out) in zip(expected_calls, calls):
            assert len(spikes) == len(expected_spikes)
            for expected_trial, trial in zip(expected_spikes, spikes):
                assert trial.dtype == np.int64 and trial.shape[1] == 2
                np.testing.assert_array_equal(trial, expected_trial)  # spike for spike, both variants
                total += len(trial)
            np.testing.assert_allclose(out, expected_out, **tol)
        assert total >= 20, "the test network should fire"
        for name in lif_module.LifState.ARRAYS:
            np.testing.assert_allclose(getattr(state, name), getattr(expected_state, name), **tol, err_msg=name)
        assert state.step == expected_state.step == 2 * LIF_STEPS

    @pytest.fixture
    def lif_threads(monkeypatch):
        monkeypatch.setattr(settings, "gpu_lif_threads_per_block", 32)  # fewer Python threads: faster simulation

    @pytest.mark.parametrize("propagation", ["pull", "push"])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("case", LIF_CASES)
    def test_lsm_run_matches_reference(monkeypatch, lif_threads, propagation, dtype, case):
        """Pull: spikes, states, traces and ring buffers bit for bit (same additions in the same
        order, no fused multiply-adds). Push: the same spikes on these small runs; states equal
        up to rounding, since atomics add a step's arrivals at one synapse in any order."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
        _assert_same_lif(_lif_both(case, dtype), exact=propagation == "pull", dtype=dtype)

    @pytest.mark.parametrize("propagation", ["pull", "push"])
    def test_lsm_windowed_counts_partitions_and_growing_records(monkeypatch, lif_threads, propagation):
        """Spike counts per window; each trial split into two partitions (32 + 18 neurons); spike
        records that start nearly full, so each trial stops, the host grows them and the kernel resumes."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
        monkeypatch.setattr(settings, "gpu_lif_single_block_max_neurons", 0)
        monkeypatch.setattr(settings, "gpu_lif_neurons_per_block", 32)
        monkeypatch.setattr(layout, "lif_record_capacity", lambda n, steps: n + 3)
        _assert_same_lif(
            _lif_both("poisson+delay", np.float64, window=5), exact=propagation == "pull", dtype=np.float64
        )

    def test_lsm_state_on_the_device(monkeypatch, lif_threads):
        """A LifState of device arrays advances in place (nothing copied back to the host)."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", "pull")  # bit for bit
        _assert_same_lif(_lif_both("current+delays", np.float64, device=True), exact=True, dtype=np.float64)

    def test_lsm_model_on_the_backend(monkeypatch, lif_threads):
        """LSM on "numba-cuda": two runs (carry-over) equal the reference backend spike for spike."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", "pull")
        kwargs = dict(
            density=0.2,
            v_rest=-30e-3,
            tau_m=5e-3,
            refractory=3e-4,
            w_exc=3e-3,
            w_inh=-5e-3,
            delay=(1e-4, 3e-4),
            input_encoding="current",
            input_density=0.5,
            seed=3,
            dtype="float64",
        )
        u = np.random.default_rng(2).random((20, 2))
        results = []
        for backend in ("numpy", "numba-cuda"):
            net = rs.LSM(40, 10, backend=backend, **kwargs)
            results.append((net.run(u[:8]), net.run(u[8:]), net.state))
            assert net.backend_name == backend
        for expected, got in zip(results[0][:2], results[1][:2]):
            np.testing.assert_array_equal(got.spike_times, expected.spike_times)
            np.testing.assert_array_equal(got.spike_neurons, expected.spike_neurons)
            np.testing.assert_array_equal(got.states, expected.states)
        for name in lif_module.LifState.ARRAYS:
            np.testing.assert_array_equal(getattr(results[1][2], name), getattr(results[0][2], name))

    @pytest.mark.parametrize("propagation", ["pull", "push"])
    def test_lsm_grid_variant_runs_every_block_through_every_step(monkeypatch, lif_threads, propagation):
        """The cooperative variant (lif_run_grid) on three trials: every block goes through the same
        steps and the barriers; trials stop as their records fill (each at its own step), resume from
        their own positions, and the result equals the reference spike for spike."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
        monkeypatch.setattr(lif_kernels, "kernel_for", lambda blocks_per_trial: lif_kernels.lif_run_grid)
        monkeypatch.setattr(layout, "lif_record_capacity", lambda n, steps: n + 3)
        _assert_same_lif(_lif_both("poisson+delay", np.float64), exact=propagation == "pull", dtype=np.float64)
