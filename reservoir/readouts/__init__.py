"""Trained readouts on reservoir states."""

from .gated import GRUReadout, LSTMReadout
from .online import LMS, RLS
from .ridge import GramAccumulator, Ridge

__all__ = ["Ridge", "GramAccumulator", "GRUReadout", "LSTMReadout"]
__all__ += ["RLS", "LMS"]
