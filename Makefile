# Every target runs from a fresh clone: `make setup` first creates .venv.
PY      ?= .venv/bin/python
CHURN   ?= .venv/bin/churn
DATA    ?= data/warehouse.duckdb
WORLD   ?= data/world

.PHONY: setup data validate features train score risk-list test bench bench-postgres bench-large docs clean

UV_VERSION ?= 0.13.9
# The package's extras to install: `make setup EXTRAS=dev,spark` adds the Spark engine (what .ci/run installs).
EXTRAS  ?= dev

# Bytecode is compiled at install time (uv --compile-bytecode; pip always does), and the project's own modules
# after it (an editable install is not compiled): every `churn` process then starts from .pyc files even where
# PYTHONDONTWRITEBYTECODE keeps Python from writing them on first import (imports of `churn score` 7 s -> 3 s).
setup:  ## create .venv and install the project with its pinned dependencies (uv when it can be had, else pip); EXTRAS=dev,spark adds Spark
	python3 -m venv .venv
	@if $(PY) -m pip install --quiet "uv==$(UV_VERSION)" 2>/dev/null && .venv/bin/uv --version >/dev/null 2>&1; then \
		UV_NATIVE_TLS=1 .venv/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e ".[$(EXTRAS)]"; \
	else \
		echo "uv not available: installing with pip (slower)"; \
		$(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -e ".[$(EXTRAS)]"; \
	fi
	$(PY) -m compileall -q -j 0 features models pipeline

data:  ## generate the demo world into data/world and load it into the DuckDB warehouse
	$(CHURN) generate --out $(WORLD)
	$(CHURN) load --data $(WORLD) --to $(DATA)
	$(CHURN) validate --data $(DATA)

validate:
	$(CHURN) validate --data $(DATA)

features:  ## feature table as of the data's last day
	$(CHURN) features --data $(DATA) --out data/features.parquet

train: $(DATA)  ## train on the demo world, track in MLflow, promote if better
	$(CHURN) train --data $(DATA)

score: $(DATA)  ## score the demo world as of its last day, after its four previous month starts (a history to show)
	$(CHURN) score --data $(DATA) --history 4

risk-list:
	$(CHURN) risk-list --top 20

$(DATA):
	$(MAKE) data

test:  ## the test suite (what CI runs)
	$(PY) -m pytest

bench:  ## benchmarks: 1 M and 10 M events, DuckDB and Spark local[2] rows; results in benchmarks/results.md
	$(PY) -m benchmarks.run --sizes 1000000 10000000 --engines duckdb spark

bench-postgres:  ## the panel computed in PostgreSQL, its JIT off and on, beside DuckDB's (server: CHURN_BENCH_POSTGRES); results in benchmarks/results-postgres.md
	$(PY) -m benchmarks.run --sizes 1000000 10000000 --engines postgres --steps floor panel pg_panel pg_panel_jit --out benchmarks/results-postgres.md

bench-large:  ## the 100 M-event world (long, once); kept beside the bench sizes in results.md
	$(PY) -m benchmarks.run --sizes 100000000 --repeats 1

.PHONY: quality
quality:  ## train and score every zoo world out of time (QUALITY_ARGS="--worlds monthly,short", "--quick"); results in benchmarks/quality.md
	$(PY) -m benchmarks.quality $(QUALITY_ARGS)

clean:
	rm -rf data reports mlruns mlflow.db

docs:  ## regenerate the README sections built from the code (features, checks)
	$(PY) -m pipeline.docs
