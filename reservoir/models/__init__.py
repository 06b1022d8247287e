"""Models built from reservoirs: composition (stacks, parallel reservoirs, output
feedback), online readouts in the loop, NVAR, intrinsic plasticity and ES2N."""

from .nvar import NVAR

__all__: list[str] = ["NVAR"]
