"""Real-data forecasting benchmark: a tuned ESN against seasonal naive, AutoReg, ETS and ARIMA.

Rolling-origin backtest on series that ship with statsmodels and sktime (nothing is
downloaded). For every series the last ``n_origins * horizon`` steps are the test
part; every model is refitted at each test origin on all that precedes it and
forecasts ``horizon`` steps. Scores: MASE per series (scaled by the in-sample
seasonal-naive error of the history at each origin, seasonal period per series),
the mean rank over series, and fit / predict wall time.

The ESN is tuned with :func:`reservoir.forecasting.tune` (Optuna TPE) on the training
part only (the steps before the first test origin), scored by a rolling-origin
backtest inside that part; its forecasts average the seeds of the tuning
(an ensemble). The baselines choose their orders on the same history:

- seasonal naive;
- ``ESNForecaster()`` with its defaults (recursive closed loop), under ``reservoir.forecasting.backtest``;
- the direct-readout ESN of the tuning objectives with the ESN's defaults (only the penalty chosen);
- AutoReg (statsmodels), lags by AIC (``ar_select_order``) at every origin;
- ETS (statsmodels ``ETSModel``), additive errors, trend none / damped additive,
  seasonality none / additive / multiplicative, the lowest AIC at every origin;
- ARIMA (statsmodels), d by a KPSS test and (p, q) in {0, 1, 2}² by AIC on the
  training part, seasonal (0, 1, 1, m) for seasonal series, refitted at every origin.

Run from the repository root::

    python asv_bench/peers/forecast_real_data.py [--trials 30] [--seeds 3] [--out results.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import warnings

# Small Gram matrices (~100 features): OpenBLAS threads only contend on a loaded
# 2-core machine (an eigh of 104 x 104 measured 0.003 s on one thread, 0.3 s on two).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the checkout's reservoir package

import optuna  # noqa: E402

from reservoir import metrics  # noqa: E402
from reservoir.forecasting import BacktestObjective, ESNForecaster, backtest, tune  # noqa: E402

# ---------------------------------------------------------------- data


def _statsmodels(name, column):
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data[column].to_numpy(dtype=float)


def sunspots():
    return _statsmodels("sunspots", "SUNACTIVITY")


def nile():
    return _statsmodels("nile", "volume")


def lynx():
    from sktime.datasets import load_lynx

    return load_lynx().to_numpy(dtype=float)


def airline():
    from sktime.datasets import load_airline

    return load_airline().to_numpy(dtype=float)


def co2():
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean().interpolate().to_numpy(dtype=float)


def elnino():
    import statsmodels.api as sm

    table = sm.datasets.elnino.load_pandas().data
    return table.drop(columns="YEAR").to_numpy(dtype=float).ravel()


def unemployment():
    return _statsmodels("macrodata", "unemp")


def us_consumption():
    from sktime.datasets import load_uschange

    y = load_uschange()
    return (y[0] if isinstance(y, tuple) else y).to_numpy(dtype=float)


#: name, loader, frequency, seasonal period m, horizon, test origins
SERIES = [
    ("sunspots", sunspots, "yearly", 1, 10, 3),
    ("lynx", lynx, "yearly", 1, 5, 4),
    ("nile", nile, "yearly", 1, 5, 4),
    ("airline", airline, "monthly", 12, 12, 3),
    ("co2", co2, "monthly", 12, 12, 3),
    ("elnino", elnino, "monthly", 12, 12, 3),
    ("unemployment", unemployment, "quarterly (SA)", 1, 4, 4),
    ("us_consumption", us_consumption, "quarterly (SA)", 1, 4, 4),
]

# ---------------------------------------------------------------- metric


def mase(actual, forecast, history, m):
    """Mean absolute error over the in-sample seasonal-naive mean absolute error of `history`."""
    return metrics.mase(actual, forecast, history, m)


# ---------------------------------------------------------------- baselines


def seasonal_naive(history, h, m):
    """y[n + k] = y[n + k - m * ceil(k / m)] (the last value for m = 1)."""
    k = np.arange(1, h + 1)
    return history[len(history) - 1 + k - m * np.ceil(k / m).astype(int)]


def autoreg(history, h, m, _order=None):
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order

    maxlag = min(max(12, 2 * m + 1), len(history) // 4)
    lags = ar_select_order(history, maxlag=maxlag, ic="aic", trend="c").ar_lags or 0
    fitted = AutoReg(history, lags=lags, trend="c").fit()
    return fitted, lambda: fitted.predict(start=len(history), end=len(history) + h - 1)


def ets(history, h, m, _order=None):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = [None] + (["add"] + (["mul"] if history.min() > 0 else []) if m > 1 else [])
    best = None
    for trend in (None, "add"):
        for season in seasonal:
            model = ETSModel(
                history,
                error="add",
                trend=trend,
                damped_trend=trend is not None,
                seasonal=season,
                seasonal_periods=m if season else None,
            )
            fitted = model.fit(disp=False)
            if np.isfinite(fitted.aic) and (best is None or fitted.aic < best.aic):
                best = fitted
    return best, lambda: best.forecast(h)


def arima_order(history, m):
    """(order, seasonal_order, trend): d by KPSS, (p, q) by AIC over {0, 1, 2}^2."""
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.stattools import kpss

    seasonal = (0, 1, 1, m) if m > 1 else (0, 0, 0, 0)
    working = history[m:] - history[:-m] if m > 1 else history
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = int(kpss(working, regression="c", nlags="auto")[1] < 0.05)
    trend = "c" if d + seasonal[1] == 0 else ("t" if d + seasonal[1] == 1 else "n")
    best = None
    for p in range(3):
        for q in range(3):
            try:
                fitted = ARIMA(history, order=(p, d, q), seasonal_order=seasonal, trend=trend).fit()
            except Exception:  # noqa: BLE001 - a failed candidate is skipped
                continue
            if np.isfinite(fitted.aic) and (best is None or fitted.aic < best[0]):
                best = (fitted.aic, (p, d, q))
    return best[1], seasonal, trend


def arima(history, h, m, order):
    from statsmodels.tsa.arima.model import ARIMA

    fitted = ARIMA(history, order=order[0], seasonal_order=order[1], trend=order[2]).fit()
    return fitted, lambda: fitted.forecast(h)


# ---------------------------------------------------------------- the ESN


def esn_space(m):
    space = {
        "units": ("categorical", [30, 50, 100]),
        "spectral_radius": ("float", 0.05, 1.5, "log"),
        "leak_rate": ("float", 0.05, 1.0, "log"),
        "input_scaling": ("float", 0.01, 2.0, "log"),
        "bias_scaling": ("float", 0.0, 1.0),
        "delays": ("int", 1, max(12, 2 * m + 1)),  # the lags AutoReg chooses from
        "include_input": ("categorical", [True, False]),
        "relative_to": ("categorical", [None, "last"] + (["season"] if m > 1 else [])),
    }
    return space


def tuned_esn(series, train_end, h, m, n_test, n_trials, seeds, top):
    """Tune on series[:train_end] (backtest inside it), then forecast the test origins with
    the best setting (its seeds averaged) and with the `top` best settings (all their seeds averaged)."""
    inner = _inner_backtest(series[:train_end], h, m, n_test)
    started = time.perf_counter()
    study = tune(inner, esn_space(m), n_trials=n_trials, seeds=seeds, sampler=optuna.samplers.TPESampler(seed=0))
    tune_seconds = time.perf_counter() - started
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    ranked = sorted(complete, key=lambda t: t.value)[:top]
    outer = BacktestObjective(series, horizon=h, season=m, n_origins=n_test, step=h, washout=_washout(train_end))
    assert outer.origins[0] + 1 == train_end

    def seed_forecasts(trial):
        alphas = [info["alpha"] for info in trial.user_attrs["info"]]
        return [outer.forecast(trial.params, seed, alpha)[..., 0] for seed, alpha in zip(range(seeds), alphas)]

    started = time.perf_counter()
    per_seed = seed_forecasts(ranked[0])
    fit_seconds = time.perf_counter() - started
    ensemble = np.mean([f for trial in ranked for f in seed_forecasts(trial)], axis=0)
    return np.mean(per_seed, axis=0), per_seed, ensemble, outer.origins, tune_seconds, fit_seconds, ranked[0]


def _inner_backtest(train, h, m, n_test):
    """Rolling origins inside the training part, half a horizon apart, over its last third
    (at least twice as many origins as the test has, at most 16): fewer gave settings that fit the
    noise of a short validation (sunspots: 6 origins chose a worse setting than the defaults)."""
    step = max(1, h // 2)
    n_origins = max(2 * n_test, min(16, (len(train) // 3 - h) // step))  # at most 16: run time
    return BacktestObjective(train, horizon=h, season=m, n_origins=n_origins, step=step, washout=_washout(len(train)))


def _washout(train_length):
    """Leading states left out of the fits: the same for the tuning and the test."""
    return min(20, train_length // 10)


def default_esn(series, train_end, h, m, n_test):
    """The ESN's defaults (100 units, no delays, the input beside the states), only the penalty chosen."""
    inner = _inner_backtest(series[:train_end], h, m, n_test)
    _, info = inner({}, 0)
    outer = BacktestObjective(series, horizon=h, season=m, n_origins=n_test, step=h, washout=_washout(train_end))
    started = time.perf_counter()
    forecast = outer.forecast({}, 0, info["alpha"])[..., 0]
    return forecast, time.perf_counter() - started


