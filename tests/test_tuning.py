"""reservoir.forecasting.tune (Optuna) and its ESN objectives on a time-ordered split / rolling origins."""

import math
import subprocess
import sys

import numpy as np
import pytest
import sklearn.linear_model

optuna = pytest.importorskip("optuna")

from reservoir import ESN  # noqa: E402
from reservoir.forecasting import BacktestObjective, SplitObjective, search_space, tune  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _series(n=160, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10.0 + 3.0 * np.sin(2 * np.pi * t / 11.0) + 0.3 * rng.standard_normal(n)


# ---------------------------------------------------------------- search space


def test_search_space_forms():
    space = search_space(
        {
            "a": ("float", 0.1, 2.0),
            "b": ("float", 1e-3, 1.0, "log"),
            "c": ("int", 10, 50),
            "d": ("int", 1, 64, True),
            "e": ("categorical", [True, False]),
            "f": optuna.distributions.FloatDistribution(0.0, 1.0, step=0.25),
        }
    )
    d = optuna.distributions
    assert space["a"] == d.FloatDistribution(0.1, 2.0)
    assert space["b"] == d.FloatDistribution(1e-3, 1.0, log=True)
    assert space["c"] == d.IntDistribution(10, 50)
    assert space["d"] == d.IntDistribution(1, 64, log=True)
    assert space["e"] == d.CategoricalDistribution((True, False))
    assert space["f"].step == 0.25


@pytest.mark.parametrize(
    "description, words",
    [
        (("float", 1.0, 1.0), "empty range"),
        (("float", 2.0, 1.0), "empty range"),
        (("int", 5, 3), "empty range"),
        (("categorical", []), "choices is empty"),
        (("float", 0.0, 1.0, "log"), "log scale needs low > 0"),
        (("uniform", 0.0, 1.0), "unknown kind"),
        (("float", 0.0), "expected"),
        (("int", 0.5, 3), "low must be a finite int"),
        (("float", 0.0, math.inf), "high must be a finite float"),
        ("float", "expected"),
        ((), "expected"),
    ],
)
def test_search_space_errors_name_the_parameter(description, words):
    with pytest.raises(ValueError, match=words) as info:
        search_space({"leak_rate": description})
    assert "leak_rate" in str(info.value)


def test_empty_space_and_bad_arguments():
    with pytest.raises(ValueError, match="space is empty"):
        tune(lambda p, s: 0.0, {})
    with pytest.raises(ValueError, match="n_trials"):
        tune(lambda p, s: 0.0, {"x": ("float", 0, 1)}, n_trials=0)
    with pytest.raises(ValueError, match="seeds is empty"):
        tune(lambda p, s: 0.0, {"x": ("float", 0, 1)}, seeds=[])
    with pytest.raises(ValueError, match="both fixed and searched"):
        tune(lambda p, s: 0.0, {"x": ("float", 0, 1)}, fixed={"x": 0.5})
    with pytest.raises(TypeError, match="objective must be a callable"):
        tune(3.0, {"x": ("float", 0, 1)})


# ---------------------------------------------------------------- the study


def test_trial_value_is_the_mean_over_seeds_and_tpe_finds_the_minimum():
    calls = []

    def objective(params, seed):
        calls.append((params["x"], params["fixed"], seed))
        return (params["x"] - 0.3) ** 2 + seed, {"seed_seen": seed}

    study = tune(
        objective,
        {"x": ("float", 0.0, 1.0)},
        n_trials=40,
        seeds=[1, 4],
        fixed={"fixed": "kept"},
        sampler=optuna.samplers.TPESampler(seed=0),
    )
    assert isinstance(study, optuna.Study)
    assert len(study.trials) == 40 and len(calls) == 80
    assert {c[1] for c in calls} == {"kept"}
    for trial in study.trials:
        x = trial.params["x"]
        assert trial.value == pytest.approx((x - 0.3) ** 2 + 2.5, abs=1e-12)
        assert trial.user_attrs["scores"] == pytest.approx([(x - 0.3) ** 2 + 1, (x - 0.3) ** 2 + 4])
        assert trial.user_attrs["info"] == [{"seed_seen": 1}, {"seed_seen": 4}]
    assert abs(study.best_params["x"] - 0.3) < 0.05  # TPE, not random guessing over 40 trials


def test_raising_and_diverging_trials_fail_and_the_search_goes_on():
    def objective(params, seed):
        x = params["x"]
        if x > 0.7:
            raise FloatingPointError("reservoir blew up")
        if x < 0.3:
            return math.inf
        return x

    study = tune(objective, {"x": ("float", 0.0, 1.0)}, n_trials=30, sampler=optuna.samplers.RandomSampler(seed=1))
    states = [t.state for t in study.trials]
    assert len(states) == 30
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert failed and complete and len(failed) + len(complete) == 30
    for trial in failed:
        x = trial.params["x"]
        assert x > 0.7 or x < 0.3
        assert ("FloatingPointError" if x > 0.7 else "diverged") in trial.user_attrs["failure"]
    assert all(0.3 <= t.params["x"] <= 0.7 for t in complete)
    assert study.best_value == min(t.params["x"] for t in complete)


def test_resume_from_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    space = {"x": ("float", -1.0, 1.0)}
    first = tune(lambda p, s: p["x"] ** 2, space, n_trials=4, storage=storage, study_name="s")
    first_params = [t.params for t in first.trials]
    assert len(first_params) == 4
    again = tune(lambda p, s: p["x"] ** 2, space, n_trials=3, storage=storage, study_name="s")
    assert len(again.trials) == 7
    assert [t.params for t in again.trials[:4]] == first_params
    loaded = optuna.load_study(study_name="s", storage=storage)
    assert loaded.best_value == again.best_value


# ---------------------------------------------------------------- ESN objectives against a reference


def _reference_rows(series, params, seed, delays, horizon, washout, scale_until):
    """States, inputs and targets built by hand (scaled with the statistics of series[:scale_until])."""
    s = (series - series[:scale_until].mean()) / series[:scale_until].std()
    lagged = np.stack([np.concatenate([np.full(lag, s[0]), s[: len(s) - lag]]) for lag in range(delays)], axis=1)
    esn = ESN(params["units"], seed=seed, dtype="float64", backend="numpy", spectral_radius=params["spectral_radius"])
    states = esn.run(lagged)
    features = np.concatenate([states, lagged], axis=1)
    targets = np.stack([np.roll(s, -k) for k in range(1, horizon + 1)], axis=1)
    return s, features, targets


def test_split_objective_matches_a_hand_built_ridge():
    series = _series()
    params = {"units": 30, "spectral_radius": 0.8, "delays": 3, "alpha": 1e-3}
    objective = SplitObjective(series, validation=40, horizon=2, washout=10, backend="numpy")
    score, info = objective(params, seed=5)
    split = len(series) - 40
    s, X, Y = _reference_rows(series, params, 5, 3, 2, 10, split)
    train = np.arange(10, split - 2)
    test = np.arange(split - 1, len(series) - 2)
    ref = sklearn.linear_model.Ridge(alpha=1e-3).fit(X[train], Y[train])
    expected = np.sqrt(np.mean((ref.predict(X[test]) - Y[test]) ** 2))
    assert score == pytest.approx(expected, rel=1e-9)
    assert info == {"alpha": 1e-3}


def test_penalties_ride_along_and_states_are_cached():
    series = _series()
    objective = SplitObjective(series, validation=0.25, horizon=3, alphas=[1e-6, 1e-3, 1e-1, 10.0], backend="numpy")
    base = {"units": 40, "spectral_radius": 0.9, "leak_rate": 0.5}
    score, info = objective(base, seed=0)
    assert objective.engine.runs == 1
    singles = {alpha: objective({**base, "alpha": alpha}, seed=0)[0] for alpha in [1e-6, 1e-3, 1e-1, 10.0]}
    objective({**base, "include_input": False}, seed=0)
    assert objective.engine.runs == 1  # readout-only changes run no reservoir
    assert score == pytest.approx(min(singles.values()), rel=1e-10)
    assert info["alpha"] == min(singles, key=singles.get)
    objective(base, seed=1)
    objective({**base, "leak_rate": 0.4}, seed=0)
    assert objective.engine.runs == 3


def test_backtest_objective_refits_at_every_origin():
    series = _series(140)
    params = {"units": 25, "spectral_radius": 0.7, "alpha": 1e-2}
    objective = BacktestObjective(series, horizon=4, n_origins=3, step=5, washout=8, backend="numpy")
    score, _ = objective(params, seed=2)
    origins = [140 - 1 - 4 - 5 * k for k in (2, 1, 0)]
    assert objective.origins == origins
    s, X, Y = _reference_rows(series, {**params}, 2, 1, 4, 8, origins[0] + 1)
    errors, forecasts = [], []
    for origin in origins:
        rows = np.arange(8, origin - 4 + 1)
        ref = sklearn.linear_model.Ridge(alpha=1e-2).fit(X[rows], Y[rows])
        prediction = ref.predict(X[origin : origin + 1])[0]
        errors.append(np.mean((prediction - s[origin + 1 : origin + 5]) ** 2))
        forecasts.append(prediction)
    assert score == pytest.approx(np.sqrt(np.mean(errors)), rel=1e-9)
    mean, std = series[: origins[0] + 1].mean(), series[: origins[0] + 1].std()
    got = objective.forecast(params, 2, alpha=1e-2)
    np.testing.assert_allclose(got[..., 0], np.array(forecasts) * std + mean, rtol=1e-10)


def test_objective_errors():
    with pytest.raises(ValueError, match="NaN"):
        SplitObjective(np.array([1.0, np.nan, 2.0, 3.0, 4.0]))
    objective = SplitObjective(_series(80), backend="numpy")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['leak'\]"):
        objective({"leak": 0.3}, 0)
    with pytest.raises(ValueError, match="leak_rate"):
        objective({"leak_rate": 1.5}, 0)
    with pytest.raises(ValueError, match="do not fit"):
        BacktestObjective(_series(30), horizon=10, n_origins=5, step=5)
    with pytest.raises(ValueError, match="validation"):
        SplitObjective(_series(30), validation=1.5)


def test_tune_an_esn_and_a_failing_setting_is_recorded():
    objective = SplitObjective(_series(), validation=0.25, horizon=2, backend="numpy")
    study = tune(
        objective,
        {"spectral_radius": ("float", 0.2, 1.2), "leak_rate": ("float", 0.1, 1.0), "units": ("categorical", [20, -5])},
        n_trials=8,
        seeds=2,
        sampler=optuna.samplers.RandomSampler(seed=3),
    )
    states = {t.params["units"]: t.state for t in study.trials}
    assert states[-5] == optuna.trial.TrialState.FAIL
    assert states[20] == optuna.trial.TrialState.COMPLETE
    best = study.best_trial
    again = [objective(best.params, seed)[0] for seed in (0, 1)]
    assert best.value == pytest.approx(np.mean(again), rel=1e-12)
    assert 0 < best.value < 1  # better than forecasting the mean of the training part


def test_import_without_optuna_names_the_extra():
    code = (
        "import sys; sys.modules['optuna'] = None\n"
        "import reservoir, reservoir.forecasting\n"
        "try:\n"
        "    reservoir.forecasting.tune(lambda p, s: 0.0, {'x': ('float', 0, 1)})\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "reservoir-engine[forecast]" in result.stdout


def test_relative_targets_measure_the_error_on_the_values():
    periodic = np.tile([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0], 20)[:120]
    objective = BacktestObjective(periodic, horizon=9, season=7, n_origins=3, step=4, backend="numpy")
    heavy = {"units": 20, "alpha": 1e8}
    # a penalty that leaves only the intercept: the seasonal naive forecast, exact on a periodic series
    score, _ = objective({**heavy, "relative_to": "season"}, 0)
    assert score < 1e-6
    np.testing.assert_allclose(
        objective.forecast({**heavy, "relative_to": "season"}, 0, alpha=1e8)[..., 0],
        [periodic[o + 1 : o + 10] for o in objective.origins],
        atol=1e-6,
    )
    assert objective({**heavy, "relative_to": None}, 0)[0] > 0.5  # the mean is a poor forecast
    # "last": targets s[t+k] - s[t], against a hand-built ridge on the same rows
    series = _series(130)
    params = {"units": 25, "spectral_radius": 0.8, "alpha": 1e-2, "relative_to": "last"}
    split_objective = SplitObjective(series, validation=30, horizon=3, washout=10, backend="numpy")
    score, _ = split_objective(params, 1)
    s, X, Y = _reference_rows(series, params, 1, 1, 3, 10, 100)
    train, test = np.arange(10, 97), np.arange(99, 127)
    ref = sklearn.linear_model.Ridge(alpha=1e-2).fit(X[train], Y[train] - s[train, None])
    expected = np.sqrt(np.mean((ref.predict(X[test]) + s[test, None] - Y[test]) ** 2))
    assert score == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="relative_to"):
        split_objective({"relative_to": "trend"}, 0)


def test_estimator_objective_runs_a_backtest_callable():
    import types

    import pandas as pd

    from reservoir.estimators import ESNRegressor
    from reservoir.forecasting import EstimatorObjective

    series = _series(120)

    def one_step_backtest(model, y, X, *, origins):
        errors = []
        for origin in origins:
            model.fit(y[: origin - 1], y[1:origin])
            errors.append(float(np.sqrt(np.mean((model.predict(y[origin - 1 : -1]) - y[origin:]) ** 2))))
        return types.SimpleNamespace(scores=pd.DataFrame({"rmse": errors}))

    base = ESNRegressor(units=20, washout=5, dtype="float64", backend="numpy")
    objective = EstimatorObjective(base, series, metric="rmse", backtest=one_step_backtest, origins=[80, 100])
    got = objective({"spectral_radius": 0.6, "leak_rate": 0.5}, seed=3)
    expected = one_step_backtest(
        ESNRegressor(units=20, washout=5, dtype="float64", backend="numpy", spectral_radius=0.6, leak_rate=0.5, seed=3),
        series,
        None,
        origins=[80, 100],
    ).scores["rmse"]
    assert got == pytest.approx(float(np.mean(expected)), rel=1e-12)
    assert base.get_params()["seed"] is None  # the estimator given is not changed
    with pytest.raises(ValueError, match="no 'mase'"):
        EstimatorObjective(base, series, backtest=one_step_backtest, origins=[80])({}, 0)
    with pytest.raises(ValueError, match="seed_parameter"):
        EstimatorObjective(base, series, seed_parameter="rng")


def test_distributed_without_dask_names_the_extra():
    code = (
        "import sys; sys.modules['optuna_integration'] = None; sys.modules['distributed'] = None\n"
        "import reservoir.forecasting\n"
        "try:\n"
        "    reservoir.forecasting.tune(lambda p, s: 0.0, {'x': ('float', 0, 1)}, client=object())\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "reservoir-engine[distributed]" in result.stdout


def test_estimator_objective_with_the_package_backtest():
    from reservoir.forecasting import ESNForecaster, EstimatorObjective, backtest

    series = _series(100)
    base = ESNForecaster(units=20, backend="numpy")
    options = {"horizon": 5, "initial": 80, "seasonal_period": 1}
    objective = EstimatorObjective(base, series, metric="mase", **options)
    got = objective({"spectral_radius": 0.7, "difference": True}, seed=4)
    direct = backtest(
        ESNForecaster(units=20, backend="numpy", spectral_radius=0.7, difference=True, seed=4), series, **options
    )
    assert got == pytest.approx(direct.score("mase"), rel=1e-12)
    study = tune(objective, {"leak_rate": ("float", 0.2, 1.0)}, n_trials=2, sampler=optuna.samplers.RandomSampler(0))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
