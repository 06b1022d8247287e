"""Extreme learning machines: ELMClassifier fit and predict, and accuracy on scikit-learn's digits.

``Fit``/``Predict`` use a generated four-class problem (``make_classification``,
``PROFILE.elm_samples`` samples of ``PROFILE.elm_features`` features) and a hidden
layer of fixed fan-in: fit = hidden layer + ridge readout (Gram statistics and a
solve), predict = hidden layer + readout on as many new samples. ``Digits`` records the
test accuracy on the bundled digits (1,347 train / 450 test, the split of
``asv_bench/peers/elm_vs_sklearn.py``), so an accuracy regression shows in the same
report as a speed one.
"""

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import reservoir as rs

from .common import BACKENDS, PROFILE, SEED, require_backend

FAN_IN = 10  # inputs per hidden unit on the generated problem
ALPHA = 1e-3


def _problem():
    """Standardised train and test halves of one generated problem (same on every commit)."""
    X, y = make_classification(
        2 * PROFILE.elm_samples,
        PROFILE.elm_features,
        n_informative=PROFILE.elm_features // 3,
        n_redundant=PROFILE.elm_features // 10,
        n_classes=4,
        random_state=SEED,
    )
    X = StandardScaler().fit_transform(X).astype(np.float32)
    half = PROFILE.elm_samples
    return X[:half], y[:half], X[half:], y[half:]


def _classifier(backend, n_hidden):
    return rs.ELMClassifier(n_hidden, fan_in=FAN_IN, alpha=ALPHA, seed=SEED, dtype="float32", backend=backend)


class Fit:
    """ELMClassifier.fit: hidden layer on every sample, then the ridge readout."""

    params = (list(BACKENDS), list(PROFILE.elm_hidden))
    param_names = ("backend", "n_hidden")
    timeout = PROFILE.timeout

    def setup(self, backend, n_hidden):
        require_backend(backend)
        self.X, self.y, _, _ = _problem()
        _classifier(backend, n_hidden).fit(self.X[:50], self.y[:50])  # compile the hidden-layer kernel

    def time_fit(self, backend, n_hidden):
        _classifier(backend, n_hidden).fit(self.X, self.y)

    def peakmem_fit(self, backend, n_hidden):
        _classifier(backend, n_hidden).fit(self.X, self.y)


class Predict:
    """ELMClassifier.predict on PROFILE.elm_samples new samples (the model is fitted in setup)."""

    params = (list(BACKENDS), list(PROFILE.elm_hidden))
    param_names = ("backend", "n_hidden")
    timeout = PROFILE.timeout

    def setup(self, backend, n_hidden):
        require_backend(backend)
        X, y, self.X_test, self.y_test = _problem()
        self.model = _classifier(backend, n_hidden).fit(X, y)
        self.model.predict(self.X_test[:10])

    def time_predict(self, backend, n_hidden):
        self.model.predict(self.X_test)

    def track_test_accuracy(self, backend, n_hidden):
        return float(np.mean(self.model.predict(self.X_test) == self.y_test))

    track_test_accuracy.unit = "accuracy"


class Digits:
    """Test accuracy on scikit-learn's digits at one fixed configuration
    (``ELMClassifier(n_hidden, fan_in=16, alpha=0.1, seed=0)`` on standardised pixels),
    kept so the tracked value compares across commits. The peer script now chooses its
    configuration by cross-validation instead."""

    params = (list(BACKENDS),)
    param_names = ("backend",)
    timeout = PROFILE.timeout
    unit = "accuracy"

    def setup(self, backend):
        require_backend(backend)
        X, y = load_digits(return_X_y=True)
        X_train, X_test, self.y_train, self.y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
        scaler = StandardScaler().fit(X_train)
        self.X_train, self.X_test = scaler.transform(X_train), scaler.transform(X_test)

    def track_digits_accuracy(self, backend):
        model = rs.ELMClassifier(PROFILE.elm_digits_hidden, fan_in=16, alpha=1e-1, seed=0, backend=backend)
        model.fit(self.X_train, self.y_train)
        return float(model.score(self.X_test, self.y_test))
