"""The Numba-CUDA LIF kernel split over blocks, under the CUDA simulator, against the reference.

A trial's neurons are cut into ranges of ``settings.gpu_lif_neurons_per_block``; on a GPU
each range is a block and the blocks meet at the grid barrier. The simulator runs one
block at a time, so there the planned ranges (partitions) are all worked on by the one
block of a trial, in turn: the multi-block code (the ranges, each block's spikes listed
in ascending order by a block prefix sum, the list read partition after partition by
pull, the push warps' round robin over partitions, each block's spike records) runs
here with a block barrier, and the cross-block waiting on a GPU only (tests/test_gpu.py).

``NUMBA_ENABLE_CUDASIM=1`` must be set before numba is imported, so, as in
tests/test_gpu_cuda_sim.py, the main run holds one test that runs this file again in a
subprocess with the variable set, where the tests below are defined.
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_simulator import SIMULATED, run_file_under_simulator, self_firing_lsm

if not SIMULATED:

    def test_lif_partitions_under_the_cuda_simulator():
        run_file_under_simulator(__file__, timeout=2400)

else:
    from numba import cuda, int32

    from reservoir.config import settings
    from reservoir.kernels import _gpu_layout as layout
    from reservoir.kernels import cuda as gpu
    from reservoir.kernels import reference
    from reservoir.kernels.cuda import lif as lif_kernels
    from reservoir.kernels.lif import LifState

    STEPS = 10  # per call; two calls, so the second starts from carried-over state
    #: name: (excitatory, inhibitory, trials, input encoding or None, delay in steps: None, int or (low, high))
    CASES = {
        "current+delays": (64, 16, 1, "current", (1, 4)),
        "poisson+delay": (48, 12, 2, "poisson", 2),
        "autonomous": (56, 14, 2, None, None),
    }

    @pytest.fixture(autouse=True)
    def small_blocks(monkeypatch):
        """32 threads (few Python threads), and trials split into ranges of 32 neurons."""
        monkeypatch.setattr(settings, "gpu_lif_threads_per_block", 32)
        monkeypatch.setattr(settings, "gpu_lif_single_block_max_neurons", 0)
        monkeypatch.setattr(settings, "gpu_lif_neurons_per_block", 32)

    def _network(case, dtype):
        """A small LIF network that fires on its own (rest above threshold), and its inputs."""
        n_exc, n_inh, trials, encoding, delay = CASES[case]
        return self_firing_lsm(
            n_exc, n_inh, trials, encoding, delay, 2 * STEPS, density=0.15, seed=7, input_seed=9, dtype=dtype
        )

    def _run_both(case, dtype, window=0):
        """Two calls of reference.lsm_run and of the Numba-CUDA kernel from the same state."""
        net, W_in, inputs, spikes_in = _network(case, dtype)
        params = net.params(trace_tau=2e-3).as_tuple(net.dtype)
        start = LifState.initial(net._v0, inputs.shape[0], net.ring_slots)
        rows = -(-STEPS // window) if window else STEPS
        results = {}
        for name, module in (("reference", reference), ("gpu", gpu)):
            weights = module.prepare_lsm(net.W_push, net.delays, net.n_exc, W_in)
            state = start.copy()
            calls = []
            for half in (inputs[:, :STEPS], inputs[:, STEPS:]):
                out = np.zeros((inputs.shape[0], rows, net.n_neurons), dtype=net.dtype)
                half = np.ascontiguousarray(half)
                spikes = module.lsm_run(weights, params, half, spikes_in, state, out, window, True)
                calls.append((spikes, out))
            results[name] = (calls, state)
        return results

    def _assert_same(results, exact, dtype):
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
                np.testing.assert_array_equal(trial, expected_trial)  # spike for spike, both variants
                total += len(trial)
            np.testing.assert_allclose(out, expected_out, **tol)
        assert total >= 40, "the test network should fire"
        for name in LifState.ARRAYS:
            np.testing.assert_allclose(getattr(state, name), getattr(expected_state, name), **tol, err_msg=name)
        assert state.step == expected_state.step == 2 * STEPS

    def _partitions(monkeypatch):
        """The (blocks, partitions, neurons per partition) each launch was planned with."""
        plans = []
        plan = lif_kernels._lif_plan

        def recording(*args):
            plans.append(plan(*args))
            return plans[-1]

        monkeypatch.setattr(lif_kernels, "_lif_plan", recording)
        return plans

    @pytest.mark.parametrize("propagation", ["pull", "push"])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("case", CASES)
    def test_split_trials_match_the_reference(monkeypatch, propagation, dtype, case):
        """Trials of 60-80 neurons in ranges of 32 (the last one short). Pull: spikes, states,
        traces and ring buffers bit for bit, float32 too: the ordered lists give the reference's
        order of additions without a sort. Push: the same spikes, states equal up to rounding."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
        plans = _partitions(monkeypatch)
        _assert_same(_run_both(case, dtype), exact=propagation == "pull", dtype=dtype)
        n = sum(CASES[case][:2])
        assert plans and all(plan[:3] == (1, -(-n // 32), 32) for plan in plans), plans

    @pytest.mark.parametrize("propagation", ["pull", "push"])
    def test_ranges_wider_than_a_block_of_threads(monkeypatch, propagation):
        """Ranges of 64 neurons for 32 threads: two tiles per range, the prefix sum carried from
        the first tile to the second."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
        monkeypatch.setattr(settings, "gpu_lif_neurons_per_block", 64)
        plans = _partitions(monkeypatch)
        _assert_same(_run_both("current+delays", np.float64), exact=propagation == "pull", dtype=np.float64)
        assert plans[0][:3] == (1, 2, 64)

    @pytest.mark.parametrize("propagation", ["pull", "push"])
    def test_each_step_is_recorded_in_ascending_order_without_a_sort(monkeypatch, propagation):
        """The records as the kernel wrote them (the host's sort replaced by nothing): every block
        writes its spikes after those of the blocks before, in ascending order, so each step's
        records already run by neuron; spike counts per window, and records that start nearly full
        (each trial stops, the host grows them, the kernel resumes)."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
        monkeypatch.setattr(layout, "spikes_in_step_order", lambda records: records.astype(np.int64))
        monkeypatch.setattr(layout, "lif_record_capacity", lambda n, steps: n + 3)
        _assert_same(_run_both("poisson+delay", np.float64, window=4), exact=propagation == "pull", dtype=np.float64)

    @pytest.mark.parametrize("propagation", ["pull", "push"])
    def test_the_grid_variant_with_partitions(monkeypatch, propagation):
        """The cooperative variant (lif_run_grid, the grid barrier) on split trials."""
        monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
        monkeypatch.setattr(lif_kernels, "kernel_for", lambda blocks_per_trial: lif_kernels.lif_run_grid)
        _assert_same(_run_both("autonomous", np.float64), exact=propagation == "pull", dtype=np.float64)

    def test_one_block_per_trial_when_the_network_is_small(monkeypatch):
        monkeypatch.setattr(settings, "gpu_lif_single_block_max_neurons", 1024)
        monkeypatch.setattr(settings, "gpu_lif_propagation", "pull")
        plans = _partitions(monkeypatch)
        _assert_same(_run_both("autonomous", np.float32), exact=True, dtype=np.float32)
        assert plans[0][:3] == (1, 1, 70)

    @pytest.mark.parametrize("threads", [32, 64, 96])
    def test_block_exclusive_scan(threads):
        """The block prefix sum against NumPy's cumulative sum, twice in a row (the scratch reused)."""

        @cuda.jit
        def scan(flags, before, totals):
            scratch = cuda.shared.array(lif_kernels.SCAN_SCRATCH, int32)
            for round_ in range(2):
                value = flags[round_, cuda.threadIdx.x]
                earlier, total = lif_kernels.block_exclusive_scan(value, scratch)
                before[round_, cuda.threadIdx.x] = earlier
                totals[round_, cuda.threadIdx.x] = total

        flags = (np.random.default_rng(threads).random((2, threads)) < 0.4).astype(np.int32)
        flags[1, -1] = 1
        before = np.zeros_like(flags)
        totals = np.zeros_like(flags)
        scan[1, threads](flags, before, totals)
        np.testing.assert_array_equal(before, np.cumsum(flags, axis=1) - flags)
        np.testing.assert_array_equal(totals, np.repeat(flags.sum(axis=1, keepdims=True), threads, axis=1))
