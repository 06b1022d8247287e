"""``reservoir search``: tune an ESN forecaster's parameters with Optuna, here or on a Dask cluster.

The search space is the reservoir's spectral radius, leak rate and input scaling
(log scales); the size is fixed by ``--units``. Each trial scores a direct
``--horizon``-step ridge forecaster on the last ``--validation`` part of the series
(``reservoir.forecasting.SplitObjective``, the penalty chosen per trial), averaged
over ``--seeds`` reservoirs. With ``--scheduler`` the trials run on the Dask
workers and share one Optuna study on the scheduler.
"""

from __future__ import annotations

import sys

#: Searched parameters: (low, high) on a log scale.
SEARCH_SPACE = {
    "spectral_radius": ("float", 0.05, 1.5, "log"),
    "leak_rate": ("float", 0.05, 1.0, "log"),
    "input_scaling": ("float", 0.01, 2.0, "log"),
}


def add_parser(subparsers, count, formatter, load_series) -> None:
    """Register ``search``; `count` is the CLI's positive-int type, `load_series` its data loader."""
    parser = subparsers.add_parser(
        "search",
        help="tune an ESN forecaster's parameters with Optuna (here or on a Dask cluster)",
        description=__doc__,
        formatter_class=formatter,
    )
    add = parser.add_argument
    add("--data", default="mackey-glass", help="'mackey-glass' (built in) or a path to a .csv/.npy series")
    add("--steps", type=count(10), default=None, help="length of the built-in series (default: 2000)")
    add("--trials", type=count(1), default=20, help="Optuna trials")
    add("--seeds", type=count(1), default=1, help="reservoirs (seeds 0..k-1) each trial is averaged over")
    add("--units", type=count(1), default=100, help="reservoir units (fixed during the search)")
    add("--horizon", type=count(1), default=1, help="steps ahead the forecaster is scored on")
    add("--validation", type=float, default=0.2, help="fraction of the series (its end) the trials are scored on")
    add(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the trials on a Dask cluster (default: none, in this process): a scheduler's address "
        "(tcp://host:8786) or 'local' for worker processes on this machine",
    )
    add("--storage", default=None, help="Optuna storage URL to keep and resume the study (default: none, in memory)")
    add("--study-name", default=None, help="study name in --storage (default: none, a new study)")
    parser.set_defaults(handler=lambda args: search(args, load_series))


def search(args, load_series) -> int:
    """Run the search the arguments describe and print the best parameters."""
    try:
        from .forecasting import SplitObjective, tune
    except ImportError as error:  # pragma: no cover - the extra is installed in the test environment
        raise RuntimeError(f"reservoir search needs the forecast extra: {error}") from None
    if not args.verbose:  # Optuna logs every trial at INFO; -v shows them
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    series, label = load_series(args, default_steps=2000)
    if not 0 < args.validation < 1:
        raise ValueError(f"--validation must be in (0, 1), got {args.validation}")
    objective = SplitObjective(series, validation=args.validation, horizon=args.horizon)
    client = None
    if args.scheduler is not None:
        from .distributed import connect

        client = connect(None if args.scheduler == "local" else args.scheduler)
    try:
        study = tune(
            objective,
            SEARCH_SPACE,
            n_trials=args.trials,
            seeds=args.seeds,
            fixed={"units": args.units},
            storage=args.storage,
            study_name=args.study_name,
            client=client,
            show_progress_bar=client is None and sys.stderr.isatty(),
        )
    finally:
        if client is not None:
            client.close()
    finished = [trial for trial in study.trials if trial.value is not None]
    where = f"on the Dask cluster {args.scheduler}" if client is not None else "in this process"
    print(
        f"data: {label}, {series.shape[0]} steps; {len(study.trials)} trials {where} "
        f"({len(study.trials) - len(finished)} failed); {args.units} units, horizon {args.horizon}"
    )
    if not finished:
        print("no trial finished: see the failures in the study's trials (user_attrs['failure'])")
        return 1
    best = study.best_trial
    print(f"best validation RMSE (1.0 = forecasting the mean): {best.value:.4g} (trial {best.number})")
    for name, value in best.params.items():
        print(f"  --{name.replace('_', '-')} {value:.4g}")
    alphas = [info.get("alpha") for info in best.user_attrs.get("info", []) if isinstance(info, dict)]
    if alphas:
        print(f"  --alpha {alphas[0]:g}")
    return 0
