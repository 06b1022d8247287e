"""Series in, forecasts out: what a forecaster accepts and how its forecasts look.

A forecaster works on a *panel*: a list of series, each a float64 array
(T_i, n_targets) with its exogenous inputs (T_i, n_exog). What the user passed is
remembered (``Layout``) so that forecasts come back in the same form:

* NumPy: (T,) one series of one variable, (T, k) one series of k variables,
  (B, T, k) B series of equal length, a list of (T_i,) or (T_i, k) arrays of
  different lengths. Forecasts are NumPy: (H,), (H, k), (B, H, k), (B, H) or (B, H, k).
* pandas: a Series or DataFrame with a time index (DatetimeIndex or PeriodIndex with
  a frequency, RangeIndex, evenly spaced integers), or one with a two-level
  MultiIndex (series, time) for many series, or a dict / list of them. Forecasts
  have the index continued at the series' frequency and the same column names.

pandas is imported only when the input is a pandas object (``reservoir._pandas``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from .. import _pandas
from .. import _validation as check

__all__ = ["Layout", "read_panel", "read_exogenous", "read_future", "write_forecast", "require_pandas"]


@dataclass
class Layout:
    """How a panel was given: enough to read matching exogenous inputs and to write forecasts."""

    kind: str  # "array" (one series), "batch" (B, T, k), "list", "pandas", "multi", "dict", "pandas-list"
    n_series: int
    lengths: list
    one_variable: bool  # 1-D values per series (a Series, (T,), a list of (T_i,))
    keys: list = field(default_factory=list)  # series names (multi, dict) or positions
    indexes: list | None = None  # each series' time index (pandas kinds)
    columns: object = None  # a DataFrame's columns; None for a Series
    name: object = None  # a Series' name
    index_names: tuple = (None, None)  # the MultiIndex level names

    @property
    def is_pandas(self) -> bool:
        return self.indexes is not None


def _pd():
    """pandas, already imported: a pandas object was passed in (``reservoir._pandas``)."""
    return _pandas._pd()


def require_pandas(purpose: str):
    """pandas, imported on demand for what returns pandas tables; a clear error without it."""
    try:
        return importlib.import_module("pandas")
    except ImportError:
        raise ImportError(f"{purpose} needs pandas: pip install pandas (or reservoir-engine[forecast])") from None


def check_time_index(index, name: str) -> None:
    """Raise ValueError for a duplicated, unordered or irregular time index, naming the first bad label."""
    pd = _pd()
    if index.has_duplicates:
        raise ValueError(f"{name} has duplicated timestamps, e.g. {index[index.duplicated()][0]!r}")
    if not index.is_monotonic_increasing:
        raise ValueError(f"{name}'s time index is not in increasing order; sort it first (sort_index())")
    if isinstance(index, pd.RangeIndex) or len(index) < 2:
        return
    if isinstance(index, pd.PeriodIndex):
        steps = np.diff(index.asi8)
        if np.any(steps != 1):
            gap = int(np.argmax(steps != 1))
            raise ValueError(
                f"{name}'s PeriodIndex is irregular: a gap after {index[gap]} (next {index[gap + 1]}); "
                "fill or resample the missing periods first"
            )
        return
    if isinstance(index, pd.DatetimeIndex):
        if index.freq is None and (len(index) < 3 or pd.infer_freq(index) is None):
            steps = np.diff(index.asi8)
            odd = int(np.argmax(steps != np.bincount(np.unique(steps, return_inverse=True)[1]).argmax()))
            raise ValueError(
                f"{name}'s DatetimeIndex is irregular (no frequency can be inferred), e.g. around "
                f"{index[odd]}; resample it to a fixed frequency (y.asfreq(...)) first"
            )
        return
    if index.dtype.kind in "iu":
        steps = np.diff(index.to_numpy())
        if np.any(steps != steps[0]):
            gap = int(np.argmax(steps != steps[0]))
            raise ValueError(f"{name}'s integer index is not evenly spaced: {index[gap]} -> {index[gap + 1]}")
        return
    raise TypeError(
        f"{name} needs a time index (DatetimeIndex, PeriodIndex, RangeIndex or evenly spaced integers), "
        f"got {type(index).__name__}"
    )


def _values(value, name: str) -> np.ndarray:
    """One series as float64 (T, k), NaN and Inf named with their step."""
    array = _pandas.to_numpy(value)
    if isinstance(array, np.ndarray) and array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must hold real numbers") from None
    array = np.asarray(array)
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} must be (T,) or (T, n_variables) per series, got shape {array.shape}")
    sequences, _ = check.sequences(array, np.float64, name)
    return sequences[0]


def read_panel(y, name: str = "y") -> tuple[list, Layout]:
    """The series of `y` as a list of (T_i, k) float64 arrays, and their Layout."""
    if y is None:
        raise ValueError(f"{name} is None: pass the series to forecast")
    if _pandas.is_pandas(y):
        pd = _pd()
        if isinstance(y.index, pd.MultiIndex):
            if y.index.nlevels != 2:
                raise ValueError(f"{name} has a {y.index.nlevels}-level MultiIndex; expected 2 (series, time)")
            keys = list(dict.fromkeys(y.index.get_level_values(0)))
            parts = [y.xs(key, level=0) for key in keys]
            series = [_values(part, f"{name}[{key!r}]") for key, part in zip(keys, parts)]
            for key, part in zip(keys, parts):
                check_time_index(part.index, f"{name}[{key!r}]")
            layout = _pandas_layout("multi", y, series, keys, [part.index for part in parts])
            layout.index_names = tuple(y.index.names)
            return series, layout
        check_time_index(y.index, name)
        series = [_values(y, name)]
        return series, _pandas_layout("pandas", y, series, [0], [y.index])
    if isinstance(y, dict):
        if not y:
            raise ValueError(f"{name} is an empty dict")
        keys = list(y)
        return _read_many(y, keys, name, "dict")
    if isinstance(y, (list, tuple)):
        if not y:
            raise ValueError(f"{name} is an empty list")
        if all(_pandas.is_pandas(item) for item in y):
            return _read_many(dict(enumerate(y)), list(range(len(y))), name, "pandas-list")
        if all(np.ndim(item) >= 1 for item in y):  # a list of series, of equal lengths or not
            series = [_values(item, f"{name}[{i}]") for i, item in enumerate(y)]
            widths = {s.shape[1] for s in series}
            if len(widths) > 1:
                raise ValueError(f"the series of {name} have different numbers of variables: {sorted(widths)}")
            one = np.ndim(y[0]) == 1
            return series, Layout("list", len(series), [len(s) for s in series], one, list(range(len(series))))
    array = np.asarray(y) if not isinstance(y, np.ndarray) else y
    if array.ndim == 3:
        batch, _ = check.sequences(array, np.float64, name)
        series = list(batch)
        return series, Layout("batch", len(series), [len(s) for s in series], False, list(range(len(series))))
    series = [_values(array, name)]
    return series, Layout("array", 1, [len(series[0])], array.ndim == 1, [0])


def _pandas_layout(kind, y, series, keys, indexes) -> Layout:
    return Layout(
        kind,
        len(keys),
        [len(s) for s in series],
        y.ndim == 1,
        keys,
        list(indexes),
        None if y.ndim == 1 else y.columns,
        y.name if y.ndim == 1 else None,
    )


def _read_many(items: dict, keys: list, name: str, kind: str):
    first = items[keys[0]]
    if not all(_pandas.is_pandas(item) for item in items.values()):
        series = [_values(items[key], f"{name}[{key!r}]") for key in keys]
        widths = {s.shape[1] for s in series}
        if len(widths) > 1:
            raise ValueError(f"the series of {name} have different numbers of variables: {sorted(widths)}")
        return series, Layout("dict" if kind == "dict" else "list", len(series), [len(s) for s in series],
                              np.ndim(first) == 1, keys)  # fmt: skip
    series, indexes = [], []
    for key in keys:
        check_time_index(items[key].index, f"{name}[{key!r}]")
        series.append(_values(items[key], f"{name}[{key!r}]"))
        indexes.append(items[key].index)
    widths = {s.shape[1] for s in series}
    if len(widths) > 1:
        raise ValueError(f"the series of {name} have different numbers of variables: {sorted(widths)}")
    return series, _pandas_layout(kind, first, series, keys, indexes)


def read_exogenous(X, layout: Layout, name: str = "X") -> list | None:
    """Exogenous inputs beside the targets: one (T_i, n_exog) array per series, same lengths (and index)."""
    if X is None:
        return None
    parts, given = read_panel(X, name)
    if len(parts) != layout.n_series:
        raise ValueError(f"{name} holds {len(parts)} series but y holds {layout.n_series}")
    for i, (part, length) in enumerate(zip(parts, layout.lengths)):
        if len(part) != length:
            where = "" if layout.n_series == 1 else f" of series {layout.keys[i]!r}"
            raise ValueError(f"{name} has {len(part)} time steps{where} but y has {length}")
        if layout.is_pandas and given.is_pandas and not given.indexes[i].equals(layout.indexes[i]):
            raise ValueError(f"{name}'s index differs from y's (series {layout.keys[i]!r}): align them first")
    return parts


def future_index(layout: Layout, series: int, n_steps: int):
    """The `n_steps` labels after series `series` of a pandas panel."""
    return _pandas.continued_index(layout.indexes[series], n_steps)


def read_future(X, layout: Layout, n_exog: int, horizon: int, name: str = "X") -> np.ndarray:
    """Future exogenous values for the horizon as (B, horizon, n_exog); zeros wide (B, horizon, 0) without."""
    if n_exog == 0:
        if X is not None:
            raise ValueError(f"{name} was given for the horizon, but the forecaster was fitted without exogenous X")
        return np.zeros((layout.n_series, horizon, 0))
    if X is None:
        raise ValueError(
            f"the forecaster was fitted with {n_exog} exogenous input(s): pass their future values for the "
            f"{horizon} forecast steps as {name}"
        )
    parts, given = read_panel(X, name)
    if len(parts) != layout.n_series:
        raise ValueError(f"{name} holds {len(parts)} series but the forecaster forecasts {layout.n_series}")
    future = np.empty((layout.n_series, horizon, n_exog))
    for i, part in enumerate(parts):
        where = "" if layout.n_series == 1 else f" for series {layout.keys[i]!r}"
        if part.shape[1] != n_exog:
            raise ValueError(f"{name} has {part.shape[1]} exogenous column(s){where}, the fit had {n_exog}")
        if len(part) < horizon:
            raise ValueError(
                f"{name} has future values for {len(part)} step(s){where} but the horizon is {horizon} steps"
            )
        if layout.is_pandas and given.is_pandas:
            expected = future_index(layout, i, horizon)
            if not given.indexes[i][:horizon].equals(expected):
                raise ValueError(
                    f"{name}'s index{where} does not continue the series: expected {list(expected[:3])}..., "
                    f"got {list(given.indexes[i][:3])}..."
                )
        future[i] = part[:horizon]
    return future


def write_forecast(outputs: np.ndarray, layout: Layout):
    """Forecasts (B, H, k) in the form the series were given."""
    horizon = outputs.shape[1]
    if not layout.is_pandas:
        values = outputs[..., 0] if layout.one_variable else outputs
        if layout.kind == "array":
            return values[0]
        if layout.kind == "dict":
            return dict(zip(layout.keys, values))
        return values
    pd = _pd()
    like = _pandas.Labels(None, layout.columns, layout.name)
    frames = [
        _pandas.wrap(outputs[i], future_index(layout, i, horizon), like, columns=layout.columns)
        for i in range(layout.n_series)
    ]
    if layout.kind == "pandas":
        return frames[0]
    if layout.kind == "dict":
        return dict(zip(layout.keys, frames))
    if layout.kind == "pandas-list":
        return frames
    combined = pd.concat(frames, keys=layout.keys, names=list(layout.index_names))
    return combined
