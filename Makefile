# Each target creates and uses its own virtual environment: a fresh machine needs only python3 + pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,render]'
	$(BIN)/python -c "import yaml, sys; sys.exit(0 if yaml.__with_libyaml__ else 'PyYAML was installed without libyaml: kubeward needs the C loader')"
	touch $(STAMP)

.PHONY: demo test bench install postgres
install: $(STAMP)

demo: $(STAMP)
	$(BIN)/kubeward scan examples/demo --format table --fail-on none

# The store tests run against a real PostgreSQL server that they start and stop themselves
# (tests/store/conftest.py, a private port and data directory); its binaries come from Debian's
# packages, installed here when missing and we may (root with apt-get, as on a fresh CI machine).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing PostgreSQL from Debian's packages"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "warning: could not install postgresql; the PostgreSQL store tests will fail"; \
	  else echo "warning: PostgreSQL is not installed (apt-get install postgresql); the PostgreSQL store tests will fail"; fi; \
	fi

test: $(STAMP) postgres
	KUBEWARD_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
