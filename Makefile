# The two commands of the README: `make demo` and `make test`. Both start with `make setup`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages the sandbox runs for real (PostgreSQL with pg_stat_statements, Prometheus
# and friends); --no-install-recommends keeps node-exporter and smartmontools out.
DEB_PACKAGES := postgresql postgresql-contrib prometheus prometheus-alertmanager prometheus-pushgateway
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system demo test lint bench sandbox-up sandbox-down clean

setup: system $(STAMP)

# Installs the Debian packages only when one of their programs is missing.
system:
	@missing=""; \
	[ -x /usr/lib/postgresql/15/bin/postgres ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql postgresql-contrib"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v prometheus-pushgateway >/dev/null || missing="$$missing prometheus-pushgateway"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -e '.[sandbox,selftest]'
	touch $(STAMP)

# The first-15-minutes phase against the local sandbox; leaves the sandbox up and a report.
demo: setup
	$(PY) -m sandbox up
	$(VENV)/bin/pytest -m first15 --env local; status=$$?; \
	echo "sandbox still up: '$(PY) -m sandbox down' stops it"; exit $$status

# The self-tests: unit tests, then the end-to-end runs against a sandbox of their own.
test: setup
	$(VENV)/bin/pytest selftests -q

# Figures of the first15 phase against a sandbox of its own, printed as a table (not a test).
# `make bench BENCH_ARGS="--markdown BENCHMARKS.md"` also writes them into BENCHMARKS.md.
bench: setup
	$(PY) bench/first15.py $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check postdeploy sandbox selftests tests_smoke tests_db tests_metrics tests_integrations

sandbox-up: setup
	$(PY) -m sandbox up

sandbox-down:
	$(PY) -m sandbox down

clean:
	rm -rf reports/*/ $(VENV) .pytest_cache
