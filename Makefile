# Everyday commands. `make demo` and `make test` work on a fresh machine with only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/merit validate policies/sales-incentive
	$(BIN)/merit evaluate --policy policies/sales-incentive --facts examples/facts-2026-Q3.csv --period 2026-08
	$(BIN)/merit evaluate --policy policies/sales-incentive --facts examples/facts-2026-Q3.csv --period 2026-Q3

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check engine runtime schemas features service tests bench
	$(BIN)/ruff format --check engine runtime schemas features service tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/evaluate.py --reps 333334

serve: $(STAMP)
	$(BIN)/merit serve

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
