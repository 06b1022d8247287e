"""The model file (reservoir.io): every model round-trips exactly, without pickle.

The reference for "continues exactly" is the uninterrupted run: a model saved midway
and loaded must produce, bit for bit, what the model that was never saved produces
next. The safety tests write files by hand (h5py) the way an attacker would.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import scipy.sparse as sp

import reservoir as rs
from reservoir import io as model_file
from reservoir.elm import HiddenLayer
from reservoir.estimators import ELMClassifier, ELMRegressor, ESNClassifier, ESNRegressor
from reservoir.readouts import GRUReadout, LSTMReadout, Ridge

DTYPES = ["float32", "float64"]


def roundtrip(model, tmp_path, name="model.h5", **options):
    path = model_file.save(model, tmp_path / name)
    return model_file.load(path, **options)


def rewrite_state(group, text):
    """Replace an object's state JSON the way a forger would: with a matching checksum."""
    group.attrs["state"] = text
    group.attrs["checksum"] = model_file._format._checksum(group)


def assert_same_state(a, b):
    """Two LifStates (or two arrays) equal bit for bit."""
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
        return
    for name, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[name], err_msg=name)


# ---------------------------------------------------------------------- ESN
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [None, 7])
def test_unfitted_esn_draws_the_same_input_weights_after_load(tmp_path, rng, dtype, seed):
    """W_in is drawn on the first run from the seed's stream: unseeded too, the loaded ESN draws
    what the saved one would have."""
    esn = rs.ESN(60, seed=seed, dtype=dtype)
    loaded = roundtrip(esn, tmp_path)
    assert loaded.W_in is None
    u = rng.standard_normal((40, 2))
    np.testing.assert_array_equal(loaded.run(u), esn.run(u))
    np.testing.assert_array_equal(loaded.W_in, esn.W_in)
    assert loaded.W.dtype == np.dtype(dtype) and loaded.W.indices.dtype == esn.W.indices.dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_esn_mid_sequence_continues_bit_for_bit(tmp_path, rng, backend, dtype):
    u = rng.standard_normal((150, 2))
    uninterrupted = rs.ESN(70, seed=3, leak_rate=0.4, dtype=dtype, backend=backend).run(u)
    esn = rs.ESN(70, seed=3, leak_rate=0.4, dtype=dtype, backend=backend)
    first = esn.run(u[:61])
    loaded = roundtrip(esn, tmp_path)
    assert loaded.backend_name == backend
    np.testing.assert_array_equal(loaded.state, first[-1])
    rest = loaded.run(u[61:])
    assert rest.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(rest, uninterrupted[61:])


def test_esn_batch_state_and_closed_loop_continue(tmp_path, rng):
    esn = rs.ESN(50, seed=1, dtype="float64")
    u = rng.standard_normal((3, 80, 1))
    esn.run(u[:, :30])
    loaded = roundtrip(esn, tmp_path)
    assert loaded.state.shape == (3, 50)
    np.testing.assert_array_equal(loaded.run(u[:, 30:]), esn.run(u[:, 30:]))

    coef = rng.standard_normal((1, 51)) * 0.1
    esn.reset().run(u[0, :20])
    loaded = roundtrip(esn, tmp_path, "closed.h5")
    np.testing.assert_array_equal(loaded.generate(25, coef, 0.1, u[0, 19]), esn.generate(25, coef, 0.1, u[0, 19]))


def test_esn_from_weights_round_trips_against_the_equations(tmp_path, rng, esn_weights, esn_loop):
    """An ESN on given matrices (no seed, no spectral radius) keeps them; its run is the update equation's."""
    W, W_in, bias = esn_weights(rng, 40, 2, dtype=np.float64)
    esn = rs.ESN.from_weights(W, W_in, bias, leak_rate=0.5, backend="numpy")
    loaded = roundtrip(esn, tmp_path)
    assert loaded.spectral_radius is None and loaded.seed is None
    u = rng.standard_normal((30, 2))
    expected, _ = esn_loop(W, W_in, bias, u, leak_rate=0.5)
    np.testing.assert_allclose(loaded.run(u), expected, rtol=0, atol=1e-12)


