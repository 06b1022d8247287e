"""Trained readouts on reservoir states."""

from .bayes import BayesianRidge
from .gated import GRUReadout, LSTMReadout
from .online import LMS, RLS
from .ridge import GramAccumulator, Ridge
from .sklearn_readout import SklearnReadout

__all__ = ["Ridge", "GramAccumulator", "GRUReadout", "LSTMReadout", "BayesianRidge", "RLS", "LMS", "SklearnReadout"]
