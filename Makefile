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

# Node packages: solc and anvil for the chain tests, axe-core for the browser tests;
# skipped when npm is absent.
NODE_DIRS := contracts tests/browser/axe
node:
	@if command -v npm >/dev/null 2>&1; then \
		for dir in $(NODE_DIRS); do \
			if [ ! -f $$dir/node_modules/.installed ] || \
			   [ $$dir/package-lock.json -nt $$dir/node_modules/.installed ]; then \
				npm ci --prefix $$dir --no-audit --no-fund --loglevel=error && \
				touch $$dir/node_modules/.installed || exit 1; \
			fi; \
		done; \
	else echo "npm not found: chain and accessibility tests will skip"; fi

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
	rm -rf $(VENV) contracts/node_modules tests/browser/axe/node_modules var .pytest_cache .mypy_cache .ruff_cache
