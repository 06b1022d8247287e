"""Error measures for forecasts."""

import numpy as np

__all__ = ["mse", "rmse", "nrmse"]


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
