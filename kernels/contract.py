"""The kernel contract: what every hardware path provides, and all the models rely on.

A backend (``reservoir.backends``) names a *kernel module*: ``reference`` (NumPy/SciPy,
the oracle), ``cpu`` (Numba), ``cuda`` (Numba-CUDA) or ``cupy_raw`` (CUDA C through
CuPy). Each provides the functions of :class:`KernelModule` with these names and
parameters, and the models (``reservoir.esn``, ``reservoir.elm``, ``reservoir.lsm``)
call nothing else: kernels know nothing about models, models nothing about hardware.

Rules every path keeps
----------------------
* ``prepare_*`` takes the model's host matrices once and returns the path's own
  *prepared weights*, in the layout it reads fastest (SELL slices, CSR on the device,
  CSC columns, ...). Models keep that object and hand it back unchanged. Of prepared
  ESN weights, code outside the path may read what :class:`EsnWeights` names (the
  models read nothing today); prepared ELM and LIF weights are opaque.
* The float type is the weights' dtype (float32 or float64): arithmetic stays in it,
  and arrays given in another float type are converted (host) or refused (device).
* Time runs inside the path: ``esn_run``, ``esn_generate`` and ``lsm_run`` advance
  every step of their inputs in one call (a compiled loop or one persistent kernel
  launch), never one Python call per step.
* Batches: ``inputs`` is (B, T, n_in), ``state`` (B, n); B sequences share one read
  of the matrix per step.
* In place: ``esn_run`` writes every state into ``out`` (B, T, n) and returns it,
  and leaves the last state in ``state``; ``esn_generate`` leaves the last state in
  ``state`` and returns the outputs (n_steps, n_out); ``lsm_run`` advances ``state``
  (``kernels.lif.LifState``) in place. GPU paths take host or device arrays and
  write results back where the caller's arrays live.
* ``activation`` is a name of ``kernels.activations`` ("tanh", "identity",
  "sigmoid", "relu").
* Optional capabilities are trailing keyword parameters with a default that keeps the
  plain contract (``lsm_run(..., sample_every=1)``: traces written only at every
  ``sample_every``-th step). A model asks for one only where the path's signature has
  it (``inspect.signature``) and otherwise does the same work with the plain call.
* Results equal ``reference`` to rounding (float64 about 1e-10, float32 about 1e-5
  relative); the LIF pull kernels spike for spike.

The exact arrays and shapes of each function are in its docstring in ``reference.py``.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import scipy.sparse as sp


@runtime_checkable
class EsnWeights(Protocol):
    """Prepared ESN weights, as ``prepare_esn`` of any path returns them."""

    #: (n, n) recurrent matrix on the host, CSR (the path's own layouts are built from it).
    W: sp.csr_array
    #: (n, n_in) dense input matrix, where the path keeps it (host or device).
    W_in: Any
    #: (n,) bias, where the path keeps it.
    bias: Any


class KernelModule(Protocol):
    """The functions of a kernel module (a module satisfies this Protocol structurally)."""

    def prepare_esn(self, W, W_in, bias) -> EsnWeights:
        """The path's layout of W (n, n) sparse, W_in (n, n_in) dense and bias (n,)."""

    def esn_run(self, weights, inputs, state, leak_rate: float, activation: str, out):
        """Run B sequences: x[t] = (1 - a) x[t-1] + a f(W x[t-1] + W_in u[t] + b); returns out."""

    def esn_generate(
        self,
        weights,
        readout_coef,
        readout_intercept,
        include_input: bool,
        state,
        first_input,
        n_steps: int,
        leak_rate: float,
        activation: str,
    ):
        """Closed loop for one sequence: each readout output becomes the next input; returns the outputs."""

    def prepare_lsm(self, push, delays, n_exc: int, W_in) -> object:
        """The path's layout of a LIF network: push rows (targets of each neuron), delays, W_in."""

    def lsm_run(self, weights, params: tuple, inputs, input_spikes: bool, state, out, window: int, record_spikes: bool):
        """Advance B trials over every step of inputs; returns per-trial (step, neuron) spikes or None."""

    def prepare_elm(self, W_hidden, bias) -> object:
        """The path's layout of the hidden matrix (n_hidden, n_features) and bias."""

    def elm_hidden(self, weights, X, activation: str):
        """f(X @ W_hiddenᵀ + b) for dense or sparse X (samples, features)."""


#: The functions of :class:`KernelModule`, by name.
FUNCTIONS = tuple(name for name, member in vars(KernelModule).items() if not name.startswith("_") and callable(member))


def _parameters(function) -> list[str]:
    return [p.name for p in inspect.signature(function).parameters.values() if p.name != "self"]


def _optional_extras(function, n_required: int) -> bool:
    """Whether the parameters past the contract's are optional capabilities (all defaulted)."""
    extra = [p for p in inspect.signature(function).parameters.values() if p.name != "self"][n_required:]
    return all(p.default is not inspect.Parameter.empty for p in extra)


def conformance_problems(module: ModuleType) -> list[str]:
    """What keeps `module` from the contract: missing functions, or parameters that differ
    (by name and order) from :class:`KernelModule`. Empty when it conforms."""
    problems = []
    for name in FUNCTIONS:
        function = getattr(module, name, None)
        if not callable(function):
            problems.append(f"{module.__name__}.{name} is missing")
            continue
        expected, got = _parameters(getattr(KernelModule, name)), _parameters(function)
        if got[: len(expected)] != expected or not _optional_extras(function, len(expected)):
            problems.append(f"{module.__name__}.{name}({', '.join(got)}): the contract is ({', '.join(expected)})")
    return problems
