# Two entry points: `make demo` (the main job) and `make test` (the whole suite).
# Both create .venv with the interpreter found as $(PYTHON) when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench peers peers-lsm clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,plot]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/reservoir forecast --out forecast_out

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	cd asv_bench && ../$(BIN)/asv machine --yes && ../$(BIN)/asv run --python=same --quick --show-stderr

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
	rm -rf $(VENV) $(BRIAN_VENV) forecast_out build *.egg-info
