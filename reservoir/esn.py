"""Echo-state network: a leaky-integrator reservoir of tanh (or other) units.

    x[t] = (1 - a) * x[t-1] + a * f(W @ x[t-1] + W_in @ u[t] + b)

the convention of ReservoirPy's ``Reservoir``: the same matrices give the same states.
The class holds parameters, weights and state; the arithmetic lives in the backend's
kernels (``reservoir.kernels``).
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from . import _arrays, _pandas, backends
from . import _validation as check
from ._diagnostics import SaturationMonitor, warn_echo_state
from ._parameters import ESN_PARAMETERS, model_arguments
from ._progress import progress_bar
from ._reservoir import InputDrivenModel
from .config import settings
from .connectivity import _seed_sequence, connection_delays, input_matrix
from .connectivity.build import normalised as normalised_connectivity
from .connectivity.build import recurrent_matrix
from .kernels.activations import code as activation_code

__all__ = ["ESN"]


class ESN(InputDrivenModel):
    """Echo-state network reservoir.

    Parameters
    ----------
    units : int
        Number of reservoir units.
    density : float in (0, 1], optional
        Fraction of all possible recurrent connections (Erdős–Rényi), exactly as given.
        By default (neither ``density`` nor ``fan_in``) ``max(0.01, 10 / units)``, at
        most 1: 1 % from 1000 units up, about 10 connections per unit below (every unit
        at least one), so that small reservoirs are recurrent networks too (see
        ``reservoir.connectivity.default_density``).
    fan_in : int, optional
        Exact number of recurrent sources per unit; replaces ``density``.
    connectivity : str or dict, optional
        Another generator of the recurrent matrix (``reservoir.connectivity.build``):
        ``{"kind": "local", "radius": 1.5}`` (units on a grid, each fed by every unit
        within the radius), ``"distance"`` (Maass et al.'s Gaussian fall-off with
        distance), ``"ring"``, ``{"kind": "small_world", "neighbours": 4}``,
        ``"orthogonal"``, ``"fast_spectral"``. ``density``/``fan_in`` apply only to
        the random kinds (None, "random", "fast_spectral"). The kinds that place the
        units in space leave their lattice coordinates in ``positions`` (units, d).
    spectral_radius : float > 0, default 0.9
        Spectral radius the recurrent matrix is rescaled to.
    leak_rate : float in (0, 1], default 1.0
        ``a`` in the update; 1 means no leak.
    input_scaling : float, default 1.0
        Input weights are uniform in [-input_scaling, input_scaling).
    input_density : float in (0, 1], default 1.0
        Fraction of nonzero input weights.
    bias_scaling : float, default 0.5
        Biases are uniform in [-bias_scaling, bias_scaling). Not 0 by default: without a
        bias ``tanh(W x + W_in u)`` is an odd function of the inputs, so the states can
        express no even function of them (squares, products, the mean of a zero-mean
        signal) and such tasks fail however the readout is trained.
    activation : {"tanh", "identity", "sigmoid", "relu"}
    seed : int, optional
        Seeds the recurrent, input and bias weights (independent streams).
    dtype : {"float32", "float64"}
        Weights, state and outputs all use it.
    backend : str, default "auto"
        ``"numpy"`` (reference), ``"numba"`` (compiled CPU), ``"numba-cuda"`` or
        ``"cupy"`` (GPU, ``pip install 'reservoir-engine[cuda]'``) or ``"auto"``.
    recurrent_kernel : {"auto", "sparse", "dense"}, default "auto"
        How the compiled CPU backend multiplies by W: "auto" switches to dense BLAS
        kernels from a density of ``settings.dense_min_density`` up (logged at INFO on
        the "reservoir" logger). "dense" needs the "numba" (or the reference "numpy")
        backend. See ``connectivity={"kind": "full"}`` for fully connected reservoirs.
    delays : None, int, (low, high) or array of ints, optional
        Time-delayed connections: unit i reads unit j's state of ``d_ij`` steps ago,
        ``x[t] = (1-a) x[t-1] + a f(Σ_j W_ij x_j[t-d_ij] + W_in u[t] + b)``, ``d_ij >= 1``
        (all ones: the plain ESN). An int is the largest delay (each drawn uniformly in
        1..max from the seed), a pair the inclusive range, an array one delay per
        nonzero of W in its CSR storage order (``W.indices``). The last ``max(d)``
        states are held in a ring buffer per sequence, which carries over between runs
        and which ``reset()`` and setting ``state`` clear (older states become zero).
        CPU backends only ("numba", "numpy"); no ``generate`` or ``resume``.

    The input weights are drawn on the first ``run`` (that is when the input width
    is known). The state carries over between ``run`` calls until ``reset()``.

    Settings that run but give garbage warn (``reservoir.ReservoirWarning``) with what
    to change: a spectral radius above 1.5 (the echo-state property lost, see
    ``reservoir._diagnostics.warn_echo_state``), and a run where more than 90 % of
    the states (sampled on a few steps per kernel call) are saturated, ``|x| > 0.99``.

    On a GPU backend, CuPy inputs give CuPy states and the state stays on the GPU
    between calls; NumPy inputs are copied over and the states copied back.
    """

    _noun = "reservoir"
    # Defaults for the construction paths that do not set them (from_weights, subclasses).
    recurrent_kernel = "auto"
    delays = None
    _delays = None  # one delay per nonzero of W, or None
    _history = None  # (B, max delay, units), newest first: the delayed states in flight

    def __init__(
        self,
        units,
        *,
        density=None,
        fan_in=None,
        connectivity=None,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=1.0,
        input_density=1.0,
        bias_scaling=0.5,
        activation="tanh",
        seed=None,
        dtype="float32",
        backend="auto",
        recurrent_kernel="auto",
        delays=None,
    ):
        self._common(check.positive_int(units, "units"), dtype, leak_rate, activation, backend)
        self.recurrent_kernel = _recurrent_kernel(recurrent_kernel)
        if fan_in is not None:
            density = None
        self.density = density
        self.fan_in = fan_in
        self.spectral_radius = check.positive_float(spectral_radius, "spectral_radius")
        warn_echo_state(self.spectral_radius, self.leak_rate)
        self.input_scaling = check.real(input_scaling, "input_scaling")
        self.input_density = check.density(input_density, "input_density")
        self.bias_scaling = check.non_negative_float(bias_scaling, "bias_scaling")
        self.seed = seed
        recurrent_seed, self._input_seed, self._bias_seed, delay_seed = _seed_sequence(seed).spawn(4)
        self.connectivity = normalised_connectivity(connectivity)
        self.W, self.positions = recurrent_matrix(
            self.connectivity,
            self.units,
            density=density,
            fan_in=fan_in,
            spectral_radius=self.spectral_radius,
            seed=recurrent_seed,
            dtype=self.dtype,
        )
        self.W_in = None  # drawn on the first run, when the input width is known
        self.bias = None
        self._set_delays(delays, delay_seed)

    def _set_delays(self, delays, seed) -> None:
        """Resolve `delays` to one int per nonzero of W (W's indices sorted first), or None."""
        self.delays = delays
        if delays is None:
            return
        self.W.sort_indices()
        self._delays = connection_delays(delays, self.W.nnz, seed)
        if isinstance(delays, numbers.Integral):
            self.delays = int(delays)
        elif not isinstance(delays, tuple):
            self.delays = "array"  # the array itself: ``connection_delays_array``

    @property
    def connection_delays_array(self):
        """The delay (steps) of every nonzero of W in its CSR order, or None without delays."""
        return None if self._delays is None else self._delays.copy()

    def _common(self, units, dtype, leak_rate, activation, backend):
        """Validate and set what every construction path shares; resolve the backend."""
        self.units = units
        self.dtype = check.float_dtype(dtype)
        self.leak_rate = check.leak_rate(leak_rate)
        activation_code(activation)
        self.activation = activation
        self.backend = backends.validate(backend)
        self._backend = backends.resolve(self.backend)
        self._prepared = None
        self._state = None
        self._state_single = True

    @classmethod
    def from_weights(
        cls, W, W_in, bias=None, *, leak_rate=1.0, activation="tanh", dtype=None, backend="auto", delays=None, seed=None
    ):
        """An ESN on given matrices: W (units, units), W_in (units, n_in), bias (units,).

        ``delays`` as for the constructor (an array: one per nonzero of W in CSR order,
        indices sorted); ``seed`` draws them when given as an int or a range.

        ``bias`` may also be a scalar or shape (1,) (one value for every unit, as
        ReservoirPy's ``Reservoir.bias`` holds), or a (units, 1) column.

        ``dtype=None`` keeps W's dtype when it is float32 or float64 (float64 otherwise).
        """
        W = check.square_matrix(W, "W")
        if dtype is None:
            dtype = W.dtype if W.dtype in check.FLOAT_DTYPES else np.float64
        dtype = check.float_dtype(dtype)
        units = W.shape[0]
        W_in = W_in.toarray() if sp.issparse(W_in) else np.asarray(W_in)
        if W_in.ndim == 1:
            W_in = W_in[:, None]
        if W_in.ndim != 2 or W_in.shape[0] != units:
            raise ValueError(f"W_in must have shape (units={units}, n_in), got {W_in.shape}")
        bias = np.zeros(units) if bias is None else _bias_vector(bias, units)
        W = sp.csr_array(W, dtype=dtype)
        for name, matrix in (("W", W.data), ("W_in", W_in), ("bias", bias)):
            if not np.all(np.isfinite(matrix)):
                raise ValueError(f"{name} contains NaN or Inf")
        self = cls.__new__(cls)
        self._common(units, dtype, leak_rate, activation, backend)
        self.density = W.nnz / float(units * units)
        self.fan_in = self.spectral_radius = self.input_scaling = self.input_density = None
        self.bias_scaling = self.seed = self.connectivity = self.positions = None
        self.W = W
        self.W_in = np.ascontiguousarray(W_in, dtype=dtype)
        self.bias = np.ascontiguousarray(bias, dtype=dtype)
        self._set_delays(delays, seed)
        return self

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> np.ndarray:
        """Current state: (units,) after a single sequence, (B, units) after a batch.

        A copy, on the GPU (CuPy) after a run on CuPy inputs."""
        if self._state is None:
            return np.zeros(self.units, dtype=self.dtype)
        return self._state[0].copy() if self._state_single else self._state.copy()

    @state.setter
    def state(self, value):
        xp = _arrays.namespace(value)
        value = xp.asarray(value, dtype=self.dtype)
        if value.shape[-1] != self.units or value.ndim not in (1, 2):
            raise ValueError(f"state must have shape (units={self.units},) or (B, {self.units}), got {value.shape}")
        check.finite_sequences(_arrays.to_host(value).reshape(1, -1, self.units), "state")
        self._state_single = value.ndim == 1
        self._state = xp.array(value.reshape(-1, self.units), dtype=self.dtype)
        self._history = None  # with delays: the older states in flight become zero

    def reset(self) -> ESN:
        """Forget the state: the next run starts from zeros (delayed values in flight too)."""
        self._state = None
        self._history = None
        return self

    # ------------------------------------------------------------------ weights
    def _draw_input_weights(self, n_in: int) -> None:
        W_in = input_matrix(
            self.units,
            n_in,
            density=self.input_density,
            scaling=self.input_scaling,
            seed=self._input_seed,
            dtype=self.dtype,
        )
        self.W_in = np.ascontiguousarray(W_in.toarray())
        bias_rng = np.random.default_rng(self._bias_seed)
        self.bias = (bias_rng.uniform(-1.0, 1.0, self.units) * self.bias_scaling).astype(self.dtype)

    def _prepare(self, kernels):
        if self._delays is not None:
            if not hasattr(kernels, "prepare_delayed_esn"):
                raise NotImplementedError(
                    f"backend {self.backend_name!r} has no time-delayed ESN kernel (ESN delays=): "
                    "use backend='numba' or 'numpy'"
                )
            return kernels.prepare_delayed_esn(self.W, self.W_in, self.bias, self._delays)
        if self.recurrent_kernel == "auto" or self.backend_name == "numpy":  # the reference has one path
            return kernels.prepare_esn(self.W, self.W_in, self.bias)
        if self.backend_name != "numba":
            if self.recurrent_kernel == "dense":
                raise NotImplementedError(
                    f"backend {self.backend_name!r} has no dense recurrent ESN kernel "
                    "(recurrent_kernel='dense'): use backend='numba' or recurrent_kernel='auto'"
                )
            return kernels.prepare_esn(self.W, self.W_in, self.bias)
        return kernels.prepare_esn(self.W, self.W_in, self.bias, recurrent_kernel=self.recurrent_kernel)

    def _start_state(self, batch: int, device: bool = False):
        """A copy of the state for `batch` sequences, on the GPU when `device` (zeros after reset)."""
        if self._delays is not None:  # the ring buffer of the run: committed by _finish
            self._run_history = self._start_history(batch)
        if self._state is None:
            xp = _arrays.device_namespace() if device else np
            return xp.zeros((batch, self.units), dtype=self.dtype)
        self._check_batch(self._state.shape[0], batch)
        return _arrays.like(self._state, device).copy()

    def _start_history(self, batch: int) -> np.ndarray:
        """(B, max delay, units): the last states, newest first (a copy; zeros after reset)."""
        depth = int(self._delays.max())
        if self._history is not None and self._history.shape[0] == batch:
            return self._history.copy()
        history = np.zeros((batch, depth, self.units), dtype=self.dtype)
        if self._state is not None and self._state.shape[0] == batch:
            history[:, 0] = _arrays.to_host(self._state)
        return history

    # ------------------------------------------------------------------ running
    def run(
        self,
        u,
        *,
        progress: bool = False,
        store=None,
        name: str | None = None,
        checkpoint_every: int | None = None,
        resume: bool = False,
        targets=None,
        storage_dtype=None,
        compression: str | None = None,
        store_weights: bool = False,
        out=None,
    ):
        """Run the reservoir over inputs and return every state.

        Parameters
        ----------
        u : array (T,), (T, n_in) or (B, T, n_in), or a pandas Series / DataFrame
            Inputs; 1-D is one feature. NaN/Inf (and pandas' missing values) raise
            ValueError naming the step. A pandas input gives a DataFrame of states on its index.
        progress : bool
            Show a progress bar over time.
        store : reservoir.StateStore, optional
            Stream the states into run `name` of this store instead of returning
            them: memory holds only `checkpoint_every` steps at a time, and every
            checkpoint is durable (see ``reservoir.storage``).
        checkpoint_every : int, optional
            Steps between checkpoints (default ``settings.time_chunk``).
        resume : bool
            Continue run `name` from its last checkpoint (same `u`, same reservoir):
            the states are bit-identical to an uninterrupted run.
        targets, storage_dtype, compression, store_weights
            Stored beside the states (targets aligned with `u`); float16 storage of a
            float32 run; "lzf" or "gzip"; also store W (sparse), W_in and bias.
        out : array (T, units) or (B, T, units), optional
            Write the states here (C-contiguous, the reservoir's dtype, on the inputs'
            device) and return it: a loop that calls ``run`` again and again reuses one
            buffer instead of touching a fresh one each time. To train a readout on
            long or many sequences without holding their states at all, see
            :meth:`iter_states`.

        Returns
        -------
        states : (T, units) or (B, T, units) in the reservoir's dtype; with `store`,
        the stored ``Run`` instead.
        """
        rows = _pandas.labels_of(u) if store is None else None
        u = _pandas.to_numpy(u)
        # GPU inputs stay on the GPU with a GPU backend; a CPU backend reads them from the host.
        device = _arrays.is_device(u) and self._backend.device_problem is not None
        if not device:
            u = _arrays.to_host(u)
        inputs, batched = check.sequences(u, self.dtype, "u", self.n_inputs)
        self._ensure_input_weights(inputs.shape[2])
        batch, steps = inputs.shape[:2]
        chunk = self._chunk_steps(checkpoint_every)
        if store is None:
            state = self._start_state(batch, device)
            given, out = out, self._output_buffer(out, inputs, batched)
            for _ in self._advance(inputs, state, 0, chunk, lambda start, stop: out[:, start:stop], progress):
                pass
            self._finish(state, batched)
            if rows is not None:  # a Series or DataFrame in: a DataFrame of states on its index
                return _pandas.wrap(out[0], rows.index)
            if given is not None:
                return given
            return out if batched else out[0]

        self._check_run_name(name)
        if resume and name in store and self._delays is not None:
            raise NotImplementedError("resume is not available for an ESN with delays= (the ring buffer is not stored)")
        if resume and name in store:
            run = store[name]
            expected = (batch, steps, self.units) if batched else (steps, self.units)
            if run.states.shape != expected:
                raise ValueError(
                    f"{run.path}: run {name!r} holds states of shape {run.states.shape}; "
                    f"resuming it with these inputs would give {expected}"
                )
            state = _arrays.like(np.array(run.saved_state(), dtype=self.dtype), device)
            start = run.steps_done
        else:
            state = self._start_state(batch, device)
            host_u = _arrays.to_host(u)
            run = store.create_run(
                name,
                steps=steps,
                units=self.units,
                batch=batch if batched else None,
                dtype=self.dtype,
                storage_dtype=storage_dtype,
                compression=compression,
                inputs=host_u if np.ndim(host_u) > 1 else np.asarray(host_u)[:, None],
                targets=targets,
                config=self.config(),
                chunk_steps=min(chunk, steps),
            )
            start = 0
        if store_weights:
            run.save_weights(W=self.W, W_in=self.W_in, bias=self.bias)
        buffer = np.empty((batch, min(chunk, steps), self.units), dtype=self.dtype)
        for first, last, block in self._advance(
            inputs, state, start, chunk, lambda first, last: buffer[:, : last - first], progress
        ):
            run.write(first, block if batched else block[0])
            run.commit(last, _arrays.to_host(state))
        self._finish(state, batched)
        return run

    def _output_buffer(self, out, inputs, batched: bool):
        """(B, T, units) array the states go to: a new one, or the caller's `out` checked."""
        batch, steps = inputs.shape[:2]
        xp = _arrays.namespace(inputs)
        if out is None:
            return xp.empty((batch, steps, self.units), dtype=self.dtype)
        expected = (batch, steps, self.units) if batched else (steps, self.units)
        if tuple(out.shape) != expected or out.dtype != self.dtype:
            raise ValueError(
                f"out must be a {self.dtype.name} array of shape {expected} for these inputs; "
                f"got {out.dtype} {tuple(out.shape)}"
            )
        if not out.flags.c_contiguous or _arrays.namespace(out) is not xp:
            raise ValueError("out must be C-contiguous and where the inputs are (host or GPU)")
        return out if batched else out[None]

    def iter_states(self, u, *, chunk_steps: int | None = None, progress: bool = False):
        """Run over inputs and yield the states a time chunk at a time, never all of them.

        Yields ``(first, last, states)``: steps ``first:last`` of every sequence,
        ``states`` of shape (B, last - first, units) (B = 1 for one sequence). The array
        is one buffer, overwritten by the next chunk: use it (accumulate a Gram matrix,
        write it somewhere) before asking for the next. Memory holds one chunk of
        ``chunk_steps`` steps (default ``settings.time_chunk``) however long or many
        the sequences; the state carries over as with :meth:`run`.
        """
        u = _arrays.to_host(_pandas.to_numpy(u))
        inputs, batched = check.sequences(u, self.dtype, "u", self.n_inputs)
        self._ensure_input_weights(inputs.shape[2])
        batch, steps = inputs.shape[:2]
        chunk = settings.time_chunk if chunk_steps is None else check.positive_int(chunk_steps, "chunk_steps")
        state = self._start_state(batch)
        buffer = np.empty((batch, min(chunk, steps), self.units), dtype=self.dtype)
        yield from self._advance(inputs, state, 0, chunk, lambda first, last: buffer[:, : last - first], progress)
        self._finish(state, batched)

    def _advance(self, inputs, state, start: int, chunk: int, block_for, progress: bool):
        """Run time chunks from `start`; yield (first, last, block) with the chunk's states.

        `block_for(first, last)` gives the (B, last - first, units) array to fill;
        `state` (B, units) advances in place.
        """
        kernels, prepared = self._kernels()
        steps = inputs.shape[1]
        bar = progress_bar(steps - start, progress)
        saturation = SaturationMonitor(self.activation)
        for first in range(start, steps, chunk):
            last = min(first + chunk, steps)
            block = block_for(first, last)
            self._run_chunk(kernels, prepared, inputs[:, first:last], state, block)
            saturation.observe(block)
            if bar is not None:
                bar.update(last - first)
            yield first, last, block
        if bar is not None:
            bar.close()
        saturation.finish(lambda: self._saturation_hint(inputs), stacklevel=3)

    def _run_chunk(self, kernels, prepared, inputs, state, out) -> None:
        """Advance `state` (B, units) in place over `inputs` (B, steps, n_in), every state into `out`.

        The one step a model built on the ESN's weights and running machinery replaces
        (``reservoir.models``: IPReservoir, ES2N)."""
        if self._delays is not None:
            kernels.delayed_esn_run(prepared, inputs, self._run_history, self.leak_rate, self.activation, out)
            state[...] = self._run_history[:, 0]
            return
        kernels.esn_run(prepared, inputs, state, self.leak_rate, self.activation, out)

    def _saturation_hint(self, inputs) -> str:
        largest = float(np.abs(_arrays.to_host(inputs)).max())  # only when warning: a copy is fine
        radius = (
            "the recurrent weights' scale"
            if self.spectral_radius is None
            else f"spectral_radius (now {self.spectral_radius:g})"
        )
        scaling = "the input weights" if self.input_scaling is None else f"input_scaling (now {self.input_scaling:g})"
        return (
            f"Lower {radius} or {scaling}, or scale the inputs to about [-1, 1] "
            f"(they reach {largest:.3g}; e.g. sklearn.preprocessing.StandardScaler)"
        )

    def _finish(self, state, batched: bool) -> None:
        self._state = state
        self._state_single = not batched
        if self._delays is not None:
            self._history = self._run_history

    def config(self) -> dict:
        """Everything needed to rebuild this reservoir (with its seed), as plain values."""
        return {
            "model": "ESN",
            "units": self.units,
            **model_arguments(self, ESN_PARAMETERS),
            "seed": self.seed if isinstance(self.seed, (int, type(None))) else str(self.seed),
            "dtype": self.dtype.name,
            "backend": self.backend_name,
            **({} if self.recurrent_kernel == "auto" else {"recurrent_kernel": self.recurrent_kernel}),
            **({} if self.delays is None else {"delays": _plain(self.delays)}),
        }

    def generate(self, n_steps, readout_coef, readout_intercept, first_input, *, include_input=True) -> np.ndarray:
        """Closed loop: feed a linear readout's output back as the next input.

        The readout is ``y = coef @ [x, u] + intercept`` (``coef @ x + intercept``
        without ``include_input``). Starts from the current state of a single sequence.
        Returns outputs (n_steps, n_out); the state advances.
        """
        n_steps = check.positive_int(n_steps, "n_steps")
        if self._delays is not None:
            raise NotImplementedError("generate is not available for an ESN with delays= (time-delayed connections)")
        first_input = np.asarray(_arrays.to_host(first_input), dtype=self.dtype).ravel()
        self._ensure_input_weights(first_input.shape[0])
        coef = np.atleast_2d(np.asarray(readout_coef, dtype=self.dtype))
        intercept = np.broadcast_to(np.asarray(readout_intercept, dtype=self.dtype), (coef.shape[0],)).copy()
        expected = self.units + (self.n_inputs if include_input else 0)
        if coef.shape[1] != expected:
            raise ValueError(f"readout coefficients have {coef.shape[1]} features, expected {expected}")
        if coef.shape[0] != self.n_inputs:
            raise ValueError(f"closed loop needs as many outputs as inputs: {coef.shape[0]} != {self.n_inputs}")
        kernels, prepared = self._kernels()
        state = self._start_state(1, _arrays.is_device(self._state))[0]  # outputs live where the state does
        outputs = kernels.esn_generate(
            prepared, coef, intercept, include_input, state, first_input, n_steps, self.leak_rate, self.activation
        )
        self._state = state[None]
        self._state_single = True
        return outputs

    def __repr__(self) -> str:
        connectivity = (
            f"connectivity={self.connectivity['kind']!r}"
            if self.connectivity is not None
            else f"fan_in={self.fan_in}"
            if self.fan_in is not None
            else f"density={self.density:g}"
            if self.density is not None
            else f"density=default ({self.W.nnz / self.units**2:.3g})"
        )
        return (
            f"ESN(units={self.units}, {connectivity}, spectral_radius={self.spectral_radius}, "
            f"leak_rate={self.leak_rate}, activation={self.activation!r}, dtype={self.dtype.name}, "
            f"backend={self.backend_name!r})"
        )


def _recurrent_kernel(value) -> str:
    if value not in ("auto", "sparse", "dense"):
        raise ValueError(f"recurrent_kernel must be 'auto', 'sparse' or 'dense', got {value!r}")
    return value


def _plain(delays):
    """`delays` as a JSON value: an int or a [low, high] pair; "array" for an explicit array."""
    if isinstance(delays, str):
        return delays
    if np.ndim(delays) == 0:
        return int(delays)
    return [int(d) for d in delays]


def _bias_vector(bias, units: int) -> np.ndarray:
    """A bias as (units,): a scalar or (1,) broadcasts; (units,), (units, 1) and (1, units) are kept."""
    bias = bias.toarray() if sp.issparse(bias) else np.asarray(bias)
    if bias.size == 1:
        return np.full(units, bias.reshape(()), dtype=np.float64 if bias.dtype.kind != "f" else bias.dtype)
    if bias.size != units or (bias.ndim == 2 and 1 not in bias.shape) or bias.ndim > 2:
        raise ValueError(f"bias must be a scalar or have shape ({units},) or ({units}, 1), got {bias.shape}")
    return bias.ravel()
