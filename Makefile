# Two commands do everything: `make book` and `make test` (`make test-all` in CI). They create the virtual
# environment .venv (unless one is active) and install the pinned requirements first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),.venv)
BIN := $(VENV)/bin
STAMP := $(VENV)/.nnspaces-installed
PROFILE ?= default
JOBS ?=
JOBS_FLAG := $(if $(JOBS),--jobs $(JOBS),)
FORCE ?=
FORCE_FLAG := $(if $(FORCE),--force,)
WEIGHTS ?=
WEIGHTS_FLAG := $(if $(WEIGHTS),--weights $(WEIGHTS),)
RECOMPUTE ?=

.PHONY: install lint book test test-all smoke lab bench clean pdf

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	@touch $@

install: $(STAMP)

book: install  ## train what is missing, execute the chapters that changed (FORCE=1: all), build _build/html
	$(if $(RECOMPUTE),NNSPACES_RECOMPUTE=1 )$(BIN)/python -m nnspaces reproduce --profile $(PROFILE) $(JOBS_FLAG) $(FORCE_FLAG) $(WEIGHTS_FLAG)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint  ## lint, layers and the unit tests (no book build, no browser, no kernels): minutes
	$(BIN)/python -m pytest -m "not slow and not browser"

test-all: lint  ## everything `make test` runs, then the smoke profile end to end and the browser tests
	$(BIN)/python -m pytest

smoke: install  ## the smallest profile, built in the checkout
	$(BIN)/python -m nnspaces reproduce --profile smoke

bench: install  ## benchmarks side by side → benchmarks/results/latest.json (add ARGS=--quick)
	$(BIN)/python -m benchmarks $(ARGS)

pdf: install  ## the whole book as one PDF → _build/pdf/book.pdf (runs `make book` first when there is no _build/html)
	@test -f _build/html/index.html || $(MAKE) book
	$(BIN)/python -m nnspaces pdf

lab: install  ## open the source notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf _build book/chapters book/.staging
