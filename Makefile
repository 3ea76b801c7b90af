# Two commands on a fresh machine: `make run` and `make test`. Both set up .venv on first use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint setup clean

setup: $(STAMP)

# Re-install when the dependency list changes; the stamp records which interpreter built the venv.
$(STAMP): pyproject.toml
	@if [ -x "$(BIN)/python" ] && ! "$(BIN)/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then rm -rf "$(VENV)"; fi
	@if [ -f "$(STAMP)" ] && [ "$$(cat $(STAMP))" != "$$($(PY) -c 'import sys; print(sys.version)')" ]; then rm -rf "$(VENV)"; fi
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@$(PY) -c 'import sys; print(sys.version)' > $(STAMP)

run: $(STAMP)
	$(BIN)/botrunner demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m botrunner.bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
