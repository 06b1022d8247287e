"""Calibration of one-step forecast intervals, measured on held-out data.

For every series the first 70 % trains (its last fifth also serves as a validation part
for the recalibrated variant), the last 30 % is held out. Reported per method: the
fraction of held-out targets inside the central 50 % and 90 % intervals (nominal 50
and 90), the mean CRPS and the NRMSE of the mean, each as mean ± std over reservoir
seeds.

Methods:

* ``bayes``: ``ESNRegressor(readout="bayesian")``, Gaussian intervals from
  ``predict(..., return_std=True)``.
* ``bayes+val``: the same readout fitted on the training part without its validation
  fifth; the predictive std is rescaled by ``sqrt(mean(r² / σ²))`` of the validation
  residuals r (the noise level measured on data the readout did not see).
* ``ensemble``: ``ESNEnsemble`` of 20 members, one-step predictions, intervals from
  the members' empirical quantiles (the spread of the models only, no noise term).
* ``ensemble+noise``: an ensemble fitted without the validation fifth; every member's
  prediction plus Gaussian noise of the variance of the ensemble mean's validation
  residuals (25 draws per member), intervals and CRPS from those samples.

Run from the repository root::

    python asv_bench/peers/calibration.py --out asv_bench/peers/calibration-results.md
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import ndtr, ndtri

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's package, not an installed one
import reservoir as rs  # noqa: E402
from reservoir.datasets import mackey_glass  # noqa: E402
from reservoir.metrics import nrmse  # noqa: E402
from reservoir.models import ESNEnsemble  # noqa: E402

LEVELS = (0.5, 0.9)


def _crps_gaussian(y, mean, std) -> float:
    try:
        from reservoir.metrics import crps_gaussian
    except ImportError:  # closed form (Gneiting et al. 2005)
        z = (y - mean) / std
        pdf = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
        return float(np.mean(std * (z * (2 * ndtr(z) - 1) + 2 * pdf - 1 / math.sqrt(math.pi))))
    return crps_gaussian(y, mean, std)


def _crps_ensemble(y, members) -> float:
    """members (..., m) beside y (...)."""
    try:
        from reservoir.metrics import crps_ensemble
    except ImportError:  # E|X - y| - E|X - X'| / 2 from the sorted members
        x = np.sort(members, axis=-1)
        m = x.shape[-1]
        spread = 2.0 / m**2 * np.sum((2.0 * np.arange(1, m + 1) - m - 1) * x, axis=-1)
        return float(np.mean(np.mean(np.abs(x - y[..., None]), axis=-1) - 0.5 * spread))
    return crps_ensemble(y, members)


def series() -> dict:
    """name -> standardised 1-D series."""
    rng = np.random.default_rng(2026)
    mg = mackey_glass(3000, seed=0)[:, 0]
    mg = (mg - mg.mean()) / mg.std()
    t = np.arange(3000) * 0.1
    sine = np.sin(t) + 0.5 * np.sin(0.37 * t)
    out = {
        "Mackey-Glass + N(0, 0.1²)": mg + 0.1 * rng.normal(size=mg.size),
        "sine + N(0, 0.2²)": sine / sine.std() + 0.2 * rng.normal(size=sine.size),
    }
    try:
        import statsmodels.api as sm
    except ImportError:
        print("statsmodels not installed: sunspots skipped", file=sys.stderr)
        return out
    spots = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=float)
    spots = np.sqrt(spots)  # the usual variance-stabilising transform of counts
    out["sunspots (yearly, sqrt)"] = (spots - spots.mean()) / spots.std()
    return out


def _gaussian_scores(y, mean, std) -> dict:
    scores = {}
    for level in LEVELS:
        half = ndtri(0.5 + level / 2) * std
        scores[f"cov{int(level * 100)}"] = 100 * np.mean(np.abs(y - mean) <= half)
    scores["crps"] = _crps_gaussian(y, mean, std)
    scores["nrmse"] = nrmse(y, mean)
    return scores


def evaluate(s: np.ndarray, seed: int, units: int, n_members: int) -> dict:
    n = s.size
    split = int(0.7 * n)
    val = split - (split // 5)
    washout = min(100, split // 10)
    params = dict(units=units, seed=seed, dtype="float64", washout=washout, leak_rate=0.5, spectral_radius=0.9)
    u_test, y_test = s[split - 1 : -1], s[split:]
    results = {}

    model = rs.ESNRegressor(readout="bayesian", **params).fit(s[: split - 1], s[1:split])
    mean, std = model.predict(u_test, return_std=True)
    results["bayes"] = _gaussian_scores(y_test, mean, std)

    early = rs.ESNRegressor(readout="bayesian", **params).fit(s[: val - 1], s[1:val])
    mean, std = early.predict(s[val - 1 : -1], return_std=True)  # validation part, then the held-out part
    k = split - val
    scale = math.sqrt(np.mean(((s[val:split] - mean[:k]) / std[:k]) ** 2))
    results["bayes+val"] = _gaussian_scores(y_test, mean[k:], scale * std[k:])
    results["bayes+val"]["scale"] = scale

    settings = dict(seed=seed, washout=washout, leak_rate=0.5, spectral_radius=0.9, alpha=1e-4)
    ensemble = ESNEnsemble(n_members, units, **settings).fit(s[: split - 1], s[1:split])
    results["ensemble"] = _sample_scores(y_test, ensemble.predict(u_test).members.T)

    early = ESNEnsemble(n_members, units, **settings).fit(s[: val - 1], s[1:val])
    members = early.predict(s[val - 1 : -1]).members.T  # (steps, members)
    noise = np.std(s[val:split] - members[:k].mean(axis=1))
    rng = np.random.default_rng(seed)
    noisy = np.repeat(members[k:], 25, axis=1)
    results["ensemble+noise"] = _sample_scores(y_test, noisy + noise * rng.normal(size=noisy.shape))
    return results


def _sample_scores(y_test, members) -> dict:
    """Coverage of the members' central quantile intervals, CRPS and NRMSE of their mean."""
    scores = {}
    for level in LEVELS:
        low, high = np.quantile(members, [0.5 - level / 2, 0.5 + level / 2], axis=1)
        scores[f"cov{int(level * 100)}"] = 100 * np.mean((y_test >= low) & (y_test <= high))
    scores["crps"] = _crps_ensemble(y_test, members)
    scores["nrmse"] = nrmse(y_test, members.mean(axis=1))
    return scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--out", default=None, help="write the table as Markdown here")
    args = parser.parse_args(argv)
    start = time.time()
    rows = []
    for name, s in series().items():
        runs = [evaluate(s, seed, args.units, args.members) for seed in range(args.seeds)]
        for method in runs[0]:
            cells = []
            for key in ("cov50", "cov90", "crps", "nrmse"):
                values = np.array([r[method][key] for r in runs])
                digits = 1 if key.startswith("cov") else 3
                cells.append(f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}")
            rows.append(f"| {name} | {s.size} | {method} | " + " | ".join(cells) + " |")
    header = [
        "| series | steps | method | 50 % coverage | 90 % coverage | CRPS | NRMSE |",
        "|---|---|---|---|---|---|---|",
    ]
    table = "\n".join(header + rows)
    command = "python asv_bench/peers/calibration.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = (
        "# Calibration of one-step forecast intervals\n\n"
        f"Date: {datetime.date.today().isoformat()}; machine: {platform.machine()}, {os.cpu_count()} cores"
        f" ({platform.system()}, Python {platform.python_version()}, NumPy {np.__version__}); "
        f"command: `{command.strip()}`; {time.time() - start:.0f} s.\n\n"
        f"First 70 % of each (standardised) series trains, last 30 % held out; {args.units} units, "
        f"leak rate 0.5, spectral radius 0.9; mean ± std over {args.seeds} reservoir seeds; "
        f"ensemble of {args.members} members (alpha 1e-4). Nominal coverage: 50 and 90.\n\n" + table + "\n"
    )
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
