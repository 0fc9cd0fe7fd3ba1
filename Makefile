# makeable: two commands matter — `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The shared benchmark data sits beside the project on the build machines; use it when present.
SHARED_DATA := $(abspath ../shared/data)
export MAKEABLE_DATA ?= $(if $(wildcard $(SHARED_DATA)/README.md),$(SHARED_DATA),)

.PHONY: demo test lint typecheck unit venv clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel is local; an unpinned torch pulls CUDA packages
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,ray,serve,xtb]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	rm -rf demo_run  # a fresh showcase: a folder of an older version's defaults would refuse to resume
	$(BIN)/makeable design --objective osimertinib_mpo --optimizer synthesis_ga --budget 1500 --seed 0 --plan-routes 10 --out demo_run
	@echo "Open demo_run/report.html to see the molecules found and the routes that make them."

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy src/makeable

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) demo_run