def test_backend_override_and_unavailable_backend(tmp_path, rng):
    esn = rs.ESN(40, seed=2, backend="numba" if "numba" in rs.backends.available() else "numpy")
    u = rng.standard_normal((50, 1))
    esn.run(u[:20])
    path = model_file.save(esn, tmp_path / "esn.h5")
    loaded = model_file.load(path, backend="numpy")
    assert loaded.backend_name == "numpy" and loaded.backend == "numpy"
    reference = rs.ESN(40, seed=2, backend="numpy")
    reference.run(u[:20])
    reference.state = esn.state  # where the saved one stood (its first steps ran on another backend)
    np.testing.assert_array_equal(loaded.run(u[20:]), reference.run(u[20:]))

    # a file from a machine whose backend this one lacks: the error says what to do
    with h5py.File(path, "r+") as file:
        state = json.loads(file["model"].attrs["state"])
        state["_backend"] = {"$backend": "no-such-backend"}
        state["backend"] = "no-such-backend"
        rewrite_state(file["model"], json.dumps(state))
    with pytest.raises(RuntimeError, match=r"no-such-backend.*backend="):
        model_file.load(path)
    assert model_file.load(path, backend="numpy").backend_name == "numpy"


# ---------------------------------------------------------------------- LSM
def _lsm(dtype, **options):
    # v_rest above threshold: the network fires by itself, so spikes are in flight at any step
    return rs.LSM(
        60, 15, seed=11, delay=(0.5e-3, 2e-3), v_rest=-49e-3, dtype=dtype, input_encoding="poisson", **options
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_lsm_continues_with_spikes_in_flight(tmp_path, rng, dtype):
    u = rng.random((2, 400, 3))
    uninterrupted = _lsm(dtype).run(u, sample_every=1)
    lsm = _lsm(dtype)
    lsm.run(u[:, :173], sample_every=1)
    assert lsm.state.ring_exc.any(), "the test needs delayed spikes in flight at the save"
    loaded = roundtrip(lsm, tmp_path)
    assert_same_state(loaded.state, lsm.state)
    rest = loaded.run(u[:, 173:], sample_every=1)
    np.testing.assert_array_equal(rest.states, uninterrupted.states[:, 173:])
    late = uninterrupted.spike_times >= 173
    assert late.sum() > 0
    np.testing.assert_array_equal(rest.spike_times + 173, uninterrupted.spike_times[late])
    np.testing.assert_array_equal(rest.spike_neurons, uninterrupted.spike_neurons[late])
    np.testing.assert_array_equal(rest.spike_trials, uninterrupted.spike_trials[late])
    # reset() goes back to the initial potentials, as the saved network's does
    assert_same_state(loaded.reset().state, lsm.reset().state)


def test_unfitted_lsm_and_given_potentials(tmp_path, rng):
    lsm = rs.LSM(40, 10, v_init=np.linspace(-60e-3, -51e-3, 50), input_scaling=30e-3)
    loaded = roundtrip(lsm, tmp_path)
    assert loaded.W_in is None
    u = rng.standard_normal((200, 2))
    a, b = lsm.run(u), loaded.run(u)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    assert sp.issparse(loaded.W_push) and loaded.delays.dtype == lsm.delays.dtype


# ---------------------------------------------------------------------- ELM layer and estimators
@pytest.mark.parametrize("dtype", DTYPES)
def test_hidden_layer_round_trip(tmp_path, rng, dtype):
    layer = HiddenLayer(30, 6, seed=None, dtype=dtype)
    loaded = roundtrip(layer, tmp_path)
    X = rng.standard_normal((20, 6))
    np.testing.assert_array_equal(loaded.transform(X), layer.transform(X))
    np.testing.assert_array_equal(loaded.transform(sp.csr_array(X)), layer.transform(sp.csr_array(X)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_esn_regressor_forecast_continues(tmp_path, rng, dtype):
    series = np.sin(np.arange(400) * 0.13)[:, None] + 0.01 * rng.standard_normal((400, 1))
    model = ESNRegressor(units=60, seed=4, dtype=dtype, alpha=[1e-6, 1e-3]).fit(series[:-1], series[1:])
    loaded = roundtrip(model, tmp_path)
    np.testing.assert_array_equal(loaded.forecast(30), model.forecast(30))
    np.testing.assert_array_equal(loaded.forecast(10, warmup=series[:15]), model.forecast(10, warmup=series[:15]))
    np.testing.assert_array_equal(loaded.predict(series[:50]), model.predict(series[:50]))
    assert loaded.get_params() == model.get_params()
    assert loaded.alpha_ == model.alpha_


def test_unfitted_estimators_fit_alike_after_load(tmp_path, rng):
    u = rng.standard_normal((200, 1))
    model = ESNRegressor(units=40, seed=5, leak_rate=0.3)
    loaded = roundtrip(model, tmp_path)
    assert loaded.get_params() == model.get_params() and not hasattr(loaded, "readout_")
    np.testing.assert_array_equal(loaded.fit(u[:-1], u[1:]).forecast(5), model.fit(u[:-1], u[1:]).forecast(5))
    with pytest.raises(rs.NotFittedError):
        roundtrip(GRUReadout(hidden=4), tmp_path, "gru.h5").predict(np.zeros((5, 3)))


def test_esn_regressor_with_pandas_keeps_its_index(tmp_path, rng):
    pd = pytest.importorskip("pandas")
    index = pd.date_range("2026-01-01", periods=300, freq="h", tz="Europe/Berlin", name="when")
    frame = pd.DataFrame({"load": np.cos(np.arange(300) * 0.1)}, index=index)
    model = ESNRegressor(units=40, seed=1, dtype="float64").fit(frame.iloc[:-1], frame.iloc[1:])
    loaded = roundtrip(model, tmp_path)
    expected, got = model.forecast(12), loaded.forecast(12)
    pd.testing.assert_frame_equal(got, expected)
    assert got.index.tz is not None and got.index.freqstr == "h"


@pytest.mark.parametrize("dtype", DTYPES)
def test_esn_classifier_round_trip(tmp_path, rng, dtype):
    X = rng.standard_normal((30, 25, 2))
    y = np.where(X[:, :, 0].mean(axis=1) > 0, "up", "down")
    model = ESNClassifier(units=40, seed=2, dtype=dtype, pooling="mean+last").fit(X, y)
    loaded = roundtrip(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.classes_.dtype == model.classes_.dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_elm_regressor_partial_fit_continues(tmp_path, rng, dtype):
    X, Y = rng.standard_normal((300, 4)), rng.standard_normal((300, 2))
    uninterrupted = ELMRegressor(n_hidden=50, seed=3, dtype=dtype, alpha=1e-2)
    for block in (slice(0, 100), slice(100, 200), slice(200, 300)):
        uninterrupted.partial_fit(X[block], Y[block])
    model = ELMRegressor(n_hidden=50, seed=3, dtype=dtype, alpha=1e-2).partial_fit(X[:100], Y[:100])
    loaded = roundtrip(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    loaded.partial_fit(X[100:200], Y[100:200]).partial_fit(X[200:], Y[200:])
    np.testing.assert_array_equal(loaded.predict(X), uninterrupted.predict(X))


def test_elm_classifier_with_feature_names_and_text_labels(tmp_path, rng):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(rng.standard_normal((120, 3)), columns=["a", "b", "c"])
    y = np.array(["cat", "dog", "emu"])[rng.integers(0, 3, 120)]
    model = ELMClassifier(n_hidden=40, seed=0).fit(X, y)
    loaded = roundtrip(model, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(X.rename(columns={"a": "z"}))


# ---------------------------------------------------------------------- readouts
def test_ridge_keeps_what_refit_and_partial_fit_need(tmp_path, rng):
    X, y = rng.standard_normal((200, 5)), rng.standard_normal(200)
    model = Ridge(alpha=[1e-4, 1e-2, 1.0]).fit(X[:150], y[:150], validation=(X[150:], y[150:]))
    loaded = roundtrip(model, tmp_path)
    assert loaded.validation_errors_ == model.validation_errors_  # float keys survive
    np.testing.assert_array_equal(loaded.refitted().coef_, model.refitted().coef_)
    streamed = Ridge(alpha=0.1).partial_fit(X[:80], y[:80])
    loaded = roundtrip(streamed, tmp_path, "stream.h5")
    assert isinstance(loaded.intercept_, float) and loaded.coef_.shape == (5,)
    np.testing.assert_array_equal(loaded.partial_fit(X[80:], y[80:]).coef_, streamed.partial_fit(X[80:], y[80:]).coef_)


@pytest.mark.parametrize("cls", [GRUReadout, LSTMReadout])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gated_readouts_predict_the_same(tmp_path, rng, cls, dtype):
    states, targets = rng.standard_normal((2, 120, 6)), rng.standard_normal((2, 120))
    model = cls(hidden=6, epochs=2, window=16, seed=1, dtype=dtype).fit(states, targets)
    loaded = roundtrip(model, tmp_path)
    for name in ("mode_", "n_iter_", "loss_curve_", "batch_size_", "best_epoch_"):
        assert getattr(loaded, name) == getattr(model, name), name
    prediction = loaded.predict(states)
    assert prediction.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(prediction, model.predict(states))

    labels = np.array([0, 1, 0, 1, 1, 0])
    sequences = [rng.standard_normal((n, 6)) for n in (20, 25, 30, 22, 28, 26)]
    classifier = cls(hidden=5, epochs=2, seed=2, dtype=dtype, validation_fraction=0.0).fit(sequences, labels)
    loaded = roundtrip(classifier, tmp_path, "classifier.h5")
    np.testing.assert_array_equal(loaded.predict_proba(sequences), classifier.predict_proba(sequences))


# ---------------------------------------------------------------------- foreign estimators
@pytest.mark.parametrize("name", [entry.name for entry in model_file._registry.SAFE_SKLEARN_CLASSES])
def test_known_safe_scikit_learn_estimators_round_trip(tmp_path, rng, name):
    import importlib

    from sklearn.linear_model import BayesianRidge

    module, _, attribute = name.rpartition(".")
    cls = getattr(importlib.import_module(module), attribute)
    model = cls(BayesianRidge()) if attribute == "MultiOutputRegressor" else cls()
    X, y = rng.standard_normal((50, 3)), rng.standard_normal((50, 2) if attribute == "MultiOutputRegressor" else 50)
    model.fit(X, y)
    loaded = roundtrip(model, tmp_path)
    assert type(loaded) is type(model)
    method = "predict" if hasattr(model, "predict") else "transform"
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(model, method)(X))


def test_other_estimators_and_code_are_refused_naming_the_attribute(tmp_path, rng):
    from sklearn.tree import DecisionTreeRegressor

    with pytest.raises(TypeError, match=r"DecisionTreeRegressor.*pickle"):
        model_file.save(DecisionTreeRegressor(), tmp_path / "tree.h5")
    model = Ridge().fit(rng.standard_normal((20, 2)), rng.standard_normal(20))
    model.callback_ = print
    with pytest.raises(TypeError, match=r"Ridge\.callback_"):
        model_file.save(model, tmp_path / "ridge.h5")

    with rs.StateStore(tmp_path / "store.h5", "w") as store:
        with pytest.raises(TypeError, match="StateStore: it is a file already"):
            model_file.save(store, tmp_path / "store-model.h5")
    (tmp_path / "store.h5").unlink()

    class MyESN(rs.ESN):
        pass

    with pytest.raises(TypeError, match="MyESN"):  # a subclass is not saved as its parent
        model_file.save(MyESN.__new__(MyESN), tmp_path / "sub.h5")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------- safety
def _all_datasets(path):
    found = []
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, node: found.append((name, node.dtype)) if isinstance(node, h5py.Dataset) else None)
    return found


def test_file_holds_no_object_or_opaque_data_and_loads_without_pickle(tmp_path, rng, monkeypatch):
    model = ESNClassifier(units=30, seed=0).fit(rng.standard_normal((12, 10, 1)), ["a", "b"] * 6)
    path = model_file.save(model, tmp_path / "model.h5")
    datasets = _all_datasets(path)
    assert len(datasets) > 5
    for name, dtype in datasets:
        assert dtype.kind in "biufcS", (name, dtype)
        assert h5py.check_vlen_dtype(dtype) is None and h5py.check_opaque_dtype(dtype) is False, name

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    np.testing.assert_array_equal(model_file.load(path).predict_proba(rng.standard_normal((4, 10, 1))).shape, (4, 2))


def _hand_written(path, cls="os.system", state=None, version=1):
    with h5py.File(path, "w") as file:
        file.attrs.update(format=model_file.FORMAT_NAME, format_version=version)
        group = file.create_group("model")
        group.attrs.update(kind="object", **{"class": cls}, state=json.dumps(state or {"command": "touch pwned"}))
    return path


def test_a_file_naming_a_listed_class_this_installation_lacks(tmp_path, monkeypatch):
    entry = model_file._registry.ClassEntry("reservoir.models.absent.Model", "reservoir.models.absent", "Model")
    monkeypatch.setitem(model_file._registry._BY_NAME, entry.name, entry)
    path = _hand_written(tmp_path / "newer.h5", entry.name)
    with pytest.raises(model_file.ModelFileError, match=rf"{path}.*reservoir.models.absent.Model.*lacks"):
        model_file.load(path)


@pytest.mark.parametrize(
    "cls",
    ["os.system", "builtins.eval", "subprocess.Popen", "reservoir.cli.main", "sklearn.tree.DecisionTreeRegressor"],
)
def test_a_file_naming_another_class_is_refused(tmp_path, monkeypatch, cls):
    imported = set(sys.modules)
    monkeypatch.setattr(os, "system", lambda *a: pytest.fail("os.system called"))
    path = _hand_written(tmp_path / "evil.h5", cls)
    with pytest.raises(model_file.ModelFileError, match=rf"{path}.*{cls}.*not one the model file may hold"):
        model_file.load(path)
    assert not (tmp_path / "pwned").exists()
    assert not {"subprocess", "sklearn.tree", "reservoir.cli"} & (set(sys.modules) - imported)


def test_a_nested_foreign_class_and_links_out_of_the_file_are_refused(tmp_path, rng):
    path = model_file.save(rs.ESN(20, seed=0), tmp_path / "esn.h5")
    with h5py.File(path, "r+") as file:
        state = json.loads(file["model"].attrs["state"])
        state["W"] = {"$node": "evil"}
        rewrite_state(file["model"], json.dumps(state))
        evil = file["model"].create_group("evil")
        evil.attrs.update(kind="object", **{"class": "posix.system"}, state="{}")
    with pytest.raises(model_file.ModelFileError, match="posix.system"):
        model_file.load(path)

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as file:
        file.create_dataset("secret", data=np.arange(3.0)).attrs["kind"] = "array"
    with h5py.File(path, "r+") as file:
        del file["model/evil"]
        file["model/evil"] = h5py.ExternalLink(str(other), "secret")
    with pytest.raises(model_file.ModelFileError, match="ExternalLink"):
        model_file.load(path)


# ---------------------------------------------------------------------- bad files
def test_bad_files_are_named_with_their_problem(tmp_path):
    good = model_file.save(ESNRegressor(units=30, seed=1).fit(np.zeros((60, 1)), np.zeros(60)), tmp_path / "m.h5")
    content = good.read_bytes()

    with pytest.raises(FileNotFoundError, match="missing.h5"):
        model_file.load(tmp_path / "missing.h5")

    noise = tmp_path / "noise.h5"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(model_file.ModelFileError, match=rf"{noise} is not an HDF5 file"):
        model_file.load(noise)

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(content[: len(content) // 2])
    with pytest.raises(model_file.ModelFileError, match=rf"{truncated}.*(truncated|corrupt)"):
        model_file.load(truncated)

    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as file:
        file["x"] = np.arange(4)
    with pytest.raises(model_file.ModelFileError, match=rf"{foreign} is an HDF5 file but not a reservoir-engine model"):
        model_file.load(foreign)

    store = tmp_path / "store.h5"
    with rs.StateStore(store, "w"):
        pass
    with pytest.raises(model_file.ModelFileError, match="StateStore"):
        model_file.load(store)

    future = _hand_written(tmp_path / "future.h5", "reservoir.esn.ESN", version=model_file.FORMAT_VERSION + 1)
    with pytest.raises(model_file.ModelFileError, match=rf"{future}.*version {model_file.FORMAT_VERSION + 1}.*upgrade"):
        model_file.load(future)

    with h5py.File(future, "r+") as file:
        file.attrs["format_version"] = 1
        file["model"].attrs["class_version"] = 99
    with pytest.raises(model_file.ModelFileError, match="layout version 99"):
        model_file.load(future)


def test_corrupt_array_bytes_are_detected(tmp_path):
    esn = rs.ESN(200, seed=0, density=0.05)
    path = model_file.save(esn, tmp_path / "esn.h5")
    with h5py.File(path, "r") as file:
        offset = file["model/W/data"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset + 100)
        handle.write(b"\xff\x00\xff\x00")
    with pytest.raises(model_file.ModelFileError, match=rf"{path} is corrupt"):
        model_file.load(path)


def test_a_changed_state_text_fails_its_checksum(tmp_path):
    """HDF5 checksums its metadata, not the global heap where variable-length strings live."""
    path = model_file.save(rs.ESN(20, seed=0, leak_rate=0.5), tmp_path / "esn.h5")
    content = bytearray(path.read_bytes())
    where = content.find(b'"leak_rate": 0.5, "activation"')  # in the state (the config has another order)
    assert where > 0
    content[where + len('"leak_rate": 0.')] = ord("7")
    path.write_bytes(bytes(content))
    with pytest.raises(model_file.ModelFileError, match="checksum"):
        model_file.load(path)


def test_a_malformed_state_is_a_clear_error(tmp_path):
    path = model_file.save(rs.ESN(20, seed=0), tmp_path / "esn.h5")
    for broken in ('{"W": {"$node": "nowhere"}}', '{"x": {"$pickle": "gASV"}}', "not json"):
        with h5py.File(path, "r+") as file:
            rewrite_state(file["model"], broken)
        with pytest.raises(model_file.ModelFileError, match=str(path)):
            model_file.load(path)


# ---------------------------------------------------------------------- writing
def test_a_failed_save_leaves_the_existing_file_intact(tmp_path, rng):
    path = tmp_path / "model.h5"
    model_file.save(rs.ESN(30, seed=1), path)
    before = path.read_bytes()
    broken = Ridge().fit(rng.standard_normal((20, 2)), rng.standard_normal(20))
    broken._train.extra = lambda: None  # deep inside, after other arrays were written
    with pytest.raises(TypeError, match=r"_train\.extra"):
        model_file.save(broken, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]  # no temporary left
    assert model_file.load(path).units == 30


def test_a_crash_mid_write_leaves_the_existing_file_intact(tmp_path):
    """The writing process dies (os._exit) in the middle of writing the arrays."""
    path = tmp_path / "model.h5"
    model_file.save(rs.ESN(30, seed=1), path)
    before = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, h5py, reservoir, reservoir.io
        original = h5py.Group.create_dataset
        count = 0
        def dying(self, *args, **kwargs):
            global count
            count += 1
            if count == 3:
                os._exit(17)
            return original(self, *args, **kwargs)
        h5py.Group.create_dataset = dying
        reservoir.io.save(reservoir.ESN(80, seed=2), {str(path)!r})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), capture_output=True, text=True)
    assert done.returncode == 17, done.stderr
    assert path.read_bytes() == before
    assert model_file.load(path).units == 30


def test_new_file_permissions_shared_objects_compression_and_info(tmp_path, rng):
    class Pair:
        def __init__(self, first, second):
            self.first, self.second = first, second

    model_file.register(Pair, name="tests.Pair")
    esn = rs.ESN(25, seed=0)
    path = model_file.save(Pair(esn, [esn, {"k": (1, 2.5), 3: None}]), tmp_path / "pair.h5", compression="gzip")
    loaded = model_file.load(path)
    assert loaded.first is loaded.second[0]  # one object, referenced twice
    assert loaded.second[1] == {"k": (1, 2.5), 3: None}
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask

    path = model_file.save(ESNRegressor(units=20, seed=3), tmp_path / "estimator.h5")
    described = model_file.info(path)
    assert described["class"] == "reservoir.estimators.esn.ESNRegressor"
    assert described["config"]["units"] == 20 and described["format_version"] == model_file.FORMAT_VERSION


class _Bag:
    """A registered holder of every value form the file knows."""


model_file.register(_Bag, name="tests.Bag")


def test_every_value_form_round_trips_with_its_type(tmp_path, rng):
    pd = pytest.importorskip("pandas")
    bag = _Bag()
    values = {
        "f32": np.float32(1.1),
        "i8": np.int8(-3),
        "flag": np.bool_(True),
        "text": np.str_("ünï"),
        "zero_d": np.array(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "booleans": rng.random(7) > 0.5,
        "words": np.array([["a", "bé"], ["cde", ""]]),
        "raw": np.array([b"x", b"yz"]),
        "objects": np.array(["p", "q"], dtype=object),
        "dates": np.array(["2026-12-04T01:02:03.5"], dtype="datetime64[ms]"),
        "spans": np.array([5, -2], dtype="timedelta64[s]"),
        "big": rng.standard_normal((40, 40)),
        "complex": 1 - 2j,
        "floats": [float("nan"), float("inf"), -float("inf"), 0.1],
        "nested": {"a": (1, [2, (3,)]), 4: {"$weird": None}, (5, 6): {7, 8}},
        "dtype": np.dtype(">i4"),
        "scalar_type": np.float32,
        "builtin": float,
        "seed": np.random.SeedSequence([1, 2, 3], spawn_key=(4,)),
        "generator": np.random.default_rng(5),
        "philox": np.random.Generator(np.random.Philox(6)),
        "mt": np.random.Generator(np.random.MT19937(7)),
        "legacy": np.random.RandomState(8),
        "csc": sp.csc_matrix(rng.standard_normal((4, 5)) * (rng.random((4, 5)) > 0.5)),
        "coo": sp.coo_array(np.eye(3)),
        "range": pd.RangeIndex(3, 30, 3, name="r"),
        "periods": pd.period_range("2026-01", periods=4, freq="M"),
        "labels": pd.Index(["x", "y"], name=("multi", 1)),
    }
    for generator in ("generator", "philox", "mt"):
        values[generator].random(3)  # mid-stream, not at the start
    bag.__dict__.update(values)
    loaded = roundtrip(bag, tmp_path)
    for name, value in values.items():
        got = getattr(loaded, name)
        if isinstance(value, (np.random.Generator, np.random.RandomState)):
            np.testing.assert_array_equal(
                got.random(5) if hasattr(got, "integers") else got.rand(5),
                value.random(5) if hasattr(value, "integers") else value.rand(5),
                err_msg=name,
            )
        elif isinstance(value, np.random.SeedSequence):
            np.testing.assert_array_equal(got.generate_state(4), value.generate_state(4))
            assert got.spawn_key == value.spawn_key
        elif sp.issparse(value):
            assert type(got) is type(value) and (got != value).nnz == 0, name
        elif isinstance(value, pd.Index):
            assert type(got) is type(value) and got.equals(value) and got.name == value.name, name
        elif name == "floats":
            np.testing.assert_array_equal(got, value)
        elif isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and got.shape == value.shape, name
            np.testing.assert_array_equal(got, value, err_msg=name)
        else:
            assert got == value and type(got) is type(value), name


#: Public modules whose models, estimators and readouts the model file must hold.
MODEL_MODULES = (
    "reservoir",
    "reservoir.elm",
    "reservoir.readouts",
    "reservoir.estimators",
    "reservoir.models",
    "reservoir.forecasting",
)


def test_every_public_model_class_is_in_the_allow_list():
    """A new model, estimator or readout fails here until it is listed in ENGINE_CLASSES
    (one line; docs/architecture.rst, "Saving models")."""
    import importlib
    import importlib.util
    import inspect

    listed = []
    for entry in model_file._registry.ENGINE_CLASSES:
        cls = entry.cls()  # an entry whose module exists must name a class in it
        assert cls is not None or importlib.util.find_spec(entry.module) is None, entry
        assert cls is None or f"{cls.__module__}.{cls.__qualname__}" == entry.name, entry
        listed.append(cls)
    missing = []
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", None) or []:
            value = getattr(module, name)
            if not inspect.isclass(value) or issubclass(value, BaseException) or value is rs.StateStore:
                continue
            if any(callable(getattr(value, method, None)) for method in ("run", "fit", "predict", "transform")):
                if value not in listed:
                    missing.append(f"{value.__module__}.{value.__qualname__}")
    assert not missing, f"add to reservoir/io/_registry.py ENGINE_CLASSES: {missing}"


@pytest.mark.slow
def test_random_byte_flips_never_load_a_different_model(tmp_path):
    """400 copies with 1 to 3 random bytes changed: each fails with ModelFileError or, when
    the bytes were unused space, loads a model that forecasts exactly as the original."""
    series = np.sin(np.arange(200) * 0.1)[:, None]
    model = ESNRegressor(units=30, seed=1).fit(series[:-1], series[1:])
    content = model_file.save(model, tmp_path / "good.h5").read_bytes()
    expected = model.forecast(10)
    flips = np.random.default_rng(0)
    outcomes = {"refused": 0, "unchanged": 0}
    for _ in range(400):
        damaged = bytearray(content)
        for _ in range(flips.integers(1, 4)):
            damaged[flips.integers(0, len(damaged))] = flips.integers(0, 256)
        path = tmp_path / "damaged.h5"
        path.write_bytes(bytes(damaged))
        try:
            loaded = model_file.load(path)
        except model_file.ModelFileError:
            outcomes["refused"] += 1
            continue
        np.testing.assert_array_equal(loaded.forecast(10), expected)
        assert loaded.get_params() == model.get_params()
        outcomes["unchanged"] += 1
    assert outcomes["refused"] > 300, outcomes


def test_a_loaded_stack_runs_on_the_backend_asked_for(tmp_path):
    from reservoir.models import Stack

    stack = Stack([rs.ESN(30, seed=0, dtype="float64"), rs.ESN(20, seed=1, dtype="float64")], backend="numba")
    u = np.random.default_rng(0).standard_normal((40, 1))
    rs.save(stack, tmp_path / "stack.h5")
    loaded = rs.load(tmp_path / "stack.h5", backend="numpy")
    assert loaded.backend_name == "numpy"
    np.testing.assert_allclose(loaded.run(u), stack.run(u), rtol=1e-10, atol=1e-12)


def test_bayesian_readouts_and_ensembles_round_trip(tmp_path):
    from reservoir.models import ESNEnsemble

    u = np.sin(0.1 * np.arange(400))[:, None]
    model = rs.ESNRegressor(units=40, readout="bayesian", seed=0, dtype="float64").fit(u[:-1], u[1:, 0])
    rs.save(model, tmp_path / "bayes.h5")
    loaded = rs.load(tmp_path / "bayes.h5")
    for a, b in zip(model.predict(u[:50], return_std=True), loaded.predict(u[:50], return_std=True)):
        np.testing.assert_array_equal(a, b)
    ensemble = ESNEnsemble(n_members=3, units=30, seed=1).fit(u[:-1], u[1:, 0])
    rs.save(ensemble, tmp_path / "ensemble.h5")
    again = rs.load(tmp_path / "ensemble.h5")
    np.testing.assert_array_equal(ensemble.forecast(20).members, again.forecast(20).members)
