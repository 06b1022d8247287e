"""LSM benchmarks: the CUBA network (time per biological second, firing statistics)
and a 100,000-neuron spiking network."""

import numpy as np
import scipy.sparse as sp

import reservoir as rs
from reservoir.kernels.lif import LifState
from reservoir.lsm import cuba

from .common import BACKENDS, PROFILE, SEED, require_backend

LSM_FAN_IN = 100  # the large network: 10 million synapses (p = 0.02 would be 200 million)


class Cuba:
    """Brette et al. 2007 CUBA, PROFILE.cuba_steps steps of 0.1 ms: spikes only (``time_cuba``),
    the default call (spikes and traces sampled every 2 ms), and every step's traces.

    Wall time per biological second = reported time * 10,000 / PROFILE.cuba_steps.
    Each result is kept until the next call replaces it, as in a user's loop.
    The NumPy reference runs only in the quick profile's short window (seconds per
    100 ms of biological time).
    """

    params = (list(BACKENDS),)
    param_names = ("backend",)
    timeout = PROFILE.timeout

    def setup(self, backend):
        require_backend(backend)
        self.net = cuba(seed=SEED, backend=backend)
        self.net.run(n_steps=5, record_states=False)  # compile (or load the cache)
        self.net.reset()

    def time_cuba(self, backend):
        self.net.reset()
        self.net.run(n_steps=PROFILE.cuba_steps, record_states=False)

    def time_cuba_with_states(self, backend):
        self.net.reset()
        self.kept = self.net.run(n_steps=PROFILE.cuba_steps)

    def time_cuba_every_step(self, backend):
        self.net.reset()
        self.kept = self.net.run(n_steps=PROFILE.cuba_steps, sample_every=1)

    def track_cuba_rate_hz(self, backend):
        self.net.reset()
        return self.net.run(n_steps=PROFILE.cuba_steps, record_states=False).firing_rate()

    def track_cuba_isi_cv(self, backend):
        self.net.reset()
        return self.net.run(n_steps=PROFILE.cuba_steps, record_states=False).isi_cv()

    track_cuba_rate_hz.unit = "Hz"
    track_cuba_isi_cv.unit = "CV"


class CubaTrials:
    """Independent CUBA trials in one kernel call (trial b from the initial potentials of
    seed SEED + b), PROFILE.cuba_steps steps, spikes only: the trials run in parallel over
    the cores, each trial's time loop serial. Compare ``time_trials`` / trials with
    ``Cuba.time_cuba``: per trial, two trials on two idle cores take half the time of one.
    """

    params = ([b for b in BACKENDS if b != "numpy"], [1, 2, 4])
    param_names = ("backend", "trials")
    timeout = PROFILE.timeout

    def setup(self, backend, trials):
        require_backend(backend)
        net = cuba(seed=SEED, backend=backend)
        self.kernels, _ = net._kernels()
        self.prepared = self.kernels.prepare_lsm(
            net.W_push, net.delays, net.n_exc, sp.csr_array((net.n_neurons, 0), dtype=net.dtype)
        )
        self.params_tuple = net.params().as_tuple(net.dtype)
        self.v0 = np.stack([cuba(seed=SEED + b, backend="numpy")._v0 for b in range(trials)])
        self.net = net
        self.inputs = np.zeros((trials, PROFILE.cuba_steps, 0), dtype=net.dtype)
        self._call(self.inputs[:, :5])  # compile (or load the cache)

    def _call(self, inputs):
        state = LifState.initial(self.net._v0, self.v0.shape[0], self.net.ring_slots)
        state.v[...] = self.v0
        return self.kernels.lsm_run(self.prepared, self.params_tuple, inputs, False, state, None, 0, True)

    def time_trials(self, backend, trials):
        self._call(self.inputs)


class LargeNetwork:
    """A 100,000-neuron LIF network (80/20 E/I, fan-in 100, delays 1-20 steps) driven by Poisson input."""

    params = ([b for b in BACKENDS if b != "numpy"],)
    param_names = ("backend",)
    timeout = PROFILE.timeout
    repeat = (1, 5, 60.0)

    def setup(self, backend):
        require_backend(backend)
        n = PROFILE.large_lsm_neurons
        self.net = rs.LSM(
            int(0.8 * n),
            n - int(0.8 * n),
            fan_in=LSM_FAN_IN,
            v_rest=-52e-3,
            w_exc=0.5e-3,
            w_inh=-2e-3,
            delay=(1e-4, 2e-3),
            input_encoding="poisson",
            input_density=0.01,
            seed=SEED,
            backend=backend,
        )
        self.u = rs.datasets.mackey_glass(PROFILE.large_lsm_steps, seed=SEED)
        self.u = (self.u - self.u.min()) / (self.u.max() - self.u.min())
        self.net.run(self.u[:2], record_states=False)
        self.net.reset()

    def time_run(self, backend):
        self.net.reset()
        self.net.run(self.u, record_states=False)

    def peakmem_run_with_states(self, backend):
        self.net.reset()
        self.net.run(self.u)
