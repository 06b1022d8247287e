#!/usr/bin/env bash
# The GPU checks and figures on a machine with a CUDA GPU, stage by stage (each stage
# ends within 10 minutes; every stage installs first, so a fresh machine can run any):
#
#   bash asv_bench/gpu_stages.sh tests  COMMIT   # the GPU kernels against the reference, then the suite
#   bash asv_bench/gpu_stages.sh bench  COMMIT   # asv_bench/gpu_bench.py, every part but ReservoirPy JAX
#   bash asv_bench/gpu_stages.sh jax    COMMIT   # the ReservoirPy JAX comparison alone (it recompiles per call)
#
# COMMIT is the hash measured (for a copy of the tree without .git). Results go to $OUT,
# default ./gpu-out. The machine needs numba, numba-cuda, CuPy, h5py and scipy (JAX with
# CUDA for the jax stage); on one without network, ReservoirPy (pure Python) comes as a
# wheel: `pip download --no-deps reservoirpy==0.4.2 -d asv_bench/wheels` beforehand, and
# asv_bench/wheels (git-ignored) copied along with the tree.
set -uo pipefail
stage=${1:?stage: tests, bench or jax}
commit=${2:-unknown}
out=${OUT:-gpu-out}
mkdir -p "$out"

if ! python3 -m pip install -q --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1; then
    # e.g. a setuptools too old for pyproject.toml: use the checkout in place instead
    tail -n 3 "$out/install.log"
    echo "install failed; running from the checkout (PYTHONPATH)"
    export PYTHONPATH=$PWD
fi
if compgen -G "asv_bench/wheels/*.whl" >/dev/null; then
    python3 -m pip install -q --no-deps --no-index asv_bench/wheels/*.whl >>"$out/install.log" 2>&1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv >"$out/nvidia-smi.csv" 2>&1

case "$stage" in
tests)
    # GPU kernels first (stop at the first failure: later ones would only repeat it), then the
    # whole suite, where every backend-parametrised test also runs on the GPU backends.
    timeout 240 python3 -m pytest -q -x -m gpu tests/test_gpu.py 2>&1 | tee "$out/test-gpu.txt" | tail -n 15
    timeout 300 python3 -m pytest -q -x -n 8 tests --ignore=tests/test_gpu.py 2>&1 \
        | tee "$out/test-suite.txt" | tail -n 15
    ;;
bench)
    timeout 570 python3 asv_bench/gpu_bench.py --commit "$commit" --parts l2,single,batched,small,elm,cpu,lsm \
        --out "$out/gpu-results.md" 2>&1 | tee "$out/bench.log" | tail -n 40
    ;;
jax)
    timeout 570 python3 asv_bench/gpu_bench.py --commit "$commit" --backends cupy,numba-cuda --parts jax \
        --out "$out/gpu-results-jax.md" 2>&1 | tee "$out/bench-jax.log" | tail -n 20
    ;;
*)
    echo "unknown stage $stage (tests, bench or jax)"; exit 2 ;;
esac
