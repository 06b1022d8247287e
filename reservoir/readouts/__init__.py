"""Trained readouts on reservoir states."""

from .bayes import BayesianRidge
from .gated import GRUReadout, LSTMReadout
from .ridge import GramAccumulator, Ridge

__all__ = ["Ridge", "GramAccumulator", "GRUReadout", "LSTMReadout", "BayesianRidge"]
