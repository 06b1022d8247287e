"""Hardware paths, installed as ``reservoir.kernels``.

One algorithm, several paths with the same function names:

* ``reference`` -- plain NumPy/SciPy, one step at a time: the oracle every other path is tested against;
* ``cpu``       -- Numba kernels with the time loop inside compiled code;
* ``cuda``      -- Numba-CUDA kernels, one persistent launch per call (backend "numba-cuda");
* ``cupy_raw``  -- the same kernels in CUDA C (``cuda_src/*.cu``) through ``cupy.RawModule`` (backend "cupy").

Each path module provides, with the weights in the layout the path reads fastest:
``prepare_esn`` / ``esn_run`` / ``esn_generate`` (ESN), ``prepare_lsm`` / ``lsm_run``
(spiking LIF networks; ``lif`` holds the step's constants and state, shared by every
path) and ``prepare_elm`` / ``elm_hidden`` (ELM). Kernels know nothing about models;
models know nothing about hardware.
"""
