"""The check that keeps per-step parallel kernels serial while other processes hold the cores."""

import numpy as np
import pytest

import reservoir as rs
from reservoir.config import settings

threads = pytest.importorskip("reservoir.kernels.cpu.threads")
esn_kernels = pytest.importorskip("reservoir.kernels.cpu.esn")


@pytest.fixture
def probe_each_call(monkeypatch):
    monkeypatch.setattr(settings, "parallel_probe_every", 0.0)


def test_a_region_slower_than_the_limit_means_busy_cores(monkeypatch, probe_each_call):
    monkeypatch.setattr(settings, "parallel_probe_seconds", 0.0)  # no region starts in no time
    assert threads.cores_free() is False
    assert esn_kernels._parallel(10**9, np.float32).value is False


def test_without_a_limit_the_cores_count_as_free(monkeypatch, probe_each_call):
    if threads.get_num_threads() < 2:
        pytest.skip("one Numba thread: never parallel")
    monkeypatch.setattr(settings, "parallel_probe_seconds", float("inf"))
    assert threads.cores_free() is True
    assert esn_kernels._parallel(10**9, np.float32).value is True
    assert esn_kernels._parallel(10, np.float32).value is False  # too small to pay either way


def test_the_answer_is_kept_between_probes(monkeypatch):
    if threads.get_num_threads() < 2:
        pytest.skip("one Numba thread: never parallel")
    monkeypatch.setattr(settings, "parallel_probe_every", 0.0)
    monkeypatch.setattr(settings, "parallel_probe_seconds", float("inf"))
    assert threads.cores_free() is True
    monkeypatch.setattr(settings, "parallel_probe_every", 3600.0)
    monkeypatch.setattr(settings, "parallel_probe_seconds", 0.0)
    assert threads.cores_free() is True  # not probed again within the hour
    monkeypatch.setattr(settings, "parallel_probe_every", 0.0)
    assert threads.cores_free() is False


def test_a_busy_machine_runs_the_serial_step_with_the_same_states(monkeypatch, rng, reference_esn, probe_each_call):
    W = rs.random_sparse(600, fan_in=40, spectral_radius=0.9, seed=2, dtype=np.float64)
    W_in = rng.uniform(-1, 1, (600, 1))
    bias = rng.uniform(-0.1, 0.1, 600)
    u = rng.uniform(-1, 1, (30, 1))
    monkeypatch.setattr(settings, "small_max_work", -1)
    monkeypatch.setattr(settings, "parallel_min_work_float64", 0)
    expected, _ = reference_esn(W, W_in, bias, u[None], 1.0, "tanh")
    for limit in (0.0, float("inf")):  # serial (busy), then parallel where there are two threads
        monkeypatch.setattr(settings, "parallel_probe_seconds", limit)
        esn = rs.ESN.from_weights(W, W_in, bias, dtype=np.float64, backend="numba")
        np.testing.assert_allclose(esn.run(u), expected[0], rtol=1e-10, atol=1e-12)
