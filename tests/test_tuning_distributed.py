"""tune(client=...) on a local Dask cluster, and scikit-learn's searches under joblib's Dask backend."""

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
distributed = pytest.importorskip("distributed")
pytest.importorskip("optuna_integration.dask")

from reservoir.estimators import ESNRegressor  # noqa: E402
from reservoir.forecasting import SplitObjective, tune  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def _series(n=150):
    t = np.arange(n)
    return 5.0 + np.sin(2 * np.pi * t / 9.0) + 0.1 * np.cos(t / 3.0)


def _shifted(params, seed):
    """A cheap objective: its minimum is known, and it says which worker process ran it."""
    import os

    return (params["x"] - 0.25) ** 2 + 0.01 * seed, {"pid": os.getpid()}


def test_trials_run_on_the_workers(client):
    study = tune(_shifted, {"x": ("float", 0.0, 1.0)}, n_trials=16, seeds=[0, 2], client=client)
    assert isinstance(study, optuna.Study)
    assert len(study.trials) == 16
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    for trial in study.trials:
        assert trial.value == pytest.approx((trial.params["x"] - 0.25) ** 2 + 0.01, abs=1e-12)
    pids = {info["pid"] for t in study.trials for info in t.user_attrs["info"]}
    worker_pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert pids <= worker_pids and len(pids) == 2  # both workers took trials
    # the workers' samplers were reseeded: no two trials proposed the same point
    assert len({t.params["x"] for t in study.trials}) == 16


def test_esn_objective_and_failures_on_the_cluster(client, tmp_path):
    objective = SplitObjective(_series(), validation=30, horizon=2, backend="numpy")
    space = {"spectral_radius": ("float", 0.3, 1.2), "units": ("categorical", [20, 0])}
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    study = tune(objective, space, n_trials=6, client=client, n_workers=2, storage=storage, study_name="esn")
    assert len(study.trials) == 6
    for trial in study.trials:
        if trial.params["units"] == 0:
            assert trial.state == optuna.trial.TrialState.FAIL
            assert "units" in trial.user_attrs["failure"]
        else:
            assert trial.state == optuna.trial.TrialState.COMPLETE
            # the score a worker recorded is the one this process computes for the same setting
            assert trial.value == pytest.approx(objective(trial.params, 0)[0], rel=1e-12)
    resumed = optuna.load_study(study_name="esn", storage=storage)
    assert len(resumed.trials) == 6


def test_client_errors():
    with pytest.raises(TypeError, match="distributed.Client"):
        tune(_shifted, {"x": ("float", 0.0, 1.0)}, client=object())


def test_sklearn_searches_under_joblib_dask_backend(client):
    import joblib
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, TimeSeriesSplit

    s = _series(220)
    u, y = s[:-1, None], s[1:]
    base = ESNRegressor(units=30, washout=10, seed=0, dtype="float64", backend="numpy")
    grid = {"spectral_radius": [0.5, 0.9], "leak_rate": [0.3, 1.0]}
    cv = TimeSeriesSplit(n_splits=3)
    local = GridSearchCV(base, grid, cv=cv, scoring="neg_mean_squared_error").fit(u, y)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(base, grid, cv=cv, scoring="neg_mean_squared_error", n_jobs=2).fit(u, y)
        randomized = RandomizedSearchCV(
            base,
            {"spectral_radius": np.linspace(0.3, 1.1, 9), "input_scaling": [0.1, 0.5, 1.0]},
            n_iter=4,
            cv=cv,
            random_state=0,
            n_jobs=2,
        ).fit(u, y)
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-12)
    assert remote.best_params_ == local.best_params_
    assert len(randomized.cv_results_["params"]) == 4
    assert np.all(np.isfinite(randomized.cv_results_["mean_test_score"]))
