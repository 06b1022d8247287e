"""Extreme learning machine hidden layer: h = f(W_hidden @ x + b), W_hidden sparse and random.

The layer is the same connectivity code as the reservoirs (``random_sparse``) without
the recurrence; the arithmetic lives in the backend's ``elm_hidden`` kernel, which
reads a scipy.sparse input without densifying it.
"""

from __future__ import annotations

import numpy as np

from . import _arrays, backends
from . import _validation as check
from ._reservoir import BackendModel
from .connectivity import _seed_sequence, random_sparse
from .kernels.activations import code as activation_code

__all__ = ["HiddenLayer", "check_features"]


check_features = check.features  # the one feature validator, under the name this module gave it


class HiddenLayer(BackendModel):
    """A sparse random hidden layer of `n_hidden` units over `n_features` inputs.

    Weights are uniform in [-input_scaling, input_scaling) on a random sparse pattern
    (``density`` of all connections, or exactly ``fan_in`` inputs per unit), biases
    uniform in [-bias_scaling, bias_scaling). With neither ``density`` nor ``fan_in``,
    the density is ``max(0.01, 10 / n_features)`` (at most 1) and every hidden unit
    sees at least one input: all of them for up to 10 features, about 10 of them for
    up to 1000, 1 % beyond (``reservoir.connectivity.default_density``).
    """

    def __init__(
        self,
        n_hidden,
        n_features,
        *,
        density=None,
        fan_in=None,
        activation="tanh",
        input_scaling=1.0,
        bias_scaling=1.0,
        seed=None,
        dtype="float32",
        backend="auto",
    ):
        self.dtype = check.float_dtype(dtype)
        activation_code(activation)
        self.activation = activation
        self._backend = backends.resolve(backends.validate(backend))
        if fan_in is not None:
            density = None
            fan_in = min(check.positive_int(fan_in, "fan_in"), n_features)  # a narrow input has fewer features
        weight_seed, bias_seed = _seed_sequence(seed).spawn(2)
        self.W = random_sparse(
            check.positive_int(n_hidden, "n_hidden"),
            check.positive_int(n_features, "n_features"),
            density=density,
            fan_in=fan_in,
            distribution="uniform",
            seed=weight_seed,
            dtype=self.dtype,
        )
        self.W.data *= self.dtype.type(check.real(input_scaling, "input_scaling"))
        scale = check.non_negative_float(bias_scaling, "bias_scaling")
        self.bias = (np.random.default_rng(bias_seed).uniform(-1.0, 1.0, n_hidden) * scale).astype(self.dtype)
        self._prepared = None

    def transform(self, X) -> np.ndarray:
        """Hidden activations (samples, n_hidden) of X (samples, n_features), dense or sparse.

        On a GPU backend a CuPy X gives CuPy activations (nothing crosses to the host)."""
        if not (_arrays.is_device(X) and self._backend.device_problem is not None):
            X = _arrays.to_host(X)  # a CPU backend reads a GPU array from the host
        X = check.features(X, self.dtype, "X", self.W.shape[1])
        kernels, prepared = self._kernels()
        return kernels.elm_hidden(prepared, X, self.activation)

    def _prepare(self, kernels):
        return kernels.prepare_elm(self.W, self.bias)
