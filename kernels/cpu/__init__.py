"""Numba CPU path: the time loop runs inside compiled code.

One module per model, with the same stems as the other paths (``esn``, ``lif``);
this package exposes the public functions every backend provides.
"""

from .esn import (  # noqa: F401  (private names: tests reach the layout helpers through the package)
    _FINISH_ROWS,
    ElmWeights,
    EsnWeights,
    _activate_in_place,
    _cache_line_aligned_zeros,
    _sigmoid,
    _tanh,
    _to_sell,
    elm_hidden,
    esn_generate,
    esn_run,
    prepare_elm,
    prepare_esn,
    spmv,
)
from .lif import LifWeights, lsm_run, prepare_lsm

__all__ = ["EsnWeights", "ElmWeights", "LifWeights", "prepare_esn", "esn_run", "esn_generate", "prepare_elm",
           "elm_hidden", "prepare_lsm", "lsm_run", "spmv"]
