"""Models built from reservoirs: composition (stacks, parallel reservoirs, output
feedback), online readouts in the loop, NVAR, intrinsic plasticity and ES2N."""

from .ensemble import EnsembleForecast, ESNEnsemble

__all__: list[str] = ["ESNEnsemble", "EnsembleForecast"]
