"""Models built from reservoirs: composition (stacks, parallel reservoirs, output
feedback), online readouts in the loop, NVAR, intrinsic plasticity and ES2N."""

from .force import FORCE, OnlineESN

__all__: list[str] = []
__all__ += ["OnlineESN", "FORCE"]
