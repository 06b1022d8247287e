"""
An extreme learning machine on handwritten digits
=================================================

An ELM is one sparse random hidden layer, ``h = tanh(W_hidden @ x + b)``, that is
never trained, and a ridge readout on top: fitting is one linear solve.
:class:`~reservoir.ELMClassifier` is a scikit-learn classifier, so it works in a
``Pipeline`` and in ``GridSearchCV``.
"""

# %%
# Fit and score
# -------------
# ``fan_in=64`` gives every hidden unit exactly 64 of the inputs (here all 64
# pixels); ``density=`` would instead draw each possible connection with that
# probability.

import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import reservoir as rs

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

elm = make_pipeline(StandardScaler(), rs.ELMClassifier(600, fan_in=64, input_scaling=0.1, alpha=1.0, seed=0))
start = time.perf_counter()
elm.fit(X_train, y_train)
elm_seconds = time.perf_counter() - start
linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X_train, y_train)
print(f"ELMClassifier (600 units): accuracy {elm.score(X_test, y_test):.4f}, fit {elm_seconds:.2f} s")
print(f"LogisticRegression:        accuracy {linear.score(X_test, y_test):.4f}")

# %%
# Accuracy against the size of the hidden layer
# ---------------------------------------------
# A wider random layer gives the linear readout more features to combine, up to
# the point where the penalty ``alpha`` has to hold it back.

sizes = [25, 50, 100, 200, 400]
scores = [
    make_pipeline(StandardScaler(), rs.ELMClassifier(n, fan_in=64, input_scaling=0.1, alpha=1.0, seed=0))
    .fit(X_train, y_train)
    .score(X_test, y_test)
    for n in sizes
]
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(sizes, scores, marker="o", label="ELMClassifier")
ax.axhline(linear.score(X_test, y_test), color="0.5", ls="--", label="LogisticRegression")
ax.set_xscale("log")
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.set_xlabel("hidden units")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()
plt.show()
print({size: round(float(score), 4) for size, score in zip(sizes, scores)})
