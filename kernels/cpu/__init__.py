"""Numba CPU path: the time loop runs inside compiled code.

One module per concern, with the same stems as the other paths where they exist:
``esn``, ``elm`` and ``lif`` (the models' kernels), ``activation`` (tanh and the
logistic in vectorisable arithmetic), ``layouts`` (the SELL and column-block
layouts of the ESN steps), ``sparse`` (the matrix-vector product of the power
method) and ``_compile`` (compile options, compile-time constants, the note before
a long compilation). This package exposes the functions every backend provides.
"""

from .activation import _sigmoid, _tanh  # noqa: F401  (the gated readouts compile them into their cells)
from .delays import CpuDelayedEsnWeights, delayed_esn_run, prepare_delayed_esn
from .elm import CpuElmWeights, elm_hidden, prepare_elm
from .esn import CpuEsnWeights, esn_generate, esn_run, prepare_esn
from .lif import CpuLifWeights, lsm_run, prepare_lsm
from .sparse import spmv

__all__ = [
    "CpuEsnWeights",
    "CpuElmWeights",
    "CpuLifWeights",
    "prepare_esn",
    "esn_run",
    "esn_generate",
    "prepare_elm",
    "elm_hidden",
    "prepare_lsm",
    "lsm_run",
    "spmv",
    "CpuDelayedEsnWeights",
    "prepare_delayed_esn",
    "delayed_esn_run",
]
