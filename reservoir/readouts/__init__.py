"""Trained readouts on reservoir states."""

from .ridge import GramAccumulator, Ridge

__all__ = ["Ridge", "GramAccumulator"]
