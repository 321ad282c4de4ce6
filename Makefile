# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: install browser postgres java demo test lint format bench bench-guard bench-engines ui \
	clean mutation screenshots

# root installs Debian packages directly, anyone else through sudo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# Headless Chromium (Debian package) for the test that renders the HTML report.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing chromium (Debian) for the report render test..."; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

# PostgreSQL 15 (Debian) for the tests of running it for a team (tests/deployment/).
postgres:
	@test -x /usr/lib/postgresql/15/bin/initdb || { \
	  echo "Installing postgresql (Debian) for the deployment tests..."; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; }

# A Java runtime (Debian's OpenJDK 17) for Spark (tests/spark/).
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Installing openjdk-17-jre-headless (Debian) for the Spark tests..."; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; }

demo: install
	$(BIN)/costwatch demo

test: install browser postgres java
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# the README's front-page images (docs/images), retaken by the two tests that draw them
screenshots: install browser
	COSTWATCH_FRONT_PAGE_IMAGES=1 $(BIN)/python -m pytest -n 2 --dist loadgroup \
		tests/integration/test_exports.py::test_report_renders_in_headless_chromium \
		tests/integration/test_check_results.py::test_the_ui_checks_tab_shows_the_real_statuses

ui: install
	$(BIN)/costwatch ui

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# sqlfluff's dbt templater opens the profile's warehouse: a scratch one, so lint needs no data
	COSTWATCH_WAREHOUSE=$(shell mktemp -d)/lint.duckdb $(BIN)/sqlfluff lint dbt_project/models

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install java
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/guard.py
	$(BIN)/python benchmarks/engines.py
	$(BIN)/python benchmarks/run.py --render

# the pre-call guard's benchmark alone (about 2 minutes), then BENCHMARKS.md rewritten
bench-guard: install
	$(BIN)/python benchmarks/guard.py
	$(BIN)/python benchmarks/run.py --render

# the same day on DuckDB, Spark local[2] and a 2-worker Spark cluster, and the scale model
bench-engines: install java
	$(BIN)/python benchmarks/engines.py
	$(BIN)/python benchmarks/run.py --render

clean:
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache

# Mutation testing (not part of `make test`; long): MUTANTS narrows it, e.g.
#   make mutation MUTANTS='sources.budgets.alerts*'
# then `.venv/bin/mutmut results` lists the survivors. Scores: docs/mutation.md.
mutation: install
	$(BIN)/uv pip install --quiet --python $(BIN)/python mutmut==3.8.1
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
