"""The ``reservoir`` command.

``reservoir forecast`` is the main job (``--scheduler`` runs its heavy parts on a Dask
cluster); ``reservoir search`` tunes the reservoir's parameters with Optuna (see
``reservoir._search_command``). The forecast: train an ESN on a series (Mackey-Glass built
in, or a CSV/NPY file), print the one-step and closed-loop NRMSE on held-out steps
beside a persistence baseline, write the reservoir states to HDF5 and a PNG of the
forecasts against the truth. Washout, training length and units adapt to a short
series unless they are given.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _search_command, backends, datasets, metrics
from .estimators import ESNRegressor
from .storage import save_run

# Sizes for a long series; a shorter one gets WASHOUT_FRACTION of its steps as washout
# and keeps at least TEST_FRACTION for testing.
DEFAULT_WASHOUT = 200
DEFAULT_TRAIN = 4000
DEFAULT_UNITS = 1000
WASHOUT_FRACTION = 0.1
TEST_FRACTION = 0.2
# A ridge readout with more features than about a quarter of its samples fits noise
# (measured on 300-step Mackey-Glass: 88 units on 179 samples scored up to 5x the
# error of 43 units). The default 1000 units on 4000 training steps sit at this limit.
SAMPLES_PER_UNIT = 4
MIN_TRAIN = 20
MIN_TEST = 5
BUILT_IN_STEPS = 6000
DEFAULT_ALPHA = 1e-4
# A short series leaves little data to pin the readout down: the penalty is chosen on
# the last 20 % of its training steps (on 150- to 300-step Mackey-Glass, 10 seeds, this
# halved the worst one-step error of a fixed 1e-4).
SHORT_SERIES_ALPHAS = [1e-8, 1e-6, 1e-4, 1e-2, 1.0]


@dataclass
class Plan:
    """Washout, training steps and units for a series of ``steps`` time steps."""

    steps: int
    washout: int
    train: int
    units: int
    notes: list[str] = field(default_factory=list)
    short: bool = False  # the training part was cut to fit the series

    @property
    def test(self) -> int:
        """Held-out steps (one-step-ahead pairs after the training part)."""
        return self.steps - 1 - self.washout - self.train


def _auto_sizes(steps: int, washout: int | None, train: int | None) -> tuple[int, int]:
    pairs = steps - 1  # input u[t] and target u[t + 1]
    if washout is None:
        washout = min(DEFAULT_WASHOUT, round(WASHOUT_FRACTION * pairs))
    if train is None:
        train = min(DEFAULT_TRAIN, pairs - washout - max(MIN_TEST, math.ceil(TEST_FRACTION * pairs)))
    return washout, train


def _fits(steps: int, washout: int, train: int) -> bool:
    return train >= MIN_TRAIN and steps - 1 - washout - train >= MIN_TEST


def _check_train(train: int | None) -> None:
    if train is not None and train < MIN_TRAIN:
        raise ValueError(f"--train {train} is too few: a readout needs at least {MIN_TRAIN} training steps")


def minimum_steps(washout: int | None = None, train: int | None = None) -> int:
    """The shortest series a forecast runs on with these sizes (None: adapted to the series)."""
    _check_train(train)
    steps = 2
    while not _fits(steps, *_auto_sizes(steps, washout, train)):
        steps += 1
    return steps


def plan(
    steps: int, n_inputs: int = 1, *, washout: int | None = None, train: int | None = None, units: int | None = None
) -> Plan:
    """Choose the sizes not given for a series of ``steps`` steps with ``n_inputs`` columns.

    Raises ValueError naming the length and the minimum when no fit is possible.
    """
    _check_train(train)
    chosen_washout, chosen_train = _auto_sizes(steps, washout, train)
    if not _fits(steps, chosen_washout, chosen_train):
        needed = minimum_steps(washout, train)
        given = " and ".join(
            f"--{name} {value}" for name, value in (("washout", washout), ("train", train)) if value is not None
        )
        raise ValueError(
            f"the series has {steps} steps; a forecast{' with ' + given if given else ''} needs at "
            f"least {needed} ({MIN_TRAIN} training and {MIN_TEST} test steps at the least)"
        )
    notes = []
    if (washout, train) != (chosen_washout, chosen_train) and (chosen_washout, chosen_train) != (
        DEFAULT_WASHOUT,
        DEFAULT_TRAIN,
    ):
        notes.append(
            f"the series has {steps} steps: washout {chosen_washout} and {chosen_train} training steps "
            f"(defaults {DEFAULT_WASHOUT} and {DEFAULT_TRAIN}), leaving "
            f"{steps - 1 - chosen_washout - chosen_train} test steps; set --washout/--train to choose"
        )
    limit = max(1, chosen_train // SAMPLES_PER_UNIT)
    if units is None:
        units = min(DEFAULT_UNITS, limit)
        if units < DEFAULT_UNITS:
            notes.append(
                f"{units} units (default {DEFAULT_UNITS}): at most one unit per {SAMPLES_PER_UNIT} "
                f"training steps, so the readout does not fit noise; set --units to choose"
            )
    elif units > limit:
        features = units + n_inputs
        notes.append(
            f"warning: {units} units on {chosen_train} training steps fit {features} features on "
            f"{chosen_train} samples: expect overfitting (a large test error); use --units {limit} or "
            f"fewer, or a longer series"
        )
    short = train is None and chosen_train < DEFAULT_TRAIN
    return Plan(steps, chosen_washout, chosen_train, units, notes, short)


def _count(minimum: int):
    """An argparse type: an int >= minimum (argparse names the option in its error)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse says "invalid integer value" for non-numbers
    return parse