# ---------------------------------------------------------------- run


def run_series(name, loader, m, h, n_test, n_trials, seeds, top):
    series = loader()
    n = len(series)
    origins = [n - 1 - h - k * h for k in range(n_test)][::-1]
    train_end = origins[0] + 1
    rows = {}

    def score(forecasts):
        return float(
            np.mean([mase(series[o + 1 : o + 1 + h], f, series[: o + 1], m) for o, f in zip(origins, forecasts)])
        )

    order = arima_order(series[:train_end], m)
    for label, model in (
        ("seasonal naive", None),
        ("AutoReg (AIC)", autoreg),
        ("ETS (AIC)", ets),
        ("ARIMA (AIC)", arima),
    ):
        forecasts, fit_s, predict_s = [], 0.0, 0.0
        for o in origins:
            history = series[: o + 1]
            if model is None:
                started = time.perf_counter()
                forecasts.append(seasonal_naive(history, h, m))
                predict_s += time.perf_counter() - started
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                started = time.perf_counter()
                _, predict = model(history, h, m, order)
                fit_s += time.perf_counter() - started
                started = time.perf_counter()
                forecasts.append(np.asarray(predict()))
                predict_s += time.perf_counter() - started
        rows[label] = {"mase": score(forecasts), "fit": fit_s, "predict": predict_s}
    # The package's forecaster with its defaults (recursive closed loop) under the package's backtest.
    started = time.perf_counter()
    result = backtest(
        ESNForecaster(seed=0), series, horizon=h, initial=train_end, step=h, seasonal_period=m, metrics=("mase",)
    )
    assert len(result.scores) == n_test
    rows["ESNForecaster defaults"] = {"mase": result.score("mase"), "fit": time.perf_counter() - started}
    forecast, _ = default_esn(series, train_end, h, m, n_test)
    rows["ESN defaults"] = {"mase": score(forecast), "fit": float("nan"), "predict": float("nan")}
    forecast, per_seed, ensemble, esn_origins, tune_s, fit_s, best = tuned_esn(
        series, train_end, h, m, n_test, n_trials, seeds, top
    )
    assert esn_origins == origins
    rows["ESN tuned"] = {
        "mase": score(forecast),
        "fit": fit_s,
        "predict": float("nan"),
        "tune": tune_s,
        "single": [score(f) for f in per_seed],
        "params": best.params,
    }
    rows[f"ESN tuned, top-{top} ensemble"] = {"mase": score(ensemble), "fit": float("nan"), "predict": float("nan")}
    return n, rows, order


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="Optuna trials per series")
    parser.add_argument("--seeds", type=int, default=3, help="reservoir seeds per trial (averaged; the ensemble)")
    parser.add_argument("--top", type=int, default=5, help="best settings averaged in the top-k ensemble")
    parser.add_argument("--only", nargs="*", help="series names to run")
    parser.add_argument("--out", help="write the markdown report here")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # More features than samples at an early origin is expected here: the penalty handles it.
    warnings.filterwarnings("ignore", message="the readout has")
    warnings.filterwarnings("ignore", module="statsmodels")  # convergence notes of rejected candidates
    started = time.perf_counter()
    results = {}
    for name, loader, frequency, m, h, n_test in SERIES:
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        n, rows, order = run_series(name, loader, m, h, n_test, args.trials, args.seeds, args.top)
        results[name] = (frequency, n, m, h, n_test, rows, order)
        line = ", ".join(f"{k}: {v['mase']:.3f}" for k, v in rows.items())
        print(f"# {name} ({time.perf_counter() - t0:.0f} s): {line}", file=sys.stderr, flush=True)
    report = render(results, args, time.perf_counter() - started)
    print(report)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report)


