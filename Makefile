# Every target does its own set-up on a fresh Debian machine with Python 3.11:
# a virtualenv, the package and its dev tools, a Chromium, and (for tests) the
# local PostgreSQL, Redis and RabbitMQ servers.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint setup browser services clean vendor

demo: setup browser
	$(BIN)/fleet demo

# Two test processes, each file whole in one of them (files share servers'
# queues and session fixtures); PYTEST_ARGS= runs them one at a time.
PYTEST_ARGS ?= -n 2 --dist loadfile

test: setup browser services
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	FLEET_TEST_REQUIRE_ALL=1 $(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

setup: $(STAMP) vendor

# htmx and pdf.js for the web app, pinned versions and digests (scripts/vendor_web.sh).
vendor:
	@bash scripts/vendor_web.sh

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Debian's Chromium: Playwright cannot download its own browser on this network.
# FLEET_BROWSER_PATH set by the user wins; otherwise Playwright's own browser on a
# user's machine is fine too (see fleet/settings.py).
browser:
	@bash scripts/ensure_browser.sh

services:
	@bash scripts/ensure_services.sh

clean:
	rm -rf $(VENV) data .fleet-demo .pytest_cache .ruff_cache
