"""fit_ridge's memory-only route on a LocalCluster of two worker processes: each task runs the
model over its sequences and returns Gram statistics; nothing is stored.

The reference is ``Ridge.fit`` in one process on the states of ``ESN.run`` over the whole
batch (and the stored-states route of the same fit).
"""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from reservoir import ESN  # noqa: E402
from reservoir.distributed import connect, fit_ridge, harvest  # noqa: E402
from reservoir.elm import HiddenLayer  # noqa: E402
from reservoir.readouts import Ridge  # noqa: E402

SEQUENCES, STEPS, UNITS, WASHOUT = 6, 300, 40, 20
ALPHAS = [1e-9, 1e-6, 1e-3, 1.0]


@pytest.fixture(scope="module")
def client():
    client = connect(n_workers=2, threads_per_worker=1)
    yield client
    client.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    u = rng.uniform(-1, 1, (SEQUENCES, STEPS, 2))
    y = np.stack([np.sin(np.cumsum(u[..., 0], axis=1) / 5), u[..., 1] * np.roll(u[..., 0], 1, axis=1)], axis=-1)
    return u, y


def esn(dtype="float64"):
    return ESN(UNITS, seed=2, dtype=dtype, leak_rate=0.5)


def relative(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_equals_ridge_on_the_concatenated_states_with_a_list_of_penalties(client, data):
    u, y = data
    states = esn().run(u)
    split = WASHOUT + round((STEPS - WASHOUT) * 0.75)
    reference = Ridge(alpha=ALPHAS).fit(
        states[:, WASHOUT:split], y[:, WASHOUT:split], validation=(states[:, split:], y[:, split:])
    )
    readout = fit_ridge(
        esn(), u, y, client=client, alpha=ALPHAS, washout=WASHOUT, validation=0.25, sequences_per_task=2
    )
    assert readout.alpha_ == reference.alpha_
    assert relative(readout.coef_, reference.coef_) < 1e-10
    assert relative(readout.intercept_, reference.intercept_) < 1e-10
    for alpha in ALPHAS:
        assert readout.validation_errors_[alpha] == pytest.approx(reference.validation_errors_[alpha], rel=1e-8)
    refit = fit_ridge(esn(), u, y, client=client, alpha=ALPHAS, washout=WASHOUT, validation=0.25, refit=True)
    assert relative(refit.coef_, reference.refitted().coef_) < 1e-10


def test_held_out_sequences_inputs_as_features_and_stop(client, data):
    u, y = data
    stop, held = 250, [1, 4]
    features = np.concatenate([esn().run(u[:, :stop]), u[:, :stop]], axis=-1)
    train = [b for b in range(SEQUENCES) if b not in held]
    reference = Ridge(alpha=ALPHAS).fit(
        features[train, WASHOUT:], y[train, WASHOUT:stop], validation=(features[held, WASHOUT:], y[held, WASHOUT:stop])
    )
    readout = fit_ridge(
        esn(), u, y, client=client, alpha=ALPHAS, washout=WASHOUT, stop=stop, validation=held, include_input=True
    )
    assert readout.alpha_ == reference.alpha_
    assert relative(readout.coef_, reference.coef_) < 1e-10


def test_same_readout_as_the_stored_states_route(client, data, tmp_path):
    u, y = data
    stored = harvest(esn(), u, targets=y, directory=tmp_path / "shards", client=client, progress=False)
    on_disk = fit_ridge(stored, client=client, alpha=1e-4, washout=WASHOUT)
    in_memory = fit_ridge(esn(), u, y, client=client, alpha=1e-4, washout=WASHOUT)
    assert relative(in_memory.coef_, on_disk.coef_) < 1e-10
    assert not list(tmp_path.glob("*.h5"))  # the memory route wrote nothing beside the harvest's folder


def test_float32_model_and_a_model_without_iter_states(client, data):
    u, y = data
    states = esn("float32").run(u.astype(np.float32))
    reference = Ridge(alpha=1e-4).fit(states[:, WASHOUT:], y[:, WASHOUT:])
    readout = fit_ridge(esn("float32"), u, y[..., 0], client=client, alpha=1e-4, washout=WASHOUT)
    assert relative(readout.coef_[0], reference.coef_[0]) < 1e-10  # the same float32 states, float64 sums
    layer = HiddenLayer(30, 2, seed=0, dtype="float64")
    hidden = layer.transform(u.reshape(-1, 2)).reshape(SEQUENCES, STEPS, -1)
    reference = Ridge(alpha=0.1).fit(hidden, y)  # 30 features of 2 inputs: collinear, so a firmer penalty
    assert relative(fit_ridge(layer, u, y, client=client, alpha=0.1).coef_, reference.coef_) < 1e-10


def test_bad_inputs_are_named(client, data):
    u, y = data
    bad = u.copy()
    bad[3, 17, 0] = np.nan
    with pytest.raises(ValueError, match=r"inputs.*sequence 3.*step 17|inputs.*3.*17"):
        fit_ridge(esn(), bad, y, client=client)
    with pytest.raises(ValueError, match="targets have 6 sequence.*299 steps.*aligned"):
        fit_ridge(esn(), u, y[:, :-1], client=client)
    bad_y = y.copy()
    bad_y[0, 5, 1] = np.inf
    with pytest.raises(ValueError, match="targets"):
        fit_ridge(esn(), u, bad_y, client=client)
    with pytest.raises(ValueError, match="targets are missing"):
        fit_ridge(esn(), u, client=client)
    with pytest.raises(ValueError, match="washout=300 leaves no steps"):
        fit_ridge(esn(), u, y, client=client, washout=STEPS)
    with pytest.raises(ValueError, match="several alphas need validation"):
        fit_ridge(esn(), u, y, client=client, alpha=ALPHAS)
