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

.PHONY: demo test bench install
install: $(STAMP)

demo: $(STAMP)
	$(BIN)/kubeward scan examples/demo --format table --fail-on none

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
