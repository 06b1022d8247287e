"""The ``reservoir`` command.

``reservoir forecast`` is the main job: train an ESN on a series (Mackey-Glass built
in, or a CSV/NPY file), print the one-step and closed-loop NRMSE on held-out steps,
write the reservoir states to HDF5 and a PNG of forecast against truth.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from . import backends, datasets, metrics
from .estimators import ESNRegressor
from .storage import save_run


def _count(minimum: int):
    """An argparse type: an int >= minimum (argparse names the option in its error)."""
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    parse.__name__ = "integer"  # argparse says "invalid integer value" for non-numbers
    return parse


def _forecast_parser(subparsers):
    parser = subparsers.add_parser("forecast", help="train an ESN forecaster and report its error",
                                   description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default="mackey-glass",
                        help="'mackey-glass' (built in) or a path to a .csv/.npy series (rows are time steps)")
    parser.add_argument("--steps", type=_count(1), default=6000, help="length of the built-in series")
    parser.add_argument("--train", type=_count(1), default=4000, help="training steps (after the washout)")
    parser.add_argument("--washout", type=_count(0), default=200, help="initial steps not used for training")
    parser.add_argument("--horizon", type=_count(1), default=500, help="closed-loop forecast steps after training")
    parser.add_argument("--units", type=_count(1), default=1000, help="reservoir units")
    parser.add_argument("--density", type=float, default=0.01, help="recurrent connection density")
    parser.add_argument("--spectral-radius", type=float, default=1.25)
    parser.add_argument("--leak-rate", type=float, default=0.3)
    parser.add_argument("--input-scaling", type=float, default=0.5)
    parser.add_argument("--alpha", type=float, default=1e-4, help="ridge penalty")
    parser.add_argument("--backend", default="auto", choices=["auto", *backends.names()])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="forecast_out", help="folder for states.h5 and forecast.png")
    parser.set_defaults(handler=forecast)


def _load(args) -> tuple[np.ndarray, str]:
    if args.data == "mackey-glass":
        return datasets.mackey_glass(args.steps, tau=17), "Mackey-Glass (tau = 17)"
    return datasets.load_series(args.data), Path(args.data).name


def forecast(args) -> int:
    series, label = _load(args)
    needed = args.washout + args.train + 2
    if series.shape[0] < needed:
        raise ValueError(f"the series has {series.shape[0]} steps; washout + train needs at least {needed}")
    # Standardise with training statistics only: nothing of the test part leaks in.
    train_part = series[: args.washout + args.train + 1]
    mean, scale = train_part.mean(axis=0), train_part.std(axis=0)
    scale[scale == 0] = 1.0
    z = (series - mean) / scale

    inputs, targets = z[:-1], z[1:]  # one step ahead: y[t] is the next value after u[t]
    end_train = args.washout + args.train
    model = ESNRegressor(args.units, density=args.density, spectral_radius=args.spectral_radius,
                         leak_rate=args.leak_rate, input_scaling=args.input_scaling, alpha=args.alpha,
                         washout=args.washout, seed=args.seed, dtype=args.dtype, backend=args.backend,
                         progress=sys.stderr.isatty())
    started = time.perf_counter()
    model.fit(inputs[:end_train], targets[:end_train])
    fit_seconds = time.perf_counter() - started

    one_step = model.predict(inputs[end_train:])
    one_step_nrmse = metrics.nrmse(targets[end_train:], one_step)
    horizon = min(args.horizon, targets.shape[0] - end_train)
    closed_loop = model.forecast(horizon)
    closed_loop_nrmse = metrics.nrmse(targets[end_train:end_train + horizon], closed_loop)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    states = model.reservoir_.reset().run(inputs)
    states_path = save_run(out / "states.h5", "forecast", states, inputs=inputs, targets=targets,
                           config={**model.get_params(), "data": label, "backend": model.reservoir_.backend_name})
    try:
        figure = _plot(out / "forecast.png", label, targets, end_train, one_step, closed_loop, scale, mean)
    except ImportError:
        figure = "not written: matplotlib is missing (pip install 'reservoir-engine[plot]')"

    print(f"data: {label}, {series.shape[0]} steps; reservoir: {args.units} units, "
          f"backend {model.reservoir_.backend_name}, {args.dtype}; fit {fit_seconds:.2f} s")
    print(f"one-step NRMSE    ({targets.shape[0] - end_train} test steps): {one_step_nrmse:.4g}")
    print(f"closed-loop NRMSE ({horizon} steps, generative): {closed_loop_nrmse:.4g}")
    print(f"states: {states_path} ({states.shape[0]} x {states.shape[1]})")
    print(f"figure: {figure}")
    return 0


def _plot(path, label, targets, end_train, one_step, closed_loop, scale, mean):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def original(z):
        return np.asarray(z).reshape(len(z), -1)[:, 0] * scale[0] + mean[0]

    horizon = len(closed_loop)
    shown = min(len(targets) - end_train, max(horizon, 300))
    steps = np.arange(end_train, end_train + shown)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(steps, original(targets[end_train:end_train + shown]), color="black", lw=1.5, label="truth")
    ax.plot(steps, original(one_step[:shown]), color="tab:blue", lw=1, ls="--", label="one step ahead")
    ax.plot(steps[:horizon], original(closed_loop), color="tab:red", lw=1, label="closed loop (generative)")
    ax.set_xlabel("time step")
    ax.set_ylabel(label)
    ax.set_title(f"ESN forecast of {label}")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="reservoir", description="reservoir-engine command line")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library chooses")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _forecast_parser(subparsers)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        return args.handler(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as error:
        print(f"reservoir {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
