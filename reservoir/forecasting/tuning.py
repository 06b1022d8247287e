"""Hyper-parameter search with Optuna, on one machine or on a Dask cluster.

:func:`tune` runs an :class:`optuna.Study` over a search space the user writes as a
dict: Optuna is the search algorithm (TPE by default), the study is Optuna's own,
so it can be inspected (``study.trials_dataframe()``), plotted
(``optuna.visualization``) and resumed (``storage=`` + ``study_name=``). The
objective is any callable ``objective(params, seed) -> score``; every trial averages
it over ``seeds`` (repeats of the random reservoir). Ready-made objectives for a
time-ordered split and for a backtest are ``SplitObjective``, ``BacktestObjective`` and
``EstimatorObjective``.

A trial whose objective raises, or whose score is NaN or infinite (a diverged
reservoir), is recorded as failed (Optuna's ``FAIL`` state, the reason in the
trial's ``user_attrs["failure"]``) and the search goes on.

With ``client=`` (a ``distributed.Client``) the trials run on the Dask workers:
the study lives in an ``optuna_integration.dask.DaskStorage`` on the scheduler and
``n_workers`` ``study.optimize`` calls share the trials.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence

__all__ = ["tune", "search_space"]

_FORECAST_EXTRA = "pip install 'reservoir-engine[forecast]'"
_DISTRIBUTED_EXTRA = "pip install 'reservoir-engine[distributed]'"


def _optuna():
    try:
        import optuna
    except ImportError as error:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError(f"tuning needs Optuna, which is not installed: {_FORECAST_EXTRA}") from error
    return optuna


def _dask_storage():
    try:
        from optuna_integration.dask import DaskStorage
    except ImportError as error:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError(
            "tune(client=...) needs Dask's distributed scheduler and optuna-integration, which are not "
            f"installed: {_DISTRIBUTED_EXTRA}"
        ) from error
    return DaskStorage


def search_space(space: Mapping) -> dict:
    """Optuna distributions from a search space written as a dict.

    Parameters
    ----------
    space : mapping of name -> description
        Each description is one of

        - ``("float", low, high)`` or ``("float", low, high, "log")`` (also ``True``
          for log) — a real in [low, high], on a log scale where asked;
        - ``("int", low, high)`` or ``("int", low, high, "log")`` — an integer in
          [low, high];
        - ``("categorical", [choice, ...])`` — one of the choices (None, bool, int,
          float or str, as Optuna stores them);
        - an ``optuna.distributions`` object, taken as it is.

    Returns
    -------
    dict of name -> optuna.distributions.BaseDistribution

    Raises
    ------
    ValueError
        An empty range (``low >= high``), a non-positive bound on a log scale, no
        choices, or a description of another form; the message names the parameter.
    """
    optuna = _optuna()
    distributions = optuna.distributions
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of name -> description, got {type(space).__name__}")
    if not space:
        raise ValueError("space is empty: give at least one parameter to search")
    parsed = {}
    for name, description in space.items():
        if not isinstance(name, str):
            raise TypeError(f"space: parameter names must be strings, got {name!r}")
        if isinstance(description, distributions.BaseDistribution):
            parsed[name] = description
            continue
        parsed[name] = _distribution(name, description, distributions)
    return parsed


def _distribution(name, description, distributions):
    if isinstance(description, (str, bytes)) or not isinstance(description, Sequence) or not description:
        raise ValueError(
            f"space[{name!r}] = {description!r}: expected ('float', low, high[, 'log']), "
            "('int', low, high[, 'log']), ('categorical', [choices]) or an optuna distribution"
        )
    kind, *rest = description
    if kind == "categorical":
        if len(rest) != 1 or isinstance(rest[0], (str, bytes)) or not isinstance(rest[0], Sequence):
            raise ValueError(f"space[{name!r}]: expected ('categorical', [choice, ...]), got {description!r}")
        choices = tuple(rest[0])
        if not choices:
            raise ValueError(f"space[{name!r}]: the list of choices is empty")
        return distributions.CategoricalDistribution(choices)
    if kind not in ("float", "int"):
        raise ValueError(f"space[{name!r}]: unknown kind {kind!r}; expected 'float', 'int' or 'categorical'")
    if len(rest) not in (2, 3):
        raise ValueError(f"space[{name!r}]: expected ({kind!r}, low, high[, 'log']), got {description!r}")
    low, high = rest[0], rest[1]
    log = len(rest) == 3 and rest[2] in ("log", True)
    if len(rest) == 3 and rest[2] not in ("log", True, "linear", False):
        raise ValueError(f"space[{name!r}]: the fourth entry must be 'log' (or True), got {rest[2]!r}")
    number = numbers.Integral if kind == "int" else numbers.Real
    for bound_name, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, number) or not math.isfinite(bound):
            raise ValueError(f"space[{name!r}]: {bound_name} must be a finite {kind}, got {bound!r}")
    if low >= high:
        raise ValueError(f"space[{name!r}]: empty range, low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ValueError(f"space[{name!r}]: a log scale needs low > 0, got {low}")
    if kind == "int":
        return distributions.IntDistribution(int(low), int(high), log=log)
    return distributions.FloatDistribution(float(low), float(high), log=log)


def _suggest(trial, name, distribution):
    """Ask the trial for a value of one parameter (Optuna's public suggest_* API)."""
    optuna = _optuna()
    if isinstance(distribution, optuna.distributions.FloatDistribution):
        return trial.suggest_float(
            name, distribution.low, distribution.high, log=distribution.log, step=distribution.step
        )
    if isinstance(distribution, optuna.distributions.IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, log=distribution.log, step=distribution.step
        )
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise TypeError(f"space[{name!r}]: unsupported distribution {type(distribution).__name__}")


class _TrialObjective:
    """Optuna's objective: suggest the parameters, average ``objective(params, seed)`` over seeds.

    A score that is NaN or infinite fails the trial (Optuna marks a NaN return as FAIL);
    an exception fails it too (``catch`` in ``optimize``); either way the reason is kept
    in ``user_attrs["failure"]``. An objective may return ``(score, info)``: the info
    (JSON values, e.g. the penalty it chose) is kept per seed in ``user_attrs["info"]``.
    """

    def __init__(self, objective, distributions, seeds, fixed):
        self.objective = objective
        self.distributions = distributions
        self.seeds = seeds
        self.fixed = fixed

    def __call__(self, trial) -> float:
        params = dict(self.fixed)
        params.update({name: _suggest(trial, name, d) for name, d in self.distributions.items()})
        scores, infos = [], []
        for seed in self.seeds:
            try:
                result = self.objective(params, seed)
            except Exception as error:
                trial.set_user_attr("failure", f"seed {seed}: {type(error).__name__}: {error}")
                raise
            score, info = result if isinstance(result, tuple) else (result, None)
            score = float(score)
            scores.append(score)
            if info is not None:
                infos.append(info)
            if not math.isfinite(score):
                trial.set_user_attr("failure", f"seed {seed}: score is {score} (diverged)")
                trial.set_user_attr("scores", [s if math.isfinite(s) else str(s) for s in scores])
                return math.nan  # Optuna records the trial as FAIL
        trial.set_user_attr("scores", scores)
        if infos:
            trial.set_user_attr("info", infos)
        return sum(scores) / len(scores)


def _seeds(seeds) -> list[int]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive number of repeats or a list of seeds, got {seeds}")
        return list(range(int(seeds)))
    values = list(seeds)
    if not values:
        raise ValueError("seeds is empty: give at least one seed")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"seeds must be integers, got {value!r}")
    return [int(value) for value in values]


