"""scikit-learn style estimators built from a reservoir and a readout."""

from sklearn.exceptions import NotFittedError

from .elm import ELMClassifier, ELMRegressor
from .esn import ESNClassifier, ESNRegressor

__all__ = ["ESNRegressor", "ESNClassifier", "ELMRegressor", "ELMClassifier", "NotFittedError"]
