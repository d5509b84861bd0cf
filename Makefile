# The two commands of the README: `make run` and `make test`. Everything else is a step they depend on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export CLEARANCE_THREADS ?= 2

.PHONY: run test lint venv demo train keys serve bench clean

# Rebuilt only when the requirements change; torch is pinned in requirements.txt to the local CPU build.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

venv: $(STAMP)

# Store schema up to date; demo library + shipment history → models → registered → champions. Skips models that
# already have a champion.
demo: venv
	$(BIN)/clearance db upgrade
	$(BIN)/clearance train all --skip-existing --promote

keys: venv
	@$(BIN)/clearance keys create --scope suggest --scope score --scope admin --name "make-run-$$(date +%Y%m%d-%H%M%S)"

serve: venv
	$(BIN)/clearance serve

run: demo keys serve

# Lint (ruff), the import-layer contract (import-linter, see pyproject.toml), then the suite.
lint: venv
	$(BIN)/ruff check .
	PYTHONPATH=. $(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python bench/hs_suggest.py
	$(BIN)/python bench/risk_score.py
	$(BIN)/python bench/serve_load.py
	$(BIN)/python bench/reliability.py
	$(BIN)/python bench/outcomes.py --threads 1
	$(BIN)/python bench/kpi.py

clean:
	rm -rf var test-artifacts .pytest_cache