def tune(
    objective: Callable,
    space: Mapping,
    *,
    n_trials: int = 20,
    seeds=(0,),
    fixed: Mapping | None = None,
    direction: str = "minimize",
    sampler=None,
    storage=None,
    study_name: str | None = None,
    load_if_exists: bool = True,
    timeout: float | None = None,
    client=None,
    n_workers: int | None = None,
    show_progress_bar: bool = False,
):
    """Search the parameters of ``objective`` with Optuna; return the study.

    Parameters
    ----------
    objective : callable ``(params: dict, seed: int) -> float`` or ``-> (float, dict)``
        The score of one setting for one random seed (lower is better by default).
        ``params`` holds the searched values and ``fixed``. Ready-made:
        :class:`~reservoir.forecasting.SplitObjective` (a time-ordered split),
        :class:`~reservoir.forecasting.BacktestObjective` (rolling origins) and
        :class:`~reservoir.forecasting.EstimatorObjective` (any forecaster under a backtest callable).
        With ``client`` it must be picklable (cloudpickle: closures are fine).
    space : dict of name -> description
        See :func:`search_space`: ``("float", lo, hi[, "log"])``, ``("int", lo, hi[, "log"])``,
        ``("categorical", [choices])`` or an ``optuna.distributions`` object.
    n_trials : int
        Trials to run in this call (added to those a resumed study already holds).
    seeds : int or sequence of int
        Repeats per trial: the trial's value is the mean score over these seeds (an int
        ``k`` means seeds ``0 .. k-1``). The per-seed scores are in ``user_attrs["scores"]``.
    fixed : dict, optional
        Parameters passed to the objective unchanged in every trial.
    direction : {"minimize", "maximize"}
    sampler : optuna.samplers.BaseSampler, optional
        Optuna's search algorithm; ``optuna.samplers.TPESampler()`` by default. On Dask
        workers every worker reseeds its copy, so they do not propose the same points.
    storage : str or optuna.storages.BaseStorage, optional
        Where the study is kept (e.g. ``"sqlite:///search.db"``); with ``study_name``
        a later call resumes it. In memory by default.
    study_name : str, optional
    load_if_exists : bool
        Resume a study of that name in ``storage`` instead of raising.
    timeout : float, optional
        Seconds after which no new trial starts (per worker with ``client``).
    client : distributed.Client, optional
        Run the trials on this Dask cluster (``pip install 'reservoir-engine[distributed]'``).
    n_workers : int, optional
        Parallel ``study.optimize`` calls on the cluster; by default one per worker thread.
    show_progress_bar : bool

    Returns
    -------
    optuna.Study
        ``study.best_params`` (searched values only), ``study.best_value``,
        ``study.best_trial.user_attrs`` (per-seed scores, the objective's info),
        ``study.trials_dataframe()``. Failed trials are kept with state ``FAIL``. After a
        distributed search without ``storage`` the trials are copied into an in-memory study,
        so the result outlives the client.
    """
    optuna = _optuna()
    if not callable(objective):
        raise TypeError(f"objective must be a callable (params, seed) -> score, got {type(objective).__name__}")
    distributions = search_space(space)
    fixed = dict(fixed or {})
    overlap = sorted(set(fixed) & set(distributions))
    if overlap:
        raise ValueError(f"parameters {overlap} are both fixed and searched")
    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    trial_objective = _TrialObjective(objective, distributions, _seeds(seeds), fixed)
    sampler = optuna.samplers.TPESampler() if sampler is None else sampler
    if client is None:
        study = optuna.create_study(
            storage=storage,
            sampler=sampler,
            study_name=study_name,
            direction=direction,
            load_if_exists=load_if_exists,
        )
        study.optimize(
            trial_objective,
            n_trials=int(n_trials),
            timeout=timeout,
            catch=(Exception,),
            show_progress_bar=show_progress_bar,
        )
        return study
    return _tune_on_cluster(
        trial_objective,
        client,
        n_workers,
        int(n_trials),
        sampler,
        storage,
        study_name,
        direction,
        load_if_exists,
        timeout,
    )


