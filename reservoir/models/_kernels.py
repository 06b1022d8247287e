"""Which kernels run the models of this package: the NumPy reference or the Numba CPU path.

Their kernels (intrinsic plasticity, ES2N) exist for those two paths only. A GPU
backend asked for by name raises an error that names the backend, the model and the
missing kernels; ``"auto"`` takes Numba when it is installed, else the reference.
"""

from __future__ import annotations

import importlib

from .. import backends

#: The backends that have this package's kernels, fastest first.
SUPPORTED = ("numba", "numpy")


def backend_for(name, model: str, capability: str) -> str:
    """The backend name a model of this package runs on; RuntimeError for a GPU one."""
    name = backends.validate(name)
    if name == "auto":
        return "numba" if "numba" in backends.available() else "numpy"
    if name not in SUPPORTED:
        raise RuntimeError(
            f"backend {name!r} has no {capability} kernels, so {model} cannot run on it; "
            f"use backend='numba' (compiled CPU) or 'numpy' (reference)"
        )
    return name


def module(backend_name: str, topic: str):
    """The kernel module of `topic` ("plasticity", "es2n") on the backend `backend_name`."""
    if backend_name == "numpy":
        return importlib.import_module("reservoir.kernels.reference")
    return importlib.import_module(f"reservoir.kernels.cpu.{topic}")
