"""Composed reservoirs: ESN layers stacked (deep) or side by side (parallel), with readouts.

A stack feeds each layer the new states of the one before, in the same step,

    x_1[t] = (1 - a_1) x_1[t-1] + a_1 f(W_1 x_1[t-1] + W_in,1 u[t]   + b_1)
    x_l[t] = (1 - a_l) x_l[t-1] + a_l f(W_l x_l[t-1] + W_in,l x_{l-1}[t] + b_l)

as ReservoirPy's ``r1 >> r2 >> readout``; parallel layers all read ``u[t]``, as
``[r1, r2] >> readout``. The readouts see the states of the last layer or of all of
them, and the input too with ``include_input``: ``y = W_out [x..., u] + b_out``.

The layers are :class:`reservoir.ESN` objects: their weights and parameters are used
as they are (a layer's input weights are drawn, on the first run, for the width of
its source). The state of the composed model is its own; the whole model advances in
one kernel call (``kernels.reference.stack_run``; compiled on ``backend="numba"``).
"""

from __future__ import annotations

import importlib

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import _validation as check
from .. import backends
from .._diagnostics import SaturationMonitor
from ..esn import ESN
from ..kernels.reference import StackLayer
from ..readouts.ridge import Ridge

__all__ = ["Stack"]

#: The kernel module of each backend that has the composed models' kernels.
_STACK_KERNELS = {"numpy": "reservoir.kernels.reference", "numba": "reservoir.kernels.cpu.compose"}


def stack_backend(name, model: str) -> str:
    """The backend that runs a composed model: "auto" is numba where it imports, else numpy."""
    name = backends.validate(name)
    if name == "auto":
        return "numba" if backends.resolve("numba").is_available() else "numpy"
    if name not in _STACK_KERNELS:
        raise RuntimeError(
            f"{model} has no kernels for backend {name!r}: the stack and feedback loops "
            f"(stack_run, stack_generate) exist for {sorted(_STACK_KERNELS)} only; "
            "use backend='numba' (compiled CPU) or 'numpy'"
        )
    backends.resolve(name)  # raises naming what is missing
    return name


def stack_kernels(name: str):
    return importlib.import_module(_STACK_KERNELS[name])


