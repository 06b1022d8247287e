"""State store: an ESN run streamed into HDF5 (plain, lzf, float16) against the same run in memory,
the stored run read back, and a readout fitted from the stored run.

Throughput: bytes of states (steps x units x 4 for float32, x 2 for float16) / reported time.
"""

import os
import tempfile

import numpy as np

import reservoir as rs

from .common import PROFILE, SEED

STEPS = PROFILE.store_steps
READ_CHUNK = 500  # time steps per read: the chunked pass a streamed readout makes
STORAGE_OPTIONS = {"none": {}, "lzf": {"compression": "lzf"}, "float16": {"storage_dtype": "float16"}}


class StoredRun:
    """ESN.run with store= (checkpoint every 500 steps); ``time_in_memory`` is the same run kept in memory."""

    params = (list(PROFILE.store_units), list(STORAGE_OPTIONS))
    param_names = ("units", "storage")
    timeout = PROFILE.timeout

    def setup(self, units, storage):
        self.esn = rs.ESN(units, density=0.01, seed=SEED)
        self.u = np.random.default_rng(SEED).uniform(-1, 1, (STEPS, 1)).astype(np.float32)
        self.esn.run(self.u[:10])
        self.options = STORAGE_OPTIONS[storage]
        handle, self.path = tempfile.mkstemp(suffix=".h5")
        os.close(handle)

    def teardown(self, units, storage):
        os.unlink(self.path)

    def _stored(self):
        with rs.StateStore(self.path, "w") as store:
            self.esn.reset().run(self.u, store=store, name="run", checkpoint_every=500, **self.options)

    def time_stored(self, units, storage):
        self._stored()

    def time_in_memory(self, units, storage):
        self.esn.reset().run(self.u)

    def peakmem_stored(self, units, storage):
        self._stored()

    def track_file_megabytes(self, units, storage):
        self._stored()
        return os.path.getsize(self.path) / 1e6

    track_file_megabytes.unit = "MB"


class StoredRead:
    """Read a stored run back: all states in one call, and in chunks of READ_CHUNK steps.

    The file is written once per setup and closed; each timed read opens it again
    (the HDF5 chunk cache starts cold, the operating system's page cache does not).
    """

    params = (list(PROFILE.store_units), list(STORAGE_OPTIONS))
    param_names = ("units", "storage")
    timeout = PROFILE.timeout

    def setup(self, units, storage):
        handle, self.path = tempfile.mkstemp(suffix=".h5")
        os.close(handle)
        u = np.random.default_rng(SEED).uniform(-1, 1, (STEPS, 1)).astype(np.float32)
        with rs.StateStore(self.path, "w") as store:
            rs.ESN(units, density=0.01, seed=SEED).run(
                u, store=store, name="run", checkpoint_every=500, **STORAGE_OPTIONS[storage]
            )

    def teardown(self, units, storage):
        os.unlink(self.path)

    def time_read_all(self, units, storage):
        with rs.StateStore(self.path, "r") as store:
            store["run"].states[...]

    def time_read_chunks(self, units, storage):
        with rs.StateStore(self.path, "r") as store:
            states = store["run"].time_range()
            for start in range(0, len(states), READ_CHUNK):
                states[start : start + READ_CHUNK]


class RidgeFromStore:
    """Ridge.fit reading states chunk by chunk from a stored run (out of core)."""

    params = (list(PROFILE.ridge_store_units),)
    param_names = ("units",)
    timeout = PROFILE.timeout

    def setup(self, units):
        handle, self.path = tempfile.mkstemp(suffix=".h5")
        os.close(handle)
        u, y = rs.datasets.narma(STEPS, order=10, seed=SEED)
        with rs.StateStore(self.path, "w") as store:
            rs.ESN(units, density=0.01, seed=SEED, dtype="float64").run(u, store=store, name="train")
        self.store = rs.StateStore(self.path, "r")
        self.y = y

    def teardown(self, units):
        self.store.close()
        os.unlink(self.path)

    def time_fit_from_store(self, units):
        rs.Ridge(alpha=1e-6).fit(self.store["train"].time_range(100), self.y[100:])
