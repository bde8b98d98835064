# tracehouse: two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
# Debian packages the browser tests need; installed through apt-get when missing.
APT_PACKAGES := chromium fonts-dejavu-core nodejs
# The OpenTelemetry JS remote sampler the remote-sampling test drives (tests/sampling/js, locked).
JS_DIR := tests/sampling/js
# The ClickHouse store's tests start their own servers (18.16) and ZooKeeper on loopback ports.
APT_PACKAGES += clickhouse-server clickhouse-client zookeeper

.PHONY: install demo test lint typecheck unit bench apt js clean lock fuzz

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/tracehouse demo $(ARGS)

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@test -x /usr/bin/chromium || { echo "error: /usr/bin/chromium is missing after apt-get install chromium" >&2; exit 1; }
	@test -x /usr/sbin/clickhouse-server || { echo "error: /usr/sbin/clickhouse-server is missing after apt-get install clickhouse-server" >&2; exit 1; }

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

js: apt
	@command -v npm >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }
	@[ $(JS_DIR)/node_modules/.package-lock.json -nt $(JS_DIR)/package-lock.json ] || \
	  (cd $(JS_DIR) && npm ci --no-audit --no-fund --silent)

unit: install apt js
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

test: lint typecheck unit

bench: install
	$(PY) -m bench.run $(ARGS)

# The OTLP decoder fuzzing of tests/fuzz, long: FUZZ_SCALE times the examples `make test` runs, newly
# drawn each time (a failure prints the example and a @reproduce_failure line to replay it).
FUZZ_SCALE ?= 50
fuzz: install
	TRACEHOUSE_FUZZ_SCALE=$(FUZZ_SCALE) TRACEHOUSE_FUZZ_RANDOM=1 $(VENV)/bin/pytest -q -p no:cacheprovider \
	  --timeout=0 tests/fuzz $(PYTEST_ARGS)

# Refresh constraints.txt (the lock) from a clean resolve of pyproject's ranges.
lock:
	rm -rf /tmp/tracehouse-lock && $(PYTHON) -m venv /tmp/tracehouse-lock
	/tmp/tracehouse-lock/bin/pip install --quiet ".[dev]"
	/tmp/tracehouse-lock/bin/pip freeze --exclude tracehouse > constraints.txt

clean:
	rm -rf $(VENV) .tracehouse .pytest_cache .mypy_cache .ruff_cache
