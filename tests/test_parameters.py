"""The ESN's and the ELM's parameters are listed in several signatures; they agree with one table."""

from __future__ import annotations

import inspect

import pytest

import reservoir as rs
from reservoir._parameters import ELM_PARAMETERS, ESN_PARAMETERS
from reservoir.elm import HiddenLayer


def _defaults(function) -> dict:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize("owner", [rs.ESN, rs.ESNRegressor, rs.ESNClassifier])
def test_esn_parameters_agree(owner):
    defaults = _defaults(owner.__init__)
    for name, default in ESN_PARAMETERS.items():
        assert name in defaults, f"{owner.__name__} lacks {name}"
        assert defaults[name] == default, f"{owner.__name__}.{name} defaults to {defaults[name]!r}, not {default!r}"


@pytest.mark.parametrize("owner", [HiddenLayer, rs.ELMRegressor, rs.ELMClassifier])
def test_elm_parameters_agree(owner):
    defaults = _defaults(owner.__init__)
    for name, default in ELM_PARAMETERS.items():
        assert defaults.get(name, "missing") == default, f"{owner.__name__}.{name}"


def test_estimators_pass_every_parameter_to_the_model(rng):
    """Each non-default value given to an estimator reaches the ESN it builds (and its config)."""
    values = {
        "density": 0.3,
        "spectral_radius": 0.7,
        "leak_rate": 0.5,
        "input_scaling": 0.4,
        "input_density": 0.5,
        "bias_scaling": 0.2,
        "activation": "identity",
        "seed": 3,
        "backend": "numpy",
        "connectivity": {"kind": "small_world", "neighbours": 4, "rewire": 0.2},
    }
    assert set(values) | {"fan_in"} == set(ESN_PARAMETERS)
    u = rng.uniform(-1, 1, (40, 1))
    model = rs.ESNRegressor(12, washout=0, **values).fit(u, u[:, 0])
    config = model.reservoir_.config()
    for name, value in values.items():
        assert config[name] == value, name
    direct = rs.ESN(12, **values, dtype="float32")
    assert (direct.W != model.reservoir_.W).nnz == 0
    classifier = rs.ESNClassifier(12, **values).fit(rng.standard_normal((10, 8)), [0, 1] * 5)
    assert classifier.reservoir_.config() == {**config, "dtype": "float64"}


def test_esn_config_lists_the_shared_parameters():
    config = rs.ESN(20, seed=0).config()
    assert set(ESN_PARAMETERS) <= set(config)
