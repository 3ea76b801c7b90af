# Two commands on a fresh machine: `make run` and `make test`. Both set up .venv on first use.
# Choose the interpreter with PY, e.g. `make test PY=$$HOME/.pyenv/versions/3.12.1/bin/python`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run demo test test-fast bench bench-peer lint setup clean

# The runner's speed: market seconds per wall second on the bundled history (SPEED=max replays flat out).
SPEED ?= 6000
# `make run` is the paper demo: a fresh replay each time (the previous ./run is moved aside to run.YYYYMMDDTHHMMSS,
# never deleted). RESUME=1 continues the previous run instead, each bot from its last stored step.
RESUME ?=
START := $(if $(filter 1 yes true,$(RESUME)),--resume,--fresh)

setup:
	@./ops/ensure_venv.sh "$(PY)" "$(VENV)"
	@./ops/ensure_chromium.sh
	@./ops/ensure_postgresql.sh

run: setup
	$(BIN)/botrunner run --speed $(SPEED) $(START)

demo: setup
	$(BIN)/botrunner demo

test: setup
	$(BIN)/python -m pytest

# Unit and property tests only: no integration test (tests/integration/ is marked so) and nothing marked slow.
test-fast: setup
	$(BIN)/python -m pytest tests/unit tests/property -m "not integration and not slow"

bench: setup
	$(BIN)/python -m botrunner.cli.bench

# R1 against NautilusTrader (shared/bench/peer_nautilus.py), alternately, CPU-time ratios at 10 and 100 bp. The
# peer gets its own venv (.venv-peer: Python 3.12, nautilus_trader, pandas<3); PEER_PY picks its interpreter.
PEER_PY ?=
PAIRS ?= 3
bench-peer: setup
	@./ops/ensure_peer_venv.sh "$(PEER_PY)"
	$(BIN)/python -m botrunner.cli.bench_peer --pairs $(PAIRS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .venv-peer build *.egg-info
