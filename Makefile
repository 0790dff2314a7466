# Every target sets itself up: the first run creates .venv and installs the package.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test workers (pytest-xdist): one per core by default, at most four.
WORKERS ?= auto
XDIST := -n $(WORKERS) --maxprocesses 4 --dist worksteal

.PHONY: install test test-all lint docs demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## test: lint and the formatter's check, then the default test suite (unit tests and
## small real-MNIST runs); `ruff format .` formats the tree
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(XDIST)

## test-all: also the slow end-to-end tests
test-all: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m ""

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## docs: render docs/cli.md from the commands and mnist_vae/zoo/index.json, the built-in
## names --help and completion read, from the registries (tests check both are current)
docs: $(STAMP)
	$(BIN)/python -m mnist_vae.registry_index --write
	$(BIN)/python docs/generate_cli_reference.py --write docs/cli.md

## demo: the report's protocol on net1 (about 2-3 minutes on 2 cores), then samples
demo: $(STAMP)
	$(BIN)/mnist-vae train --arch net1 --strategy vae --out runs/demo-net1 --overwrite
	$(BIN)/mnist-vae sample runs/demo-net1 --overwrite
	$(BIN)/mnist-vae sample runs/demo-net1 --digit 3 --overwrite
	@echo "figures: runs/demo-net1/figures/*.png, samples: runs/demo-net1/samples/*.png"

clean:
	rm -rf $(VENV) .ci-venv build *.egg-info .pytest_cache .ruff_cache
