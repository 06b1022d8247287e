"""Benchmark series and loaders, installed as ``reservoir.datasets``."""

from .loaders import load_series
from .synthetic import lorenz, mackey_glass, narma

__all__ = ["mackey_glass", "narma", "lorenz", "load_series"]
