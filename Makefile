# Two entry points a newcomer needs: `make demo` (run it) and `make test` (test it).
# Each creates the virtual environment first if it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup node demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# Node packages (solc, anvil) for the chain tests; skipped when npm is absent.
node:
	@if command -v npm >/dev/null 2>&1; then \
		if [ ! -f contracts/node_modules/.installed ] || \
		   [ contracts/package-lock.json -nt contracts/node_modules/.installed ]; then \
			npm ci --prefix contracts --no-audit --no-fund --loglevel=error && \
			touch contracts/node_modules/.installed; \
		fi; \
	else echo "npm not found: chain tests will skip"; fi

demo: setup
	$(BIN)/cocred serve --demo

test: setup node
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/merkle.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/projections.py
	$(BIN)/python bench/api_load.py

clean:
	rm -rf $(VENV) contracts/node_modules var .pytest_cache .mypy_cache .ruff_cache
