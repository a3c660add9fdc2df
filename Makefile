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
# WEIGHTS=FILE|URL: import that weights bundle first; WEIGHTS=none: fetch no published network
# and train what the cache lacks; unset: fetch the networks lib/nnspaces/registry.json lists
WEIGHTS ?=
WEIGHTS_FLAG := $(if $(WEIGHTS),--weights $(WEIGHTS),)
RECOMPUTE ?=

.PHONY: install lock lint book test test-all fuzz smoke lab bench clean pdf

# requirements.lock: requirements.txt compiled by `make lock`, every package pinned with its
# hashes; pip refuses any file whose digest differs. The package itself is built by the locked
# setuptools (no build isolation), so the install downloads nothing the lock does not name.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP)  ## the virtual environment from requirements.lock, and nnspaces in it (editable)

# one lock for Linux, macOS and Windows (--universal), Python 3.11 as CI and Binder; uv keeps the
# locked versions of what requirements.txt did not change (rm requirements.lock: all anew)
lock:  ## compile requirements.txt into requirements.lock (pins and hashes of the whole environment)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install "$$(grep -E '^uv==' requirements.txt)"
	$(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command "make lock" requirements.txt -o requirements.lock

book: install  ## train what is missing, execute the chapters that changed (FORCE=1: all), build _build/html
	$(if $(RECOMPUTE),NNSPACES_RECOMPUTE=1 )$(BIN)/python -m nnspaces reproduce --profile $(PROFILE) $(JOBS_FLAG) $(FORCE_FLAG) $(WEIGHTS_FLAG)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint  ## lint, layers and the unit tests (no book build, no browser, no kernels), on every core
	$(BIN)/python -m pytest -n auto -m "not slow and not browser"

test-all: test  ## everything `make test` runs, then the smoke profile end to end, kernels and the browser
	$(BIN)/python -m pytest -m "slow or browser"

fuzz: install  ## the property tests on new random examples (make test draws the same ones on every run)
	$(BIN)/python -m pytest -n auto -m "not slow and not browser" --hypothesis-profile=explore $$(grep -l "^from hypothesis" tests/*.py)

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
