"""Benchmark series and loaders, installed as ``reservoir.datasets``."""

from .chaotic import doublescroll, henon_map, logistic_map, lorenz96, multiscroll, rossler
from .loaders import load_series
from .pde import kuramoto_sivashinsky
from .splits import to_forecasting
from .synthetic import lorenz, mackey_glass, mso, narma

__all__ = [
    "mackey_glass",
    "narma",
    "lorenz",
    "load_series",
    "mso",
    "henon_map",
    "logistic_map",
    "rossler",
    "lorenz96",
    "doublescroll",
    "multiscroll",
    "kuramoto_sivashinsky",
    "to_forecasting",
]
