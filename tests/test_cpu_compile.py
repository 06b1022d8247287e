"""How the Numba CPU path compiles: literal constants, the note before a long compile,
and the random-matrix generator run as Python for small matrices (same matrix bit for bit)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import reservoir as rs
from reservoir.config import settings

pytest.importorskip("numba")


@pytest.mark.parametrize("distribution", ["normal", "uniform", "bernoulli"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((60, 70), dict(density=0.3)),  # dense rows: selection sampling
        ((90, 400), dict(fan_in=7)),  # sparse rows: draw, sort, redraw
        ((5, 3), dict(density=1.0)),
    ],
)
def test_small_matrices_run_the_generator_as_python_with_the_same_result(
    monkeypatch, distribution, dtype, shape, kwargs
):
    matrices = []
    for threshold in (10**12, 0):  # run as Python, then compiled
        monkeypatch.setattr(settings, "random_fill_compile_min_nnz", threshold)
        matrices.append(rs.random_sparse(shape[0], shape[1], distribution=distribution, seed=11, dtype=dtype, **kwargs))
    python, compiled = matrices
    assert python.dtype == compiled.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(python.indptr, compiled.indptr)
    np.testing.assert_array_equal(python.indices, compiled.indices)
    np.testing.assert_array_equal(python.data, compiled.data)
    assert python.nnz > 0 and np.all(np.diff(python.indices[python.indptr[0] : python.indptr[1]]) > 0)


def test_literal_constants_are_compiled_in():
    from numba import njit

    from reservoir.kernels.cpu._compile import AnyLayout, Constant, call

    @njit
    def scaled_sum(x, factor, out):
        out[0] = x.sum() * factor

    x = np.arange(6.0)
    out = np.zeros(4)[::2]  # strided
    call(scaled_sum, x, Constant(3), AnyLayout(out))
    assert out[0] == 45.0
    (signature,) = scaled_sum.signatures
    assert str(signature[1]) == "Literal[int](3)" and signature[2].layout == "A"


def test_compile_note_on_stderr_and_in_the_log(monkeypatch, capsys, caplog):
    from numba.core import event

    from reservoir.kernels._compile_notes import announce

    class Kernel:  # stands in for a dispatcher: the note is keyed by the object compiled
        pass

    kernel = announce("a test kernel")(Kernel())
    with caplog.at_level("INFO", logger="reservoir"):
        for _ in range(2):  # the second compilation in the process says nothing
            with event.trigger_event("numba:compile", data={"dispatcher": kernel, "args": ()}):
                pass
    err = capsys.readouterr().err
    assert err.count("compiling the Numba CPU kernel for a test kernel") == 1
    assert sum("a test kernel" in record.getMessage() for record in caplog.records) == 1

    monkeypatch.setattr(settings, "compile_notes", False)
    quiet = announce("a quiet kernel")(Kernel())
    with caplog.at_level("INFO", logger="reservoir"):
        with event.trigger_event("numba:compile", data={"dispatcher": quiet, "args": ()}):
            pass
    assert "quiet" not in capsys.readouterr().err
    assert any("a quiet kernel" in record.getMessage() for record in caplog.records)


FIRST_SCRIPT = textwrap.dedent("""
    import numpy as np
    import reservoir as rs
    from reservoir.config import settings
    from reservoir.kernels.cpu import activation, esn
    model = rs.ESN(100, density=0.1, seed=0, backend="numba")
    model.run(np.random.default_rng(0).random((50, 1)))
    model.reset()
    model.run(np.random.default_rng(0).random((3, 50, 1)))
    settings.small_max_work = -1
    model.reset()
    model.run(np.random.default_rng(0).random((50, 1)))
    compiled = {name: len(getattr(module, name).signatures) for module, name in [
        (esn, "_csr_loop"), (esn, "_sell_step_serial"), (esn, "_sell_step_parallel"),
        (esn, "_csr_batch_loop"), (activation, "_tanh_in_place"), (activation, "_sigmoid_in_place"),
        (activation, "_relu_in_place")]}
    print(compiled)
""")


@pytest.mark.slow
def test_a_first_script_compiles_only_what_it_runs(tmp_path):
    """In a fresh process on an empty cache: one small-kernel specialisation for one sequence and
    a batch; on the SELL path the serial step only, tanh only; a note on stderr for the SELL
    kernels, and none once they are cached."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [
        subprocess.run(
            [sys.executable, "-c", FIRST_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.dirname(rs.__file__)),
        )
        for _ in range(2)
    ]
    compiled = eval(runs[0].stdout.strip().splitlines()[-1])
    assert compiled == {
        "_csr_loop": 1,
        "_sell_step_serial": 1,
        "_sell_step_parallel": 0,
        "_csr_batch_loop": 0,
        "_tanh_in_place": 1,
        "_sigmoid_in_place": 0,
        "_relu_in_place": 0,
    }
    assert "compiling the Numba CPU kernel for a one-sequence ESN step (float32)" in runs[0].stderr
    assert "compiling" not in runs[1].stderr