def _tune_on_cluster(
    trial_objective, client, n_workers, n_trials, sampler, storage, study_name, direction, load_if_exists, timeout
):
    optuna = _optuna()
    DaskStorage = _dask_storage()
    if not hasattr(client, "submit") or not hasattr(client, "scheduler_info"):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    try:
        threads = sum(worker["nthreads"] for worker in client.scheduler_info()["workers"].values())
    except Exception as error:
        raise RuntimeError(f"client: the Dask scheduler cannot be reached ({error})") from error
    if threads == 0:
        raise RuntimeError("client: the Dask cluster has no workers")
    if n_workers is None:
        n_workers = threads
    if isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    n_workers = min(int(n_workers), n_trials)
    with warnings.catch_warnings():  # DaskStorage is marked experimental; tune() is the stable surface
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        dask_storage = DaskStorage(storage=storage, client=client)
    study = optuna.create_study(
        storage=dask_storage, sampler=sampler, study_name=study_name, direction=direction, load_if_exists=load_if_exists
    )
    shares = [n_trials // n_workers + (index < n_trials % n_workers) for index in range(n_workers)]
    futures = [
        client.submit(
            _optimize_on_worker,
            trial_objective,
            study.study_name,
            dask_storage.name,
            sampler,
            share,
            timeout,
            pure=False,
        )
        for share in shares
    ]
    client.gather(futures)  # raises what a worker raised outside the trials (they catch their own)
    if storage is not None:
        return optuna.load_study(study_name=study.study_name, storage=storage, sampler=sampler)
    # The scheduler's in-memory study ends with the client: copy it into this process.
    local = optuna.storages.InMemoryStorage()
    optuna.copy_study(from_study_name=study.study_name, from_storage=dask_storage, to_storage=local)
    return optuna.load_study(study_name=study.study_name, storage=local, sampler=sampler)


def _optimize_on_worker(trial_objective, study_name, storage_name, sampler, n_trials, timeout) -> int:
    """One ``study.optimize`` on a Dask worker, against the scheduler's shared storage."""
    import copy

    optuna = _optuna()
    DaskStorage = _dask_storage()
    sampler = copy.deepcopy(sampler)
    sampler.reseed_rng()  # workers must not propose the same points
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = DaskStorage(name=storage_name)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    study.optimize(trial_objective, n_trials=n_trials, timeout=timeout, catch=(Exception,))
    return n_trials
