"""
Local connectivity: a Maass column, and connection probability against distance
===============================================================================

Maass, Natschläger & Markram (2002) place the neurons of a liquid-state machine on
the integer points of a 15 x 3 x 3 column and connect a neuron ``a`` to ``b`` with
probability ``C · exp(-(D(a, b) / λ)²)``: λ = 2 lattice spacings, and ``C`` per pair
of populations (0.3 excitatory to excitatory, 0.2 E to I, 0.4 I to E, 0.1 I to I).
:func:`reservoir.connectivity.distance_sparse` draws that rule offset by offset, in
O(number of connections); ``LSM(..., connectivity={"kind": "distance"})`` uses it.

Left: the column (excitatory neurons red, inhibitory blue) and a sample of its
synapses. Right: on a larger periodic lattice (20³ neurons), the fraction of the pairs
at each distance that the generator connected, beside the rule. Below, the
"convolutional" reservoir of the Neural Network Zoo: every unit of a 2-D grid fed by
all units within a radius of 1.5 (``connectivity={"kind": "local", "radius": 1.5}``).
"""

import matplotlib.pyplot as plt
import numpy as np

import reservoir as rs
from reservoir import connectivity as cn

# %%
# A Maass column inside an LSM: 108 excitatory and 27 inhibitory neurons.
lsm = rs.LSM(108, 27, connectivity={"kind": "distance", "shape": (15, 3, 3)}, seed=0)
W = lsm.W.tocoo()
xyz = lsm.positions
excitatory = np.arange(lsm.n_neurons) < lsm.n_exc
print(f"{W.nnz} synapses, {W.nnz / lsm.n_neurons:.1f} per neuron")

# %%
# Measured probability against distance on 20 x 20 x 20 neurons (periodic, one population).
lattice = cn.Lattice((20, 20, 20), periodic=True)
lam, C = 2.0, 0.3
W_big, sites = cn.distance_sparse(lattice, lam, C, seed=1, return_sites=True)
coords = lattice.coordinates()[sites]
targets, sources = W_big.nonzero()
gap = np.abs(coords[targets] - coords[sources])
gap = np.minimum(gap, 20 - gap)
squared = (gap**2).sum(axis=1)
offsets = lattice.offsets(7.0)
pairs = np.bincount((offsets**2).sum(axis=1)) * lattice.n
drawn = np.bincount(squared, minlength=pairs.size)[: pairs.size]
present = pairs > 0
distance = np.sqrt(np.flatnonzero(present))
measured = drawn[present] / pairs[present]

fig = plt.figure(figsize=(11, 7.5))
ax = fig.add_subplot(2, 2, 1, projection="3d")
sample = np.random.default_rng(0).choice(W.nnz, size=150, replace=False)
for k in sample:
    a, b = xyz[W.col[k]], xyz[W.row[k]]
    ax.plot(*zip(a, b), color="0.6", lw=0.5)
ax.scatter(*xyz[excitatory].T, color="tab:red", s=14, label="excitatory")
ax.scatter(*xyz[~excitatory].T, color="tab:blue", s=14, label="inhibitory")
ax.set_box_aspect((15, 3, 3))
ax.set_title("15 x 3 x 3 column, 150 of its synapses")
ax.legend(loc="upper left", fontsize=8)

ax = fig.add_subplot(2, 2, 2)
d = np.linspace(0, distance.max(), 200)
ax.plot(d, C * np.exp(-((d / lam) ** 2)), color="k", label=r"rule $C\,e^{-(D/\lambda)^2}$")
ax.plot(distance, measured, "o", color="tab:orange", label="drawn (20³ neurons)")
ax.set_yscale("log")
ax.set_xlabel("distance D (lattice spacings)")
ax.set_ylabel("connection probability")
ax.legend()

# %%
# The radius rule on a 12 x 12 grid: interior units have 8 sources, edges 5, corners 3.
esn = rs.ESN(144, connectivity={"kind": "local", "radius": 1.5, "shape": (12, 12)}, seed=0)
ax = fig.add_subplot(2, 2, 3)
grid = esn.positions
local = esn.W.tocoo()
for target, source in zip(local.row, local.col):
    ax.plot(*zip(grid[source], grid[target]), color="0.75", lw=0.6, zorder=1)
ax.scatter(*grid.T, c=np.diff(esn.W.indptr), cmap="viridis", s=30, zorder=2)
ax.set_aspect("equal")
ax.set_title("radius 1.5 on a 12 x 12 grid (colour: sources per unit)")

ax = fig.add_subplot(2, 2, 4)
counts = np.bincount(np.diff(esn.W.indptr))
ax.bar(np.arange(counts.size), counts)
ax.set_xlabel("sources per unit")
ax.set_ylabel("units")
fig.tight_layout()
plt.show()
rule = C * np.exp(-((distance / lam) ** 2))
worst = np.max(np.abs(measured / rule - 1)[rule > 1e-3])
print(f"largest |drawn / rule - 1| where the rule is above 1e-3: {worst:.3f}")
