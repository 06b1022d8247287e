#!/usr/bin/env python
"""Worked example: a liquid-state machine reads handwritten digits.

scikit-learn's bundled digits (1,797 images of 8 x 8 pixels, real handwriting) are
shown to the network one image row at a time: row r of the image drives 8 input
channels during 10 ms, each channel a Poisson spike train whose rate follows the
pixel's ink (rate coding, ``input_encoding="poisson"``). All images run at once as
a batch of trials. The network's spike counts in each 20 ms window (4 windows x
1,000 neurons) feed a ridge readout, one output per class; its penalty is chosen
on a validation split of the training images, and the test images are scored once.

Writes ``lsm_digits.png`` (an input, the spike raster of that trial, a few
neurons' traces) and prints the accuracy beside a ridge readout of the raw pixels.

    python docs/examples/lsm_digits.py [--out docs/lsm_digits.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

import reservoir as rs

FRAME_STEPS = 100  # 10 ms per image row at dt = 0.1 ms
WINDOW_STEPS = 200  # readout features: spike counts per 20 ms (two rows), 4 x 1000 per image
ALPHAS = [1e-2, 1e-1, 1.0, 10.0, 100.0]


def network(seed: int = 1) -> rs.LSM:
    return rs.LSM(800, 200, density=0.02, v_rest=-60e-3, input_encoding="poisson", input_density=0.3,
                  input_scaling=10e-3, input_rate=1000.0, seed=seed)


def ridge_accuracy(features, labels, train, validation, test) -> float:
    """Penalty chosen on the validation images; the readout refitted on train + validation; test accuracy."""
    targets = np.eye(10)[labels]
    chooser = rs.Ridge(alpha=ALPHAS).fit(features[train], targets[train],
                                         validation=(features[validation], targets[validation]))
    fitted = np.concatenate([train, validation])
    readout = rs.Ridge(alpha=chooser.alpha_).fit(features[fitted], targets[fitted])
    return float(np.mean(readout.predict(features[test]).argmax(axis=1) == labels[test]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="lsm_digits.png")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    digits = load_digits()
    images, labels = digits.images / 16.0, digits.target  # ink in [0, 1]
    u = np.repeat(images, FRAME_STEPS, axis=1)  # (B, 8 rows x 100 steps, 8 channels)
    order = np.random.default_rng(0).permutation(len(u))
    train, validation, test = order[:1000], order[1000:1300], order[1300:]

    net = network(args.seed)
    start = time.perf_counter()
    result = net.run(u, window=WINDOW_STEPS, record_spikes=False)  # (B, 4, 1000) spike counts
    elapsed = time.perf_counter() - start
    features = result.states.reshape(len(u), -1)
    rate = features.sum() / (features.shape[0] * net.n_neurons * u.shape[1] * net.dt)
    lsm_accuracy = ridge_accuracy(features, labels, train, validation, test)
    pixel_accuracy = ridge_accuracy(images.reshape(len(u), -1), labels, train, validation, test)
    print(f"LSM (1000 LIF neurons, {len(u)} trials x {u.shape[1] * net.dt * 1e3:.0f} ms, "
          f"{rate:.1f} Hz mean rate): simulated in {elapsed:.1f} s")
    print(f"test accuracy ({len(test)} images): LSM spike counts + ridge {lsm_accuracy:.3f}; "
          f"raw pixels + ridge {pixel_accuracy:.3f}")

    example = test[0]
    net.reset()
    single = net.run(u[example], trace_tau=20e-3)
    _figure(args.out, images[example], labels[example], single, net)
    print(f"figure: {args.out}")
    return 0


def _figure(path, image, label, result, net) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    time_ms = np.arange(result.n_steps) * net.dt * 1e3
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), gridspec_kw={"height_ratios": [1, 3, 1.4]}, sharex=True)
    axes[0].imshow(np.repeat(image, FRAME_STEPS, axis=0).T, aspect="auto", cmap="gray_r",
                   interpolation="nearest", extent=(0, time_ms[-1], 7.5, -0.5))
    axes[0].set_ylabel("input\nchannel")
    axes[0].set_title(f"digit {label}: one image row per 10 ms, Poisson-encoded")
    excitatory = result.spike_neurons < net.n_exc
    for mask, colour, name in ((excitatory, "tab:blue", "excitatory"), (~excitatory, "tab:red", "inhibitory")):
        axes[1].scatter(result.spike_times[mask] * net.dt * 1e3, result.spike_neurons[mask], s=1.5, c=colour,
                        label=name, linewidths=0)
    axes[1].set_ylabel("neuron")
    axes[1].legend(loc="upper right", markerscale=6, fontsize=8)
    busiest = np.argsort(np.bincount(result.spike_neurons, minlength=net.n_neurons))[-4:]
    for neuron in busiest:
        axes[2].plot(time_ms, result.states[:, neuron], lw=0.8, label=f"neuron {neuron}")
    axes[2].set_ylabel("trace\n(τ = 20 ms)")
    axes[2].set_xlabel("time (ms)")
    axes[2].legend(loc="upper right", fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
