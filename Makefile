# Headstore: every entry point a person or CI needs. `make run` and `make test` do all the
# set-up on a fresh Debian machine (scripts/bootstrap.sh).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: setup run test test-unit lint format protos protos-check bench k8s-validate dashboards alerts clean

setup:
	bash scripts/bootstrap.sh
	bash scripts/janus.sh >/dev/null

# The development profile with fresh random secrets, written once per run into a git-ignored
# file that honcho loads into every process, so they all share them (headstore/secrets.py).
run: setup
	$(VENV)/bin/headstore migrate
	$(PY) -m devtools dev-env var/run.env
	@echo "Headstore: API http://127.0.0.1:8000 (docs /docs), mail sent http://127.0.0.1:8025; Ctrl-C stops all"
	$(VENV)/bin/honcho start -f Procfile -e var/run.env

# Two workers; the tests that start the platform take turns on one (conftest.py).
test: setup
	$(PY) -m pytest -q -p no:cacheprovider -n 2

test-unit: setup
	$(PY) -m pytest -q -p no:cacheprovider -m "not integration and not e2e"

lint: setup protos-check
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/check_production_dependencies.py

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

protos: setup
	bash scripts/protos.sh

protos-check: setup
	bash scripts/protos.sh --check

bench: setup
	$(PY) -m bench

k8s-validate: setup
	bash scripts/k8s_validate.sh
	bash scripts/check_dashboards.sh
	bash scripts/check_alerts.sh

clean:
	rm -rf $(VENV) .cache
