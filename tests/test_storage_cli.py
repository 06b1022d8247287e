"""HDF5 run files and the `reservoir forecast` command, end to end."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import reservoir as rs
from reservoir import cli
from reservoir.storage import FORMAT_VERSION, load_run, save_run


def test_save_and_load_round_trip(tmp_path, rng):
    states = rng.standard_normal((50, 7)).astype(np.float32)
    inputs = rng.standard_normal((50, 2))
    path = save_run(tmp_path / "run.h5", "train", states, inputs=inputs, config={"units": 7, "seed": 3})
    run = load_run(path, "train")
    np.testing.assert_array_equal(run["states"], states)
    np.testing.assert_array_equal(run["inputs"], inputs)
    assert run["states"].dtype == np.float32
    assert run["config"] == {"units": 7, "seed": 3}
    assert "targets" not in run
    with h5py.File(path, "r") as handle:
        assert handle.attrs["format_version"] == FORMAT_VERSION
        assert handle["train/states"].chunks[0] <= 1024  # chunked along time
    assert not (tmp_path / "run.h5.partial").exists()


def test_a_failed_write_keeps_the_previous_file(tmp_path, rng):
    path = save_run(tmp_path / "run.h5", "train", rng.standard_normal((10, 3)))
    before = load_run(path, "train")["states"]
    with pytest.raises(ValueError, match="time axis"):
        save_run(path, "train", rng.standard_normal((10, 3)), targets=rng.standard_normal((9, 1)))
    np.testing.assert_array_equal(load_run(path, "train")["states"], before)


def test_foreign_truncated_and_missing_runs(tmp_path, rng):
    path = save_run(tmp_path / "run.h5", "train", rng.standard_normal((10, 3)))
    with pytest.raises(KeyError, match="no run named 'test'"):
        load_run(path, "test")
    with h5py.File(path, "a") as handle:
        handle.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(ValueError, match="format_version"):
        load_run(path, "train")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes((tmp_path / "run.h5").read_bytes()[:500])
    with pytest.raises(OSError, match="truncated.h5"):
        load_run(truncated, "train")


def test_forecast_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(
        [
            "forecast",
            "--steps",
            "1200",
            "--train",
            "700",
            "--washout",
            "100",
            "--horizon",
            "100",
            "--units",
            "200",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    one_step = float(printed.split("one-step NRMSE")[1].split(":")[1].split()[0])
    closed_loop = float(printed.split("closed-loop NRMSE")[1].split(":")[1].split()[0])
    assert one_step < 0.05  # Mackey-Glass one step ahead is easy for 200 units
    assert np.isfinite(closed_loop)
    run = load_run(out / "states.h5", "forecast")
    assert run["states"].shape == (1199, 200)
    assert run["config"]["units"] == 200
    # The stored states are the reservoir's states over the stored inputs (from zero).
    esn_states = rs.ESN(200, spectral_radius=1.25, leak_rate=0.3, input_scaling=0.5, seed=run["config"]["seed"]).run(
        run["inputs"].astype(np.float32)
    )
    np.testing.assert_allclose(run["states"], esn_states, atol=1e-5)
    assert (out / "forecast.png").stat().st_size > 10_000
    assert json.loads(json.dumps(run["config"]))["data"].startswith("Mackey-Glass")


def test_forecast_command_reads_a_csv(tmp_path, capsys):
    series = rs.datasets.mackey_glass(900)
    path = tmp_path / "series.csv"
    np.savetxt(path, series, delimiter=",", header="value", comments="")
    code = cli.main(
        [
            "forecast",
            "--data",
            str(path),
            "--train",
            "500",
            "--washout",
            "100",
            "--horizon",
            "50",
            "--units",
            "100",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    assert "series.csv" in capsys.readouterr().out


def test_forecast_command_reports_bad_input(tmp_path, capsys):
    assert cli.main(["forecast", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2
    assert "no such data file" in capsys.readouterr().err
    short = tmp_path / "short.npy"
    np.save(short, np.arange(20.0))
    assert cli.main(["forecast", "--data", str(short), "--out", str(tmp_path)]) == 2
    assert "the series has 20 steps" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--horizon", "-3", "must be at least 1, got -3"),
        ("--units", "0", "must be at least 1, got 0"),
        ("--washout", "-1", "must be at least 0, got -1"),
        ("--steps", "abc", "invalid integer value: 'abc'"),
    ],
)
def test_forecast_command_names_the_bad_option(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as stop:
        cli.main(["forecast", option, value, "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err
