# shapepipe: `make demo` installs everything and runs the main job;
# `make test` installs everything and runs the test suite.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo_run

.PHONY: install system-deps demo test benchmark clean docs regression-refresh

install: system-deps $(STAMP)

system-deps:
	@bash scripts/install_system_deps.sh

$(STAMP): requirements.txt setup.py pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	$(PY) -m pip install -q --no-deps -e . >> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	$(PY) scripts/drop_mccd_tests.py
	$(PY) -c "import shapepipe.pipeline.run, galsim, astropy, sqlitedict, mpi4py.MPI"
	@touch $(STAMP)

demo: install
	@bash scripts/run_demo.sh $(DEMO_DIR)

test: install
	$(PY) -m pytest -q

benchmark: install
	$(PY) -m pytest -q -m benchmark
	$(PY) benchmarks/bench_dispatch.py
	$(PY) benchmarks/bench_shear_speed.py
	$(PY) benchmarks/bench_shear_bias.py
	$(PY) benchmarks/bench_exposure_branch.py
	$(PY) benchmarks/bench_psf_model.py
	$(PY) benchmarks/bench_tile_branch.py
	$(PY) benchmarks/bench_spread_model.py

docs: install
	$(PY) -m shapepipe.commands.option_docs

regression-refresh: install
	$(PY) -m tests.regression --refresh

clean:
	rm -rf $(VENV) *.egg-info example/output $(DEMO_DIR)
