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

.PHONY: setup system demo test test-unit test-stress lint docs bench bench-watch soak sandbox-up sandbox-down clean allure-report

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

# The self-tests, in two processes: each test file runs whole on one of them (--dist loadfile),
# and each process has a sandbox of its own. The end-to-end tests mostly wait for real time
# (windows of live data), so two at once take ~60 % of the serial time on 2 cores.
SELFTEST_ARGS := -q -n 2 --dist loadfile --durations=15
test: setup
	$(VENV)/bin/pytest selftests $(SELFTEST_ARGS)

# The unit self-tests alone (no sandbox, no servers): seconds, for the edit-test loop.
test-unit: setup
	$(VENV)/bin/pytest selftests/unit -q

# The self-tests while a second sandbox burns both cores (its cpu_burn fault): they must stay
# green on a busy machine. Prints the wall time under load.
test-stress: setup
	$(PY) bench/stress.py -- $(VENV)/bin/pytest selftests $(SELFTEST_ARGS)

# Twenty healthy runs of every phase in a row (first15 also under -n 2), then twenty watched
# first15 runs (`--watch 30s`, each after a fresh deploy): zero alarms allowed (~35 min).
soak: setup
	POSTDEPLOY_FALSE_ALARM_RUNS=140 POSTDEPLOY_WATCH_SOAK_RUNS=20 $(VENV)/bin/pytest \
	  selftests/e2e/test_no_false_alarms.py selftests/e2e/test_watch_soak.py -q --durations=5

# Figures of the first15 phase against a sandbox of its own, printed as a table (not a test).
# `make bench BENCH_ARGS="--markdown BENCHMARKS.md"` also writes them into BENCHMARKS.md.
bench: setup
	$(PY) bench/first15.py $(BENCH_ARGS)

# Seconds from the deploy to the verdict of `--watch 5m` per sandbox fault, next to Argo- and
# Flagger-shaped rules replayed on the same Prometheus data (~6 min per case; not a test).
# `make bench-watch BENCH_ARGS="--cases errors_5xx,slow"` runs fewer.
bench-watch: setup
	$(PY) bench/watch.py $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check postdeploy sandbox selftests tests_smoke tests_db tests_metrics tests_integrations
	$(VENV)/bin/mypy postdeploy sandbox

# The README's check tables, regenerated from the catalog (postdeploy/catalog/) between their markers.
docs:
	@py=$(PY); [ -x "$$py" ] || py=$(PYTHON); \
	$$py -c "from pathlib import Path; from postdeploy.catalog import readme; p = Path('README.md'); p.write_text(readme(p.read_text(encoding='utf-8')), encoding='utf-8')"

# Optional: Allure's HTML of one run (RUN=reports/<env>/<run>, default the newest) as one file,
# `<run>/allure-report/index.html`, opening over file://. Allure 2 from the npm registry (pinned,
# installed into .allure/ on first use), Java 17, analytics off. Its history/ is kept beside it:
# the next run of the same env copies it into its allure-results (trends and retries).
ALLURE_VERSION := 2.46.1
ALLURE := .allure/node_modules/.bin/allure
allure-report:
	@command -v npm >/dev/null || { echo "make allure-report needs node and npm (apt-get install nodejs npm)"; exit 1; }
	@command -v java >/dev/null || { echo "make allure-report needs Java 17 (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@[ -x $(ALLURE) ] && $(ALLURE) --version | grep -qx '$(ALLURE_VERSION)' || \
	  npm install --silent --no-audit --no-fund --prefix .allure allure-commandline@$(ALLURE_VERSION)
	@run="$(RUN)"; py=$(PY); [ -x "$$py" ] || py=$(PYTHON); \
	[ -n "$$run" ] || run=$$($$py -c "from pathlib import Path; from postdeploy.cli import newest_record as n; r = n(Path('reports')); print(r.parent if r else '')"); \
	[ -d "$$run/allure-results" ] || { echo "no allure-results in '$$run': run the suite first, or pass RUN=reports/<env>/<run>"; exit 1; }; \
	export ALLURE_NO_ANALYTICS=true; \
	$(ALLURE) generate "$$run/allure-results" --clean --single-file -o "$$run/allure-report" >/dev/null && \
	$(ALLURE) generate "$$run/allure-results" --clean -o "$$run/allure-report/.full" >/dev/null && \
	rm -rf "$$run/allure-report/history" && mv "$$run/allure-report/.full/history" "$$run/allure-report/history" && \
	rm -rf "$$run/allure-report/.full" && echo "Allure report: $$run/allure-report/index.html"

sandbox-up: setup
	$(PY) -m sandbox up

sandbox-down:
	$(PY) -m sandbox down

clean:
	rm -rf reports/*/ $(VENV) .pytest_cache
