"""The GPU LIF kernels' settings and launch plan without a GPU: how a trial is split over
blocks (``_gpu_layout.plan_lif_blocks``), the settings checked before any launch, and the
CuPy path's LIF launches on the NumPy stand-in (tests/cupy_stand_in.py), checked against
the kernel's parameters parsed from ``lif.cu``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_gpu_cupy_abi import PARAMETERS, _check, launches  # noqa: F401 (launches: a fixture)

import reservoir as rs
from reservoir.config import Settings, settings
from reservoir.kernels import _gpu_layout as layout

LIF_NAMES = [name for _, name in PARAMETERS["lif_run"]]


def _plan(n, batch=1, max_blocks=10**6, single=1024, per_block=512):
    return layout.plan_lif_blocks(n, batch, max_blocks, single_block_max_neurons=single, neurons_per_block=per_block)


# --------------------------------------------------------------------------- defaults
def test_defaults_push_and_cuba_over_eight_blocks():
    defaults = Settings()
    assert defaults.gpu_lif_propagation == "push"
    assert (defaults.gpu_lif_single_block_max_neurons, defaults.gpu_lif_neurons_per_block) == (1024, 512)
    assert not hasattr(defaults, "gpu_lif_spike_chunk")  # the pull variant no longer sorts in chunks
    assert _plan(4000) == layout.LifBlocks(8, 512)  # CUBA: 7 x 512 + 416
    assert _plan(1024) == layout.LifBlocks(1, 1024)  # up to the threshold: one block, __syncthreads
    assert _plan(1025) == layout.LifBlocks(3, 512)


# --------------------------------------------------------------------------- the planner
@pytest.mark.parametrize("n", [1, 31, 33, 500, 1025, 3001, 4000, 100_000])
@pytest.mark.parametrize("batch, max_blocks", [(1, 264), (3, 264), (4, 16), (40, 16), (1, 1)])
@pytest.mark.parametrize("per_block", [32, 96, 512])
def test_blocks_cover_the_trial_in_warp_aligned_ranges_that_fit(n, batch, max_blocks, per_block):
    plan = _plan(n, batch, max_blocks, single=0, per_block=per_block)
    assert plan.blocks >= 1
    assert (plan.blocks - 1) * plan.neurons_per_block < n <= plan.blocks * plan.neurons_per_block  # no empty block
    if plan.blocks > 1:
        assert plan.neurons_per_block % 32 == 0  # every block starts at a warp boundary
        assert plan.neurons_per_block >= per_block
        assert plan.blocks * batch <= max_blocks  # the cooperative launch needs all of them resident
        if plan.neurons_per_block > per_block:  # widened only because the asked-for split did not fit
            assert -(-n // per_block) * batch > max_blocks
    else:
        assert plan.neurons_per_block == n


def test_a_split_that_does_not_fit_widens_the_blocks():
    assert _plan(4000, batch=4, max_blocks=16) == layout.LifBlocks(4, 1024)  # 4 blocks of 4 trials
    assert _plan(4000, batch=20, max_blocks=16) == layout.LifBlocks(1, 4000)  # no room: one block per trial


# --------------------------------------------------------------------------- settings checked
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("gpu_lif_propagation", "scatter", r"gpu_lif_propagation must be 'pull' or 'push', got 'scatter'"),
        ("gpu_lif_propagation", "Push", r"gpu_lif_propagation must be 'pull' or 'push'"),
        ("gpu_lif_threads_per_block", 40, r"gpu_lif_threads_per_block = 40.*multiple of 32"),
        ("gpu_lif_threads_per_block", 0, r"gpu_lif_threads_per_block = 0"),
        ("gpu_lif_single_block_max_neurons", -1, r"gpu_lif_single_block_max_neurons = -1.*0 or more"),
        ("gpu_lif_single_block_max_neurons", 10.5, r"gpu_lif_single_block_max_neurons = 10\.5"),
        ("gpu_lif_neurons_per_block", 0, r"gpu_lif_neurons_per_block = 0: a positive multiple of 32"),
        ("gpu_lif_neurons_per_block", -64, r"gpu_lif_neurons_per_block = -64"),
        ("gpu_lif_neurons_per_block", 48, r"gpu_lif_neurons_per_block = 48: a positive multiple of 32"),
        ("gpu_lif_neurons_per_block", 16, r"gpu_lif_neurons_per_block = 16"),
        ("gpu_lif_neurons_per_block", True, r"gpu_lif_neurons_per_block = True"),
    ],
)
def test_bad_lif_settings_are_refused_with_the_setting_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        layout.lif_settings(dataclasses.replace(Settings(), **{field: value}))


def test_good_lif_settings_are_passed_on():
    checked = layout.lif_settings(
        dataclasses.replace(
            Settings(),
            gpu_lif_propagation="pull",
            gpu_lif_threads_per_block=96,
            gpu_lif_single_block_max_neurons=0,
            gpu_lif_neurons_per_block=64,
        )
    )
    assert checked == layout.LifSettings(push=False, threads=96, single_block_max_neurons=0, neurons_per_block=64)
    assert layout.lif_settings(Settings()).push


# --------------------------------------------------------------------------- CuPy path, stand-in
def _lif_launches(launches):  # noqa: F811 (the fixture's record)
    calls = [call for call in launches.calls if call[0] == "lif_run"]
    for call in calls:
        _check(call)
    return calls


def _argument(call, name):
    return call[4][LIF_NAMES.index(name)]


def test_cuba_is_split_over_eight_cooperative_blocks_by_default(launches):  # noqa: F811
    """CUBA's 4,000 neurons: 8 blocks of 512 for its one trial, launched cooperatively (the grid
    barrier), push; the spike lists hold a step's spikes of every block, the counts one per block."""
    from reservoir.lsm import cuba

    cuba(seed=0, backend="cupy", dtype="float32").run(n_steps=20)
    (call,) = _lif_launches(launches)
    assert call[2] == (8, 1) and call[6], call[2]
    assert int(_argument(call, "partitions")) == 8 and int(_argument(call, "part_size")) == 512
    assert int(_argument(call, "push_variant")) == 1
    assert _argument(call, "spike_lists").shape == (1, 2, 4000)
    assert _argument(call, "spike_counts").shape == (1, 2, 8)
    assert call[5] == 0  # no dynamic shared memory: the prefix sum's warp counts are static


