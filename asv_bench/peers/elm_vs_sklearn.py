"""ELMClassifier against scikit-learn's MLPClassifier (default settings) and LogisticRegression, side by side.

    python asv_bench/peers/elm_vs_sklearn.py [--quick] [--digits-only]

Prints markdown tables: accuracy and fit time on the bundled digits data and on two
generated problems of 100,000 samples x 100 features, then the ELM's fit time as the
hidden layer grows, sparse (density 0.01) against dense (density 1.0).

- The generated problems: ``make_classification(100_000, 100)`` with scikit-learn's
  defaults (2 informative features, 2 classes), and a harder one (30 informative, 10
  redundant, 4 classes) whose class boundaries are quadratic (a QDA line is printed for
  it: such boundaries need many random features).
- The ELM's settings are never tuned on the test samples: they are chosen by
  cross-validation on the training samples with the one-standard-error rule (the
  smallest layer within one standard error of the best mean score). On digits: all
  training samples, 5 folds. On the generated problems: 15,000 training samples, 3
  folds, the penalty picked inside each fit from a list on a validation split. The
  search is timed and printed apart from the fit.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
import warnings
from datetime import date

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import reservoir as rs


def timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def choose_by_cross_validation(X_train, y_train, grid: dict, *, n_folds=5, samples=None, **fixed):
    """A grid point (n_hidden, alpha, input_scaling, ...) chosen by `n_folds`-fold cross-validation
    on the training samples (the first `samples` of them where given; never the test samples),
    with the one-standard-error rule: the smallest hidden layer whose mean validation accuracy is
    within one standard error of the best mean (ties: the higher mean). Returns an unfitted ELM
    with it, the search time and the mean validation score of every point."""
    X_train, y_train = X_train[:samples], y_train[:samples]
    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=1).split(X_train, y_train))
    names = list(grid)
    assert names[0] == "n_hidden", "the rule picks the smallest layer: n_hidden must be the first axis"
    points = list(itertools.product(*grid.values()))
    rs.ELMClassifier(**dict(zip(names, points[0])), **fixed).fit(X_train[:50], y_train[:50])  # compile first
    start = time.perf_counter()
    fold_scores = {
        point: [
            rs.ELMClassifier(**dict(zip(names, point)), **fixed)
            .fit(X_train[fit], y_train[fit])
            .score(X_train[val], y_train[val])
            for fit, val in folds
        ]
        for point in points
    }
    seconds = time.perf_counter() - start
    scores = {point: float(np.mean(values)) for point, values in fold_scores.items()}
    best = max(scores, key=scores.get)
    threshold = scores[best] - np.std(fold_scores[best], ddof=1) / np.sqrt(len(folds))
    chosen = min(
        (point for point in points if scores[point] >= threshold), key=lambda point: (point[0], -scores[point])
    )
    return rs.ELMClassifier(**dict(zip(names, chosen)), **fixed), seconds, scores


def compare(name, X, y, fixed: dict, grid: dict, *, larger=(), quadratic=False, **search):
    """The ELM (its `grid` searched first, the `fixed` parameters kept) against the MLP and logistic
    regression; `larger`: hidden sizes also fitted with the chosen settings, to show what more units
    buy; `quadratic`: add scikit-learn's QDA as a reference for quadratic class boundaries."""
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    elm, search_seconds, scores = choose_by_cross_validation(X_train, y_train, grid, **search, **fixed)
    models = [
        ("reservoir-engine ELMClassifier", elm),
        ("scikit-learn MLPClassifier()", MLPClassifier()),
        ("scikit-learn LogisticRegression()", LogisticRegression()),
    ]
    models += [
        (f"ELMClassifier, same settings, {units:,} units", clone(elm).set_params(n_hidden=units)) for units in larger
    ]
    if quadratic:
        models.append(
            (
                "scikit-learn QuadraticDiscriminantAnalysis(reg_param=1e-3)",
                QuadraticDiscriminantAnalysis(reg_param=1e-3),
            )
        )
    elm.fit(X_train[:50], y_train[:50])  # compile the kernels outside the timed fit
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for label, model in models:
            seconds = timed_fit(model, X_train, y_train)
            rows.append((label, model.score(X_test, y_test), seconds))
    print(f"\n### {name}: {X_train.shape[0]:,} training / {X_test.shape[0]:,} test samples, {X.shape[1]} features\n")
    print(f"ELM: {elm!r}\n")
    best = max(scores.values())
    listed = "; ".join(
        ", ".join(f"{name} {value:g}" for name, value in zip(grid, point)) + f": {score:.4f}"
        for point, score in scores.items()
        if score >= best - 0.005
    )
    n_folds, samples = search.get("n_folds", 5), search.get("samples")
    on = "the training samples" if samples is None else f"the first {samples:,} training samples"
    print(
        f"Chosen by {n_folds}-fold cross-validation (one-standard-error rule) on {on} over "
        f"{' x '.join(map(str, grid.values()))} ({', '.join(grid)}); within half a point of the best: {listed}. "
        f"Search over {n_folds * len(scores)} fits: {search_seconds:.1f} s, not in the fit time below.\n"
    )
    print("| model | test accuracy | fit seconds | fit time / ELM's |")
    print("|---|---|---|---|")
    for label, accuracy, seconds in rows:
        print(f"| {label} | {accuracy:.4f} | {seconds:.2f} | {seconds / rows[0][2]:.1f}x |")
    mlp_accuracy = rows[1][1]
    print(
        f"\nELM accuracy minus MLP accuracy: {100 * (rows[0][1] - mlp_accuracy):+.2f} points; "
        f"MLP fit time / ELM fit time: {rows[1][2] / rows[0][2]:.1f}x (target: within 1 point, >= 10x)"
    )


