"""The forecast job of ``reservoir forecast --scheduler``: states harvested and readout reduced on a cluster.

What ``ESNRegressor.fit`` / ``predict`` / ``forecast`` do in one process, with the two
heavy parts on the cluster: the reservoir's states go to shards (``harvest``) and the
readout is fitted from their statistics (``fit_ridge``). The reservoir, the readout's
features ``[state, input]``, the washout and the choice of alpha on the last part of the
training steps are the estimator's, so the forecasts equal the local job's up to
rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .harvest import Harvest, harvest
from .reduce import fit_ridge

__all__ = ["ClusterForecast", "forecast_on_cluster"]

RUN_NAME = "forecast"


@dataclass
class ClusterForecast:
    """The outcome of ``forecast_on_cluster``."""

    harvest: Harvest  # shards and index of the states of every step
    readout: object  # the fitted Ridge
    one_step: np.ndarray  # one-step-ahead predictions of the test steps
    closed_loop: np.ndarray  # `horizon` steps generated from the end of training
    reservoir: object  # the ESN, in the state after the closed loop


def forecast_on_cluster(
    estimator, inputs, targets, *, end_train: int, horizon: int, directory, client, progress: bool = False
) -> ClusterForecast:
    """Fit `estimator` (an unfitted ``ESNRegressor``) on steps [0, end_train) of one series on a
    cluster, then predict the steps after it one step ahead and in closed loop.

    Parameters
    ----------
    estimator : ESNRegressor
        Its reservoir parameters, ``alpha``, ``washout`` and ``validation_fraction`` are used.
    inputs, targets : arrays (T, k)
        ``targets[t]`` is the value after ``inputs[t]``.
    end_train : int
        Training steps (washout included); the rest is predicted.
    horizon : int
        Closed-loop steps generated after the training part.
    directory : str or Path
        Shard directory of the states (its ``index.h5`` reads them as one run).
    client : distributed.Client
    progress : bool
        Progress bar over the shards.

    Returns
    -------
    ClusterForecast
    """
    from ..estimators._common import DEFAULT_WASHOUT, _reservoir

    reservoir = _reservoir(estimator)
    washout = min(DEFAULT_WASHOUT, end_train // 10) if estimator.washout is None else int(estimator.washout)
    inputs = np.asarray(inputs, dtype=reservoir.dtype)
    targets = np.asarray(targets, dtype=np.float64)
    harvested = harvest(
        reservoir,
        inputs[None],
        targets=targets[None],
        directory=Path(directory),
        name=RUN_NAME,
        client=client,
        progress=progress,
    )
    several = np.size(estimator.alpha) > 1
    readout = fit_ridge(
        harvested,
        client=client,
        alpha=estimator.alpha,
        fit_intercept=estimator.fit_intercept,
        washout=washout,
        stop=end_train,
        validation=float(estimator.validation_fraction) if several else None,
        include_input=estimator.include_input,
        refit=several,
    )
    with harvested.open() as store:
        states = store[RUN_NAME].states
        test_states = states[0, end_train:]
        fitted_state = states[0, end_train - 1]
    features = np.concatenate([test_states, inputs[end_train:]], axis=-1) if estimator.include_input else test_states
    one_step = readout.predict(features)
    reservoir.reset()
    reservoir.state = fitted_state
    closed_loop = reservoir.generate(
        horizon,
        np.atleast_2d(readout.coef_),
        np.atleast_1d(readout.intercept_),
        targets[end_train - 1],
        include_input=estimator.include_input,
    )
    return ClusterForecast(harvested, readout, one_step, closed_loop, reservoir)