@pytest.mark.parametrize("propagation", ["pull", "push"])
def test_one_block_per_trial_up_to_the_threshold(launches, monkeypatch, propagation):  # noqa: F811
    from reservoir.lsm import cuba

    monkeypatch.setattr(settings, "gpu_lif_propagation", propagation)
    monkeypatch.setattr(settings, "gpu_lif_single_block_max_neurons", 4000)
    cuba(seed=0, backend="cupy", dtype="float64").run(n_steps=20)
    (call,) = _lif_launches(launches)
    assert call[2] == (1, 1) and not call[6]  # an ordinary launch, __syncthreads between phases
    assert int(_argument(call, "partitions")) == 1 and int(_argument(call, "part_size")) == 4000
    assert int(_argument(call, "push_variant")) == (propagation == "push")


def test_trials_that_do_not_all_fit_split_less(launches):  # noqa: F811
    """Three trials of 4,000 neurons on a device that holds 8 blocks at once: 2 blocks per trial of
    2,016 neurons (a multiple of 32), not 8 of 512."""
    lsm = rs.LSM(3200, 800, density=0.02, seed=0, backend="cupy", dtype="float32")
    lsm.run(np.random.default_rng(0).random((3, 10, 2)))
    (call,) = _lif_launches(launches)
    assert call[2] == (2, 3) and call[6]
    assert int(_argument(call, "part_size")) == 2016


@pytest.mark.parametrize("field, value", [("gpu_lif_propagation", "atomic"), ("gpu_lif_neurons_per_block", 100)])
def test_bad_settings_fail_before_any_launch(launches, monkeypatch, field, value):  # noqa: F811
    monkeypatch.setattr(settings, field, value)
    lsm = rs.LSM(48, 12, seed=0, backend="cupy")
    with pytest.raises(ValueError, match=field):
        lsm.run(np.zeros((5, 1)))
    assert launches.calls == []
