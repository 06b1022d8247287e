"""ESN benchmarks: construction, running (one sequence and a batch), NARMA-10 accuracy."""

import numpy as np

import reservoir as rs

from .common import (
    BACKENDS,
    PROFILE,
    SEED,
    ReservoirBenchmark,
    narma_split,
    require_backend,
    warm_up_construction,
)


class Construction:
    """random_sparse with rescaling to a spectral radius: the one-off cost of a reservoir.

    Above ``settings.arpack_max_nnz`` nonzeros the spectral radius comes from the
    power method; both paths are covered by the sizes of the full profile.
    """

    params = (list(PROFILE.construct_units), list(PROFILE.densities))
    param_names = ("units", "density")
    timeout = PROFILE.timeout
    # One sample per process is plenty for calls of seconds; keeps the full profile bounded.
    repeat = (1, 5, 30.0)

    def setup(self, units, density):
        warm_up_construction()

    def time_random_sparse(self, units, density):
        rs.random_sparse(units, density=density, spectral_radius=0.9, seed=SEED)

    def peakmem_random_sparse(self, units, density):
        rs.random_sparse(units, density=density, spectral_radius=0.9, seed=SEED)


class Run(ReservoirBenchmark):
    """ESN.run over a fixed number of steps (PROFILE.steps / PROFILE.batch_steps).

    Time per step = reported time / steps; per sequence-step in the batched case,
    divide by PROFILE.batch as well.
    """

    def time_run_single(self, backend, units, density):
        self.esn.reset()
        self.esn.run(self.u)

    def time_run_batched(self, backend, units, density):
        self.esn.reset()
        self.esn.run(self.u_batch)


Run.time_run_single.pretty_name = f"esn.Run.time_run_single ({PROFILE.steps} steps)"
Run.time_run_batched.pretty_name = f"esn.Run.time_run_batched (B={PROFILE.batch}, {PROFILE.batch_steps} steps)"


class Narma10:
    """Test NRMSE of NARMA-10 at one fixed configuration: an accuracy regression shows here.

    Same data, seed and configuration on every commit; the value should agree across
    backends to float32 rounding.
    """

    params = (list(BACKENDS),)
    param_names = ("backend",)
    timeout = PROFILE.timeout
    unit = "NRMSE"

    def setup(self, backend):
        require_backend(backend)

    def track_narma10_nrmse(self, backend):
        u, y, start, split = narma_split()
        esn = rs.ESN(
            PROFILE.narma_units,
            density=0.01,
            spectral_radius=0.95,
            leak_rate=1.0,
            input_scaling=0.2,
            input_density=1.0,
            bias_scaling=0.0,
            seed=SEED,
            dtype="float32",
            backend=backend,
        )
        u32 = u.astype(np.float32)
        features = np.concatenate([esn.run(u32), u32], axis=1)
        readout = rs.Ridge(alpha=1e-6).fit(features[start:split], y[start:split])
        return rs.metrics.nrmse(y[split:], readout.predict(features[split:]))
