"""Error measures for forecasts (point and probabilistic), spike-train statistics, memory capacity."""

import math

import numpy as np

__all__ = [
    "mse",
    "rmse",
    "nrmse",
    "mae",
    "mase",
    "smape",
    "r2",
    "crps_gaussian",
    "crps_ensemble",
    "firing_rate",
    "isi_cv",
    "memory_capacity",
]


def _pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} != {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("y_true is empty")
    # The targets are data: they must be finite. A prediction may be inf (a diverged
    # forecast scores inf) but not NaN, which would make every score NaN without a word.
    for name, values, bad in (("y_true", y_true, ~np.isfinite(y_true)), ("y_pred", y_pred, np.isnan(y_pred))):
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} contains {values[where]} at index {where[0] if len(where) == 1 else where}")
    return y_true, y_pred


def mse(y_true, y_pred) -> float:
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean((y_true - y_pred) ** 2))


def rmse(y_true, y_pred) -> float:
    return float(np.sqrt(mse(y_true, y_pred)))


def nrmse(y_true, y_pred) -> float:
    """Root mean squared error divided by the standard deviation of ``y_true``.

    The normalisation of the NARMA and Mackey-Glass literature: 1.0 is the error of
    always predicting the mean. (ReservoirPy's ``nrmse`` divides by max - min by
    default; its ``norm="var"`` divides by the variance instead.)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    spread = np.std(y_true)
    if spread == 0:
        raise ValueError("y_true is constant: NRMSE is undefined")
    with np.errstate(over="ignore"):  # a diverged forecast scores inf, without a warning
        return float(np.sqrt(np.mean((y_true - y_pred) ** 2)) / spread)


def mae(y_true, y_pred) -> float:
    """Mean absolute error."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def _columns(values: np.ndarray) -> np.ndarray:
    """(T,) or (T, k) values as (T, k): time along the first axis, a column per variable."""
    return values[:, None] if values.ndim == 1 else values.reshape(values.shape[0], -1)


