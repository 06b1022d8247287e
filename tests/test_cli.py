"""`reservoir forecast` as a newcomer meets it: help, short series, too short a series, the figure."""

from __future__ import annotations

import argparse
import io
import re

import numpy as np
import pytest

from reservoir import cli, datasets, metrics


def _forecast_parser() -> argparse.ArgumentParser:
    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["forecast"]


def _printed_number(text: str, name: str) -> float:
    return float(text.split(name)[1].split(":")[1].split()[0])


def test_help_explains_every_option_and_its_default(capsys):
    options = [a for a in _forecast_parser()._actions if a.option_strings and a.dest != "help"]
    assert {a.dest for a in options} >= {
        "data",
        "steps",
        "train",
        "washout",
        "horizon",
        "units",
        "density",
        "spectral_radius",
        "leak_rate",
        "input_scaling",
        "alpha",
        "backend",
        "dtype",
        "seed",
        "out",
    }
    with pytest.raises(SystemExit) as stop:
        cli.main(["forecast", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    text = text.split("options:", 1)[1]  # the entries, after the usage line and the description
    for action in options:
        assert action.help and len(action.help) > 10, action.dest
        assert action.option_strings[-1] in text
        # An option's help names its default, fixed ("(default: 500)") or adaptive ("default: 4000, ...").
        entry = text.split(action.option_strings[-1], 1)[1][:400]
        assert "default: " in entry, action.dest


def test_a_long_series_keeps_the_documented_sizes():
    # What `make demo` runs (6000 steps): nothing adapted, nothing noted.
    sizes = cli.plan(6000)
    assert (sizes.washout, sizes.train, sizes.units, sizes.test) == (200, 4000, 1000, 1799)
    assert sizes.notes == []


@pytest.mark.parametrize("steps", [60, 300, 1000, 4500])
def test_adapted_sizes_leave_a_test_part_and_more_samples_than_features(steps):
    sizes = cli.plan(steps, n_inputs=2)
    assert sizes.washout + sizes.train + sizes.test == steps - 1
    assert sizes.test >= 0.2 * (steps - 1) - 1
    assert sizes.washout >= 0.1 * (steps - 1) - 1 or sizes.washout == 200
    assert 1 <= sizes.units and 4 * sizes.units <= sizes.train  # features well below samples
    assert any(f"{steps} steps" in note for note in sizes.notes)


def test_an_explicit_oversized_reservoir_is_kept_with_a_warning():
    sizes = cli.plan(309, units=200, train=250, washout=10)
    assert sizes.units == 200
    assert any(
        note.startswith("warning") and "200 units on 250 training steps" in note and "--units 62" in note
        for note in sizes.notes
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_300_step_series_adapts_and_beats_persistence(tmp_path, capsys, seed):
    series = datasets.mackey_glass(300, tau=17)
    out = tmp_path / "out"
    code = cli.main(["forecast", "--steps", "300", "--backend", "numpy", "--seed", str(seed), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "note: the series has 300 steps" in printed and re.search(r"alpha \S+ chosen", printed)
    data_line = next(line for line in printed.splitlines() if line.startswith("data:"))
    units = int(re.search(r"(\d+) units", data_line).group(1))
    train = int(re.search(r"(\d+) training steps", data_line).group(1))
    assert 4 * units <= train
    test = int(re.search(r"one-step NRMSE +\((\d+) test steps\)", printed).group(1))
    assert test >= 50
    # The baseline, computed here from the raw series: the next value is the last one seen.
    truth = series[-test:]
    persistence = metrics.nrmse(truth, series[-test - 1 : -1])
    one_step = _printed_number(printed, "one-step NRMSE")
    assert one_step < 0.5 * persistence, (one_step, persistence)
    assert _printed_number(printed, "closed-loop NRMSE") > 0
    assert (out / "forecast.png").stat().st_size > 10_000


def test_too_short_a_series_names_its_length_and_the_minimum(tmp_path, capsys):
    minimum = cli.minimum_steps()
    assert 20 < minimum <= 60
    path = tmp_path / "short.npy"
    np.save(path, datasets.mackey_glass(20))
    assert cli.main(["forecast", "--data", str(path), "--backend", "numpy", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "the series has 20 steps" in error and f"at least {minimum}" in error
    # The minimum is honest: a series of exactly that length runs.
    np.save(path, np.sin(0.3 * np.arange(minimum)))
    assert cli.main(["forecast", "--data", str(path), "--backend", "numpy", "--out", str(tmp_path)]) == 0
    np.save(path, np.sin(0.3 * np.arange(minimum - 1)))
    assert cli.main(["forecast", "--data", str(path), "--backend", "numpy", "--out", str(tmp_path)]) == 2


def test_explicit_sizes_too_large_for_the_series_name_the_minimum(tmp_path, capsys):
    code = cli.main(["forecast", "--steps", "300", "--train", "400", "--out", str(tmp_path)])
    assert code == 2
    error = capsys.readouterr().err
    needed = cli.minimum_steps(train=400)
    assert needed > 400
    assert "the series has 300 steps" in error and "--train 400" in error and f"at least {needed}" in error


def test_too_few_training_steps_are_refused_by_name():
    with pytest.raises(ValueError, match="--train 5 is too few: .* at least 20"):
        cli.plan(1000, train=5)


def test_a_list_of_alphas_is_chosen_from(tmp_path, capsys):
    assert (
        cli.main(["forecast", "--steps", "400", "--alpha", "1e-6,1e-3,1", "--backend", "numpy", "--out", str(tmp_path)])
        == 0
    )
    chosen = float(re.search(r"alpha (\S+) chosen", capsys.readouterr().out).group(1))
    assert chosen in (1e-6, 1e-3, 1.0)
    with pytest.raises(SystemExit):
        cli.main(["forecast", "--alpha", "1e-3,x", "--out", str(tmp_path)])
    assert "--alpha: must be a number" in capsys.readouterr().err


def test_library_warnings_are_one_line_each(tmp_path, capsys):
    assert (
        cli.main(["forecast", "--steps", "400", "--spectral-radius", "3", "--backend", "numpy", "--out", str(tmp_path)])
        == 0
    )
    error = capsys.readouterr().err
    assert "warning: " in error and "spectral" in error
    assert "Warning:" not in error and "warnings.warn" not in error  # no file/line/category clutter


def _figure_inputs(test=1799, horizon=500, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.sin(0.1 * np.arange(test))[:, None]
    one_step = truth + 1e-3 * rng.standard_normal(truth.shape)
    closed_loop = truth[:horizon] + np.linspace(0, 0.5, horizon)[:, None]
    return truth, one_step, closed_loop


def test_the_figure_separates_forecasts_and_shows_the_error():
    truth, one_step, closed_loop = _figure_inputs()
    figure = cli.forecast_figure(
        truth,
        one_step,
        closed_loop,
        label="sine",
        first_step=4201,
        units=1000,
        one_step_nrmse=0.0014,
        closed_loop_nrmse=0.29,
    )
    top, middle, bottom = figure.axes
    assert [line.get_label() for line in top.get_lines()] == ["truth", "one step ahead"]
    assert [line.get_label() for line in middle.get_lines()][:2] == ["truth", "closed loop (own outputs fed back)"]
    assert "NRMSE 0.0014" in top.get_title(loc="left") and "NRMSE 0.29" in middle.get_title(loc="left")
    assert bottom.get_yscale() == "log" and "error" in bottom.get_ylabel()
    assert {"one step ahead", "closed loop"} <= {line.get_label() for line in bottom.get_lines()}
    assert "test steps 0–499 of 1,799" in figure.get_suptitle()
    assert "4,201" in bottom.get_xlabel()
    # The drawn data are what was passed: 500 steps of the one-step forecast, all of the closed loop.
    np.testing.assert_allclose(top.get_lines()[1].get_ydata(), one_step[:500, 0])
    np.testing.assert_allclose(middle.get_lines()[1].get_ydata(), closed_loop[:, 0])


def test_a_diverged_closed_loop_leaves_the_truth_readable():
    truth, one_step, closed_loop = _figure_inputs(test=80, horizon=80)
    closed_loop[40:] = np.inf
    closed_loop[30:40] = 1e30
    figure = cli.forecast_figure(truth, one_step, closed_loop, label="sine", closed_loop_nrmse=float("inf"))
    low, high = figure.axes[1].get_ylim()
    assert -2 < low < -1 and 1 < high < 2  # the truth's range (plus headroom), not the forecast's
    assert "test steps 0–79 of 80" in figure.get_suptitle()
    assert any("leaves the range shown at test step 30" in text.get_text() for text in figure.axes[1].texts)
    figure.savefig(io.BytesIO(), format="png")  # draws without error


# ---------------------------------------------------------------------- on a Dask cluster
def _outcome(text: str) -> dict:
    return {name: _printed_number(text, name) for name in ("one-step NRMSE", "closed-loop NRMSE")}


def test_forecast_on_a_dask_scheduler_gives_the_local_results(tmp_path, capsys):
    pytest.importorskip("distributed")
    import h5py
    from distributed import LocalCluster

    options = ["forecast", "--steps", "400", "--dtype", "float64", "--alpha", "1e-6,1e-4,1e-2"]
    assert cli.main([*options, "--out", str(tmp_path / "here")]) == 0
    here = capsys.readouterr().out
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        address = cluster.scheduler_address
        assert cli.main([*options, "--out", str(tmp_path / "there"), "--scheduler", address]) == 0
    there = capsys.readouterr().out
    assert f"on the Dask cluster {address}" in there
    assert _outcome(there) == _outcome(here)
    assert re.search(r"alpha (\S+) chosen", there).group(1) == re.search(r"alpha (\S+) chosen", here).group(1)
    index = tmp_path / "there" / "shards" / "index.h5"
    assert f"states: {index} (399 x " in there
    with h5py.File(tmp_path / "here" / "states.h5") as local, h5py.File(index) as sharded:
        np.testing.assert_allclose(sharded["forecast/states"][0], local["forecast/states"][...], rtol=1e-12, atol=1e-14)


def test_forecast_with_no_scheduler_at_the_address_fails_fast(tmp_path, capsys):
    pytest.importorskip("distributed")
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    code = cli.main(["forecast", "--steps", "300", "--out", str(tmp_path), "--scheduler", f"127.0.0.1:{port}"])
    assert code == 2
    assert time.perf_counter() - started < 30
    assert f"no Dask scheduler answered at '127.0.0.1:{port}'" in capsys.readouterr().err


def test_search_tunes_here_and_on_a_dask_scheduler(tmp_path, capsys):
    pytest.importorskip("optuna")
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    from reservoir.forecasting import SplitObjective

    options = ["search", "--steps", "400", "--trials", "3", "--units", "30"]
    assert cli.main(options) == 0
    here = capsys.readouterr().out
    assert "3 trials in this process (0 failed)" in here
    best = _printed_number(here, "best validation RMSE (1.0 = forecasting the mean)")
    # the printed parameters reproduce the printed score (the objective is deterministic per seed)
    params = {
        name.replace("-", "_"): float(value)
        for name, value in re.findall(r"--(spectral-radius|leak-rate|input-scaling) (\S+)", here)
    }
    assert set(params) == {"spectral_radius", "leak_rate", "input_scaling"}
    objective = SplitObjective(datasets.mackey_glass(400, tau=17), validation=0.2)
    score, _ = objective({"units": 30, **params}, 0)
    assert score == pytest.approx(best, rel=2e-3)  # parameters printed to 4 digits
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        address = cluster.scheduler_address
        assert cli.main([*options, "--scheduler", address]) == 0
    there = capsys.readouterr().out
    assert f"3 trials on the Dask cluster {address} (0 failed)" in there
    port = 1
    assert cli.main([*options, "--scheduler", f"127.0.0.1:{port}"]) == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err
