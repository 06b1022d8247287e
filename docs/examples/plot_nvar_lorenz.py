"""
Forecasting Lorenz-63 with NVAR (next-generation reservoir computing)
=====================================================================

The setup of Gauthier et al. (2021): the Lorenz-63 series sampled every
dt = 0.025, a warm-up of 5 time units, 400 training points, a window of k = 2
inputs with stride s = 1, monomials up to order 2 (28 features with the
constant) and a ridge penalty of 2.5e-6. The readout learns the increment
x[t+1] - x[t]; the forecast then runs in closed loop, each prediction fed back
as the next input.
"""

# %%
# Data and fit
# ------------
# The paper's series: RK23 at SciPy's default tolerances from its initial state.

import matplotlib.pyplot as plt
import numpy as np

from reservoir.datasets import lorenz
from reservoir.models import NVAR

dt, lyapunov_time = 0.025, 1 / 0.9056  # the largest Lyapunov exponent of Lorenz-63
x0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)
series = lorenz(1401, dt=dt, x0=x0, method="RK23")
warmup, train = 200, 400

model = NVAR(delay=2, order=2, strides=1, alpha=2.5e-6)
model.fit(series[: warmup + train + 1], warmup=warmup - 1)  # features from step 200 on
print(len(model.feature_names()), "features:", ", ".join(model.feature_names()[:8]), "...")

# %%
# Closed-loop forecast and its error
# ----------------------------------
# The error is normalised by the attractor's spread, e(t) = ||x̂(t) - x(t)|| /
# sqrt(Σ var(x_d)); the valid prediction time is the first time e(t) exceeds 0.4.

forecast = model.forecast(800)  # the 800 steps after the training data (20 time units)
truth = series[warmup + train + 1 :]
error = np.sqrt(((forecast - truth) ** 2).sum(axis=1) / series.var(axis=0).sum())
one_lyapunov = int(round(lyapunov_time / dt))
nrmse = np.sqrt(np.mean(error[:one_lyapunov] ** 2))
beyond = np.flatnonzero(error > 0.4)
valid = (beyond[0] if beyond.size else len(error)) * dt / lyapunov_time
print(f"NRMSE over one Lyapunov time: {nrmse:.2e}; valid prediction time: {valid:.2f} Lyapunov times")

# %%
# Plot
# ----

t = np.arange(1, len(forecast) + 1) * dt / lyapunov_time
fig, axes = plt.subplots(4, 1, figsize=(8, 8), sharex=True)
for d, name in enumerate("xyz"):
    axes[d].plot(t, truth[:, d], color="k", lw=1, label="Lorenz-63")
    axes[d].plot(t, forecast[:, d], color="C3", lw=1, ls="--", label="NVAR, closed loop")
    axes[d].set_ylabel(name)
axes[0].legend(loc="upper right", fontsize=8)
axes[3].semilogy(t, error, color="C0")
axes[3].axhline(0.4, color="grey", ls=":", lw=1)
axes[3].axvline(valid, color="grey", ls=":", lw=1)
axes[3].set_ylabel("normalised error")
axes[3].set_xlabel("time (Lyapunov times)")
fig.suptitle(f"NVAR k=2, order 2: valid for {valid:.1f} Lyapunov times")
fig.tight_layout()
plt.show()
