# The two commands of the README: `make demo` runs c360, `make test` runs every test.
# Each creates .venv and installs what it needs on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: demo test check bench bench-all clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/c360 demo

# c360's sources are compiled once first: where PYTHONDONTWRITEBYTECODE is set (as on the
# project's machines), every c360 process the tests start would compile them again.
test: $(STAMP)
	scripts/install-browser
	$(VENV)/bin/python -m compileall -q src
	$(VENV)/bin/pytest

check: $(STAMP)
	VENV=$(VENV) scripts/check

bench: $(STAMP)
	$(VENV)/bin/python bench/ingest.py --store both --mode both

# Every benchmark, and its section in docs/benchmarks.md (hours; bench/run_all.py --quick: minutes).
bench-all: $(STAMP)
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache c360.db c360.db-wal c360.db-shm c360-demo-data
