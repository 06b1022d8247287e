"""Forecasting pairs from a series: inputs X[t] and targets X[t + h]."""

from __future__ import annotations

import numbers

import numpy as np

from .synthetic import _positive_int

__all__ = ["to_forecasting"]


def to_forecasting(series, forecast: int = 1, test_size=None):
    """Inputs and targets ``forecast`` steps ahead, optionally split into train and test.

    As ReservoirPy's ``to_forecasting``: ``X = series[:-forecast]``, ``y = series[forecast:]``
    along the time axis (the first axis of (T,) or (T, features), the second of a
    (B, T, features) batch); a list of series gives lists.

    Parameters
    ----------
    series : (T,), (T, features), (B, T, features) array-like, or a list of them
    forecast : int >= 1
        The horizon h.
    test_size : int >= 0 or float in [0, 1), optional
        The last ``test_size`` pairs (a fraction of T when a float) form the test set.

    Returns
    -------
    X, y
        or, with ``test_size``, X_train, X_test, y_train, y_test.
    """
    if isinstance(series, list) and series and np.ndim(series[0]) >= 2:
        parts = [to_forecasting(item, forecast, test_size) for item in series]
        return tuple(list(group) for group in zip(*parts))
    array = np.asarray(series)
    if array.ndim not in (1, 2, 3):
        raise ValueError(f"series must have shape (T,), (T, features) or (B, T, features); got {array.shape}")
    if array.dtype.kind not in "fiu":
        raise TypeError(f"series must hold real numbers, got dtype {array.dtype}")
    forecast = _positive_int(forecast, "forecast")
    axis = 1 if array.ndim == 3 else 0
    length = array.shape[axis]
    if forecast >= length:
        raise ValueError(f"forecast={forecast} leaves no pairs in a series of {length} steps")
    n_pairs = length - forecast
    if test_size is None:
        n_test = 0
    elif isinstance(test_size, float) and not isinstance(test_size, bool):
        if not 0.0 <= test_size < 1.0:
            raise ValueError(f"test_size as a fraction must be in [0, 1), got {test_size}")
        n_test = round(length * test_size)
    elif isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool) and test_size >= 0:
        n_test = int(test_size)
    else:
        raise ValueError(f"test_size must be an integer >= 0 or a float in [0, 1), got {test_size!r}")
    if n_test >= n_pairs:
        raise ValueError(f"test_size={test_size} leaves no training pairs ({n_pairs} pairs in all)")
    X = np.take(array, np.arange(n_pairs), axis=axis)
    y = np.take(array, np.arange(forecast, length), axis=axis)
    if test_size is None:
        return X, y
    train, test = np.arange(n_pairs - n_test), np.arange(n_pairs - n_test, n_pairs)
    return (
        np.take(X, train, axis=axis),
        np.take(X, test, axis=axis),
        np.take(y, train, axis=axis),
        np.take(y, test, axis=axis),
    )
