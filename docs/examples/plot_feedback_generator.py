"""
A pattern generator with output feedback
========================================

A :class:`~reservoir.models.FeedbackESN` learns to produce a sine wave whose
frequency an input sets (0.1 or 0.2 rad per step, switched every 500 steps). In
training the target of the step before is fed back to the reservoir (teacher
forcing); in generation the model feeds back its own output (closed loop), so its
errors come back as input. Gaussian noise on the fed-back targets in training
(``teacher_noise``) teaches the readout to correct small errors of its own, which
keeps the loop closer to the pattern (on 2026-12-04 here: closed-loop RMSE 0.19
without noise, 0.047 with ``teacher_noise=0.03``; the run prints its own).

The figure compares the two on the last 500 steps, generated in closed loop after
2,500 teacher-forced steps (100 units). It runs in a few seconds.
"""

# %%
# Data: the input is the frequency, the target the sine wave of that frequency
import matplotlib.pyplot as plt
import numpy as np

import reservoir as rs
from reservoir.models import FeedbackESN

steps, train = 3000, 2500
t = np.arange(steps + 1)
frequency = np.where((t // 500) % 2 == 0, 0.1, 0.2)
u = 5 * frequency[:-1, None]
y = np.sin(np.cumsum(frequency))[1:, None]

# %%
# Teacher-forced training, then closed-loop generation, with and without teacher noise
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(np.arange(train, steps), y[train:, 0], color="black", lw=3, alpha=0.3, label="target")
for noise in (0.0, 0.03):
    reservoir = rs.ESN(100, seed=0, leak_rate=0.5, spectral_radius=0.9, dtype="float64")
    model = FeedbackESN(reservoir, rs.Ridge(1e-5), fb_scaling=0.5, fb_density=1.0, teacher_noise=noise, seed=1)
    model.fit(u[:train], y[:train], warmup=100)
    generated = model.predict(u[train:])
    rmse = float(np.sqrt(np.mean((generated - y[train:]) ** 2)))
    print(f"teacher_noise={noise}: closed-loop RMSE {rmse:.3f}")
    ax.plot(np.arange(train, steps), generated[:, 0], label=f"teacher_noise={noise} (RMSE {rmse:.2f})")
ax.set_ylim(-2, 2)
ax.set_xlabel("step")
ax.legend(loc="upper right", fontsize=8)
ax.set_title("Closed-loop generation after teacher forcing")
fig.tight_layout()
plt.show()
