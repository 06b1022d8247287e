"""The sktime interface: :class:`ESNSktimeForecaster`, an sktime forecaster around ESNForecaster.

Needs sktime (``pip install reservoir-engine[forecast]``); ``import reservoir`` and
``import reservoir.forecasting`` do not import this module. It follows sktime's
``BaseForecaster`` conventions: ``fit(y, X=None, fh=None)``, ``predict(fh, X)``,
``update(y, X, update_params)``, tags and ``get_test_params``; sktime converts the
input (Series, DataFrame, NumPy) and builds the forecasts' index from the horizon.
Forecasts are recursive (closed loop) out of sample; in-sample horizons are not
supported.
"""

from __future__ import annotations

import numpy as np

try:
    from sktime.forecasting.base import BaseForecaster, ForecastingHorizon
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "reservoir.forecasting.sktime needs sktime: pip install sktime (or reservoir-engine[forecast])"
    ) from error

from .._pandas import _pd  # pandas, imported by sktime
from .forecaster import ESNForecaster

__all__ = ["ESNSktimeForecaster"]


class ESNSktimeForecaster(BaseForecaster):
    """Echo-state network forecaster for sktime (univariate or multivariate y, exogenous X).

    Parameters
    ----------
    units, spectral_radius, leak_rate, input_scaling, density, alpha, include_input, seed, warmup, normalize, difference
        As in :class:`reservoir.forecasting.ESNForecaster`.
    strategy : {"recursive", "direct"}
        "direct" needs ``fh`` in ``fit`` (its readouts are trained for ``max(fh)`` steps).
    dtype, backend
        The reservoir's float type and backend.

    Examples
    --------
    >>> from sktime.datasets import load_airline
    >>> from reservoir.forecasting.sktime import ESNSktimeForecaster
    >>> y = load_airline()
    >>> forecaster = ESNSktimeForecaster(units=50, seed=0).fit(y, fh=[1, 2, 3])
    >>> forecaster.predict().index.astype(str).tolist()
    ['1961-01', '1961-02', '1961-03']
    """

    _tags = {
        "authors": ["reservoir-engine developers"],
        "maintainers": ["reservoir-engine developers"],
        # a panel is one global model over its series (one batched reservoir run)
        "y_inner_mtype": ["pd.DataFrame", "pd-multiindex"],
        "X_inner_mtype": ["pd.DataFrame", "pd-multiindex"],
        "capability:multivariate": True,
        "capability:exogenous": True,
        "capability:insample": False,
        "capability:pred_int": False,
        "capability:missing_values": False,
        "capability:non_contiguous_X": False,
        "capability:update": True,
        "requires-fh-in-fit": False,
        "X-y-must-have-same-index": True,
    }

    def __init__(
        self,
        units=100,
        spectral_radius=0.9,
        leak_rate=1.0,
        input_scaling=0.5,
        density=None,
        alpha="auto",
        include_input=True,
        seed=None,
        warmup=None,
        strategy="recursive",
        normalize=True,
        difference=False,
        dtype="float64",
        backend="auto",
    ):
        self.units = units
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.density = density
        self.alpha = alpha
        self.include_input = include_input
        self.seed = seed
        self.warmup = warmup
        self.strategy = strategy
        self.normalize = normalize
        self.difference = difference
        self.dtype = dtype
        self.backend = backend
        super().__init__()

    def _forecaster(self, horizon) -> ESNForecaster:
        return ESNForecaster(
            units=self.units,
            spectral_radius=self.spectral_radius,
            leak_rate=self.leak_rate,
            input_scaling=self.input_scaling,
            density=self.density,
            alpha=self.alpha,
            include_input=self.include_input,
            seed=self.seed,
            warmup=self.warmup,
            strategy=self.strategy,
            horizon=horizon,
            normalize=self.normalize,
            difference=self.difference,
            dtype=self.dtype,
            backend=self.backend,
        )

    def _fit(self, y, X=None, fh=None):
        horizon = None
        if self.strategy == "direct":
            if fh is None:
                raise ValueError("strategy='direct' needs fh in fit (its readouts are trained for max(fh) steps)")
            horizon = int(np.max(fh.to_relative(self.cutoff)))
        self.instances_ = _instances(y)
        self._index_names = list(y.index.names)
        self.forecaster_ = self._forecaster(horizon).fit(_panel(y, self.instances_), _panel(X, self.instances_))
        self._lengths = self.forecaster_.layout_.lengths
        self.columns_ = list(y.columns)
        return self

    def _predict(self, fh, X=None):
        pd = _pd()
        steps = np.asarray(fh.to_relative(self.cutoff), dtype=np.int64)
        if np.any(steps < 1):
            raise NotImplementedError("in-sample predictions are not supported: pass a horizon after the cutoff")
        horizon = int(steps.max())
        # steps from each series' end to the cutoff (a panel's series may end before it)
        gaps = np.zeros(1, dtype=np.int64) if self.instances_ is None else self._gaps()
        future = None
        if X is not None and self.forecaster_.n_exogenous_:
            if gaps.any():
                raise NotImplementedError(
                    "exogenous X for a panel whose series end before the cutoff: their X before it is unknown"
                )
            full = ForecastingHorizon(np.arange(1, horizon + 1), is_relative=True).to_absolute_index(self.cutoff)
            parts = [X] if self.instances_ is None else [X.xs(key, level=0) for key in self.instances_]
            future = np.stack([part.reindex(full).to_numpy(dtype=np.float64) for part in parts])
            future = future[0] if self.instances_ is None else future
        total = horizon + int(gaps.max())
        forecast = self.forecaster_.predict(total, future)
        if isinstance(forecast, dict):  # a panel: a DataFrame per series
            forecast = np.stack([part.to_numpy(dtype=np.float64) for part in forecast.values()])
        values = np.asarray(forecast).reshape(-1, total, len(self.columns_))
        times = fh.to_absolute_index(self.cutoff)
        picked = np.stack([values[i, gap + steps - 1] for i, gap in enumerate(gaps)])
        if self.instances_ is None:
            return pd.DataFrame(picked[0], index=times, columns=self.columns_)
        index = pd.MultiIndex.from_product([self.instances_, times], names=self._index_names)
        return pd.DataFrame(picked.reshape(-1, len(self.columns_)), index=index, columns=self.columns_)

    def _gaps(self) -> np.ndarray:
        """Steps from the end of every series of the panel to the cutoff."""
        from .._pandas import continued_index

        cutoff = self.cutoff[0]
        gaps = []
        for times in self.forecaster_.layout_.indexes:
            if times[-1] == cutoff:
                gaps.append(0)
                continue
            ahead = continued_index(times, 1 + int(np.sum(self._lengths)))
            gaps.append(int(ahead.get_loc(cutoff)) + 1)
        return np.asarray(gaps, dtype=np.int64)

    def _update(self, y, X=None, update_params=True):
        self.forecaster_.update(_panel(y, self.instances_), _panel(X, self.instances_), refit=update_params)
        return self

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Small, seeded settings for sktime's estimator checks."""
        return [
            {"units": 20, "seed": 0},
            {"units": 30, "seed": 1, "leak_rate": 0.5, "alpha": 1e-3, "include_input": False, "difference": True},
        ]


def _instances(y):
    """The instances of a panel (a (instance, time) MultiIndex), or None for one series."""
    pd = _pd()
    if not isinstance(y.index, pd.MultiIndex):
        return None
    return list(dict.fromkeys(y.index.get_level_values(0)))


def _panel(data, instances):
    """One series as a (T, k) array; a panel as a dict of its series (DataFrames), in the fitted order."""
    if data is None:
        return None
    if instances is None:
        return data.to_numpy(dtype=np.float64)
    return {key: data.xs(key, level=0) for key in instances}
