# One obvious command per verb, shared by the README, CI and people.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast lint typecheck pytest bench bench-quick bench-coldstart clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: demo data and a demo key in ./evshare.db (if absent), then serve on http://127.0.0.1:8000
run: install
	$(BIN)/evshare demo
	$(BIN)/evshare serve

## test: lint, strict type check, every test
test: lint typecheck pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy --strict tests
	$(BIN)/mypy --strict bench/*.py

# Two workers for what can share the machine; then, alone, the tests that run real servers under
# load (they measure the servers, so they should not compete with the rest of the suite).
pytest: install
	$(BIN)/pytest -n 2 --dist loadfile -m "not slow"
	$(BIN)/pytest -m slow

## test-fast: no service, no server process, no subprocess: memory and SQLite stores, the app in-process
test-fast: install
	$(BIN)/pytest -n 2 -m "not slow and not postgres and not redis and not process"

# The benchmark needs wrk; it never installs anything itself: it says what is missing and how.
NEED_WRK = @command -v wrk >/dev/null || { \
	echo "make bench needs wrk (the HTTP load generator), and it is not on PATH. Install it:" >&2; \
	echo "  Debian/Ubuntu: sudo apt-get install wrk    macOS: brew install wrk" >&2; \
	echo "  Fedora: sudo dnf install wrk              others: https://github.com/wg/wrk" >&2; \
	exit 1; }

## bench: the full benchmark (1,000 chargers x 1,000,000 sessions); results in bench/results/;
## exits 1 if a target is missed (BENCH_ARGS=--report-only to only report)
bench: install
	$(NEED_WRK)
	$(BIN)/python bench/coldstart.py $(COLD_ARGS); cold=$$?; $(BIN)/python bench/run.py $(BENCH_ARGS) && exit $$cold

## bench-quick: a small smoke run; its results stay in bench/work/, targets are not judged
bench-quick: install
	$(NEED_WRK)
	$(BIN)/python bench/coldstart.py --runs 3 $(COLD_ARGS); cold=$$?; $(BIN)/python bench/run.py --quick $(BENCH_ARGS) && exit $$cold

## bench-coldstart: Lambda cold start only (import time, first request), in seconds
bench-coldstart: install
	$(BIN)/python bench/coldstart.py $(COLD_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache bench/work
