"""pandas in, pandas out, without importing pandas.

pandas stays optional: an input can only be a pandas object when pandas is already
imported (``sys.modules``), so ``import reservoir`` never imports it. Inputs are read
with their index and column names; outputs get them back.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

__all__ = ["is_pandas", "Labels", "labels_of", "wrap", "continued_index"]


def _pd():
    return sys.modules.get("pandas")


def is_pandas(value) -> bool:
    """True for a pandas Series or DataFrame."""
    pd = _pd()
    return pd is not None and isinstance(value, (pd.Series, pd.DataFrame))


def to_numpy(value):
    """A pandas object's values as float64 (missing values as NaN, caught by the checks); others unchanged."""
    if not is_pandas(value):
        return value
    try:
        return value.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return value.to_numpy()  # not numeric: the validators name the problem


@dataclass
class Labels:
    """The index and the column names (or Series name) of a pandas input."""

    index: object
    columns: object  # the DataFrame's columns, or None for a Series
    name: object = None  # the Series' name

    @property
    def is_series(self) -> bool:
        return self.columns is None


def labels_of(value) -> Labels | None:
    """The labels of a pandas Series or DataFrame, None for anything else."""
    if not is_pandas(value):
        return None
    if value.ndim == 1:
        return Labels(value.index, None, value.name)
    return Labels(value.index, value.columns)


def wrap(values, index=None, like: Labels | None = None, columns=None):
    """`values` (n,) or (n, k) as a Series or DataFrame with `index`.

    Column names come from `like` (the targets' labels: a Series name for one output,
    a DataFrame's columns) when their count matches, else `columns`, else 0..k-1.
    """
    pd = _pd()
    values = np.asarray(values)
    if like is not None and like.is_series and values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 1:
        return pd.Series(values, index=index, name=None if like is None else like.name)
    if like is not None and not like.is_series and len(like.columns) == values.shape[1]:
        columns = like.columns
    return pd.DataFrame(values, index=index, columns=columns)


def continued_index(index, n_steps: int):
    """The `n_steps` labels that follow `index`: its frequency for a DatetimeIndex or
    PeriodIndex (given or inferred), its step for a RangeIndex or an evenly spaced
    integer index; a RangeIndex counting on from its length otherwise."""
    pd = _pd()
    if isinstance(index, pd.PeriodIndex) and len(index):
        return pd.period_range(index[-1] + 1, periods=n_steps, freq=index.freq)
    if isinstance(index, pd.DatetimeIndex) and len(index):
        freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
        if freq is not None:
            offset = pd.tseries.frequencies.to_offset(freq)
            return pd.date_range(index[-1] + offset, periods=n_steps, freq=offset, tz=index.tz, name=index.name)
    if isinstance(index, pd.RangeIndex):
        start = index.start + len(index) * index.step
        return pd.RangeIndex(start, start + n_steps * index.step, index.step, name=index.name)
    if index.dtype.kind in "iu" and len(index) >= 2:
        steps = np.diff(index.to_numpy())
        if np.all(steps == steps[0]) and steps[0] != 0:
            return pd.Index(index[-1] + steps[0] * np.arange(1, n_steps + 1), name=index.name)
    return pd.RangeIndex(len(index), len(index) + n_steps)
