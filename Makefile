# Two commands on a fresh machine: `make run` and `make test`. Both set up .venv on first use.
# Choose the interpreter with PY, e.g. `make test PY=$$HOME/.pyenv/versions/3.12.1/bin/python`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run demo test bench lint setup clean

# The runner's speed: market seconds per wall second on the bundled history (SPEED=max replays flat out).
SPEED ?= 6000

setup:
	@./ops/ensure_venv.sh "$(PY)" "$(VENV)"
	@./ops/ensure_chromium.sh
	@./ops/ensure_postgresql.sh

run: setup
	$(BIN)/botrunner run --speed $(SPEED)

demo: setup
	$(BIN)/botrunner demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m botrunner.cli.bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info
