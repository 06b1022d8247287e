"""reservoir.distributed on a LocalCluster of two worker processes: harvest, index, reduction.

The references are single-process runs of the same models (``ESN.run`` on the whole
batch and on each shard's batch, ``HiddenLayer.transform``, ``LSM.run`` into a local
store) and ``Ridge.fit`` on the in-memory states.
"""

from __future__ import annotations

import operator
import shutil
import socket
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from reservoir import ESN, LSM, StateStore  # noqa: E402
from reservoir.distributed import (  # noqa: E402
    ShardError,
    check_index,
    connect,
    fit_ridge,
    harvest,
    model_fingerprint,
    tree_reduce,
)
from reservoir.elm import HiddenLayer  # noqa: E402
from reservoir.readouts import GRUReadout, Ridge  # noqa: E402

SEQUENCES, STEPS, UNITS = 6, 240, 40


@pytest.fixture(scope="module")
def client():
    client = connect(n_workers=2, threads_per_worker=1)
    yield client
    client.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    u = rng.uniform(-1, 1, (SEQUENCES, STEPS, 2))
    y = np.stack([np.sin(np.cumsum(u[..., 0], axis=1)), u[..., 1] ** 2], axis=-1)
    return u, y


def esn(seed=1, dtype="float64"):
    return ESN(UNITS, seed=seed, dtype=dtype, leak_rate=0.5)


@pytest.fixture(scope="module")
def harvested(client, data, tmp_path_factory):
    u, y = data
    esn().run(u)  # compiled here first: the workers load the kernels from the disk cache
    directory = tmp_path_factory.mktemp("shards")
    result = harvest(esn(), u, targets=y, directory=directory, client=client, sequences_per_task=2, checkpoint_every=64)
    return result


def test_harvest_gives_the_single_process_states(harvested, data):
    u, _ = data
    assert [shard.identity.start for shard in harvested.shards] == [0, 2, 4]
    assert {shard.worker for shard in harvested.shards} <= set(harvested_workers(harvested))
    whole = esn().run(u)
    with harvested.open() as store:
        run = store["states"]
        states = run.states[...]
        assert run.complete and states.shape == (SEQUENCES, STEPS, UNITS)
        np.testing.assert_allclose(states, whole, rtol=1e-12, atol=1e-14)
        for shard in harvested.shards:  # each shard is bit for bit its own batch run in one process
            start, stop = shard.identity.start, shard.identity.stop
            np.testing.assert_array_equal(states[start:stop], esn().run(u[start:stop]))
        # the index's checkpoint is the state after the last step of every sequence
        np.testing.assert_array_equal(run.saved_state(), states[:, -1])


def harvested_workers(result):
    return [shard.worker for shard in result.shards]


def test_index_reads_the_same_values_as_the_shards(harvested, data, tmp_path):
    u, y = data
    with harvested.open() as store:
        run = store["states"]
        assert run.states.is_virtual
        pieces = {"states": [], "inputs": [], "targets": []}
        for shard in harvested.shards:
            with StateStore(shard.path, "r") as shard_store:
                shard_run = shard_store["states"]
                for key in pieces:
                    pieces[key].append(getattr(shard_run, key)[...])
        for key, parts in pieces.items():
            np.testing.assert_array_equal(getattr(run, key)[...], np.concatenate(parts))
        np.testing.assert_array_equal(run.inputs[...], u)
        np.testing.assert_array_equal(run.targets[...], y)
    # the sources are relative: a moved directory still reads
    moved = tmp_path / "moved"
    shutil.copytree(harvested.directory, moved)
    check_index(moved / "index.h5")
    with StateStore(moved / "index.h5", "r") as store:
        np.testing.assert_array_equal(store["states"].states[...], np.concatenate(pieces["states"]))


