"""
Reservoir states on disk with the state store
=============================================

A long run of a large reservoir holds more states than memory: 20,000 units for
50,000 steps are 4 GB in float32. With ``store=`` the states stream into an HDF5
file chunk by chunk, a checkpoint commits them every ``checkpoint_every`` steps,
and the readout reads them back piece by piece. This example is small enough to
build quickly; the mechanics are the same at any size.
"""

# %%
# Stream a run into a file
# ------------------------
# ``run(..., store=store, name=...)`` returns the stored run instead of an array.
# ``targets=`` keeps the targets beside the states, ``store_weights=True`` the
# matrices, so the file is a complete record of the experiment.

import tempfile
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np

import reservoir as rs

u, y = rs.datasets.narma(3000, order=10, seed=0)
esn = rs.ESN(300, density=0.02, spectral_radius=0.9, leak_rate=0.5, input_scaling=0.5, seed=0)
path = Path(tempfile.mkdtemp()) / "narma.h5"
with rs.StateStore(path, mode="w") as store:
    run = esn.run(u, store=store, name="narma", checkpoint_every=500, targets=y, store_weights=True)
    print(f"{run.steps_done} of {run.steps} steps committed; states {run.states.shape} {run.states.dtype}")

# %%
# What the file holds
# -------------------
# Walking the file with h5py shows the layout described in
# :doc:`/user_guide/state_store`.

with h5py.File(path, "r") as file:
    print("/", {key: value.item() if hasattr(value, "item") else value for key, value in file.attrs.items()})
    file.visititems(lambda name, item: print(f"/{name}", getattr(item, "shape", "(group)"), getattr(item, "dtype", "")))

# %%
# A readout fitted out of core
# ----------------------------
# ``run.time_range(start, stop)`` is a view of steps [start, stop) that is read
# only when the readout asks for it, chunk by chunk; ``Ridge`` accumulates its
# Gram matrix over the chunks and never holds all states at once. A list of
# penalties is scored on a validation range in the same pass.

with rs.StateStore(path, mode="r") as store:
    run = store["narma"]
    readout = rs.Ridge(alpha=[1e-8, 1e-6, 1e-4]).fit(
        run.time_range(200, 2000), y[200:2000], validation=(run.time_range(2000, 2500), y[2000:2500])
    )
    prediction = readout.predict(np.asarray(run.time_range(2500, 3000)[:]))
    print(f"chosen alpha {readout.alpha_:g}; test NRMSE {rs.metrics.nrmse(y[2500:3000], prediction):.3f}")
    config = run.config
print({key: config[key] for key in ("units", "spectral_radius", "leak_rate", "seed") if key in config})

fig, ax = plt.subplots(figsize=(9, 3.5))
ax.plot(np.arange(2500, 2700), y[2500:2700], lw=2, color="0.75", label="NARMA-10 target")
ax.plot(np.arange(2500, 2700), np.ravel(prediction)[:200], lw=0.9, label="ridge on stored states")
ax.set_xlabel("time step")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
