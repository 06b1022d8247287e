"""Ridge readout fitted on reservoir states: streamed Gram statistics, then a solve."""

import numpy as np

import reservoir as rs

from .common import PROFILE, SEED

ALPHAS = [1e-8, 1e-6, 1e-4]


class Fit:
    """Ridge.fit on [state, input] features of a NARMA-10 run (features = units + 1).

    ``time_fit``: one alpha (Gram accumulation + Cholesky). ``time_fit_alphas``: three
    alphas chosen on a validation span in one pass (Gram accumulation of both spans +
    one Cholesky per alpha).
    """

    params = (list(PROFILE.ridge_units),)
    param_names = ("units",)
    timeout = PROFILE.timeout

    def setup(self, units):
        samples = PROFILE.ridge_samples
        u, y = rs.datasets.narma(samples + 100, order=10, seed=SEED)
        u = u.astype(np.float32)
        esn = rs.ESN(
            units,
            density=0.01,
            spectral_radius=0.9,
            leak_rate=1.0,
            input_scaling=0.2,
            seed=SEED,
            dtype="float32",
            backend="auto",
        )
        features = np.concatenate([esn.run(u), u], axis=1)[100:]
        self.X, self.Y = features, y[100:]
        split = int(0.8 * samples)
        self.X_train, self.Y_train = self.X[:split], self.Y[:split]
        self.validation = (self.X[split:], self.Y[split:])

    def time_fit(self, units):
        rs.Ridge(alpha=1e-6).fit(self.X, self.Y)

    def time_fit_alphas(self, units):
        rs.Ridge(alpha=ALPHAS).fit(self.X_train, self.Y_train, validation=self.validation)

    def peakmem_fit(self, units):
        rs.Ridge(alpha=1e-6).fit(self.X, self.Y)
