"""
Many series, exogenous inputs and a backtest
============================================

Twelve daily "demand" series with a weekly cycle, a slow drift of their own and
a holiday effect that is known in advance. One :class:`~reservoir.forecasting.ESNForecaster`
fits all of them from one batched reservoir run with a global readout, forecasts
them in one batched closed loop, and is evaluated from rolling origins by
:func:`~reservoir.forecasting.backtest`.
"""

# %%
# The series: a pandas MultiIndex (store, date)
# ---------------------------------------------

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reservoir.forecasting import ESNForecaster, backtest

rng = np.random.default_rng(0)
dates = pd.date_range("2025-01-01", periods=200, freq="D")
t = np.arange(200)
holiday = (rng.random(200) < 0.08).astype(float)
frames, exogenous = {}, {}
for store in range(12):
    level = 10 + store + 0.5 * np.sin(2 * np.pi * t / 90 + store)
    weekly = np.sin(2 * np.pi * t / 7 + 0.3 * store)
    demand = level + weekly - 2.0 * holiday + 0.1 * rng.normal(size=200)
    frames[f"store {store}"] = pd.DataFrame({"demand": demand}, index=dates)
    exogenous[f"store {store}"] = pd.DataFrame({"holiday": holiday}, index=dates)
y = pd.concat(frames, names=["store", "date"])
X = pd.concat(exogenous, names=["store", "date"])

# %%
# Fit on the first 186 days, forecast two weeks
# ---------------------------------------------
# The holidays of the forecast days are known: they are passed for the horizon.

train = y.groupby(level=0).head(186)
X_train, X_future = X.groupby(level=0).head(186), X.groupby(level=0).tail(14)
model = ESNForecaster(units=100, seed=0).fit(train, X_train)
forecast = model.predict(14, X_future)
print(forecast.xs("store 3").head())

fig, ax = plt.subplots(figsize=(9, 3.5))
for store, color in (("store 0", "tab:blue"), ("store 7", "tab:orange")):
    ax.plot(y.xs(store).index[-60:], y.xs(store)["demand"].iloc[-60:], color=color, lw=1, label=f"{store}")
    ax.plot(forecast.xs(store).index, forecast.xs(store)["demand"], color=color, lw=2, ls="--")
ax.set_ylabel("demand")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Rolling-origin backtest
# -----------------------
# Seven-day forecasts from origins a week apart, refitted at each origin; MASE
# is scaled by the weekly seasonal naive forecast (m = 7).

result = backtest(ESNForecaster(units=100, seed=0), y, X, horizon=7, initial=140, step=7, seasonal_period=7)
print(result.summary.round(3))
print(result.by_step("mae").round(3))
