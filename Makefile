# musicgen-bridge: `make serve` runs the engine, `make test` runs every test.
# Each does its own set-up on a fresh Linux machine: virtualenv, Python
# packages, and (as root, via apt-get) the Debian packages the tests need.

PYTHON ?= python3
VENV   ?= .venv
# Installed first, on its own: a torch range resolved by pip alone may pull a
# different build than the one you want (CPU, CUDA, ROCm). Override freely.
TORCH  ?= torch==2.13.0
MODEL  ?= facebook/musicgen-small
PORT   ?= 9000
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup serve test test-python test-js test-lua lint system-deps clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

serve: setup
	$(BIN)/musicgen-bridge serve --model "$(MODEL)" --port $(PORT)

# Debian packages for the Lua and JavaScript tests; installed when missing.
SYSTEM_TOOLS := lua5.4:lua5.4 luacheck:lua-check node:nodejs
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (Debian/Ubuntu: sudo apt-get install$$missing)"; exit 1; fi; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-python: setup
	$(BIN)/python -m pytest

test-js: system-deps
	node --test max4live/tests/

test-lua: system-deps
	lua5.4 reaper_scripts/tests/run_tests.lua
	luacheck --config reaper_scripts/.luacheckrc reaper_scripts

test: system-deps lint test-js test-lua test-python

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
