"""Run a test file again in a child process under Numba's CUDA simulator.

The simulator is chosen by NUMBA_ENABLE_CUDASIM before numba.cuda is first imported, so
a file whose tests need it defines, outside the simulator, one test that calls
:func:`run_file_under_simulator` on itself; inside the child the real tests run.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def run_file_under_simulator(path: str, timeout: int = 2400) -> None:
    """Run the test file `path` under the simulator; fail with its output unless every test passed."""
    if importlib.util.find_spec("numba.cuda") is None:
        pytest.skip("numba.cuda is not installed (pip install numba-cuda)")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", path],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    summary = result.stdout.strip().splitlines()[-1:] or ["(no output)"]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in summary[0] and " failed" not in summary[0], summary


def self_firing_lsm(n_exc, n_inh, trials, encoding, delay, steps, *, density, seed, input_seed, dtype):
    """A small LIF network that fires on its own (rest above threshold), and its inputs.

    `encoding`: None (no input), "current" or "poisson"; `delay` in steps: None, an int or
    a (low, high) range. Returns (network, W_in as CSR, inputs (trials, steps, channels),
    whether the inputs are spikes).
    """
    import numpy as np
    import scipy.sparse as sp

    import reservoir as rs

    dt = 1e-4
    delay_seconds = (
        None if delay is None else (tuple(d * dt for d in delay) if isinstance(delay, tuple) else delay * dt)
    )
    net = rs.LSM(
        n_exc,
        n_inh,
        density=density,
        dt=dt,
        v_rest=-30e-3,
        tau_m=5e-3,
        refractory=3e-4,
        w_exc=3e-3,
        w_inh=-5e-3,
        delay=delay_seconds,
        input_encoding=encoding or "current",
        input_density=0.5,
        input_rate=2000.0,
        seed=seed,
        dtype=dtype,
        backend="numpy",
    )
    rng = np.random.default_rng(input_seed)
    inputs = np.zeros((trials, steps, 0), dtype=dtype)
    if encoding is not None:
        inputs = rng.random((trials, steps, 3)).astype(dtype)
        net._ensure_input_weights(3)
        if encoding == "poisson":
            inputs = net._encode(inputs, 0)
    W_in = net.W_in if net.W_in is not None else sp.csr_array((net.n_neurons, 0), dtype=net.dtype)
    return net, W_in, inputs, encoding == "poisson"
