"""
A gated readout holds what the reservoir forgets
================================================

A linear readout maps the present state to the output, so it can only report
what the reservoir still remembers. The task here is *sample and hold*: sparse
events carry a value, and the target is the value of the latest event, on
average 25 steps back. A small reservoir at spectral radius 0.5 forgets an event
within a few steps, so ridge regression fails; a GRU readout trained on the same
states learns to hold the value itself.
"""

# %%
# The task and the reservoir
# --------------------------
# Two input channels: an event flag, and the event's value (zero between events).

import matplotlib.pyplot as plt
import numpy as np

import reservoir as rs

rng = np.random.default_rng(0)
steps = 3000
events = rng.random(steps) < 0.04
values = rng.uniform(-1.0, 1.0, steps)
u = np.stack([events.astype(float), np.where(events, values, 0.0)], axis=1)
held = np.empty(steps)
last = 0.0
for t in range(steps):
    last = values[t] if events[t] else last
    held[t] = last

states = rs.ESN(50, density=0.2, spectral_radius=0.5, seed=0, dtype="float64").run(u)
train, test = slice(100, 2000), slice(2000, None)

# %%
# Ridge against a GRU readout
# ---------------------------
# Ridge reads the state and the input at each step. The GRU (16 hidden units) is
# trained by truncated back-propagation through windows of 64 steps, with early
# stopping on the last part of the training span.

features = np.concatenate([states, u], axis=1)
ridge = rs.Ridge(alpha=1e-6).fit(features[train], held[train])
ridge_prediction = ridge.predict(features[test])

gru = rs.GRUReadout(16, epochs=30, window=64, batch_size=8, learning_rate=1e-2, patience=10, seed=0)
gru.fit(states[train], held[train])
# run over the whole series, so that the value held at the start of the test span is known
gru_prediction = np.ravel(gru.predict(states[100:]))[1900:]

print(
    f"test NRMSE: ridge {rs.metrics.nrmse(held[test], ridge_prediction):.3f}, "
    f"GRU {rs.metrics.nrmse(held[test], gru_prediction):.3f} ({gru.n_iter_} epochs, {gru.fit_seconds_:.1f} s)"
)

fig, ax = plt.subplots(figsize=(9, 4))
span = np.arange(2000, 2300)
ax.plot(span, held[2000:2300], lw=2.5, color="0.75", label="target: last event's value")
ax.plot(span, np.ravel(ridge_prediction)[:300], lw=0.9, label="ridge")
ax.plot(span, gru_prediction[:300], lw=0.9, label="GRUReadout")
ax.scatter(span[events[2000:2300]], values[2000:2300][events[2000:2300]], s=12, color="k", zorder=3, label="events")
ax.set_xlabel("time step")
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
plt.show()
