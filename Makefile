# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-all lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/yinzi migrate
	$(BIN)/yinzi serve

test: install
	$(BIN)/pytest

test-all: install
	$(BIN)/pytest -m ''

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install
	$(BIN)/python bench/separation.py
	$(BIN)/python bench/transcription.py
	$(BIN)/python bench/music.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/e2e.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
