"""Models built from reservoirs: composition (stacks, parallel reservoirs, output
feedback), online readouts in the loop, NVAR, intrinsic plasticity and ES2N."""

from .compose import Stack
from .feedback import FeedbackESN
from .force import FORCE, OnlineESN
from .nvar import NVAR

__all__: list[str] = ["Stack", "FeedbackESN", "NVAR"]
__all__ += ["OnlineESN", "FORCE"]
