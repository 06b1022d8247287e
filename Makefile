# Two entry points: `make demo` (the main job) and `make test` (the whole suite, then
# the documentation built with warnings as errors).
# Both create .venv with the interpreter found as $(PYTHON) when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test docs docs-clean bench bench-smoke bench-full bench-history peers peers-lsm clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,plot,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reservoir forecast --out forecast_out

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2
	$(MAKE) docs

# The documentation site (Sphinx, PyData theme) into docs/_build/html; the gallery's
# examples run during the build. Any warning fails it; every warning is listed first.
SPHINXOPTS ?= -W --keep-going -q
docs: $(STAMP)
	$(BIN)/python -m sphinx -b html $(SPHINXOPTS) docs docs/_build/html

docs-clean:
	rm -rf docs/_build docs/auto_examples docs/api/generated

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	cd asv_bench && ../$(BIN)/asv machine --yes && ../$(BIN)/asv run --python=same --quick --show-stderr

# Every benchmark once in this process under the tiny smoke profile (what CI runs
# through tests/test_benchmarks.py; no asv needed, timings mean nothing).
bench-smoke: $(STAMP)
	$(BIN)/python asv_bench/smoke.py

# The full profile (n up to 100,000), measured against the installed project; results
# are kept under asv_bench/results/<machine>/ for `asv publish` / `asv compare`.
bench-full: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	cd asv_bench && ../$(BIN)/asv machine --yes && \
	  RESERVOIR_BENCH_PROFILE=full ../$(BIN)/asv run --python=same --show-stderr

# Across commits: asv builds each commit of asv_bench/history-commits.txt (and HEAD)
# into its own virtualenv and times the ESN step and CUBA benchmarks of the full
# profile on one Numba thread (a parallel kernel waits for both cores at every step:
# on a shared machine its timings are noise); then the HTML report and the two
# figures docs/asv_esn_step.png and docs/asv_cuba.png. About 3 minutes per commit.
HISTORY_BENCH := -b "esn\.Run\.time_run_single\('numba', (1000|10000), 0\.01\)" -b "lsm\.Cuba\.time_cuba\('numba'\)"
bench-history: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench,plot]"
	cd asv_bench && ../$(BIN)/asv machine --yes && git rev-parse HEAD | cat - history-commits.txt | \
	  RESERVOIR_BENCH_PROFILE=full NUMBA_NUM_THREADS=1 ../$(BIN)/asv run HASHFILE:- \
	  $(HISTORY_BENCH) -a processes=1 --launch-method spawn --show-stderr && ../$(BIN)/asv publish
	$(BIN)/python asv_bench/plot_history.py --table

peers: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[peers]"
	$(BIN)/python asv_bench/peers/esn_vs_reservoirpy.py

# Brian2 2.9 needs numpy < 2.3: it gets an environment of its own, driven from the script.
BRIAN_VENV ?= .venv-brian2
$(BRIAN_VENV)/bin/python:
	$(PYTHON) -m venv $(BRIAN_VENV)
	$(BRIAN_VENV)/bin/python -m pip install --quiet "brian2==2.9.*" "numpy<2.3" cython

peers-lsm: $(STAMP) $(BRIAN_VENV)/bin/python
	$(BIN)/python asv_bench/peers/lsm_vs_brian2.py --brian-python $(BRIAN_VENV)/bin/python

clean:
	rm -rf $(VENV) $(BRIAN_VENV) forecast_out build *.egg-info docs/_build docs/auto_examples docs/api/generated
