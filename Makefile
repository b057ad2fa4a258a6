# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup setup-test lint bench clean

run: setup
	$(PY) manage.py runstack

test: setup-test
	$(PY) -m pytest

setup: $(VENV)/.runtime node_modules/.installed

setup-test: setup $(VENV)/.test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test: requirements-test.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

lint: setup-test
	$(VENV)/bin/ruff check .

bench: setup-test
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules
