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

# Each step says what it installs and why before pip starts, and pip shows
# what it fetches (sizes measured for torch 2.13.0 CPU, Python 3.11, x86-64).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { \
	  echo "setup: creating the virtualenv $(VENV) (this project's Python packages go there, not into your system Python)"; \
	  $(PYTHON) -m venv $(VENV); }
	@echo "setup: 1/2 PyTorch ($(TORCH)), the runtime MusicGen runs on, installed first on its own so pip keeps the build you chose;"
	@echo "       the largest step: the Linux CPU build is a 192 MB download, 755 MB installed (CUDA builds are larger; override TORCH=...)"
	$(BIN)/python -m pip install --disable-pip-version-check "$(TORCH)"
	@echo "setup: 2/2 musicgen-bridge itself (editable) and what it needs: transformers, huggingface_hub, safetensors and tokenizers"
	@echo "       (MusicGen and its files), python-osc (the DAW protocol), numpy, soundfile, soxr, librosa, pyloudnorm, mido (audio,"
	@echo "       tempo, loudness, MIDI), and the dev tools pytest, hypothesis, ruff, mypy (tests and lint): about 930 MB installed"
	$(BIN)/python -m pip install --disable-pip-version-check -e ".[dev]"
	@touch $@
	@echo "setup: done ($(VENV) is ready; it is redone only when pyproject.toml changes)"

# --download-missing: a Hub id not in the Hugging Face cache is downloaded first
# (one progress bar); offline, the engine starts anyway and ping/status say why.
PORT_FLAG = $(if $(filter-out 9000,$(PORT)), --port $(PORT))
serve: setup
	@echo "serve: the engine runs in this terminal until Ctrl-C. In a second terminal, in $(CURDIR):"
	@echo "         ./musicgen-bridge ping$(PORT_FLAG)        ./musicgen-bridge generate \"dusty drums\" --bars 4 --bpm 92 --out .$(PORT_FLAG)"
	$(BIN)/musicgen-bridge serve --download-missing --model "$(MODEL)" --port $(PORT)

# Debian packages for the Lua and JavaScript tests; installed when missing.
SYSTEM_TOOLS := lua5.4:lua5.4 luacheck:lua-check node:nodejs
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "system-deps: installing Debian packages:$$missing (apt-get; lua5.4 and lua-check run the REAPER scripts' tests, nodejs the Max for Live device's)"; \
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
