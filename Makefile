# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
# pytest-xdist workers: one more than the 2 cores the suite is sized for, because its tests spend
# a third of their time waiting (on subprocesses, JVMs, a schedule's tick, a server): measured on
# 2 cores, 974 s with 2 workers, 770 s with 3 (docs/operating.md)
TEST_WORKERS ?= 3

.PHONY: install browser postgres java debs demo test lint format bench bench-guard bench-engines ui \
	clean mutation screenshots

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# root installs Debian packages directly, anyone else through sudo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL = $(SUDO) apt-get update -qq && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

# The Debian packages the tests use, each with the test that says it is there: headless Chromium
# for the test that renders the HTML report, PostgreSQL 15 for the tests of running it for a team
# (tests/deployment/), a Java runtime (OpenJDK 17) for Spark (tests/spark/).
CHROMIUM := chromium
HAS_CHROMIUM := command -v chromium >/dev/null 2>&1
POSTGRES := postgresql
HAS_POSTGRES := test -x /usr/lib/postgresql/15/bin/initdb
JAVA := openjdk-17-jre-headless
HAS_JAVA := command -v java >/dev/null 2>&1

browser:
	@$(HAS_CHROMIUM) || { echo "Installing $(CHROMIUM) (Debian)..."; $(APT_INSTALL) $(CHROMIUM); }

postgres:
	@$(HAS_POSTGRES) || { echo "Installing $(POSTGRES) (Debian)..."; $(APT_INSTALL) $(POSTGRES); }

java:
	@$(HAS_JAVA) || { echo "Installing $(JAVA) (Debian)..."; $(APT_INSTALL) $(JAVA); }

# all three for `make test`, the missing ones in one apt-get (one package index update)
debs:
	@missing=""; \
	$(HAS_CHROMIUM) || missing="$$missing $(CHROMIUM)"; \
	$(HAS_POSTGRES) || missing="$$missing $(POSTGRES)"; \
	$(HAS_JAVA) || missing="$$missing $(JAVA)"; \
	test -z "$$missing" || { echo "Installing$$missing (Debian) for the tests..."; \
	  $(APT_INSTALL) $$missing; }

demo: install
	$(BIN)/costwatch demo

test: install debs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

# the README's front-page images (docs/images), retaken by the two tests that draw them
screenshots: install browser
	COSTWATCH_FRONT_PAGE_IMAGES=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup \
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