def test_readouts_read_the_index_as_a_run(harvested, data):
    u, y = data
    states = esn().run(u)
    with harvested.open() as store:
        run = store["states"]
        stored = Ridge(alpha=1e-3).fit(run.time_range(20), [y[b, 20:] for b in range(SEQUENCES)])
        gru_stored = GRUReadout(4, epochs=1, validation_fraction=0, seed=0, dtype="float64").fit(run)
    memory = Ridge(alpha=1e-3).fit(states[:, 20:], y[:, 20:])
    np.testing.assert_allclose(stored.coef_, memory.coef_, rtol=1e-9, atol=1e-12)
    gru_memory = GRUReadout(4, epochs=1, validation_fraction=0, seed=0, dtype="float64").fit(states, y)
    np.testing.assert_allclose(gru_stored.predict(states[:1]), gru_memory.predict(states[:1]), rtol=1e-10)


def relative_error(a, b):
    return np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max()


def test_fit_ridge_equals_the_single_process_fit(harvested, client, data):
    _, y = data
    states = esn().run(data[0])
    washout = 15
    reduced = fit_ridge(harvested, client=client, alpha=1e-4, washout=washout)
    single = Ridge(alpha=1e-4).fit(states[:, washout:], y[:, washout:])
    assert relative_error(reduced.coef_, single.coef_) < 1e-10
    assert relative_error(reduced.intercept_, single.intercept_) < 1e-10
    np.testing.assert_allclose(reduced.predict(states[0]), single.predict(states[0]), rtol=1e-10, atol=1e-12)
    # from the index path instead of the Harvest, without intercept
    no_intercept = fit_ridge(harvested.index, client=client, alpha=1e-4, washout=washout, fit_intercept=False)
    single = Ridge(alpha=1e-4, fit_intercept=False).fit(states[:, washout:], y[:, washout:])
    assert relative_error(no_intercept.coef_, single.coef_) < 1e-10


def test_fit_ridge_chooses_alpha_in_one_pass_like_ridge(harvested, client, data):
    u, y = data
    states = esn().run(u)
    alphas = [1e-8, 1e-5, 1e-2, 1.0]
    washout, fraction = 10, 0.25
    split = washout + int(round((STEPS - washout) * (1 - fraction)))
    features = np.concatenate([states, u], axis=-1)
    reduced = fit_ridge(
        harvested, client=client, alpha=alphas, washout=washout, validation=fraction, include_input=True
    )
    single = Ridge(alpha=alphas).fit(
        features[:, washout:split], y[:, washout:split], validation=(features[:, split:], y[:, split:])
    )
    assert reduced.alpha_ == single.alpha_
    for alpha in alphas:
        assert reduced.validation_errors_[alpha] == pytest.approx(single.validation_errors_[alpha], rel=1e-9)
    assert relative_error(reduced.coef_, single.coef_) < 1e-10
    refitted = fit_ridge(
        harvested, client=client, alpha=alphas, washout=washout, validation=fraction, include_input=True, refit=True
    )
    assert relative_error(refitted.coef_, single.refitted().coef_) < 1e-10
    # held-out sequences instead of a fraction of the steps
    held = [1, 4]
    by_sequence = fit_ridge(harvested, client=client, alpha=alphas, washout=washout, validation=held)
    kept = [b for b in range(SEQUENCES) if b not in held]
    single = Ridge(alpha=alphas).fit(
        states[kept, washout:], y[kept, washout:], validation=(states[held, washout:], y[held, washout:])
    )
    assert by_sequence.alpha_ == single.alpha_
    assert relative_error(by_sequence.coef_, single.coef_) < 1e-10


def test_tree_reduce_sums_every_future(client):
    for count in (1, 2, 5, 8):
        futures = [client.submit(lambda value: value, value, pure=False) for value in range(1, count + 1)]
        assert tree_reduce(client, futures, operator.add).result() == count * (count + 1) // 2
    with pytest.raises(ValueError, match="no futures"):
        tree_reduce(client, [], operator.add)