def render(results, args, seconds):
    models = list(next(iter(results.values()))[5])
    lines = [
        "# Real-data forecasting benchmark: tuned ESN against statistical baselines",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} (a shared machine: times are indicative)",
        "- command: `python asv_bench/peers/forecast_real_data.py"
        + (f" --trials {args.trials}" if args.trials != 30 else "")
        + (f" --seeds {args.seeds}" if args.seeds != 3 else "")
        + (f" --top {args.top}" if args.top != 5 else "")
        + (f" --only {' '.join(args.only)}" if args.only else "")
        + "`",
        f"- ESN: {args.trials} Optuna TPE trials per series x {args.seeds} seeds, tuned on the training part only; "
        f"the forecast averages the {args.seeds} seeds; the top-{args.top} ensemble averages the {args.top} best "
        f"settings of the search, {args.seeds} seeds each",
        f"- total run time: {seconds:.0f} s",
        "",
        "## MASE per series (lower is better; rank 1 = best)",
        "",
        "| series | freq | T | m | h x origins | " + " | ".join(models) + " |",
        "|---|---|---|---|---|" + "---|" * len(models),
    ]
    ranks = {model: [] for model in models}
    for name, (frequency, n, m, h, n_test, rows, _) in results.items():
        values = [rows[model]["mase"] for model in models]
        order = pd.Series(values).rank(method="min").to_numpy()
        for model, rank in zip(models, order):
            ranks[model].append(rank)
        best = min(values)
        cells = [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in values]
        lines.append(f"| {name} | {frequency} | {n} | {m} | {h} x {n_test} | " + " | ".join(cells) + " |")
    means = [np.mean([results[s][5][model]["mase"] for s in results]) for model in models]
    lines.append("| **mean MASE** | | | | | " + " | ".join(f"{v:.3f}" for v in means) + " |")
    lines.append("| **mean rank** | | | | | " + " | ".join(f"{np.mean(ranks[m]):.2f}" for m in models) + " |")
    lines.append("")
    for model in [m for m in models if m.startswith("ESN")]:
        wins = sum(results[s][5][model]["mase"] < results[s][5]["AutoReg (AIC)"]["mase"] for s in results)
        lines.append(f"- {model} beats AutoReg on {wins} of {len(results)} series.")
    lines.append("")
    lines += [
        "## Tuned ESN: single seeds, time, chosen setting",
        "",
        "| series | ensemble MASE | single-seed MASE (mean ± std) | tune s | fit+predict s (all origins, all seeds) "
        "| AutoReg fit s | ARIMA fit s | ETS fit s | best parameters |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (_, _, _, _, _, rows, order) in results.items():
        esn = rows["ESN tuned"]
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in esn["params"].items())
        lines.append(
            f"| {name} | {esn['mase']:.3f} | {np.mean(esn['single']):.3f} ± {np.std(esn['single']):.3f} | "
            f"{esn['tune']:.1f} | {esn['fit']:.2f} | {rows['AutoReg (AIC)']['fit']:.2f} | "
            f"{rows['ARIMA (AIC)']['fit']:.2f} (order {order[0]}{'x' + str(order[1]) if order[1][3] else ''}) | "
            f"{rows['ETS (AIC)']['fit']:.2f} | {params} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
