"""Numba-CUDA path: the kernels of ``cuda_src/*.cu`` written in Python for ``numba.cuda``.

Same algorithms, layouts and launch plans as the CuPy path (``cupy_raw.py``), one
module per model with the stems of the other paths, each in three layers (device
functions and kernels, host driver, public functions):

* ``esn``      -- ``prepare_esn`` / ``esn_run`` / ``esn_generate``: persistent kernels;
* ``elm``      -- ``prepare_elm`` / ``elm_hidden``;
* ``lif``      -- ``prepare_lsm`` / ``lsm_run``: the spiking network, one launch per call;
* ``barrier``  -- the grid barrier (cooperative groups' grid sync) and cooperative launch;
* ``device``   -- device functions the kernels share (activations, typed constants, ...);
* ``transfers``-- host and device arrays in and out.

Device functions live at module level and are compiled for the types they are called
with, so each can be imported and run alone (tests/test_gpu_cuda_sim.py runs them
under the CUDA simulator). This package imports ``numba.cuda``; ``reservoir`` imports
it only when a "numba-cuda" backend is asked for.
"""

from .elm import NumbaCudaElmWeights, elm_hidden, prepare_elm
from .esn import NumbaCudaEsnWeights, esn_generate, esn_run, prepare_esn
from .lif import lsm_run, prepare_lsm
from .transfers import SIMULATOR

__all__ = [
    "NumbaCudaEsnWeights",
    "NumbaCudaElmWeights",
    "prepare_esn",
    "esn_run",
    "esn_generate",
    "prepare_elm",
    "elm_hidden",
    "prepare_lsm",
    "lsm_run",
    "SIMULATOR",
]
