"""How many BLAS threads the readouts' training products get on the CPU."""

from __future__ import annotations

import contextlib

import numpy as np

#: Below this many multiply-adds per window batch (lanes x steps x (features + hidden) x gate
#: rows) the CPU path runs BLAS on one thread, for the duration of the call. Measured on a
#: 2-core machine shared with other work: a (640 x 48)ᵀ(640 x 50) product took 2.5 ms on two
#: OpenBLAS threads and 0.17 ms on one; a whole LSTM step on 200-unit states 124 ms and 12 ms;
#: on 2,000-unit states (530 million multiply-adds) 52 ms and 49 ms. Two idle cores gain at
#: most 2x on the largest products, a busy one loses up to 10x, so the bar is high.
SINGLE_THREAD_BELOW = 1_000_000_000


def blas_threads(xp, multiply_adds: int):
    """A context that keeps BLAS on one thread for small products on the CPU (see SINGLE_THREAD_BELOW).

    GPU arrays (``xp`` not NumPy) and large products keep the library's default.
    """
    if xp is not np or multiply_adds >= SINGLE_THREAD_BELOW:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    return threadpool_limits(limits=1, user_api="blas")
