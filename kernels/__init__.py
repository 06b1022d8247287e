"""Hardware paths, installed as ``reservoir.kernels``.

One algorithm, several paths with the same function names:

* ``reference`` -- plain NumPy/SciPy, one step at a time: the oracle every other path is tested against;
* ``cpu``       -- Numba kernels with the time loop inside compiled code.

Each path module provides ``prepare_esn(W, W_in, bias)`` (weights in the layout the
path reads fastest), ``esn_run(...)`` and ``esn_generate(...)``. Kernels know nothing
about models; models know nothing about hardware.
"""
