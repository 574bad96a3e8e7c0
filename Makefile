# The only entry point: CI (.ci/run) calls the same targets a person types.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# the simulated bot's shape (docs/simulator.md): default, strategy or boolean; another shape's config is its own
BOT_SHAPE ?=
CONFIG ?= $(if $(filter-out default,$(BOT_SHAPE)),config/shapes/$(BOT_SHAPE).yml,config/local.yml)
SHAPE_FLAG = $(if $(BOT_SHAPE),--bot-shape $(BOT_SHAPE))
# where the alerts' runbook links point (docs/alerting.md, "Runbook links"); empty: the committed rules' base
RUNBOOK_BASE_URL ?=
RUNBOOK_FLAG = $(if $(RUNBOOK_BASE_URL),--runbook-base-url $(RUNBOOK_BASE_URL))
# the long reliability soak `make bench` runs after the benchmarks (docs/reliability.md)
RELIABILITY_LONG ?= -k "soak or sigkill or postgres_restart or broker_storms"

.PHONY: help setup tools bench-tools browser-tools test test-python check-alerts lint demo run bench clean prometheusrule \
	doctor

help:
	@echo "make demo   - start the whole stack, inject the three runbook incidents, report detection and mitigation"
	@echo "make run    - start the whole stack and leave it running (Ctrl-C stops it)"
	@echo "             (BOT_SHAPE=strategy|boolean: the simulated bot stores its data in another shape)"
	@echo "make test   - every test: lint, promtool/amtool checks, pytest (unit, integration, end to end)"
	@echo "make bench  - benchmarks and the long reliability soak; results in bench/"
	@echo "make doctor CONFIG=FILE - read-only checks of FILE against the real bot (database mapping, access log,"
	@echo "              endpoints, broker, Supabase): a readiness table; DOCTOR_FLAGS=--suggest prints a starting mapping"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages: Prometheus + promtool 2.42, Alertmanager + amtool 0.25, a Compose CLI for its config check
TOOLS := prometheus:prometheus prometheus:promtool prometheus-alertmanager:prometheus-alertmanager \
	prometheus-alertmanager:amtool docker-compose:docker-compose
# the load generator and the peers `make bench` compares against (the tiny bench run in `make test` drives them too)
# headless Chromium and its WebDriver for the console's browser tests
BROWSER_TOOLS := chromium:chromium chromium-driver:chromedriver
BENCH_TOOLS := wrk:wrk hyperfine:hyperfine prometheus-sql-exporter:prometheus-sql-exporter

tools:
	@scripts/ensure-packages.sh $(TOOLS)

bench-tools:
	@scripts/ensure-packages.sh $(BENCH_TOOLS)

browser-tools:
	@scripts/ensure-packages.sh $(BROWSER_TOOLS)

setup: $(STAMP) tools

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

check-alerts: setup
	scripts/check-alerts.sh

test-python: setup bench-tools browser-tools
	$(BIN)/pytest

test: setup lint check-alerts test-python

demo: setup
	$(BIN)/python -m stack demo --config $(CONFIG) $(SHAPE_FLAG) $(RUNBOOK_FLAG)

# read-only readiness checks of CONFIG against the real bot (docs/bot-database.md, "Connecting your bot")
DOCTOR_FLAGS ?=
doctor: $(STAMP)
	$(BIN)/python -m doctor --config $(CONFIG) $(DOCTOR_FLAGS)

run: setup
	$(BIN)/python -m stack run --config $(CONFIG) $(SHAPE_FLAG) $(RUNBOOK_FLAG)

bench: setup bench-tools
	$(BIN)/python -m bench --config $(CONFIG)
	RELIABILITY_SCALE=long $(BIN)/pytest tests/reliability -m reliability --timeout 3600 -q $(RELIABILITY_LONG)

# deploy/kubernetes/prometheusrule.yaml from alerts/rules/*.yml (tests/deploy checks it is current);
# with RUNBOOK_BASE_URL, write your own copy: make prometheusrule RUNBOOK_BASE_URL=... PROMETHEUSRULE=file
PROMETHEUSRULE ?= deploy/kubernetes/prometheusrule.yaml
prometheusrule: $(STAMP)
	$(BIN)/python scripts/prometheusrule.py --output $(PROMETHEUSRULE) $(RUNBOOK_FLAG)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
