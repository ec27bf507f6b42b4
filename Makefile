# Two entry points (see README): `make demo` and `make test`. Each creates .venv if needed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/normrules: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/normrules

.PHONY: install demo test bench
install: $(BIN)/normrules

demo: install
	$(BIN)/normrules check rulesets/gb/zero_carbon_park.nr
	$(BIN)/normrules eval rulesets/gb/zero_carbon_park.nr --input examples/parks.csv --output demo-output.csv
	$(BIN)/normrules explain rulesets/gb/zero_carbon_park.nr --input examples/parks.csv --id P004
	$(BIN)/normrules eval rulesets/intl/pv_export_markets.nr --input module=examples/modules.csv \
	    --input line=examples/bom_lines.csv --output demo-output-pv.csv
	$(BIN)/normrules eval rulesets/gb/ghg_accounting.nr --input enterprise=examples/enterprises.csv \
	    --input fuel=examples/enterprise_fuels.csv --output demo-output-ghg.csv

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_park.py
