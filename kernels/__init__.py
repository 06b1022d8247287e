"""Hardware paths, installed as ``reservoir.kernels``.

One algorithm, several paths with the same function names:

* ``reference`` -- plain NumPy/SciPy, one step at a time: the oracle every other path is tested against;
* ``cpu``       -- Numba kernels with the time loop inside compiled code;
* ``cuda``      -- Numba-CUDA kernels (a package), one persistent launch per call (backend "numba-cuda");
* ``cupy_raw``  -- the same kernels in CUDA C (``cuda_src/*.cu``) through ``cupy.RawModule`` (backend "cupy").

Each path provides the functions of the kernel contract, ``contract.KernelModule``
(``prepare_esn`` / ``esn_run`` / ``esn_generate``, ``prepare_lsm`` / ``lsm_run``,
``prepare_elm`` / ``elm_hidden``), which ``contract.py`` documents with the rules every
path keeps; ``lif`` holds the LIF step's constants and state, shared by every path.
"""
