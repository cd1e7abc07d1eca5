# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run    create .venv, install pinned dependencies, run the bot
#   make test   same set-up, then lint (ruff), type-check (mypy) and the whole test suite
#   make bench  same set-up plus requirements-bench.txt (an embedding model on torch), then every benchmark
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
BENCH_STAMP := $(VENV)/.bench-installed-$(shell cksum requirements-bench.txt | cut -d' ' -f1)

.PHONY: run console test lint pytest bench clean

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot

console: $(STAMP)
	$(BIN)/python -m bot console

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(STAMP)
	@scripts/ensure-postgres.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint pytest

# Only the benchmarks need torch and the embedding model (bench/memory_quality.py): not run or test.
$(BENCH_STAMP): requirements-bench.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	@rm -f $(VENV)/.bench-installed-*
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
