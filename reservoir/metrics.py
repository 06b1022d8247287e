"""Error measures for forecasts, spike-train statistics, memory capacity."""

import numpy as np

__all__ = ["mse", "rmse", "nrmse", "firing_rate", "isi_cv"]


def _pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} != {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("y_true is empty")
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