def scaling(X, y, sizes):
    print("\n### ELM fit time as the hidden layer grows (the default generated problem, 20,000 samples)\n")
    print("| hidden units | density 0.01: fit s | density 1.0 (dense): fit s | dense / sparse |")
    print("|---|---|---|---|")
    X, y = X[:20_000], y[:20_000]
    for units in sizes:
        times = []
        for density in (0.01, 1.0):
            model = rs.ELMClassifier(units, density=density, seed=0)
            model.fit(X[:50], y[:50])
            times.append(timed_fit(model, X, y))
        print(f"| {units:,} | {times[0]:.2f} | {times[1]:.2f} | {times[1] / times[0]:.1f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small generated problem and sizes (a smoke test)")
    parser.add_argument("--digits-only", action="store_true", help="only the digits comparison")
    args = parser.parse_args()
    print(
        f"# ELM vs scikit-learn, {date.today()}: {platform.machine()}, {os.cpu_count()} cores, "
        f"reservoir-engine {rs.__version__}"
    )
    X, y = load_digits(return_X_y=True)
    compare(
        "digits",
        X,
        y,
        dict(seed=0),
        grid={
            "n_hidden": (300, 600, 1000),
            "alpha": (1e-2, 1e-1, 1.0),
            "input_scaling": (0.1, 0.3, 1.0),
            "fan_in": (8, 16, 64),
        },
    )
    if args.digits_only:
        return
    samples = 10_000 if args.quick else 100_000
    search = dict(
        grid={"n_hidden": (500, 1000, 2000), "input_scaling": (0.1, 0.3, 1.0), "fan_in": (2, 5, 16)},
        n_folds=3,
        samples=5_000 if args.quick else 15_000,
    )
    fixed = dict(alpha=[1e-3, 1e-1, 10], seed=0)
    X, y = make_classification(samples, 100, random_state=0)
    compare("generated: make_classification(100_000, 100), scikit-learn's defaults", X, y, fixed, **search)
    X_hard, y_hard = make_classification(samples, 100, n_informative=30, n_redundant=10, n_classes=4, random_state=0)
    compare(
        "generated, harder: 30 informative + 10 redundant features, 4 classes",
        X_hard,
        y_hard,
        fixed,
        larger=() if args.quick else (4000,),
        quadratic=True,
        **search,
    )
    scaling(X, y, [1_000, 2_000] if args.quick else [1_000, 5_000, 10_000, 20_000])


if __name__ == "__main__":
    main()