def test_float32(client, data, tmp_path):
    u, y = data
    expected = esn(dtype="float32").run(u)  # compiled here first: the workers load it from the disk cache
    result = harvest(esn(dtype="float32"), u, targets=y, directory=tmp_path / "f32", client=client, progress=False)
    with result.open() as store:
        states = store["states"].states
        assert states.dtype == np.float32
        np.testing.assert_allclose(states[...], expected, rtol=1e-5, atol=1e-6)


def test_elm_hidden_layer(client, data, tmp_path):
    u, _ = data
    layer = HiddenLayer(30, 2, seed=0, dtype="float64")
    expected = np.stack([layer.transform(u[b]) for b in range(SEQUENCES)])
    result = harvest(
        layer, u, directory=tmp_path / "elm", client=client, sequences_per_task=4, checkpoint_every=100, progress=False
    )
    with result.open() as store:
        np.testing.assert_array_equal(store["states"].states[...], expected)


class TwoReservoirs:
    """A composed model with an in-memory batched run only: two ESNs side by side."""

    dtype = np.dtype(np.float64)

    def __init__(self):
        self.first, self.second = esn(seed=1), esn(seed=2)

    def reset(self):
        self.first.reset()
        self.second.reset()

    def config(self):
        return {"model": "TwoReservoirs"}

    def run(self, u):
        return np.concatenate([self.first.run(u), self.second.run(u)], axis=-1)


def test_any_model_with_a_batched_run(client, data, tmp_path):
    u, _ = data
    expected = TwoReservoirs().run(u)
    result = harvest(
        TwoReservoirs(), u, directory=tmp_path / "two", client=client, sequences_per_task=3, progress=False
    )
    with result.open() as store:
        np.testing.assert_allclose(store["states"].states[...], expected, rtol=1e-12, atol=1e-14)
    assert result.fingerprint != model_fingerprint(esn())  # the sub-models' weights are in it


@pytest.mark.slow  # the LIF kernels compile for about 20 s in a fresh worker process
def test_lsm(client, data, tmp_path):
    u, _ = data
    drive = np.abs(u[:4, :100, :1]) * 2e-9
    references = {}
    for start in (0, 2):  # traces of every step and spikes, as a stored run in one process
        with StateStore(tmp_path / f"lsm-ref-{start}.h5", "w") as reference:
            run = LSM(40, 10, seed=2, dtype="float64").run(drive[start : start + 2], store=reference, name="states")
            references[start] = (run.states[...], run.spike_count)
    lsm = LSM(40, 10, seed=2, dtype="float64")
    result = harvest(lsm, drive, directory=tmp_path / "lsm", client=client, sequences_per_task=2, progress=False)
    with result.open() as store:
        traces = store["states"].states[...]
    for shard in result.shards:
        start, stop = shard.identity.start, shard.identity.stop
        np.testing.assert_array_equal(traces[start:stop], references[start][0])
        with StateStore(shard.path, "r") as stored:
            assert stored["states"].spike_count == references[start][1]


def test_a_second_call_resumes_and_keeps_complete_shards(client, data, tmp_path):
    u, y = data
    directory = tmp_path / "again"
    first = harvest(esn(), u, targets=y, directory=directory, client=client, sequences_per_task=3, progress=False)
    kept = first.shards[0].path.stat().st_mtime_ns
    first.shards[1].path.unlink()  # a lost shard is written again, the other one is not touched
    second = harvest(esn(), u, targets=y, directory=directory, client=client, sequences_per_task=3, progress=False)
    assert first.shards[0].path.stat().st_mtime_ns == kept
    with second.open() as store:
        np.testing.assert_array_equal(store["states"].states[...], esn().run(u))


# ---------------------------------------------------------------------- refusals
def test_a_scheduler_address_where_none_listens_fails_fast():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.perf_counter()
    with pytest.raises(ConnectionError, match=f"no Dask scheduler answered at '{address}'"):
        connect(address, timeout=1)
    assert time.perf_counter() - started < 10
    with pytest.raises(TypeError, match="scheduler must be"):
        connect(8786)