class Stack:
    """ESN layers run together, stacked (deep) or in parallel, with optional readouts.

    Parameters
    ----------
    layers : sequence of reservoir.ESN
        The layers, in order. They must share a dtype.
    parallel : bool, default False
        False: a stack, layer ``l`` driven by the new states of layer ``l - 1`` (the
        first by the input). True: every layer driven by the input.
    readout_from : {"last", "all"}, optional
        The states the readouts see: the last layer's, or all layers' concatenated in
        order. Default "last" for a stack (as ``r1 >> r2 >> readout``), "all" in
        parallel (as ``[r1, r2] >> readout``).
    include_input : bool, default False
        The readouts also see the input: features ``[x..., u]``.
    readout : reservoir.Ridge or dict of str to Ridge, optional
        Readout(s) trained by :meth:`fit`. A dict gives several readouts on the same
        states, trained on targets given by the same names.
    backend : {"auto", "numba", "numpy"}
        "numba" runs every layer and step in one compiled loop; "numpy" is the
        reference. The GPU backends have no composed-model kernels (an error says so).

    Notes
    -----
    The state carries over between calls until :meth:`reset`; :meth:`fit` starts from
    rest and leaves the state at the end of the training sequences. The model keeps
    its own state: the layers' ``state`` is neither read nor changed.
    """

    def __init__(self, layers, *, parallel=False, readout_from=None, include_input=False, readout=None, backend="auto"):
        layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
        if not layers:
            raise ValueError("layers is empty: a Stack needs at least one ESN layer")
        for index, layer in enumerate(layers):
            if not isinstance(layer, ESN):
                raise TypeError(f"layers[{index}] must be a reservoir.ESN, got {type(layer).__name__}")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("layers holds the same ESN twice; build one ESN per layer")
        dtypes = {layer.dtype for layer in layers}
        if len(dtypes) > 1:
            raise TypeError(f"the layers must share a dtype, got {sorted(d.name for d in dtypes)}")
        self.layers = layers
        self.parallel = bool(parallel)
        if readout_from is None:
            readout_from = "all" if self.parallel else "last"
        if readout_from not in ("last", "all"):
            raise ValueError(f"readout_from must be 'last' or 'all', got {readout_from!r}")
        self.readout_from = readout_from
        self.include_input = bool(include_input)
        self.readout = _check_readouts(readout)
        self.backend = backend
        self._backend_name = stack_backend(backend, "Stack")
        self.dtype = layers[0].dtype
        self._state = None
        self._single = True
        self._prepared = None
        self._prepared_key = None

    # ------------------------------------------------------------------ structure
    @property
    def units(self) -> int:
        """Total number of units N (the width of :attr:`state` and of :meth:`run`'s states)."""
        return sum(layer.units for layer in self.layers)

    @property
    def n_inputs(self) -> int | None:
        return self.layers[0].n_inputs

    @property
    def backend_name(self) -> str:
        return self._backend_name

    def sources(self) -> list[int]:
        """The source of each layer: -1 for the input, k for layer k."""
        return [-1 if self.parallel or index == 0 else index - 1 for index in range(len(self.layers))]

    def _bounds(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum([layer.units for layer in self.layers])])

    def split(self, states) -> list:
        """The states of each layer, from states (..., N) as :meth:`run` returns them."""
        bounds = self._bounds()
        return [states[..., bounds[i] : bounds[i + 1]] for i in range(len(self.layers))]

    def n_features(self) -> int:
        """Width of the readouts' features."""
        width = self.layers[-1].units if self.readout_from == "last" else self.units
        return width + (self.n_inputs if self.include_input else 0)

    def _ensure_input_weights(self, n_in: int) -> None:
        for index, (layer, source) in enumerate(zip(self.layers, self.sources())):
            width = n_in if source < 0 else self.layers[source].units
            try:
                layer._ensure_input_weights(width)
            except ValueError:
                driver = "u" if source < 0 else f"layer {source}"
                raise ValueError(
                    f"layer {index} is driven by {driver} ({width} features per step), but its W_in expects "
                    f"{layer.W_in.shape[1]}"
                ) from None

    def _layer_specs(self, W_fb=None) -> list[StackLayer]:
        """The layers as the kernels take them; W_fb (rows of the input-driven layers, n_fb)."""
        specs, row = [], 0
        for layer, source in zip(self.layers, self.sources()):
            fb = None
            if W_fb is not None and source < 0:
                fb, row = W_fb[row : row + layer.units], row + layer.units
            specs.append(StackLayer(layer.W, layer.W_in, fb, layer.bias, layer.leak_rate, layer.activation, source))
        return specs

    def _kernels(self, n_feedback: int = 0, W_fb=None):
        """(kernel module, prepared weights), prepared again when a weight array changed."""
        kernels = stack_kernels(self._backend_name)
        arrays = [(id(l.W), id(l.W_in), id(l.bias), l.leak_rate, l.activation) for l in self.layers]
        key = (self.n_inputs, n_feedback, id(W_fb), tuple(arrays))
        if self._prepared is None or key != self._prepared_key:
            self._prepared = kernels.prepare_stack(self._layer_specs(W_fb), self.n_inputs, n_feedback)
            self._prepared_key = key
        return kernels, self._prepared

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> np.ndarray:
        """Current state of all layers, concatenated: (N,) or (B, N) after a batch."""
        if self._state is None:
            return np.zeros(self.units, dtype=self.dtype)
        return self._state[0].copy() if self._single else self._state.copy()

    @state.setter
    def state(self, value):
        value = np.asarray(value, dtype=self.dtype)
        if value.ndim not in (1, 2) or value.shape[-1] != self.units:
            raise ValueError(f"state must have shape (N={self.units},) or (B, {self.units}), got {value.shape}")
        check.finite_sequences(value.reshape(1, -1, self.units), "state")
        self._single = value.ndim == 1
        self._state = np.array(value.reshape(-1, self.units))

    def reset(self):
        """Forget the state of every layer: the next run starts from zeros."""
        self._state = None
        return self

    def _start_state(self, batch: int) -> np.ndarray:
        if self._state is None:
            return np.zeros((batch, self.units), dtype=self.dtype)
        if self._state.shape[0] != batch:
            raise ValueError(
                f"the model holds the state of {self._state.shape[0]} sequence(s) but u has {batch}; "
                "call reset() to start new sequences"
            )
        return self._state.copy()

    def _inputs(self, u):
        inputs, batched = check.sequences(u, self.dtype, "u", self.n_inputs)
        self._ensure_input_weights(inputs.shape[2])
        return inputs, batched

    # ------------------------------------------------------------------ running
    def run(self, u):
        """Run every layer over the inputs and return all the states.

        Parameters
        ----------
        u : array (T,), (T, n_in) or (B, T, n_in)
            Inputs; 1-D is one feature.

        Returns
        -------
        states : (T, N) or (B, T, N)
            The layers' states side by side, in layer order (:meth:`split` cuts them).
        """
        inputs, batched = self._inputs(u)
        states = self._run(inputs, batched)
        return states if batched else states[0]

    def _run(self, inputs, batched: bool, feedback=None, W_fb=None):
        batch, steps = inputs.shape[:2]
        if feedback is None:
            feedback = np.zeros((batch, steps, 0), dtype=self.dtype)
        kernels, prepared = self._kernels(feedback.shape[2], W_fb)
        state = self._start_state(batch)
        out = np.empty((batch, steps, self.units), dtype=self.dtype)
        kernels.stack_run(prepared, inputs, state, feedback, out)
        self._state, self._single = state, not batched
        self.warn_saturation(out, "fb_scaling" if feedback.shape[2] else None)
        return out

    def warn_saturation(self, states, other: str | None = None) -> None:
        """ReservoirWarning for each tanh layer whose sampled states are mostly saturated."""
        for index, (layer, block) in enumerate(zip(self.layers, self.split(states))):
            monitor = SaturationMonitor(layer.activation)
            monitor.observe(block)
            hint = f"In layer {index}: lower its spectral_radius or input_scaling{f', {other}' if other else ''}"
            monitor.finish(lambda hint=hint: f"{hint}, or scale the inputs to about [-1, 1]", stacklevel=4)

    def features(self, states, inputs):
        """The readouts' features from states (B, T, N) and inputs (B, T, n_in)."""
        x = states[..., -self.layers[-1].units :] if self.readout_from == "last" else states
        return np.concatenate([x, inputs], axis=-1) if self.include_input else x

    def readout_coefficients(self, coef) -> np.ndarray:
        """A readout's coef (n_out, n_features) as a matrix over [all states (N), u] (zeros elsewhere)."""
        coef = np.atleast_2d(coef)
        full = np.zeros((coef.shape[0], self.units + self.n_inputs))
        start = self.units - self.layers[-1].units if self.readout_from == "last" else 0
        width = self.units - start
        full[:, start : self.units] = coef[:, :width]
        if self.include_input:
            full[:, self.units :] = coef[:, width:]
        return full

    # ------------------------------------------------------------------ readouts
    def fit(self, u, y, *, warmup=0):
        """Run from rest over `u` and train the readout(s) on the states and targets `y`.

        Parameters
        ----------
        u : array (T,), (T, n_in) or (B, T, n_in)
        y : array (T,), (T, n_out), (B, T, n_out), or a dict of them by readout name
            Targets aligned with `u` (one per step).
        warmup : int, default 0
            Steps dropped at the start of each sequence before training.

        Returns
        -------
        self
        """
        if self.readout is None:
            raise ValueError("this Stack has no readout: give readout=Ridge(...) (or a dict of them)")
        warmup = check.non_negative_int(warmup, "warmup")
        inputs, batched = self._inputs(u)
        targets = {name: _targets(y_i, inputs, batched, warmup, name) for name, y_i in _by_name(self.readout, y)}
        self.reset()
        X = self.features(self._run(inputs, batched), inputs)[:, warmup:]
        X = X if batched else X[0]
        for name, readout in _readouts(self.readout):
            readout.fit(X, targets[name])
        return self

    def predict(self, u):
        """Readout output(s) over `u`, continuing from the current state.

        Returns
        -------
        (T, n_out), (B, T, n_out) (1-D targets give (T,)), or a dict by readout name.
        """
        if self.readout is None:
            raise ValueError("this Stack has no readout: give readout=Ridge(...) (or a dict of them)")
        for _, readout in _readouts(self.readout):
            check_is_fitted(readout, "coef_")
        inputs, batched = self._inputs(u)
        X = self.features(self._run(inputs, batched), inputs)
        X = X if batched else X[0]
        outputs = {name: readout.predict(X) for name, readout in _readouts(self.readout)}
        return outputs if isinstance(self.readout, dict) else outputs[None]

    def config(self) -> dict:
        """The construction parameters as plain values (each layer's ``ESN.config()``)."""
        return {
            "model": "Stack",
            "layers": [layer.config() for layer in self.layers],
            "parallel": self.parallel,
            "readout_from": self.readout_from,
            "include_input": self.include_input,
            "readout": _readout_config(self.readout),
            "backend": self.backend,
        }

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_prepared"] = state["_prepared_key"] = None
        return state

    def __setstate__(self, state):
        # the kernels are picked again from `backend`: a loaded model may run on another one
        self.__dict__.update(state)
        self._backend_name = stack_backend(self.backend, "Stack")

    def __repr__(self) -> str:
        kind = "parallel" if self.parallel else "stacked"
        sizes = ", ".join(str(layer.units) for layer in self.layers)
        return f"Stack([{sizes}], {kind}, readout_from={self.readout_from!r}, backend={self._backend_name!r})"


