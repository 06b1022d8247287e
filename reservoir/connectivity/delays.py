"""Per-connection delays of an ESN's recurrent matrix (``ESN(delays=...)``), in whole steps.

A delay ``d >= 1`` on the connection j -> i makes unit i read unit j's state of ``d``
steps ago; 1 is the plain ESN. The values are drawn as the LSM draws its synaptic
delays (:func:`~reservoir.connectivity.random.random_delays`).
"""

from __future__ import annotations

import numbers

import numpy as np

from .random import random_delays

__all__ = ["connection_delays"]


def connection_delays(delays, nnz: int, seed=None) -> np.ndarray:
    """One delay (int32, >= 1) per nonzero of the recurrent matrix, in its CSR order.

    Parameters
    ----------
    delays : int, (low, high) tuple, or list / array of ints
        The largest delay (uniform in 1..max), an inclusive range, or every delay.
    nnz : int
        Number of nonzeros of the matrix (the length of an explicit array).
    seed : int, numpy.random.SeedSequence or Generator, optional
        Draws the delays of an int or a range.

    Returns
    -------
    delays : (nnz,) int32 array
    """
    if isinstance(delays, numbers.Integral) and not isinstance(delays, bool):
        low, high = 1, int(delays)
    elif isinstance(delays, tuple):
        if len(delays) != 2 or not all(isinstance(d, numbers.Integral) for d in delays):
            raise ValueError(f"delays as a tuple must be a (low, high) pair of ints, got {delays!r}")
        low, high = int(delays[0]), int(delays[1])
    else:
        values = np.asarray(delays)
        if values.ndim != 1 or values.shape[0] != nnz:
            raise ValueError(
                f"delays as an array must have one value per nonzero of W (shape ({nnz},)), got shape {values.shape}"
            )
        if values.dtype.kind not in "iuf" or not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ValueError("delays must be whole numbers of steps")
        if nnz and values.min() < 1:
            raise ValueError(f"delays must be >= 1 step (1: the plain ESN), got a minimum of {values.min():g}")
        return values.astype(np.int32)
    if low < 1 or high < low:
        raise ValueError(f"delays must satisfy 1 <= low <= high steps, got ({low}, {high})")
    return random_delays(nnz, low, high, seed=seed).astype(np.int32)
