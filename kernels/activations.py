"""Activation functions by name: integer codes for compiled kernels, NumPy versions for the reference."""

import numpy as np

TANH, IDENTITY, SIGMOID, RELU = 0, 1, 2, 3
CODES = {"tanh": TANH, "identity": IDENTITY, "sigmoid": SIGMOID, "relu": RELU}


def _sigmoid(z):
    # 0.5 * (1 + tanh(z / 2)): the logistic function without overflow in exp.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


NUMPY = {
    "tanh": np.tanh,
    "identity": lambda z: z,
    "sigmoid": _sigmoid,
    "relu": lambda z: np.maximum(z, 0),
}


def code(name: str) -> int:
    """Integer code of an activation; ValueError naming the choices for an unknown one."""
    try:
        return CODES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(CODES)}") from None
