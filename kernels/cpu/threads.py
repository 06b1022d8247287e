"""Whether a kernel with a parallel region per time step should run parallel right now.

Such a region pays only while the other cores are free. On a machine shared with other
processes, Numba's worker threads wait for a core another process holds: measured on a
2-core box at load average 2-3, one empty parallel region took 8-16 ms (20 µs or less
on the idle machine), and the one-sequence ESN step at n = 10,000 ran 50x slower on
two threads than on one. So before such a call the kernels time an empty region (the
median of three); above ``settings.parallel_probe_seconds`` the call runs serially.
The answer is kept for ``settings.parallel_probe_every`` seconds, so a loop of short
calls does not pay the probe each time.

Kernels whose one parallel region spans the whole run (a batch of sequences, trials
or samples side by side) do not ask: one wait for a core is small against their run.
"""

from __future__ import annotations

import time

import numpy as np
from numba import get_num_threads, njit, prange

from ...config import settings

_last = {"at": -np.inf, "free": True}


@njit(parallel=True, cache=True)
def _empty_region(touched):
    for thread in prange(touched.shape[0]):
        touched[thread] += 1


def cores_free() -> bool:
    """True when a parallel region starts promptly: all threads found a core."""
    threads = get_num_threads()
    if threads < 2:
        return False
    now = time.perf_counter()
    if now - _last["at"] < settings.parallel_probe_every:
        return _last["free"]
    touched = np.zeros(threads, dtype=np.int64)
    _empty_region(touched)  # starts the thread pool on the first call
    times = []
    for _ in range(3):
        start = time.perf_counter()
        _empty_region(touched)
        times.append(time.perf_counter() - start)
    _last.update(at=time.perf_counter(), free=sorted(times)[1] <= settings.parallel_probe_seconds)
    return _last["free"]
