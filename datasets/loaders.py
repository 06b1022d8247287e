"""Series read from files: CSV (one column per variable) or NumPy .npy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_series"]


def load_series(path) -> np.ndarray:
    """Load a time series as (T, features) float64.

    CSV files may have one header line; columns are variables, rows are time steps.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            series = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise ValueError(f"{path} is not a readable .npy array: {error}") from None
    elif suffix in (".csv", ".txt"):
        series = _read_csv(path)
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use .csv, .txt or .npy")
    series = np.asarray(series)
    if series.dtype.kind not in "fiu":
        raise ValueError(f"{path} does not hold numbers (dtype {series.dtype})")
    series = series.astype(np.float64)
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2:
        raise ValueError(f"{path} must hold a 1-D or 2-D array (time, features), got shape {series.shape}")
    if series.shape[0] < 2:
        raise ValueError(f"{path} holds {series.shape[0]} time step(s); a forecast needs at least 2")
    bad = np.argwhere(~np.isfinite(series))
    if len(bad):
        raise ValueError(f"{path} holds a non-finite value at time step {bad[0][0]} (column {bad[0][1]})")
    return series


def _read_csv(path: Path) -> np.ndarray:
    with path.open() as handle:
        first = handle.readline()
    delimiter = "," if "," in first else None
    try:
        float(first.replace(",", " ").split()[0])
        header = 0
    except (ValueError, IndexError):
        header = 1
    try:
        return np.loadtxt(path, delimiter=delimiter, skiprows=header, ndmin=1)
    except ValueError as error:
        raise ValueError(f"{path} is not a numeric CSV: {error}") from None
