"""The parameters a model shares with the estimators built on it, named and defaulted once.

scikit-learn needs every parameter spelled out in an estimator's ``__init__`` (that is
how ``get_params`` finds them), so the signatures repeat the names; these tables are
what they must agree with (checked by the tests), and what the estimators pass on
when they build the model.
"""

from __future__ import annotations

#: Reservoir parameters of :class:`reservoir.ESN` and their defaults, shared with
#: ESNRegressor and ESNClassifier (which add ``units``, ``dtype`` and readout settings).
ESN_PARAMETERS = {
    "density": None,  # None: reservoir.connectivity.default_density
    "fan_in": None,
    "connectivity": None,  # None: random sparse (density / fan_in); see reservoir.connectivity.build
    "spectral_radius": 0.9,
    "leak_rate": 1.0,
    "input_scaling": 1.0,
    "input_density": 1.0,
    "bias_scaling": 0.5,
    "activation": "tanh",
    "seed": None,
    "backend": "auto",
}

#: Hidden-layer parameters of ``reservoir.elm.HiddenLayer`` shared with ELMRegressor and ELMClassifier.
ELM_PARAMETERS = {
    "density": None,
    "fan_in": None,
    "activation": "tanh",
    "input_scaling": 1.0,
    "bias_scaling": 1.0,
    "seed": None,
    "dtype": "float32",
    "backend": "auto",
}


def model_arguments(estimator, table: dict, **overrides) -> dict:
    """The estimator's values of the parameters in `table` (keyword arguments for the model)."""
    arguments = {name: getattr(estimator, name) for name in table}
    arguments.update(overrides)
    return arguments
