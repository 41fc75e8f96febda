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
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: setup setup-dev serve test test-python test-js test-lua test-plugin plugin lint system-deps clean

setup: $(STAMP)
setup-dev: $(DEV_STAMP)

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
	@echo "       tempo, loudness, MIDI): about 850 MB installed"
	$(BIN)/python -m pip install --disable-pip-version-check -e .
	@touch $@
	@echo "setup: done ($(VENV) is ready; it is redone only when pyproject.toml changes)"

# What only the tests and lint need, on top of setup (make serve never installs it).
$(DEV_STAMP): $(STAMP)
	@echo "setup-dev: the test and lint tools: pytest, hypothesis, ruff, mypy; pedalboard and DawDreamer (real VST3 hosts that"
	@echo "       load the built plugin); on Linux Triton, whose CPU interpreter tests the GPU's fused kernels (about 1 GB of the"
	@echo "       1.25 GB these take installed)"
	$(BIN)/python -m pip install --disable-pip-version-check -e ".[dev]"
	@touch $@

# --download-missing: a Hub id not in the Hugging Face cache is downloaded first
# (one progress bar); offline, the engine starts anyway and ping/status say why.
PORT_FLAG = $(if $(filter-out 9000,$(PORT)), --port $(PORT))
serve: setup
	@echo "serve: the engine runs in this terminal until Ctrl-C. In a second terminal, in $(CURDIR):"
	@echo "         ./musicgen-bridge ping$(PORT_FLAG)        ./musicgen-bridge generate \"dusty drums\" --bars 4 --bpm 92 --out .$(PORT_FLAG)"
	$(BIN)/musicgen-bridge serve --download-missing --model "$(MODEL)" --port $(PORT)

# Debian packages for the Lua and JavaScript tests; installed when missing.
SYSTEM_TOOLS := lua5.4:lua5.4 luacheck:lua-check node:nodejs
# The plugin (plugin/, issue 24): JUCE 7 from Debian (juce-modules-source brings
# the X11, ALSA, GTK and codec headers it builds against), Catch2 for its C++
# tests, Xvfb + ImageMagick + fonts for the editor's screenshot test.
PLUGIN_DEBS := cmake g++ make pkg-config juce-modules-source catch2 xvfb xauth x11-utils imagemagick fonts-dejavu-core
PLUGIN_BUILD ?= plugin/build
JOBS ?= 2
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "system-deps: installing Debian packages:$$missing (apt-get; lua5.4 and lua-check run the REAPER scripts' tests, nodejs the Max for Live device's)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (Debian/Ubuntu: sudo apt-get install$$missing)"; exit 1; fi; \
	fi
	@missing=""; for pkg in $(PLUGIN_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "ok installed" || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "system-deps: installing Debian packages for the plugin:$$missing (apt-get; JUCE 7 with its X11, ALSA and codec headers, CMake and a C++ compiler build it, Catch2 tests it, Xvfb and ImageMagick take the editor's screenshot)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "please install:$$missing (Debian/Ubuntu: sudo apt-get install$$missing)"; exit 1; fi; \
	fi

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-python: setup-dev plugin
	$(BIN)/python -m pytest

test-js: system-deps
	node --test max4live/tests/

test-lua: system-deps
	lua5.4 reaper_scripts/tests/run_tests.lua
	luacheck --config reaper_scripts/.luacheckrc reaper_scripts

# The plugin: VST3 + Standalone (AU too on macOS) and its C++ tests, built in
# $(PLUGIN_BUILD): 8 min 50 s from a fresh clone on a shared 2-core AMD EPYC (4 min 48 s
# of CPU), seconds after a change to the plugin alone.
plugin: system-deps
	cmake -S plugin -B $(PLUGIN_BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(PLUGIN_BUILD) -j$(JOBS)

# The C++ unit tests; the Python tests in real hosts (tests/test_plugin*.py:
# pedalboard, DawDreamer, the screenshot) run with the others in test-python.
test-plugin: plugin
	ctest --test-dir $(PLUGIN_BUILD) --output-on-failure

test: system-deps lint test-js test-lua test-plugin test-python

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info $(PLUGIN_BUILD)
