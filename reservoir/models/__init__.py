"""Models built from reservoirs: composition (stacks, parallel reservoirs, output
feedback), online readouts in the loop, NVAR, intrinsic plasticity, ES2N and ensembles."""

from .compose import Stack
from .ensemble import EnsembleForecast, ESNEnsemble
from .es2n import ES2N
from .feedback import FeedbackESN
from .force import FORCE, OnlineESN
from .nvar import NVAR
from .plasticity import IPReservoir

__all__: list[str] = [
    "Stack",
    "FeedbackESN",
    "NVAR",
    "IPReservoir",
    "ES2N",
    "OnlineESN",
    "FORCE",
    "ESNEnsemble",
    "EnsembleForecast",
]