def _alphas(text: str) -> float | list[float]:
    """An argparse type: one ridge penalty or a comma-separated list to choose from."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or comma-separated numbers, got {text!r}") from None
    if any(not value >= 0 for value in values):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return values[0] if len(values) == 1 else values


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None: those options explain their adaptive default in the help."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def _forecast_parser(subparsers):
    parser = subparsers.add_parser(
        "forecast",
        help="train an ESN forecaster and report its error",
        description=__doc__,
        formatter_class=_HelpFormatter,
    )
    add = parser.add_argument
    add(
        "--data",
        default="mackey-glass",
        help="'mackey-glass' (built in) or a path to a .csv/.npy series (rows are time steps, columns variables)",
    )
    add(
        "--steps",
        type=_count(2),
        default=None,
        help=f"length of the built-in series (default: {BUILT_IN_STEPS}; a file is used whole)",
    )
    add(
        "--train",
        type=_count(1),
        default=None,
        help=f"training steps after the washout (default: {DEFAULT_TRAIN}, fewer for a short series: at least "
        f"{TEST_FRACTION:.0%}% of it is kept for testing)",
    )
    add(
        "--washout",
        type=_count(0),
        default=None,
        help=f"initial steps not used for training, while the reservoir forgets its zero state (default: "
        f"{DEFAULT_WASHOUT}, or {WASHOUT_FRACTION:.0%}% of a short series)",
    )
    add(
        "--horizon",
        type=_count(1),
        default=500,
        help="closed-loop forecast steps after training (cut to the test steps there are)",
    )
    add(
        "--units",
        type=_count(1),
        default=None,
        help=f"reservoir units (default: {DEFAULT_UNITS}, or one per {SAMPLES_PER_UNIT} training steps if fewer)",
    )
    add(
        "--density",
        type=float,
        default=None,
        help="recurrent connection density, the fraction of all pairs (default: 0.01, or about 10 connections per "
        "unit in a reservoir of fewer than 1000 units)",
    )
    add("--spectral-radius", type=float, default=1.25, help="spectral radius of the recurrent matrix")
    add("--leak-rate", type=float, default=0.3, help="leak rate a: x <- (1 - a) x + a tanh(...); 1 is no leak")
    add("--input-scaling", type=float, default=0.5, help="input weights are uniform in [-scaling, scaling)")
    add(
        "--alpha",
        type=_alphas,
        default=None,
        help=f"ridge penalty, or a comma-separated list chosen on the last 20%% of the training steps (default: "
        f"{DEFAULT_ALPHA:g}; for a short series chosen from {','.join(f'{a:g}' for a in SHORT_SERIES_ALPHAS)})",
    )
    add("--backend", default="auto", choices=["auto", *backends.names()], help="where the reservoir runs")
    add("--dtype", default="float32", choices=["float32", "float64"], help="reservoir precision")
    add("--seed", type=int, default=42, help="seed of the random weights")
    add("--out", default="forecast_out", help="folder for states.h5 and forecast.png")
    add(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the states harvest and the readout fit on a Dask cluster (default: none, all in this "
        "process): a scheduler's address "
        "(tcp://host:8786) or 'local' for worker processes on this machine; the states go to OUT/shards "
        "with OUT/shards/index.h5 reading them as one run; shards of another reservoir there are refused "
        "(pip install 'reservoir-engine[distributed]')",
    )
    parser.set_defaults(handler=forecast)


def _load(args, default_steps: int = BUILT_IN_STEPS) -> tuple[np.ndarray, str]:
    if args.data == "mackey-glass":
        return datasets.mackey_glass(args.steps or default_steps, tau=17), "Mackey-Glass (tau = 17)"
    series = datasets.load_series(args.data)
    if args.steps is not None:
        print(
            f"note: --steps {args.steps} is for the built-in series; {Path(args.data).name} is used whole "
            f"({series.shape[0]} steps)"
        )
    return series, Path(args.data).name


def forecast(args) -> int:
    series, label = _load(args)
    sizes = plan(series.shape[0], series.shape[1], washout=args.washout, train=args.train, units=args.units)
    for note in sizes.notes:
        print(note if note.startswith("warning") else f"note: {note}")
    alpha = args.alpha
    if alpha is None:
        alpha = SHORT_SERIES_ALPHAS if sizes.short else DEFAULT_ALPHA
        if sizes.short:
            print(
                f"note: alpha chosen from {', '.join(f'{a:g}' for a in alpha)} on the last 20% of the training "
                f"steps (default {DEFAULT_ALPHA:g} for a long series); set --alpha to choose"
            )
    end_train = sizes.washout + sizes.train
    # Standardise with training statistics only: nothing of the test part leaks in.
    train_part = series[: end_train + 1]
    mean, scale = train_part.mean(axis=0), train_part.std(axis=0)
    scale[scale == 0] = 1.0
    z = (series - mean) / scale

    inputs, targets = z[:-1], z[1:]  # one step ahead: y[t] is the next value after u[t]
    # density=None is left out: the estimator's default adapts it to small reservoirs.
    density = {} if args.density is None else {"density": args.density}
    model = ESNRegressor(
        sizes.units,
        **density,
        spectral_radius=args.spectral_radius,
        leak_rate=args.leak_rate,
        input_scaling=args.input_scaling,
        alpha=alpha,
        washout=sizes.washout,
        seed=args.seed,
        dtype=args.dtype,
        backend=args.backend,
        progress=sys.stderr.isatty(),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    horizon = min(args.horizon, sizes.test)
    fit = _fit_on_cluster if args.scheduler is not None else _fit_here
    one_step, closed_loop, alpha_chosen, backend, states_path, states_shape, fit_seconds = fit(
        model, inputs, targets, end_train, horizon, out, args, label
    )
    truth = targets[end_train:]
    one_step_nrmse = metrics.nrmse(truth, one_step)
    with np.errstate(over="ignore", invalid="ignore"):
        closed_loop = np.where(np.isnan(closed_loop), np.inf, closed_loop)  # diverged: an infinite error
    closed_loop_nrmse = metrics.nrmse(truth[:horizon], closed_loop)
    persistence_nrmse = metrics.nrmse(truth, inputs[end_train:])  # next value = the last one seen

    try:
        figure = forecast_figure(
            truth * scale + mean,
            one_step * scale + mean,
            closed_loop * scale + mean,
            label=label,
            first_step=end_train + 1,
            units=sizes.units,
            one_step_nrmse=one_step_nrmse,
            closed_loop_nrmse=closed_loop_nrmse,
        )
        figure.savefig(out / "forecast.png", dpi=110)
        figure = out / "forecast.png"
    except ImportError:
        figure = "not written: matplotlib is missing (pip install 'reservoir-engine[plot]')"

    print(
        f"data: {label}, {series.shape[0]} steps; reservoir: {sizes.units} units, "
        f"backend {backend}, {args.dtype}; washout {sizes.washout}, "
        f"{sizes.train} training steps; fit {fit_seconds:.2f} s"
        + (f" on the Dask cluster {args.scheduler}" if args.scheduler is not None else "")
        + (f"; alpha {alpha_chosen:g} chosen" if np.size(alpha) > 1 else "")
    )
    print(f"one-step NRMSE    ({sizes.test} test steps): {one_step_nrmse:.4g}")
    print(f"closed-loop NRMSE ({horizon} steps, generative): {closed_loop_nrmse:.4g}")
    print(
        f"baseline: persistence (next value = last value) one-step NRMSE {persistence_nrmse:.4g}; "
        "predicting the mean scores about 1"
    )
    if not one_step_nrmse < persistence_nrmse:
        print(
            "warning: the one-step forecast is no better than repeating the last value; try another "
            "--alpha, --units or --leak-rate, or a longer series"
        )
    if not closed_loop_nrmse < 1:
        print(
            "note: the closed-loop forecast drifts away from the series (NRMSE >= 1 is no better than "
            "predicting the mean); a larger --alpha often steadies it"
        )
    print(f"states: {states_path} ({states_shape[0]} x {states_shape[1]})")
    print(f"figure: {figure}")
    return 0


def _fit_here(model, inputs, targets, end_train, horizon, out, args, label):
    """Fit and forecast in this process; the states of the whole series into OUT/states.h5."""
    started = time.perf_counter()
    model.fit(inputs[:end_train], targets[:end_train])
    fit_seconds = time.perf_counter() - started
    one_step = np.asarray(model.predict(inputs[end_train:]))
    closed_loop = np.asarray(model.forecast(horizon))
    states = model.reservoir_.reset().run(inputs)
    states_path = save_run(
        out / "states.h5",
        "forecast",
        states,
        inputs=inputs,
        targets=targets,
        config={**model.get_params(), "data": label, "backend": model.reservoir_.backend_name},
    )
    backend = model.reservoir_.backend_name
    return one_step, closed_loop, model.alpha_, backend, states_path, states.shape, fit_seconds


def _fit_on_cluster(model, inputs, targets, end_train, horizon, out, args, label):
    """The same fit and forecasts with the states harvest and the readout reduction on a Dask cluster
    (the time reported is the harvest, the reduction and the forecasts on the cluster)."""
    from .distributed import connect
    from .distributed.forecast import forecast_on_cluster

    if not args.verbose:  # Dask sets its loggers to INFO (every worker, every connection); -v shows them
        for handler in logging.root.handlers:
            handler.setLevel(logging.WARNING)
    client = connect(None if args.scheduler == "local" else args.scheduler)
    started = time.perf_counter()
    try:
        result = forecast_on_cluster(
            model,
            inputs,
            targets,
            end_train=end_train,
            horizon=horizon,
            directory=out / "shards",
            client=client,
            progress=sys.stderr.isatty(),
        )
        fit_seconds = time.perf_counter() - started
    finally:
        client.close()
    shape = (result.harvest.steps, result.readout.n_features_in_ - (inputs.shape[1] if model.include_input else 0))
    backend = result.reservoir.backend_name
    alpha = result.readout.alpha_
    return result.one_step, result.closed_loop, alpha, backend, result.harvest.index, shape, fit_seconds


def forecast_figure(
    truth,
    one_step,
    closed_loop,
    *,
    label: str,
    first_step: int = 0,
    units: int | None = None,
    one_step_nrmse: float | None = None,
    closed_loop_nrmse: float | None = None,
    max_shown: int = 500,
):
    """The forecast figure: one-step and closed-loop forecasts against the truth, and their errors.

    ``truth`` and ``one_step`` cover the test steps ((T,) or (T, k); the first column is
    drawn), ``closed_loop`` its first steps. Three panels share the time axis: truth with
    the one-step forecast, truth with the closed-loop forecast, and the absolute error of
    both on a log scale. At most ``max_shown`` test steps (or the closed-loop horizon if
    longer) are drawn, and the titles say which. ``first_step`` is the series' time step
    of the first test target. Returns a matplotlib Figure (no pyplot state is touched).
    """
    from matplotlib.figure import Figure

    def first_column(values):
        values = np.asarray(values, dtype=np.float64)
        return values.reshape(len(values), -1)[:, 0]

    columns = np.asarray(truth).reshape(len(truth), -1).shape[1]
    truth, one_step, closed_loop = first_column(truth), first_column(one_step), first_column(closed_loop)
    test, horizon = len(truth), len(closed_loop)
    shown = min(test, max(horizon, max_shown))
    steps = np.arange(shown)
    figure = Figure(figsize=(10, 7.5), layout="constrained")
    top, middle, bottom = figure.subplots(3, 1, sharex=True, height_ratios=(3, 3, 2))

    def score(value):
        return "" if value is None else f": NRMSE {value:.3g}"

    top.plot(steps, truth[:shown], color="black", lw=2.2, alpha=0.45, label="truth")
    top.plot(steps, one_step[:shown], color="tab:blue", lw=1.1, ls="--", label="one step ahead")
    top.set_title(
        f"one step ahead (each step from the true past){score(one_step_nrmse)} over all {test:,} test steps",
        loc="left",
        fontsize=10,
    )
    middle.plot(steps, truth[:shown], color="black", lw=2.2, alpha=0.45, label="truth")
    finite = np.isfinite(closed_loop)
    middle.plot(
        steps[:horizon][finite],
        closed_loop[finite],
        color="tab:red",
        lw=1.1,
        label="closed loop (own outputs fed back)",
    )
    if horizon < shown:
        middle.axvline(horizon - 0.5, color="tab:red", lw=0.8, ls=":")
    middle.set_title(
        f"closed loop, {horizon:,} steps generated from the end of training{score(closed_loop_nrmse)}",
        loc="left",
        fontsize=10,
    )
    low, high = np.min(truth[:shown]), np.max(truth[:shown])
    span = high - low if high > low else 1.0
    shown_range = (low - 0.15 * span, high + 0.45 * span)
    for axis in (top, middle):
        # Fixed to the truth's range (a diverged forecast leaves the truth readable), with
        # headroom for the legend above the curves.
        axis.set_ylim(*shown_range)
        axis.set_ylabel(label if columns == 1 else f"{label}\n(column 0)")
        axis.legend(loc="upper right", fontsize=9, ncol=2)
        axis.grid(alpha=0.3)
    with np.errstate(invalid="ignore"):
        outside = np.flatnonzero(~((closed_loop >= shown_range[0]) & (closed_loop <= shown_range[1])))
    if outside.size:
        middle.text(
            0.01,
            0.95,
            f"the closed loop leaves the range shown at test step {outside[0]:,}",
            transform=middle.transAxes,
            color="tab:red",
            fontsize=9,
            va="top",
        )
    tiny = np.finfo(np.float64).tiny  # log scale: an exact hit is drawn at the bottom, not dropped
    bottom.semilogy(
        steps, np.abs(one_step[:shown] - truth[:shown]) + tiny, color="tab:blue", lw=1, label="one step ahead"
    )
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(closed_loop - truth[:horizon])
    bottom.semilogy(
        steps[:horizon], np.where(np.isfinite(error), error, np.nan) + tiny, color="tab:red", lw=1, label="closed loop"
    )
    spread = np.std(truth)
    if spread > 0:
        bottom.axhline(spread, color="gray", lw=0.8, ls="--", label="std of the truth (NRMSE 1)")
    errors = np.abs(one_step[:shown] - truth[:shown])
    errors = errors[errors > 0]
    if errors.size and spread > 0:  # from the smallest error to well above NRMSE 1, room for the legend
        bottom.set_ylim(max(np.percentile(errors, 1), 1e-12 * spread) / 3, spread * 1e3)
    bottom.set_title("absolute error |forecast - truth| (log scale)", loc="left", fontsize=10)
    bottom.set_ylabel("absolute error")
    bottom.legend(loc="upper right", fontsize=9, ncol=3)
    bottom.grid(alpha=0.3, which="both")
    last = first_step + shown - 1
    bottom.set_xlabel(
        f"test step (0 is time step {first_step:,} of the series); "
        f"shown: test steps 0–{shown - 1:,} of {test:,} (time steps {first_step:,}–{last:,})"
    )
    figure.suptitle(
        f"ESN forecast of {label}"
        + (f", {units:,} units" if units else "")
        + f": test steps 0–{shown - 1:,} of {test:,}"
    )
    return figure


def build_parser() -> argparse.ArgumentParser:
    """The ``reservoir`` argument parser, with its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="reservoir", description="reservoir-engine command line", formatter_class=_HelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library chooses")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _forecast_parser(subparsers)
    _search_command.add_parser(subparsers, _count, _HelpFormatter, _load)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        with warnings.catch_warnings():
            # The library's warnings say what to change: shown as one line each, in order.
            warnings.showwarning = lambda message, *_: print(f"warning: {message}", file=sys.stderr, flush=True)
            return args.handler(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, ConnectionError, PermissionError) as error:
        print(f"reservoir {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
