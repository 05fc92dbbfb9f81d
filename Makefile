# dnsvigil: `make demo` runs the end-to-end demo, `make test` runs the whole test suite.
# Both create .venv from the committed lock files (versions and hashes) and are fast the second time.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian tools as command:package (a package with no command, as Knot's dnstap module, counts once installed);
# the tests use all of them (knotd with its dnstap module and dnsperf drive `dnsvigil watch`; a CJK font so that
# the Chinese dashboard screenshots show text, not empty boxes), the benchmark too.
TEST_TOOLS := tshark:tshark chromium:chromium knotd:knot mod-dnstap:knot-module-dnstap dnsperf:dnsperf \
  cjk-font:fonts-wqy-microhei
BENCH_TOOLS := $(TEST_TOOLS)
DEMO_OUT ?= demo-out

.PHONY: demo test bench clean test-tools bench-tools model

$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "installing Debian's python3-venv (needed to create .venv)"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q python3-venv; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: $(BIN)/python requirements/build.lock requirements/runtime.lock pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r requirements/build.lock
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r requirements/runtime.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

$(VENV)/.test-installed: $(VENV)/.runtime-installed requirements/test.lock
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r requirements/test.lock
	@touch $@

# Installs the Debian packages whose commands are missing (tshark's debconf question answered: no setuid).
define install_missing
	@missing=""; for pair in $(1); do command -v $${pair%%:*} >/dev/null \
	  || [ "$$(dpkg-query -W -f='$${Status}' $${pair#*:} 2>/dev/null)" = "install ok installed" ] \
	  || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | $(SUDO) debconf-set-selections; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
endef

test-tools:
	$(call install_missing,$(TEST_TOOLS))

bench-tools:
	$(call install_missing,$(BENCH_TOOLS))

demo: $(VENV)/.runtime-installed
	$(BIN)/dnsvigil demo --out $(DEMO_OUT)
	@echo "web app and API: $(BIN)/dnsvigil serve --home $(DEMO_OUT)/warehouse, then open http://127.0.0.1:8000/api/v1/"

test: $(VENV)/.test-installed test-tools
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/python -m pytest

bench: $(VENV)/.test-installed bench-tools
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache

# Retrains the shipped DGA model from the shared reference data with the fixed seed (byte-identical output).
model: $(VENV)/.runtime-installed
	$(BIN)/python -m dnsvigil.dga.training ../shared/data --out src/dnsvigil/dga/model/dga_model.npz
