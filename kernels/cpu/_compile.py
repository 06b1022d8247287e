"""How the CPU kernels are compiled: shared options, compile-time constants, a note before a long compile.

Numba compiles a kernel on its first call for each combination of argument types,
and every branch the kernel could take is compiled with it. Two arguments of the
ESN and ELM kernels pick a branch once per call, not per element: the activation
and whether the step runs in parallel. ``call`` passes them as *literal* types, so
each value is its own specialisation whose other branches Numba drops before
typing: a first script that runs tanh on a small reservoir compiles tanh only and
no parallel region. Every specialisation is cached on disk (``cache=True``), so
only the first call on a machine pays for it.

A compilation that takes long is announced (``kernels._compile_notes.announce``).
"""

from __future__ import annotations

from numba import typeof, types

from .._compile_notes import announce  # noqa: F401  (the kernels' modules import it from here)

# Reassociation lets LLVM vectorise the sums; no 'nnan'/'ninf': NaN must stay NaN.
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


class Constant:
    """An argument of ``call`` compiled into the kernel as a literal value (an int or a bool)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class AnyLayout:
    """An array argument of ``call`` typed with any layout ('A'), so that contiguous and strided
    arrays share one specialisation (for arrays the kernel writes in place, which cannot be copied)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _type_of(arg):
    if isinstance(arg, Constant):
        return types.literal(arg.value)
    if isinstance(arg, AnyLayout):
        return typeof(arg.value).copy(layout="A")
    return typeof(arg)


def call(kernel, *args):
    """kernel(*args) with the ``Constant`` arguments compiled in as literals.

    The signature is built here and compiled (or loaded from the disk cache) by
    ``Dispatcher.compile``, which returns the machine code's entry point; calling
    that entry point skips Numba's own dispatch, which would type a literal
    argument as a plain int and compile that too.
    """
    entry = kernel.compile(tuple(_type_of(arg) for arg in args))
    return entry(*(arg.value if isinstance(arg, (Constant, AnyLayout)) else arg for arg in args))
