"""
Forecast intervals: a Bayesian readout and an ensemble of reservoirs
====================================================================

Two ways to put an interval around a forecast of a noisy Mackey-Glass series:

* one step ahead, a :class:`~reservoir.readouts.BayesianRidge` readout gives the
  predictive distribution of the next value (its noise level and penalty fitted by
  evidence maximisation);
* in closed loop, an :class:`~reservoir.models.ESNEnsemble` of reservoirs with other
  seeds gives a fan that widens with the horizon as the members' fed-back errors grow.
"""

# %%
# A noisy series, standardised
# ----------------------------

import matplotlib.pyplot as plt
import numpy as np

import reservoir as rs
from reservoir.models import ESNEnsemble

series = rs.datasets.mackey_glass(1400, seed=0)[:, 0]
series = (series - series.mean()) / series.std()
series += 0.05 * np.random.default_rng(0).normal(size=series.size)
split = 1100
params = dict(leak_rate=0.3, spectral_radius=1.1, washout=100, dtype="float64", seed=1)

# %%
# One step ahead with a Bayesian readout
# --------------------------------------
# ``readout="bayesian"`` replaces the ridge penalty by evidence maximisation;
# ``predict(..., return_std=True)`` adds the predictive standard deviation.

model = rs.ESNRegressor(100, readout="bayesian", **params).fit(series[: split - 1], series[1:split])
mean, std = model.predict(series[split - 1 : -1], return_std=True)
truth = series[split:]
inside_50 = np.mean(np.abs(truth - mean) <= 0.674 * std)
inside_90 = np.mean(np.abs(truth - mean) <= 1.645 * std)
print(f"one step: 50 % interval holds {inside_50:.0%}, 90 % holds {inside_90:.0%} of {truth.size} steps")

# %%
# Closed loop with an ensemble
# ----------------------------
# Ten members, run together as one block-diagonal network in a single kernel call.

ensemble = ESNEnsemble(10, 100, alpha=1e-4, **params).fit(series[: split - 1], series[1:split])
horizon = 200
fan = ensemble.forecast(horizon, levels=(0.05, 0.25, 0.75, 0.95))
print(f"ensemble std at steps 10, 100, 200: {fan.std[9]:.3f}, {fan.std[99]:.3f}, {fan.std[-1]:.3f}")

# %%
# Fan charts
# ----------

steps = np.arange(split, split + horizon)
fig, (left, right) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
left.fill_between(
    steps, (mean - 1.645 * std)[:horizon], (mean + 1.645 * std)[:horizon], color="C0", alpha=0.2, label="90 %"
)
left.fill_between(
    steps, (mean - 0.674 * std)[:horizon], (mean + 0.674 * std)[:horizon], color="C0", alpha=0.45, label="50 %"
)
left.plot(steps, truth[:horizon], "k.", ms=2, label="held-out data")
left.plot(steps, mean[:horizon], lw=1, label="predictive mean")
left.set_title("Bayesian readout, one step ahead")
left.legend(loc="upper right", fontsize=8)
right.fill_between(steps, fan.quantiles[0], fan.quantiles[3], color="C0", alpha=0.2, label="90 %")
right.fill_between(steps, fan.quantiles[1], fan.quantiles[2], color="C0", alpha=0.45, label="50 %")
right.plot(steps, truth[:horizon], "k.", ms=2, label="held-out data")
right.plot(steps, fan.mean, lw=1, label="ensemble mean")
right.set_title("Ensemble of 10 reservoirs, closed loop")
right.set_xlabel("time step")
right.legend(loc="upper right", fontsize=8)
fig.tight_layout()
plt.show()
