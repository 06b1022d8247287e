"""Backend registry: which hardware path runs the kernels.

A backend is a name, the modules it needs, and the kernel module that implements
the path: the functions of the kernel contract (``reservoir.kernels.contract``:
``prepare_esn`` / ``esn_run`` / ``esn_generate``, ``prepare_lsm`` / ``lsm_run``,
``prepare_elm`` / ``elm_hidden``; tests/test_kernel_contract.py checks every registered
backend against it). Kernel modules are imported only when a backend is asked for, so a
GPU package is never needed to import ``reservoir``. A GPU backend is available
when its package imports *and* it sees a CUDA GPU; asking for one that is not says
which of the two is missing. ``"auto"`` takes the fastest available backend and
logs its choice once.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backend:
    name: str
    kernel_module: str  # relative to reservoir.kernels
    requires: tuple[str, ...]
    description: str
    priority: int  # higher is faster; "auto" takes the highest available
    #: For hardware backends: returns why the hardware cannot be used, or None when it can
    #: (called only once the required modules are there).
    device_problem: Callable[[], str | None] | None = None
    #: How to get the required modules, named in the error.
    install_hint: str = ""

    def missing(self) -> list[str]:
        return [module for module in self.requires if _find_spec(module) is None]

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot run here (a missing package, no GPU), or None when it can."""
        missing = self.missing()
        if missing:
            hint = f" ({self.install_hint})" if self.install_hint else ""
            return f"missing {', '.join(missing)}{hint}"
        if self.device_problem is not None:
            return self.device_problem()
        return None

    def is_available(self) -> bool:
        return self.unavailable_reason() is None

    def kernels(self) -> ModuleType:
        reason = self.unavailable_reason()
        if reason:
            raise RuntimeError(f"backend {self.name!r} ({self.description}) is not available: {reason}")
        return importlib.import_module(f"reservoir.kernels.{self.kernel_module}")


def _find_spec(module: str):
    try:
        return importlib.util.find_spec(module)
    except ImportError:  # a dotted name whose parent package is missing
        return None


@functools.cache
def _numba_cuda_device_problem() -> str | None:
    from numba import cuda

    try:
        if cuda.is_available():  # True under the CUDA simulator (NUMBA_ENABLE_CUDASIM=1) as well
            return None
    except Exception as error:  # a broken driver install: say so rather than fail at import
        return f"no usable CUDA GPU: {error}"
    return "no CUDA GPU found (numba.cuda.is_available() is False: no driver or no device)"


@functools.cache
def _cupy_device_problem() -> str | None:
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDARuntimeError without a driver; ImportError for a wheel of another CUDA
        return f"no usable CUDA GPU: cupy reports {type(error).__name__}: {error}"
    return None if count > 0 else "no CUDA GPU found (cupy sees 0 devices)"


_REGISTRY: dict[str, Backend] = {}


def register(backend: Backend) -> None:
    _REGISTRY[backend.name] = backend


register(Backend("numpy", "reference", ("numpy", "scipy"), "NumPy/SciPy reference, one step at a time", 0))
register(Backend("numba", "cpu", ("numba",), "Numba CPU kernels, time loop compiled, parallel over rows", 10))
# GPU priorities: "auto" prefers the faster GPU path; cupy > numba-cuda is the order the
# benchmark (asv_bench/gpu_bench.py) is to confirm on a GPU.
_GPU_HINT = "install the GPU extra: pip install 'reservoir-engine[cuda]'"
register(
    Backend(
        "numba-cuda",
        "cuda",
        ("numba.cuda",),
        "Numba-CUDA kernels, persistent time loop on the GPU",
        20,
        device_problem=_numba_cuda_device_problem,
        install_hint=_GPU_HINT,
    )
)
register(
    Backend(
        "cupy",
        "cupy_raw",
        ("cupy",),
        "CUDA C kernels loaded with CuPy, persistent time loop on the GPU",
        30,
        device_problem=_cupy_device_problem,
        install_hint=_GPU_HINT,
    )
)


def names() -> list[str]:
    """All registered backend names (available or not)."""
    return sorted(_REGISTRY)


def available() -> list[str]:
    """Names of the backends that can run here (GPU ones only with a GPU)."""
    return [name for name in names() if _REGISTRY[name].is_available()]


def gpu_names() -> list[str]:
    """Registered GPU backends, available or not."""
    return [name for name, backend in sorted(_REGISTRY.items()) if backend.device_problem is not None]


_auto_logged = False


def resolve(name: str = "auto") -> Backend:
    """The Backend for `name`; ValueError for an unknown name, RuntimeError for an unavailable one."""
    global _auto_logged
    if name == "auto":
        candidates = [backend for backend in _REGISTRY.values() if backend.is_available()]
        chosen = max(candidates, key=lambda backend: backend.priority)
        if not _auto_logged:
            log.info("backend 'auto' picked %r (%s)", chosen.name, chosen.description)
            _auto_logged = True
        return chosen
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; choose 'auto' or one of {names()}")
    backend = _REGISTRY[name]
    if not backend.is_available():
        backend.kernels()  # raises the error that names what is missing
    return backend


def validate(name) -> str:
    """Check a backend name cheaply (no kernel import); return it."""
    if name != "auto" and (not isinstance(name, str) or name not in _REGISTRY):
        raise ValueError(f"unknown backend {name!r}; choose 'auto' or one of {names()}")
    return name
