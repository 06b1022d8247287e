"""
Forecasting Mackey-Glass with an echo-state network
===================================================

The job ``make demo`` runs, in a few lines: an ESN of 1,000 leaky tanh units
learns the Mackey-Glass series (τ = 17), predicts the held-out steps one step
ahead, then runs on its own in closed loop, each output fed back as the next
input.
"""

# %%
# Train on the first part of the series
# -------------------------------------
# :class:`~reservoir.ESNRegressor` is the ESN plus a ridge readout in one
# scikit-learn estimator. Samples are time steps of one series: ``fit(u, y)``
# with ``y`` the next value of ``u``. The first ``washout`` steps, where the
# reservoir still remembers its zero start, are left out of the fit.

import matplotlib.pyplot as plt
import numpy as np

import reservoir as rs

series = rs.datasets.mackey_glass(3000)
train, test = slice(0, 2000), slice(2000, 2999)
model = rs.ESNRegressor(1000, spectral_radius=1.25, leak_rate=0.3, input_scaling=0.5, alpha=1e-4, washout=200, seed=0)
model.fit(series[:2000], series[1:2001])

# %%
# One step ahead, then closed loop
# --------------------------------
# ``predict`` continues from the state reached at the end of training.
# ``forecast(n)`` starts from the same state and feeds every output back: errors
# compound, so the closed-loop error is the harder figure.

one_step = model.predict(series[2000:2999])
closed_loop = model.forecast(500)
print(f"one-step NRMSE    (999 steps): {rs.metrics.nrmse(series[2001:3000], one_step):.4g}")
print(f"closed-loop NRMSE (500 steps): {rs.metrics.nrmse(series[2001:2501], closed_loop):.4g}")

fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
steps = np.arange(2001, 3000)
axes[0].plot(steps, series[2001:3000], lw=2, color="0.75", label="truth")
axes[0].plot(steps, one_step, lw=0.9, label="one step ahead")
axes[0].legend(loc="upper right", fontsize=8)
axes[1].plot(steps[:500], series[2001:2501], lw=2, color="0.75", label="truth")
axes[1].plot(steps[:500], closed_loop, lw=0.9, color="tab:orange", label="closed loop (generative)")
axes[1].legend(loc="upper right", fontsize=8)
axes[1].set_xlabel("time step")
fig.tight_layout()
plt.show()
