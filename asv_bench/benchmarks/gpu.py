"""GPU benchmarks: ESN.run and the ELM hidden layer on CuPy arrays, nothing crossing to the host.

``esn.Run`` already covers the GPU backends on NumPy arrays (transfers included);
these time the device-resident path. ``setup`` raises NotImplementedError (asv:
skipped) without a GPU, CuPy or the backend. Every timed call ends with a device
synchronisation, so the time is the GPU's work, not the launch.
"""

import numpy as np

import reservoir as rs

from .common import PROFILE, SEED, input_weights, inputs, recurrent_matrix, require_backend

# A fixed list, not rs.backends.gpu_names(): asv computes parameters once (at HEAD) and
# files every commit's results by position, and older commits lack gpu_names().
GPU_BACKENDS = ["cupy", "numba-cuda"]


def _cupy():
    try:
        import cupy
    except ImportError:
        raise NotImplementedError("CuPy is not installed") from None
    return cupy


class DeviceRun:
    """ESN.run on CuPy inputs: one sequence and a batch. Time per step = time / steps."""

    params = (GPU_BACKENDS, list(PROFILE.units) + [100_000], list(PROFILE.densities))
    param_names = ("backend", "units", "density")
    timeout = PROFILE.timeout

    def setup(self, backend, units, density):
        require_backend(backend)
        cp = self.cp = _cupy()
        W = recurrent_matrix(units, density)
        W_in, bias = input_weights(units)
        self.esn = rs.ESN.from_weights(W, W_in, bias, leak_rate=0.5, backend=backend, dtype="float32")
        self.u = cp.asarray(inputs(PROFILE.steps))
        self.u_batch = cp.asarray(inputs(PROFILE.batch_steps, batch=PROFILE.batch))
        for u in (self.u[:2], self.u_batch[:, :2]):  # compile both kernels outside the timed calls
            self.esn.reset()
            self.esn.run(u)
        cp.cuda.Device().synchronize()

    def time_run_single(self, backend, units, density):
        self.esn.reset()
        self.esn.run(self.u)
        self.cp.cuda.Device().synchronize()

    def time_run_batched(self, backend, units, density):
        self.esn.reset()
        self.esn.run(self.u_batch)
        self.cp.cuda.Device().synchronize()


class DeviceElm:
    """The ELM hidden layer on a CuPy batch (10,000 x 784 -> n_hidden at density 0.01)."""

    params = (GPU_BACKENDS, [1_000, 10_000])
    param_names = ("backend", "n_hidden")
    timeout = PROFILE.timeout

    def setup(self, backend, n_hidden):
        require_backend(backend)
        cp = self.cp = _cupy()
        self.layer = rs.elm.HiddenLayer(n_hidden, 784, density=0.01, seed=SEED, dtype="float32", backend=backend)
        self.X = cp.asarray(np.random.default_rng(SEED).standard_normal((10_000, 784)).astype(np.float32))
        self.layer.transform(self.X[:10])
        cp.cuda.Device().synchronize()

    def time_hidden(self, backend, n_hidden):
        self.layer.transform(self.X)
        self.cp.cuda.Device().synchronize()
