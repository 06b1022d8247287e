"""
FORCE learning: a reservoir taught to generate a signal on its own
==================================================================

FORCE learning (Sussillo & Abbott 2009) trains the readout of a reservoir whose
output is fed back into it, by recursive least squares at every step, while the
network runs on its *own* output. Afterwards the network, with no input at all,
keeps producing the target. Here a sum of sines (periodic) and the Mackey-Glass
series (chaotic, delay 17) are learned by :class:`reservoir.models.FORCE`; the
closed-loop error is compared before training (the readout at zero) and after.
"""

# %%
# A periodic target
# -----------------
# Three sines of periods 20, 30 and 60 steps. ``fit(None, target)``: no input, the
# network learns to generate the target from its own fed-back output; ``run``
# then lets it go on alone, the readout's weights held.

import matplotlib.pyplot as plt
import numpy as np

from reservoir.datasets import mackey_glass
from reservoir.models import FORCE


def nrmse(output, target):
    return float(np.sqrt(np.mean((output - target) ** 2)) / np.std(target))


train_steps, free_steps = 4000, 600
t = np.arange(train_steps + free_steps)
periodic = ((np.sin(2 * np.pi * t / 60) + 0.5 * np.sin(2 * np.pi * t / 30) + 0.3 * np.sin(2 * np.pi * t / 20)) / 1.5)[
    :, None
]

model = FORCE(300, seed=0)
model.fit(None, periodic[:1] * 0)  # untrained: the readout stays at zero
before = model.run(n_steps=free_steps)
during = model.train(None, periodic[:train_steps], restart=True)  # the outputs while learning
after = model.run(n_steps=free_steps)
print(
    f"periodic, closed loop: NRMSE {nrmse(before, periodic[train_steps:]):.3f} before training, "
    f"{nrmse(after, periodic[train_steps:]):.4f} after"
)

# %%
# A chaotic target
# ----------------
# The Mackey-Glass series (delay 17, one sample per time unit, scaled to about
# [-1, 1]). A chaotic signal cannot be followed for ever from a slightly different
# start: the error grows with the largest Lyapunov exponent. What FORCE does is
# follow it for a while (a hundred steps, two or three of its pseudo-periods) and
# then keep producing Mackey-Glass-like oscillations of the right amplitude. A
# little forgetting (0.9995) keeps RLS adapting as the fed-back network changes.

series = np.asarray(mackey_glass(7000)).reshape(-1, 1)
series = (series - series.mean()) / (2 * series.std())
chaos_train, chaos_free = 6000, 1000
chaotic = FORCE(500, forgetting=0.9995, seed=0)
chaotic.fit(None, series[:1] * 0)
chaotic_before = chaotic.run(n_steps=chaos_free)
chaotic.fit(None, series[:chaos_train])
chaotic_after = chaotic.run(n_steps=chaos_free)
horizon = 100
ahead = series[chaos_train : chaos_train + horizon]
print(
    f"Mackey-Glass, closed loop, first {horizon} steps: NRMSE {nrmse(chaotic_before[:horizon], ahead):.3f} "
    f"before training, {nrmse(chaotic_after[:horizon], ahead):.3f} after; amplitude (std) of the free run "
    f"{chaotic_after.std() / series.std():.2f} of the series'"
)

# %%
# The figure
# ----------

fig, axes = plt.subplots(3, 1, figsize=(9, 8), constrained_layout=True)
axes[0].plot(np.abs(during[:, 0] - periodic[:train_steps, 0]), lw=0.6, color="tab:red")
axes[0].set_yscale("log")
axes[0].set(title="Periodic target: |output - target| while learning", xlabel="step")
span = np.arange(train_steps, train_steps + free_steps)
axes[1].plot(span, periodic[train_steps:, 0], color="black", lw=2, alpha=0.4, label="target")
axes[1].plot(span, before[:, 0], color="tab:gray", lw=1, label="closed loop, untrained")
axes[1].plot(span, after[:, 0], color="tab:blue", lw=1, ls="--", label="closed loop, after FORCE")
axes[1].set(title="Periodic target: the network on its own", xlabel="step")
axes[1].legend(loc="upper right", fontsize="small")
span = np.arange(chaos_train, chaos_train + chaos_free)
axes[2].plot(span, series[chaos_train:, 0], color="black", lw=2, alpha=0.4, label="Mackey-Glass")
axes[2].plot(span, chaotic_before[:, 0], color="tab:gray", lw=1, label="closed loop, untrained")
axes[2].plot(span, chaotic_after[:, 0], color="tab:blue", lw=1, label="closed loop, after FORCE")
axes[2].axvline(chaos_train + horizon, color="tab:red", lw=0.8, ls=":")
axes[2].set(title="Chaotic target: followed for a while, then Mackey-Glass-like on its own", xlabel="step")
axes[2].legend(loc="upper right", fontsize="small")
plt.show()
