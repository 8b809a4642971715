# Contestable: the two commands that matter are `make run` and `make test`.
#
# Needs only Python 3.11+ on the machine. The virtualenv lives in .venv and is (re)installed whenever
# pyproject.toml is newer than its stamp, so a pulled dependency change is picked up by the next command.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
RUNSERVER_FLAGS ?=
VAR_DIR ?= $(or $(CONTESTABLE_VAR_DIR),var)
MANAGE := $(BIN)/python manage.py
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input
URL := http://$(HOST):$(PORT)

.PHONY: help run test lint fmt migrate demo worker beat clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# A venv from another machine (dangling interpreter link) or an older Python is replaced, not reused.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
	  echo "Contestable needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "Try: make $(MAKECMDGOALS) PYTHON=python3.12" >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@$(BIN)/python -c 'import sys' 2>/dev/null || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	@echo "Installing Contestable into $(VENV) ..."
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@$(BIN)/python -c 'import sys' 2>/dev/null || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	@echo "Installing Contestable with its dev extras into $(VENV) ..."
	$(PIP) install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

$(VAR_DIR):
	@mkdir -p $(VAR_DIR)

# Links in the demo's notices and in seed_demo's "Try this" list point at the server make run starts.
run demo: export SITE_URL := $(or $(SITE_URL),$(URL))

run: $(VENV)/.installed | $(VAR_DIR) ## install, migrate, load the demo and serve on 127.0.0.1:$PORT (8000)
	$(MANAGE) migrate --noinput
	@$(MAKE) --no-print-directory _seed
	@echo
	@echo "Contestable is starting at $(URL)/"
	@echo "  Portal (people who were decided about):  $(URL)/portal/"
	@echo "  Reviewer pages (staff):                  $(URL)/review/"
	@echo "  Outbox (every notice sent):              $(URL)/staff/outbox/"
	@echo "  Oversight (figures, stop switch, audit): $(URL)/oversight/"
	@echo "  Admin (configure systems):               $(URL)/admin/"
	@echo "  API docs (integrators):                  $(URL)/api/docs/"
	@echo "  Health:                                  $(URL)/healthz"
	@echo "  Staff pages and the admin take the demo staff logins listed above."
	@echo "  Celery runs tasks eagerly in this process: no other service is needed."
	@echo
	exec $(MANAGE) runserver $(RUNSERVER_FLAGS) $(HOST):$(PORT)

test: $(VENV)/.installed-dev ## install dev extras, then ruff, ruff format --check, mypy and pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev ## ruff, ruff format --check and mypy, without the tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: $(VENV)/.installed-dev ## format the code and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(VENV)/.installed | $(VAR_DIR) ## apply migrations to DATABASE_URL (SQLite db.sqlite3 by default)
	$(MANAGE) migrate --noinput

demo: migrate ## load the demo data (idempotent)
	@$(MAKE) --no-print-directory _seed

_seed:
	$(MANAGE) seed_demo

worker: $(VENV)/.installed ## a Celery worker (needs CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0)
	exec $(BIN)/celery -A config worker --loglevel=INFO

beat: $(VENV)/.installed | $(VAR_DIR) ## Celery beat with the static schedule from settings
	exec $(BIN)/celery -A config beat --loglevel=INFO --schedule=$(VAR_DIR)/celerybeat-schedule

clean: ## remove the venv, caches and build output (keeps db.sqlite3 and var/)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis staticfiles build *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
