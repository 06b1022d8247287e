"""Models built from reservoirs: composition (stacks, parallel reservoirs, output
feedback), online readouts in the loop, NVAR, intrinsic plasticity and ES2N."""

from .es2n import ES2N, random_orthogonal
from .plasticity import IPReservoir

__all__: list[str] = []
__all__ += ["IPReservoir", "ES2N", "random_orthogonal"]
