"""A model's ``connectivity=`` setting: which generator draws its recurrent matrix.

A setting is ``None`` (random sparse: the model's ``density`` / ``fan_in``), a kind's
name, or a dict ``{"kind": name, **options}``: plain values, so a model's configuration
stays JSON (the model file, ``get_params``). Kinds and their options:

=================  ==========================================================================
kind               options (defaults)
=================  ==========================================================================
``"random"``       none: the model's ``density`` / ``fan_in`` (what ``None`` means)
``"local"``        ``radius`` (1.5), ``geometry`` ("grid"), ``shape``, ``periodic``: every unit
                   within the radius (:func:`~reservoir.connectivity.local.local_sparse`)
``"distance"``     ``lam`` (2), ``C`` (0.3; the LSM: Maass et al.'s per E/I pair), ``geometry``
                   ("column"), ``shape``, ``periodic``, ``min_probability``: Maass et al. (2002)
``"ring"``         a cycle through every unit
``"small_world"``  ``neighbours`` (2), ``rewire`` (0.1): Watts–Strogatz
``"orthogonal"``   a Haar-random orthogonal matrix (dense)
``"full"``         ``symmetric`` (False), ``self_connections`` (None: not when symmetric): every
                   unit feeds every unit (:func:`~reservoir.connectivity.topologies.full`)
``"fast_spectral"`` uniform weights scaled for the spectral radius without an eigensolver
=================  ==========================================================================

ESN matrices get weights uniform in [-1, 1) ("local", "distance") or standard normal
("small_world", as ReservoirPy's) and are rescaled to the spectral radius; an LSM takes
the pattern and gives it Dale weights.
"""

from __future__ import annotations

from . import local, topologies
from .random import random_sparse
from .spectral import rescale_to_spectral_radius

__all__ = ["KINDS", "normalised", "recurrent_matrix"]

#: The kinds of ``connectivity=``, each with the options it takes (and their defaults).
KINDS = {
    "random": {},
    "local": {"radius": 1.5, "geometry": "grid", "shape": None, "periodic": None},
    "distance": {
        "lam": local.MAASS_LAMBDA,
        "C": 0.3,
        "geometry": "column",
        "shape": None,
        "periodic": None,
        "min_probability": 1e-4,
    },
    "ring": {},
    "small_world": {"neighbours": 2, "rewire": 0.1},
    "orthogonal": {},
    "full": {"symmetric": False, "self_connections": None},
    "fast_spectral": {},
}


def normalised(setting) -> dict | None:
    """`setting` as ``{"kind": ..., **options}`` (None stays None), checked: a clear error names
    an unknown kind or option before any matrix is drawn."""
    if setting is None:
        return None
    if isinstance(setting, str):
        setting = {"kind": setting}
    if not isinstance(setting, dict) or "kind" not in setting:
        raise TypeError(f"connectivity must be None, a kind's name or a dict with a 'kind', got {setting!r}")
    kind = setting["kind"]
    if kind not in KINDS:
        raise ValueError(f"connectivity kind must be one of {sorted(KINDS)}, got {kind!r}")
    unknown = set(setting) - {"kind"} - set(KINDS[kind])
    if unknown:
        raise ValueError(
            f"connectivity {kind!r} takes the options {sorted(KINDS[kind]) or 'none'}, not {sorted(unknown)}"
        )
    return {"kind": kind, **{key: setting[key] for key in KINDS[kind] if key in setting}}


def _lattice(units: int, options: dict) -> local.Lattice:
    return local.lattice(units, options["geometry"], shape=options["shape"], periodic=options["periodic"])


def recurrent_matrix(
    setting, units: int, *, density, fan_in, spectral_radius, seed, dtype, pattern=False, n_exc=None, default_C=None
):
    """(W, positions): the (units, units) recurrent matrix `setting` describes (see the module
    docstring), and the (units, d) lattice coordinates of the units for the kinds that place
    them in space ("local", "distance"; None otherwise).

    `pattern`: a 0/1 pattern (no rescaling) for spiking models, which weigh it by
    population (Dale's law); `n_exc` and `default_C` are theirs (per E/I pair C)."""
    setting = normalised(setting)
    kind = "random" if setting is None else setting["kind"]
    options = {**KINDS[kind], **(setting or {})}
    options.pop("kind", None)
    radius = None if pattern else spectral_radius
    values = "bernoulli" if pattern else "uniform"
    if kind == "random":
        return random_sparse(
            units,
            density=density,
            fan_in=fan_in,
            distribution="bernoulli" if pattern else "normal",
            spectral_radius=radius,
            seed=seed,
            dtype=dtype,
        ), None
    if kind == "local":
        lat = _lattice(units, options)
        W = local.local_sparse(
            lat, options["radius"], distribution=values, spectral_radius=radius, seed=seed, dtype=dtype
        )
        return W, lat.coordinates()
    if kind == "distance":
        lat = _lattice(units, options)
        C = options["C"] if "C" in (setting or {}) or default_C is None else default_C
        W, sites = local.distance_sparse(
            lat,
            options["lam"],
            C,
            n_exc=n_exc if isinstance(C, dict) else None,
            min_probability=options["min_probability"],
            distribution=values,
            spectral_radius=radius,
            seed=seed,
            dtype=dtype,
            return_sites=True,
        )
        return W, lat.coordinates()[sites]
    if kind == "small_world":
        W = topologies.small_world(
            units,
            neighbours=options["neighbours"],
            rewire=options["rewire"],
            distribution="bernoulli" if pattern else "normal",
            seed=seed,
            dtype=dtype,
        )
        if pattern:
            W.data[:] = 1
        return (W if radius is None else rescale_to_spectral_radius(W, radius)), None
    if kind == "full":
        W = topologies.full(
            units, symmetric=options["symmetric"], self_connections=options["self_connections"], seed=seed, dtype=dtype
        )
        if pattern:
            W.data[:] = 1
            return W, None
        return rescale_to_spectral_radius(W, radius), None
    if kind == "ring":
        W = topologies.ring(units, dtype=dtype)
    elif kind == "orthogonal":
        W = topologies.orthogonal(units, seed=seed, dtype=dtype)
    else:  # fast_spectral: its scale is the point, so it is never rescaled by an eigensolver
        if pattern:
            raise ValueError("connectivity 'fast_spectral' sets weights for a spectral radius: not for a spiking model")
        return topologies.fast_spectral(units, spectral_radius, density=density, seed=seed, dtype=dtype), None
    if pattern:
        W.data[:] = 1
        return W, None
    W.data *= W.dtype.type(spectral_radius)  # both have spectral radius 1 exactly
    return W, None
