"""Edge-of-stability echo-state network (ES2N, Ceni & Gallicchio 2024).

    x[t] = beta * f(W @ x[t-1] + W_in @ u[t] + b) + (1 - beta) * O @ x[t-1]

(with a beta per unit, the second term is ``O @ ((1 - beta) * x[t-1])``: each unit's
``1 - beta`` weighs its state as it enters the orthogonal map, which is what
ReservoirPy's ``ES2N`` computes for a per-unit ``proximity``).

``O`` is a random orthogonal matrix and ``beta`` (the *proximity*, per unit or one
value) weighs the nonlinear reservoir against the orthogonal map, whose Jacobian
has every eigenvalue on the unit circle: a small ``beta`` keeps the dynamics close
to the edge of stability, which lengthens the memory. This is ReservoirPy's ``ES2N``
(parameter ``proximity``, the spectral radius applied to ``W`` when it is drawn):
the same matrices give the same states.

Cost: ``W`` stays sparse, but ``O`` is dense, ``n * n`` values: each step does
``n * n`` multiply-adds per sequence for ``O @ x`` (at 1 % density, 100 times the
work of ``W @ x``), and ``O`` takes ``8 n^2`` bytes in float64 (80 MB at 3 000 units).
Drawing it (``scipy.stats.ortho_group``) is O(n^3).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp

from .. import _validation as check
from .._diagnostics import ReservoirWarning
from ..connectivity import _seed_sequence, orthogonal
from ..esn import ESN
from ._kernels import backend_for
from ._kernels import module as kernel_module

__all__ = ["ES2N"]

#: How far from orthogonal a given O may be (max |O O^T - I|) before a warning.
ORTHOGONALITY_TOLERANCE = 1e-6


def _proximity(value, units: int):
    """beta in (0, 1]: one float, or one per unit (kept as a float64 array)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        beta = check.real(value, "proximity")
        if not 0.0 < beta <= 1.0:
            raise ValueError(f"proximity must be in (0, 1], got {beta}")
        return beta
    beta = np.asarray(value, dtype=np.float64)
    if beta.shape != (units,):
        raise ValueError(f"proximity must be a float or have shape (units={units},), got shape {beta.shape}")
    bad = ~((beta > 0.0) & (beta <= 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"proximity must be in (0, 1] for every unit, got {beta[i]} at unit {i}")
    return beta


class ES2N(ESN):
    """Edge-of-stability echo-state network (ReservoirPy's ``ES2N``).

    ``W``, ``W_in`` and ``bias`` are drawn as :class:`reservoir.ESN` draws them (same
    seed, same matrices); ``O`` comes from a fourth stream of the seed. With
    ``proximity=1`` its states are the ESN's.

    Parameters
    ----------
    units : int
        Number of reservoir units.
    proximity : float in (0, 1] or array (units,), default 0.1
        ``beta``: the weight of the nonlinear reservoir against the orthogonal map
        (1 is a plain ESN). ReservoirPy's default is 1.0; the paper's regime, and
        the reason to use ES2N, is a small ``beta``. Per unit, unit j's ``1 - beta[j]``
        scales its state entering ``O`` (ReservoirPy's arithmetic).
    spectral_radius : float > 0, default 1.0
        Spectral radius ``W`` is rescaled to (ReservoirPy's ``sr``).
    density, fan_in, connectivity, input_scaling, input_density, bias_scaling, activation, seed, dtype
        As for :class:`reservoir.ESN`.
    backend : {"auto", "numba", "numpy"}
        The compiled CPU path or the NumPy reference; GPU backends have no ES2N kernels.

    Attributes
    ----------
    W : scipy.sparse.csr_array (units, units)
    O : ndarray (units, units)
        The dense orthogonal matrix.
    W_in, bias
        As on :class:`reservoir.ESN` (drawn on the first run).
    """

    _capability = "ES2N"

    def __init__(
        self,
        units,
        *,
        proximity=0.1,
        density=None,
        fan_in=None,
        connectivity=None,
        spectral_radius=1.0,
        input_scaling=1.0,
        input_density=1.0,
        bias_scaling=0.5,
        activation="tanh",
        seed=None,
        dtype="float32",
        backend="auto",
    ):
        proximity = _proximity(proximity, check.positive_int(units, "units"))
        super().__init__(
            units,
            density=density,
            fan_in=fan_in,
            connectivity=connectivity,
            spectral_radius=spectral_radius,
            input_scaling=input_scaling,
            input_density=input_density,
            bias_scaling=bias_scaling,
            activation=activation,
            seed=seed,
            dtype=dtype,
            backend=backend,
        )
        self.proximity = proximity
        # the fifth child of the seed's sequence (ESN spawns four: W, W_in, bias, delays)
        root = _seed_sequence(seed)
        stream = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, 4), pool_size=root.pool_size)
        self.O = orthogonal(self.units, seed=stream, dtype=self.dtype, dense=True)

    @classmethod
    def from_weights(
        cls,
        W,
        W_in,
        bias=None,
        O=None,
        *,
        proximity=0.1,
        activation="tanh",
        seed=None,
        dtype=None,
        backend="auto",
    ) -> ES2N:
        """An ES2N on given matrices: W (units, units), W_in (units, n_in), bias, O (units, units).

        ``O`` may be dense or sparse (it is held dense); without it a random orthogonal
        matrix is drawn from `seed`. An ``O`` that is not orthogonal warns
        (``ReservoirWarning``) but is used as given. The rest is as
        :meth:`reservoir.ESN.from_weights`.
        """
        self = super().from_weights(W, W_in, bias, activation=activation, dtype=dtype, backend=backend)
        self.proximity = _proximity(proximity, self.units)
        if O is None:
            self.O = orthogonal(self.units, seed=seed, dtype=self.dtype, dense=True)
            return self
        O = O.toarray() if sp.issparse(O) else np.asarray(O)
        if O.shape != (self.units, self.units):
            raise ValueError(f"O must have shape (units={self.units}, {self.units}), got {O.shape}")
        if not np.all(np.isfinite(O)):
            raise ValueError("O contains NaN or Inf")
        O = O.astype(np.float64)
        error = float(np.abs(O @ O.T - np.eye(self.units)).max())
        if error > ORTHOGONALITY_TOLERANCE:
            warnings.warn(
                f"O is not orthogonal (max |O O^T - I| = {error:.3g}): ES2N's edge-of-stability argument "
                "needs an orthogonal O. Use reservoir.connectivity.orthogonal(n, dense=True)",
                ReservoirWarning,
                stacklevel=2,
            )
        self.O = np.ascontiguousarray(O, dtype=self.dtype)
        return self

    def _common(self, units, dtype, leak_rate, activation, backend):
        super()._common(
            units, dtype, leak_rate, activation, backend_for(backend, type(self).__name__, self._capability)
        )

    def _kernels(self):
        kernels = kernel_module(self._backend.name, "es2n")
        if self._prepared is None:
            self._prepared = kernels.prepare_es2n(self.W, self.W_in, self.bias, self.O)
        return kernels, self._prepared

    def _run_chunk(self, kernels, prepared, inputs, state, out) -> None:
        # ESN.run, iter_states and the stored runs drive the time chunks; this is the ES2N step
        beta = np.broadcast_to(np.asarray(self.proximity, dtype=self.dtype), (self.units,))
        kernels.es2n_run(prepared, beta, inputs, state, self.activation, out)

    def generate(self, *args, **kwargs):
        """Closed-loop generation is not implemented for ES2N."""
        raise NotImplementedError("ES2N has no closed-loop generate(); feed predictions back with run()")

    def config(self) -> dict:
        """Everything needed to rebuild this reservoir (with its seed), as plain values.

        ``ES2N(**{k: v for k, v in config.items() if k != "model"})`` draws the same W and O."""
        config = super().config()
        del config["leak_rate"]
        proximity = self.proximity
        config.update(model="ES2N", proximity=proximity if isinstance(proximity, float) else proximity.tolist())
        return config

    def __repr__(self) -> str:
        beta = f"{self.proximity:g}" if isinstance(self.proximity, float) else "per unit"
        return (
            f"ES2N(units={self.units}, proximity={beta}, spectral_radius={self.spectral_radius}, "
            f"activation={self.activation!r}, dtype={self.dtype.name}, backend={self.backend_name!r})"
        )
