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
