"""Backend registry: which hardware path runs the kernels.

A backend is a name, the modules it needs, and the kernel module that implements
the path (``prepare_esn``, ``esn_run``, ``esn_generate``). Kernel modules are
imported only when a backend is asked for, so a GPU package is never needed to
import ``reservoir``. ``"auto"`` takes the fastest available backend and logs its
choice once.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
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

    def missing(self) -> list[str]:
        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def is_available(self) -> bool:
        return not self.missing()

    def kernels(self) -> ModuleType:
        missing = self.missing()
        if missing:
            raise RuntimeError(
                f"backend {self.name!r} ({self.description}) is not available: "
                f"missing {', '.join(missing)}"
            )
        return importlib.import_module(f"reservoir.kernels.{self.kernel_module}")


_REGISTRY: dict[str, Backend] = {}


def register(backend: Backend) -> None:
    _REGISTRY[backend.name] = backend


register(Backend("numpy", "reference", ("numpy", "scipy"), "NumPy/SciPy reference, one step at a time", 0))
register(Backend("numba", "cpu", ("numba",), "Numba CPU kernels, time loop compiled, parallel over rows", 10))


def names() -> list[str]:
    """All registered backend names (available or not)."""
    return sorted(_REGISTRY)


def available() -> list[str]:
    return [name for name in names() if _REGISTRY[name].is_available()]


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
