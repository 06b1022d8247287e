#!/usr/bin/env python
"""NVAR on Lorenz-63 against ReservoirPy 0.4.2's NVAR >> Ridge, side by side in one process.

The setup of Gauthier et al. (2021): dt = 0.025, RK23 at SciPy's default tolerances
from their initial state, a warm-up of 5 time units (200 points), 400 training
points, k = 2, s = 1, order 2, ridge 2.5e-6; the readout learns x[t+1] - x[t] and
the forecast runs in closed loop from the end of the training data.

Three models on the same data:

* ``ours (paper)``: ``NVAR(2, 2, 1)`` with the constant feature, penalised as the paper does;
* ``ours (rpy)``: ``NVAR(2, 2, 1, constant=False, monomials="exact")``, ReservoirPy's features
  with an unpenalised intercept, the same model as ReservoirPy's;
* ``reservoirpy``: ``NVAR(delay=2, order=2, strides=1) >> Ridge(ridge=2.5e-6)``, its closed
  loop one Python call per step (``u = u + model(u)``, as in its documentation).

Errors are normalised by the attractor's spread: e(t) = ||x̂(t) - x(t)|| / sqrt(sum_d var(x_d))
with the variances of the whole generated series. NRMSE over one Lyapunov time is the
root mean square of e over the first 1/0.9056 = 1.104 time units of the forecast; the
valid prediction time is the first time e(t) exceeds ``--threshold`` (0.4), in
Lyapunov times. ``--trials`` repeats this with the training window moved on by
``--shift`` points each time (the spread of the figures). Fit and forecast times are
medians of ``--repeats`` runs, the implementations taking turns.

Usage::

    python asv_bench/peers/nvar_vs_reservoirpy.py            # about half a minute
    python asv_bench/peers/nvar_vs_reservoirpy.py --trials 20
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from reservoir.datasets import lorenz
from reservoir.models import NVAR

LYAPUNOV_EXPONENT = 0.9056
DT = 0.025
PAPER_X0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)
WARMUP, TRAIN = 200, 400


def normalised_error(truth, forecast, variance):
    with np.errstate(over="ignore", invalid="ignore"):
        error = np.sqrt(np.sum((forecast - truth) ** 2, axis=1) / variance.sum())
    return np.where(np.isfinite(error), error, np.inf)


def scores(truth, forecast, variance, threshold):
    error = normalised_error(truth, forecast, variance)
    one_lyapunov = int(round(1 / LYAPUNOV_EXPONENT / DT))
    nrmse = float(np.sqrt(np.mean(error[:one_lyapunov] ** 2)))
    beyond = np.flatnonzero(error > threshold)
    steps = beyond[0] if beyond.size else len(error)
    return nrmse, steps * DT * LYAPUNOV_EXPONENT


def ours(constant, monomials):
    def fit_and_forecast(series, start, n_forecast):
        model = NVAR(2, 2, 1, constant=constant, monomials=monomials, alpha=2.5e-6)
        began = time.perf_counter()
        model.fit(series[start : start + WARMUP + TRAIN + 1], warmup=WARMUP - 1)
        fitted = time.perf_counter()
        forecast = model.forecast(n_forecast)
        return forecast, fitted - began, time.perf_counter() - fitted

    return fit_and_forecast


def reservoirpy_nvar(series, start, n_forecast):
    from reservoirpy.nodes import NVAR as RpyNVAR
    from reservoirpy.nodes import Ridge as RpyRidge

    nvar, ridge = RpyNVAR(delay=2, order=2, strides=1), RpyRidge(ridge=2.5e-6)
    model = nvar >> ridge
    X = series[start : start + WARMUP + TRAIN]
    began = time.perf_counter()
    model.fit(X, series[start + 1 : start + WARMUP + TRAIN + 1] - X, warmup=WARMUP)
    fitted = time.perf_counter()
    u, out = series[start + WARMUP + TRAIN], np.empty((n_forecast, 3))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for t in range(n_forecast):
            u = u + np.ravel(model(u))
            out[t] = u
    return out, fitted - began, time.perf_counter() - fitted


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--shift", type=int, default=400, help="points between the trials' training windows")
    parser.add_argument("--forecast", type=int, default=800, help="forecast steps (800: 20 time units)")
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    n_total = (args.trials - 1) * args.shift + WARMUP + TRAIN + 1 + args.forecast
    series = lorenz(n_total, dt=DT, x0=PAPER_X0, method="RK23")
    variance = series.var(axis=0)
    models = {
        "ours (paper)": ours(True, "up_to"),
        "ours (rpy)": ours(False, "exact"),
        "reservoirpy": reservoirpy_nvar,
    }
    for fit in models.values():  # compile, and ReservoirPy's lazy initialisation
        fit(series, 0, 5)

    results = {name: {"nrmse": [], "valid": []} for name in models}
    agreement = []
    for trial in range(args.trials):
        start = trial * args.shift
        truth = series[start + WARMUP + TRAIN + 1 : start + WARMUP + TRAIN + 1 + args.forecast]
        forecasts = {}
        for name, fit in models.items():
            forecasts[name], _, _ = fit(series, start, args.forecast)
            nrmse, valid = scores(truth, forecasts[name], variance, args.threshold)
            results[name]["nrmse"].append(nrmse)
            results[name]["valid"].append(valid)
        agreement.append(np.abs(forecasts["ours (rpy)"][:44] - forecasts["reservoirpy"][:44]).max())

    times = {name: {"fit": [], "forecast": []} for name in models}
    for repeat in range(args.repeats):
        names = list(models)
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:  # take turns
            _, fit_time, forecast_time = models[name](series, 0, args.forecast)
            times[name]["fit"].append(fit_time)
            times[name]["forecast"].append(forecast_time)

    print(
        f"Lorenz-63, dt={DT}, RK23 (SciPy defaults) from the paper's x0; warm-up {WARMUP}, training {TRAIN} points;"
        f" k=2, s=1, order 2, ridge 2.5e-6; {args.trials} training windows {args.shift} points apart;"
        f" valid time: first e(t) > {args.threshold}"
    )
    header = f"{'model':<14} {'NRMSE (1 Lyapunov time)':>26} {'valid time (Lyapunov times)':>30}"
    header += f" {'fit (ms)':>10} {f'forecast {args.forecast} steps (ms)':>28}"
    print(header)
    for name in models:
        nrmse, valid = np.array(results[name]["nrmse"]), np.array(results[name]["valid"])
        fit_ms, forecast_ms = (1e3 * np.array(times[name][key]) for key in ("fit", "forecast"))
        print(
            f"{name:<14} {f'{np.median(nrmse):.2e} [{nrmse.min():.1e}, {nrmse.max():.1e}]':>26}"
            f" {f'{np.median(valid):.2f} [{valid.min():.2f}, {valid.max():.2f}]':>30}"
            f" {f'{np.median(fit_ms):.2f} ±{fit_ms.std():.2f}':>10}"
            f" {f'{np.median(forecast_ms):.2f} ±{forecast_ms.std():.2f}':>28}"
        )
    print("median [min, max] over the training windows; times: median ± std over repeats")
    for key in ("fit", "forecast"):
        ratio = np.median(times["reservoirpy"][key]) / np.median(times["ours (rpy)"][key])
        print(f"{key}: reservoirpy / ours (rpy) = {ratio:.0f}x (medians of this run)")
    print(
        "ours (rpy) vs reservoirpy, largest difference over the first Lyapunov time of the forecasts: "
        f"{max(agreement):.1e} (the ridge systems have condition numbers near 1e14: the two solvers' rounding)"
    )


if __name__ == "__main__":
    main()