def mase(y_true, y_pred, y_train, m: int = 1) -> float:
    """Mean absolute scaled error (Hyndman and Koehler 2006).

    The forecast's mean absolute error divided by the in-sample mean absolute error
    of the seasonal naive forecast ``y[t] = y[t - m]`` on ``y_train``; below 1 beats
    it. Time runs along the first axis; with several columns (variables, perhaps in
    different units) each is scaled by its own naive error and the column scores
    are averaged: the mean of sktime's ``mean_absolute_scaled_error(..., sp=m,
    multioutput="raw_values")`` (its "uniform_average" divides averaged errors instead).

    Parameters
    ----------
    y_true, y_pred : (H,) or (H, k)
        The forecast steps and the forecasts.
    y_train : (T,) or (T, k)
        The training part of the series (before the forecast origin).
    m : int
        Seasonal period (1: the naive forecast of the last value).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    train = np.asarray(y_train, dtype=np.float64)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"the seasonal period m must be a positive int, got {m!r}")
    if train.ndim == 0 or train.shape[1:] != y_true.shape[1:]:
        raise ValueError(f"y_train must have y_true's variables: shapes {train.shape} and {y_true.shape}")
    if not np.all(np.isfinite(train)):
        raise ValueError("y_train contains NaN or Inf")
    if m >= train.shape[0]:
        raise ValueError(
            f"the seasonal period m={m} is not shorter than the training part ({train.shape[0]} steps): "
            "MASE's seasonal naive error needs at least m + 1 training steps"
        )
    train = _columns(train)
    scale = np.mean(np.abs(train[m:] - train[:-m]), axis=0)
    if np.any(scale == 0):
        raise ValueError(f"y_train's seasonal naive forecast (m={m}) is exact: MASE is undefined")
    errors = np.mean(np.abs(_columns(y_true) - _columns(y_pred)), axis=0)
    return float(np.mean(errors / scale))


def smape(y_true, y_pred) -> float:
    """Symmetric mean absolute percentage error: ``mean(2 |y - ŷ| / (|y| + |ŷ|))``.

    A fraction in [0, 2], not a percentage (multiply by 100 for the M3/M4 tables),
    as sktime's ``mean_absolute_percentage_error(symmetric=True)``; a pair of zeros
    counts as no error.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    denominator = np.abs(y_true) + np.abs(y_pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(denominator > 0, 2.0 * np.abs(y_true - y_pred) / denominator, 0.0)
    return float(np.mean(ratio))


def r2(y_true, y_pred) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (per column, averaged: scikit-learn's ``r2_score``)."""
    y_true, y_pred = _pair(y_true, y_pred)
    truth, prediction = _columns(y_true), _columns(y_pred)
    total = np.sum((truth - truth.mean(axis=0)) ** 2, axis=0)
    if np.any(total == 0):
        raise ValueError("y_true is constant: R² is undefined")
    return float(np.mean(1.0 - np.sum((truth - prediction) ** 2, axis=0) / total))


def crps_gaussian(y_true, mean, std) -> float:
    """Continuous ranked probability score of Gaussian forecasts, averaged (lower is better).

    Closed form (Gneiting et al. 2005), with ``z = (y - μ) / σ``:
    ``CRPS = σ [z (2 Φ(z) - 1) + 2 φ(z) - 1 / √π]``. ``std`` 0 gives the absolute error.
    `mean` and `std` broadcast against `y_true`.
    """
    y_true, mean = _pair(y_true, np.broadcast_to(np.asarray(mean, dtype=np.float64), np.shape(y_true)))
    std = np.broadcast_to(np.asarray(std, dtype=np.float64), y_true.shape)
    if np.any(~np.isfinite(std)) or np.any(std < 0):
        raise ValueError("std must be finite and >= 0")
    from scipy.special import ndtr

    safe = np.where(std > 0, std, 1.0)
    z = (y_true - mean) / safe
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
    score = safe * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * pdf - 1.0 / math.sqrt(math.pi))
    return float(np.mean(np.where(std > 0, score, np.abs(y_true - mean))))


def crps_ensemble(y_true, samples) -> float:
    """CRPS of forecasts given as an ensemble (samples of the predictive distribution), averaged.

    The CRPS of the samples' empirical distribution:
    ``E|X - y| - E|X - X'| / 2`` over the members X, X'. `samples` has `y_true`'s
    shape plus a last axis of members. Computed from the sorted members in
    O(m log m) per forecast: ``E|X - X'| = 2 / m² Σ_i (2i - m - 1) x_(i)``.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.shape[:-1] != y_true.shape or samples.ndim == 0:
        raise ValueError(f"samples must have y_true's shape {y_true.shape} plus a member axis, got {samples.shape}")
    if samples.shape[-1] == 0:
        raise ValueError("samples has no members")
    _pair(y_true, samples[..., 0])  # y_true finite, no NaN member
    if np.isnan(samples).any():
        raise ValueError("samples contains NaN")
    members = np.sort(samples, axis=-1)
    m = members.shape[-1]
    spread = 2.0 / m**2 * np.sum((2.0 * np.arange(1, m + 1) - m - 1) * members, axis=-1)
    score = np.mean(np.abs(members - y_true[..., None]), axis=-1) - 0.5 * spread
    return float(np.mean(score))


def firing_rate(spike_times, n_neurons: int, duration: float) -> float:
    """Mean firing rate in Hz: spikes / (neurons * seconds)."""
    if n_neurons <= 0 or duration <= 0:
        raise ValueError(f"firing rate needs n_neurons > 0 and duration > 0, got {n_neurons}, {duration}")
    return float(len(spike_times) / (n_neurons * duration))


def isi_cv(spike_times, spike_neurons, *, min_spikes: int = 3) -> float:
    """Coefficient of variation of inter-spike intervals, averaged over neurons.

    For each neuron with at least `min_spikes` spikes: std / mean of its intervals
    (population std, ddof = 0); then the mean over those neurons. A Poisson process
    gives 1, a clock 0. NaN when no neuron has enough spikes.
    """
    times = np.asarray(spike_times, dtype=np.float64)
    neurons = np.asarray(spike_neurons, dtype=np.int64)
    if times.shape != neurons.shape:
        raise ValueError(f"spike_times and spike_neurons differ in shape: {times.shape} != {neurons.shape}")
    order = np.lexsort((times, neurons))
    times, neurons = times[order], neurons[order]
    same = neurons[1:] == neurons[:-1]
    intervals, owner = np.diff(times)[same], neurons[1:][same]
    if intervals.size == 0:
        return float("nan")
    labels, owner = np.unique(owner, return_inverse=True)
    count = np.bincount(owner)
    mean = np.bincount(owner, intervals) / count
    spread = np.sqrt(np.maximum(np.bincount(owner, intervals**2) / count - mean**2, 0.0))
    keep = count >= min_spikes - 1
    if not keep.any():
        return float("nan")
    return float(np.mean(spread[keep] / mean[keep]))


def memory_capacity(
    states,
    inputs,
    *,
    max_delay: int = 100,
    washout: int | None = None,
    alpha: float = 1e-8,
    test_fraction: float = 0.5,
    return_curve: bool = False,
):
    """Jaeger's (2001) short-term memory capacity of a reservoir.

    ``MC = sum_k r2(u[t - k], y_k[t])`` over delays ``k = 1 .. max_delay``, where
    ``y_k`` is a ridge readout of the states ``x[t]`` trained to recall the input ``k``
    steps back and ``r2`` is its squared correlation with that input on held-out
    samples. A reservoir of N linear units has MC <= N; a delay line reaches it.

    Parameters
    ----------
    states : (T, N)
        States, one row per input sample (for a spiking reservoir: one row per
        held input value, e.g. the traces at the end of its window).
    inputs : (T,)
        The driving signal (i.i.d., e.g. uniform, for the textbook measure).
    max_delay : int
        Largest delay k.
    washout : int, optional
        Samples dropped at the start (default ``max_delay``; at least ``max_delay``).
    alpha : float or list of floats
        Ridge penalty of the readouts (all delays are fitted in one pass). A list is
        searched on the last fifth of the training samples, then the readouts are
        refitted on all of them with the penalty chosen (noisy states, spiking ones
        especially, need more than the default).
    test_fraction : float in (0, 1)
        The last part of the samples scores the readouts.
    return_curve : bool
        Also return ``r2`` per delay (the forgetting curve), shape (max_delay,).
    """
    from .readouts import Ridge

    states = np.asarray(states, dtype=np.float64)
    inputs = np.asarray(inputs, dtype=np.float64).ravel()
    if states.ndim != 2 or states.shape[0] != inputs.shape[0]:
        raise ValueError(f"states must be (T, N) with T = len(inputs) = {inputs.shape[0]}, got {states.shape}")
    max_delay = int(max_delay)
    washout = max_delay if washout is None else max(int(washout), max_delay)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    steps = states.shape[0]
    if steps - washout < 20:
        raise ValueError(f"{steps} samples leave too few after a washout of {washout}")
    rows = np.arange(washout, steps)
    targets = inputs[rows[:, None] - np.arange(1, max_delay + 1)[None, :]]  # column k-1: u[t - k]
    split = washout + int(round((steps - washout) * (1.0 - test_fraction)))
    train, test = rows < split, rows >= split
    X_train, Y_train = states[rows[train]], targets[train]
    if np.ndim(alpha) > 0:
        cut = int(len(X_train) * 0.8)
        alpha = (
            Ridge(alpha=list(alpha)).fit(X_train[:cut], Y_train[:cut], validation=(X_train[cut:], Y_train[cut:])).alpha_
        )
    readout = Ridge(alpha=alpha).fit(X_train, Y_train)
    predicted = readout.predict(states[rows[test]]).reshape(-1, max_delay)
    truth = targets[test]
    predicted_c = predicted - predicted.mean(axis=0)
    truth_c = truth - truth.mean(axis=0)
    denominator = (predicted_c**2).sum(axis=0) * (truth_c**2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = np.where(denominator > 0, (predicted_c * truth_c).sum(axis=0) ** 2 / denominator, 0.0)
    capacity = float(curve.sum())
    return (capacity, curve) if return_curve else capacity
