"""A note before a long kernel compilation (``reservoir._progress.compile_note``).

Numba reports each real compilation (never a load from its cache) through its event
API; a kernel registered with ``announce`` says what it computes when its own
compilation starts, once per process. Callees compiled on the way say nothing.
"""

from __future__ import annotations

from numba import types
from numba.core import event

from .._progress import compile_note

_ANNOUNCED: dict = {}  # dispatcher -> what it computes; None once announced in this process


def announce(what: str):
    """Decorator (outside ``njit``) for a kernel whose compilation takes long: a note says `what`
    is being compiled."""

    def register(kernel):
        _ANNOUNCED[kernel] = what
        return kernel

    return register


class _CompileListener(event.Listener):
    def on_start(self, ev):
        kernel = ev.data["dispatcher"]
        what = _ANNOUNCED.get(kernel)
        if what is not None:
            _ANNOUNCED[kernel] = None
            dtypes = sorted(
                {
                    arg.dtype.name
                    for arg in ev.data["args"]
                    if isinstance(arg, types.Array) and isinstance(arg.dtype, types.Float)
                }
            )
            compile_note(
                f"compiling the Numba CPU kernel for {what} ({', '.join(dtypes) or 'any dtype'}); "
                "once per machine, then loaded from Numba's cache"
            )

    def on_end(self, ev):
        pass


event.register("numba:compile", _CompileListener())