# --------------------------------------------------------------------------- readout helpers
def _check_readouts(readout):
    if readout is None or isinstance(readout, Ridge):
        return readout
    if isinstance(readout, dict) and readout:
        for name, item in readout.items():
            if not isinstance(name, str) or not isinstance(item, Ridge):
                raise TypeError(f"readout dict must map names (str) to reservoir.Ridge, got {name!r}: {item!r}")
        return dict(readout)
    raise TypeError(f"readout must be a reservoir.Ridge or a dict of name -> Ridge, got {readout!r}")


def _readouts(readout):
    return list(readout.items()) if isinstance(readout, dict) else [(None, readout)]


def _by_name(readout, y):
    if not isinstance(readout, dict):
        if isinstance(y, dict):
            raise TypeError("y is a dict but the model has one readout; give the targets as an array")
        return [(None, y)]
    if not isinstance(y, dict) or set(y) != set(readout):
        got = sorted(y) if isinstance(y, dict) else type(y).__name__
        raise ValueError(f"y must be a dict with one target array per readout {sorted(readout)}, got {got}")
    return [(name, y[name]) for name in readout]


def _targets(y, inputs, batched: bool, warmup: int, name=None):
    """Targets aligned with the inputs (B, T, n_in), after the warmup; 1-D kept 1-D."""
    label = "y" if name is None else f"y[{name!r}]"
    one_d = np.ndim(y) == 1
    targets, y_batched = check.sequences(y, np.float64, label)
    if targets.shape[:2] != inputs.shape[:2] or y_batched != batched:
        shape = inputs.shape[:2] if batched else inputs.shape[1:2]
        raise ValueError(f"{label} has shape {np.shape(y)}: expected {shape} steps aligned with u")
    if warmup >= targets.shape[1]:
        raise ValueError(f"warmup={warmup} leaves no step to train on (the sequences have {targets.shape[1]})")
    targets = targets[:, warmup:]
    if batched:
        return targets
    return targets[0, :, 0] if one_d else targets[0]


def _readout_config(readout):
    if readout is None:
        return None
    if isinstance(readout, dict):
        return {name: item.get_params() for name, item in readout.items()}
    return readout.get_params()
