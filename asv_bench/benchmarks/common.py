"""Shared pieces of the asv suite: the size profile, the base class, input builders.

Profile
-------
``RESERVOIR_BENCH_PROFILE=quick`` (default) keeps a whole ``asv run`` to minutes on a
shared 2-core machine; ``RESERVOIR_BENCH_PROFILE=full`` adds the large sizes
(construction up to n = 100,000). ``RESERVOIR_BENCH_PROFILE=smoke`` shrinks every
size so that each benchmark runs once in seconds: it is what CI runs
(``asv_bench/smoke.py``, ``tests/test_benchmarks.py``) to catch a broken benchmark,
and its timings mean nothing. Every size of the suite is set here and nowhere
else. Results of different profiles are different benchmarks (different parameters),
so they never get compared with each other.

Conventions
-----------
* Parameters never depend on the installed version of the project (see ``ALL_BACKENDS``).
* ``setup`` raises ``NotImplementedError`` for a backend that is not available on this
  machine (asv reports the benchmark as skipped) and runs every kernel once, so that
  Numba compilation is never inside a timed call.
* ``time_run_*`` time a fixed number of steps (``PROFILE.steps`` / ``PROFILE.batch_steps``):
  divide by it for the time per step. Keep those numbers fixed, or the history breaks.
* ``ESN.run`` returns host arrays, so a GPU backend is synchronised inside the timed
  call by construction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import reservoir as rs


@dataclass(frozen=True)
class Profile:
    name: str
    backends: tuple  # None: ALL_BACKENDS (unavailable ones are skipped)
    units: tuple  # ESN run benchmarks
    densities: tuple
    construct_units: tuple  # random_sparse construction
    steps: int  # time steps of one timed single-sequence run
    batch: int
    batch_steps: int  # time steps of one timed batched run
    reference_max_units: int  # the NumPy reference is skipped above this size (minutes per call)
    ridge_units: tuple  # Ridge.fit on states of reservoirs of these sizes (features = units + 1)
    ridge_samples: int
    narma_units: int  # track_narma10_nrmse
    narma_steps: int
    narma_washout: int
    narma_train: int
    timeout: float  # seconds per benchmark (asv's default is 60)
    cuba_steps: int  # CUBA (4000 LIF neurons) steps per timed run; 10,000 steps = 1 biological second
    large_lsm_neurons: int  # the large spiking network (fixed fan-in LSM_FAN_IN)
    large_lsm_steps: int
    store_units: tuple  # ESN runs streamed into a StateStore (write and read back)
    store_steps: int
    ridge_store_units: tuple  # Ridge.fit out of core from a stored run
    gated_units: tuple  # GRU/LSTM training on states of this many units
    gated_epoch_steps: int  # time steps of the series one timed epoch trains on
    gated_narma_epochs: int  # track_narma10_nrmse of the gated readouts
    elm_hidden: tuple  # ELM fit/predict: hidden units
    elm_samples: int  # ... on a generated problem of this many samples (and as many again to predict)
    elm_features: int
    elm_digits_hidden: int  # track_digits_accuracy: ELMClassifier on scikit-learn's digits


QUICK = Profile(
    name="quick",
    backends=None,
    units=(1_000, 10_000),
    densities=(0.01,),
    construct_units=(1_000, 10_000),
    steps=200,
    batch=32,
    batch_steps=20,
    reference_max_units=10_000,
    ridge_units=(200, 1_000),
    ridge_samples=2_000,
    narma_units=300,
    narma_steps=2_000,
    narma_washout=100,
    narma_train=1_200,
    timeout=120,
    cuba_steps=2_000,
    large_lsm_neurons=100_000,
    large_lsm_steps=100,
    store_units=(1_000, 10_000),
    store_steps=2_000,
    ridge_store_units=(200, 1_000),
    gated_units=(200, 2_000),
    gated_epoch_steps=4_096,
    gated_narma_epochs=60,
    elm_hidden=(1_000, 2_000),
    elm_samples=5_000,
    elm_features=100,
    elm_digits_hidden=2_000,
)
FULL = Profile(
    name="full",
    backends=None,
    units=(1_000, 10_000, 50_000),
    densities=(0.01, 0.02),
    construct_units=(1_000, 10_000, 100_000),
    steps=1_000,
    batch=32,
    batch_steps=50,
    reference_max_units=10_000,
    ridge_units=(500, 2_000, 5_000),
    ridge_samples=10_000,
    narma_units=1_000,
    narma_steps=6_000,
    narma_washout=200,
    narma_train=4_000,
    timeout=900,
    cuba_steps=10_000,
    large_lsm_neurons=100_000,
    large_lsm_steps=1_000,
    store_units=(1_000, 10_000, 50_000),
    store_steps=2_000,
    ridge_store_units=(200, 1_000),
    gated_units=(200, 2_000, 10_000),
    gated_epoch_steps=4_096,
    gated_narma_epochs=60,
    elm_hidden=(1_000, 5_000, 10_000),
    elm_samples=20_000,
    elm_features=100,
    elm_digits_hidden=2_000,
)
# Every benchmark once, in seconds: checks that the suite runs, measures nothing.
SMOKE = Profile(
    name="smoke",
    backends=None,
    units=(200,),
    densities=(0.05,),
    construct_units=(300,),
    steps=20,
    batch=4,
    batch_steps=5,
    reference_max_units=1_000,
    ridge_units=(50,),
    ridge_samples=300,
    narma_units=50,
    narma_steps=400,
    narma_washout=50,
    narma_train=250,
    timeout=60,
    cuba_steps=1_000,
    large_lsm_neurons=2_000,
    large_lsm_steps=5,
    store_units=(200,),
    store_steps=300,
    ridge_store_units=(50,),
    gated_units=(20,),
    gated_epoch_steps=256,
    gated_narma_epochs=1,
    elm_hidden=(100,),
    elm_samples=300,
    elm_features=20,
    elm_digits_hidden=200,
)
PROFILES = {"quick": QUICK, "full": FULL, "smoke": SMOKE}


def _profile() -> Profile:
    name = os.environ.get("RESERVOIR_BENCH_PROFILE", "quick").strip().lower() or "quick"
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"RESERVOIR_BENCH_PROFILE={name!r}: choose one of {sorted(PROFILES)}") from None


PROFILE = _profile()
# A fixed list, not rs.backends.names(): asv discovers the parameters once (at one
# commit) and maps every commit's results onto them by position, so a list that
# depends on the commit being measured (no GPU backends before they existed) would
# file one backend's timing under another's name. A backend a commit lacks is skipped
# by require_backend; tests/test_benchmarks.py fails when a registered backend is missing here.
ALL_BACKENDS = ("cupy", "numba", "numba-cuda", "numpy")
BACKENDS = tuple(PROFILE.backends or ALL_BACKENDS)
SEED = 1234
LEAK_RATE = 0.5


def require_backend(backend: str) -> None:
    """Skip (NotImplementedError) when `backend` cannot run here."""
    if backend not in rs.backends.available():
        raise NotImplementedError(f"backend {backend!r} is not available on this machine")


def recurrent_matrix(units: int, density: float, spectral_radius: float = 0.9, dtype="float32"):
    """A random sparse W scaled to about `spectral_radius` without an eigensolver.

    Run benchmarks do not need the exact radius, and at n = 50,000 the eigensolver
    would dominate setup. Standard normal entries at density p have spectral radius
    close to sqrt(n p) (circular law).
    """
    W = rs.random_sparse(units, density=density, seed=SEED, dtype=dtype)
    W.data *= W.dtype.type(spectral_radius / np.sqrt(units * density))
    return W


def input_weights(units: int, n_in: int = 1, scaling: float = 0.5, dtype="float32"):
    rng = np.random.default_rng(SEED + 1)
    W_in = (rng.uniform(-1.0, 1.0, (units, n_in)) * scaling).astype(dtype)
    bias = (rng.uniform(-1.0, 1.0, units) * 0.1).astype(dtype)
    return W_in, bias


def inputs(steps: int, batch: int | None = None, n_in: int = 1, dtype="float32"):
    shape = (steps, n_in) if batch is None else (batch, steps, n_in)
    return np.random.default_rng(SEED + 2).uniform(-1.0, 1.0, shape).astype(dtype)


class ReservoirBenchmark:
    """Base: one ESN per (backend, units, density), kernels compiled in setup.

    Subclasses time ``self.esn`` on ``self.u`` (one sequence) and ``self.u_batch``
    (``PROFILE.batch`` sequences).
    """

    params = (list(BACKENDS), list(PROFILE.units), list(PROFILE.densities))
    param_names = ("backend", "units", "density")
    timeout = PROFILE.timeout

    def setup(self, backend, units, density):
        require_backend(backend)
        if backend == "numpy" and units > PROFILE.reference_max_units:
            raise NotImplementedError(
                f"the NumPy reference is not benchmarked above {PROFILE.reference_max_units} "
                "units (one call takes minutes)"
            )
        W = recurrent_matrix(units, density)
        W_in, bias = input_weights(units)
        self.esn = rs.ESN.from_weights(W, W_in, bias, leak_rate=LEAK_RATE, backend=backend, dtype="float32")
        self.u = inputs(PROFILE.steps)
        self.u_batch = inputs(PROFILE.batch_steps, batch=PROFILE.batch)
        warm_up(self.esn, self.u, self.u_batch)


def warm_up(esn, u, u_batch) -> None:
    """Run every kernel the timed calls use once, on a couple of steps, then reset.

    The batch size decides the kernel variant (serial or parallel), so the warm-up
    uses the same batch sizes as the timed runs.
    """
    esn.reset()
    esn.run(u[:2])
    esn.reset()
    esn.run(u_batch[:, :2])
    esn.reset()


def warm_up_construction() -> None:
    """Compile the random-matrix filler and the power-method spectral radius (large matrices)."""
    rs.random_sparse(64, density=0.1, spectral_radius=0.9, seed=0)
    try:
        rs.spectral_radius(rs.random_sparse(600, density=0.05, seed=0), method="power")
    except TypeError:  # a version without the power method
        pass


def narma_split():
    """NARMA-10 inputs and targets, and the washout/train/test boundaries of the profile."""
    u, y = rs.datasets.narma(PROFILE.narma_steps, order=10, seed=SEED)
    start = PROFILE.narma_washout
    split = start + PROFILE.narma_train
    return u, y, start, split
