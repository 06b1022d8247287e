"""First contact: with their default settings, the gated readouts learn what a linear readout cannot.

Three tasks on the states of a small echo-state network (40 units), each beyond the
reach of ``reservoir.Ridge`` on the same states, whose fading memory has lost what
the target needs:

* latch: rare ±1 events; the target at every step is the sign of the most recent one
  (many-to-many, scored as the share of steps whose output has the right sign);
* delayed recall: a ±1 cue in the first steps of a sequence, then distractor noise;
  the label is the cue's sign (many-to-one, accuracy);
* counting: 0-3 events in a noisy sequence; the label is their number (many-to-one).

One seed per task runs by default; ``-m slow`` sweeps five seeds (reservoir, data and
readout seeds together) and prints the accuracies.
"""

from __future__ import annotations

import numpy as np
import pytest

import reservoir as rs
from reservoir.readouts import GRUReadout, LSTMReadout

READOUTS = [GRUReadout, LSTMReadout]
UNITS = 40
#: A gated readout must reach this accuracy and make at most this share of ridge's errors.
MIN_ACCURACY = 0.9
ERROR_RATIO = 0.5


def _esn(seed):
    return rs.ESN(UNITS, density=0.1, spectral_radius=0.9, seed=seed, dtype="float64")


def latch_task(steps: int, rate: float, seed: int):
    """±1 events with probability `rate` per step (one at step 0); target: the sign of the latest event."""
    rng = np.random.default_rng(seed)
    events = rng.random(steps) < rate
    events[0] = True
    signs = rng.choice([-1.0, 1.0], steps)
    latest = np.maximum.accumulate(np.where(events, np.arange(steps), 0))
    return np.where(events, signs, 0.0)[:, None], signs[latest]


def recall_task(n: int, steps: int, seed: int, noise: float = 0.2):
    """A ±1 cue at one of the first three steps of each sequence, Gaussian distractors after it;
    the label is 1 for a positive cue, else 0."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    u = rng.normal(0.0, noise, (n, steps, 1))
    u[np.arange(n), rng.integers(0, 3, n), 0] = 2.0 * labels - 1.0
    return u, labels


def count_task(n: int, steps: int, seed: int):
    """0-3 unit events at distinct steps (the last at least 5 steps before the end) in small noise;
    the label is their number."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, n)
    u = rng.normal(0.0, 0.05, (n, steps, 1))
    for i, k in enumerate(counts):
        u[i, rng.choice(steps - 5, k, replace=False), 0] += 1.0
    return u, counts


def latch_accuracies(seed: int, readouts=READOUTS, steps: int = 2000) -> dict:
    """Held-out share of steps with the right sign: ridge and the gated readouts on the same states."""
    u, y = latch_task(steps, 0.05, seed)
    states = _esn(seed).run(u)
    washout, split = 20, int(0.6 * steps)
    ridge = rs.Ridge().fit(states[washout:split], y[washout:split])
    accuracies = {"Ridge": np.mean(np.sign(ridge.predict(states[split:])) == y[split:])}
    for readout in readouts:
        model = readout(seed=seed).fit(states[washout:split], y[washout:split])
        # run over the whole series, so that the value held when the test span starts is known
        accuracies[readout.__name__] = np.mean(np.sign(model.predict(states)[split:]) == y[split:])
    return accuracies


def sequence_accuracies(task, seed: int, readouts=READOUTS, n: int = 240, steps: int = 30) -> dict:
    """Held-out accuracy: ridge on each sequence's last state (one-hot targets) and the gated readouts."""
    u, labels = task(n, steps, seed)
    states = _esn(seed).run(u)
    train, test = slice(0, 2 * n // 3), slice(2 * n // 3, None)
    one_hot = np.eye(labels.max() + 1)[labels]
    ridge = rs.Ridge().fit(states[train, -1], one_hot[train])
    accuracies = {"Ridge": np.mean(ridge.predict(states[test, -1]).argmax(axis=1) == labels[test])}
    for readout in readouts:
        model = readout(seed=seed).fit(states[train], labels[train])
        accuracies[readout.__name__] = model.score(states[test], labels[test])
    return accuracies


TASKS = {
    "latch": latch_accuracies,
    "recall": lambda seed, readouts=READOUTS: sequence_accuracies(recall_task, seed, readouts),
    "count": lambda seed, readouts=READOUTS: sequence_accuracies(count_task, seed, readouts),
}


def _check(task: str, seed: int, readouts) -> dict:
    accuracies = TASKS[task](seed, readouts)
    print(f"\n{task} seed {seed}: " + ", ".join(f"{name} {value:.3f}" for name, value in accuracies.items()))
    for readout in readouts:
        accuracy = accuracies[readout.__name__]
        assert accuracy >= MIN_ACCURACY, (task, seed, accuracies)
        assert 1.0 - accuracy <= ERROR_RATIO * (1.0 - accuracies["Ridge"]), (task, seed, accuracies)
    return accuracies


def test_the_tasks_are_beyond_a_linear_readout():
    """The reference the gated readouts are measured against fails: ridge on the same states."""
    assert TASKS["latch"](0, readouts=[])["Ridge"] < 0.9
    assert TASKS["recall"](0, readouts=[])["Ridge"] < 0.5 + 0.2  # two classes
    assert TASKS["count"](0, readouts=[])["Ridge"] < 0.25 + 0.3  # four classes


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("task", sorted(TASKS))
def test_default_gated_readouts_learn_the_task(task, readout):
    _check(task, 0, [readout])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("task", sorted(TASKS))
def test_default_gated_readouts_learn_the_task_on_every_seed(task, seed):
    """Both readouts on five seeds; prints the accuracies (``pytest -m slow -s``)."""
    _check(task, seed, READOUTS)