def test_a_directory_with_another_runs_shards_is_refused(harvested, client, data):
    u, y = data
    before = sorted(harvested.directory.iterdir())
    with pytest.raises(ShardError, match="another run"):
        harvest(esn(), u, targets=y, directory=harvested.directory, name="other", client=client, sequences_per_task=2)
    with pytest.raises(ShardError, match="another reservoir"):
        harvest(esn(seed=9), u, targets=y, directory=harvested.directory, client=client, sequences_per_task=2)
    with pytest.raises(ShardError, match="other inputs"):
        harvest(esn(), u + 0.1, targets=y, directory=harvested.directory, client=client, sequences_per_task=2)
    assert sorted(harvested.directory.iterdir()) == before  # refused before any work


def test_shards_of_different_reservoirs_in_one_directory_are_refused(harvested, client, data, tmp_path):
    u, y = data
    other = harvest(esn(seed=5), u, targets=y, directory=tmp_path / "b", client=client, sequences_per_task=2)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(harvested.shards[0].path, mixed)
    shutil.copy(other.shards[1].path, mixed)
    with pytest.raises(ShardError, match="different runs or reservoirs"):
        harvest(esn(), u, targets=y, directory=mixed, client=client, sequences_per_task=2)
    # an index whose shard was replaced by another reservoir's is refused by the reduction
    swapped = tmp_path / "swapped"
    shutil.copytree(harvested.directory, swapped)
    shutil.copy(other.shards[1].path, swapped / harvested.shards[1].path.name)
    with pytest.raises(ShardError, match="not a shard of run"):
        fit_ridge(swapped / "index.h5", client=client)
    shutil.copy(harvested.shards[1].path, swapped)
    (swapped / harvested.shards[2].path.name).unlink()
    with pytest.raises(ShardError, match="missing"):
        check_index(swapped / "index.h5")
    same, another = esn(), esn(seed=5)
    for model in (same, another):
        model.run(u[:1, :2])  # draws the input weights, as harvest does
    assert model_fingerprint(same.reset()) == harvested.fingerprint != model_fingerprint(another.reset())


def test_an_unwritable_directory_is_refused_before_any_work(client, data, tmp_path):
    u, _ = data
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match="a-file"):
        harvest(esn(), u, directory=blocker, client=client)
    with pytest.raises((PermissionError, NotADirectoryError), match="shard directory"):
        harvest(esn(), u, directory=blocker / "shards", client=client)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        probe = locked / "probe"
        try:
            probe.write_text("")  # root writes anyway: nothing to test there
            probe.unlink()
        except PermissionError:
            with pytest.raises(PermissionError, match="cannot write in the shard directory"):
                harvest(esn(), u, directory=locked, client=client)
    finally:
        locked.chmod(0o700)


def test_bad_inputs_are_named(client, data, tmp_path):
    u, y = data
    bad = u.copy()
    bad[2, 7, 0] = np.nan
    with pytest.raises(ValueError, match="inputs"):
        harvest(esn(), bad, directory=tmp_path / "nan", client=client)
    with pytest.raises(ValueError, match="targets have shape"):
        harvest(esn(), u, targets=y[:, :-1], directory=tmp_path / "t", client=client)
    with pytest.raises(ValueError, match="different lengths"):
        harvest(esn(), [u[0], u[1, :-3]], directory=tmp_path / "ragged", client=client)
    with pytest.raises(ValueError, match="name"):
        harvest(esn(), u, directory=tmp_path / "n", name="a/b", client=client)
    assert not (tmp_path / "nan").exists()
    result = harvest(esn(), u, directory=tmp_path / "no-targets", client=client, progress=False)
    with pytest.raises(ValueError, match="stores no targets"):
        fit_ridge(result, client=client)
    with pytest.raises(ValueError, match="validation"):
        fit_ridge(result, client=client, alpha=[1e-3, 1e-2])
