# Serverless Python on LocalStack: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

LOCALSTACK_MODE ?= auto
LOCALSTACK_PORT ?= 4566
AWS_ENDPOINT_URL ?= http://127.0.0.1:$(LOCALSTACK_PORT)
AWS_DEFAULT_REGION ?= us-east-1
STACK_NAME ?= serverless-app
HOT_RELOAD ?= 0
FN ?=
EVENT ?=
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`; tests that share a stack run on one worker (tests/conftest.py).
# 5 on 2 cores: for its first minute 2 workers mostly wait (the record-age test, the app's DLQ
# waits), and 4 left the cores ~half idle then
TEST_WORKERS ?= 5

# Any python3 runs the launcher; it finds a Python >= 3.12 for the venvs itself.
BOOT_PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOSTMODE := $(BOOT_PYTHON) scripts/hostmode.py

export LOCALSTACK_MODE LOCALSTACK_PORT AWS_ENDPOINT_URL AWS_DEFAULT_REGION STACK_NAME HOT_RELOAD
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test

.PHONY: help venv up down status logs deploy-local invoke demo test test-unit test-integration bench lint clean
.PHONY: deploy-serverless remove-serverless

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# $(PY) is a symlink to an interpreter older than any checkout of requirements/dev.txt: on its
# own it was "out of date" on every make (~0.3-1.3 s of `hostmode venv` per command). The stamp
# is touched once the venv matches requirements/dev.txt; a venv that lost its python is rebuilt.
$(PY): $(VENV)/.make-stamp
	@test -x $@ || $(HOSTMODE) venv $(VENV) requirements/dev.txt
$(VENV)/.make-stamp: requirements/dev.txt
	@$(HOSTMODE) venv $(VENV) requirements/dev.txt
	@touch $@

venv: $(PY) ## Create the dev/test virtualenv (.venv) from requirements/dev.txt

up: ## Start LocalStack (Docker if an engine answers, else host mode) and run init-aws.sh
	@$(HOSTMODE) up

down: ## Stop everything `make up` started
	@$(HOSTMODE) down

status: ## Show whether LocalStack is running, in which mode, and its services
	@$(HOSTMODE) status

logs: ## Show LocalStack's log, or a function's CloudWatch logs with FN=<name>
	@if [ -n "$(FN)" ]; then $(MAKE) --no-print-directory $(PY) && $(PY) scripts/logs.py "$(FN)"; else $(HOSTMODE) logs; fi

deploy-local: $(PY) ## Build the layer and deploy template.yaml to LocalStack (HOT_RELOAD=1 for hot-reload code)
	@$(PY) scripts/deploy.py

deploy-serverless: $(PY) ## Deploy serverless.yml (users service) with the Serverless Framework, stage local
	@$(PY) scripts/serverless_deploy.py deploy --stage local

remove-serverless: $(PY) ## Remove the serverless.yml stack (stage local) and everything it created
	@$(PY) scripts/serverless_deploy.py remove --stage local

invoke: $(PY) ## Invoke a deployed function: make invoke FN=<logical id or name> EVENT=tests/events/<file>.json
	@$(PY) scripts/invoke.py "$(FN)" "$(EVENT)"

demo: ## Start, deploy and exercise every flow once, with a summary
	@$(MAKE) --no-print-directory up
	@$(MAKE) --no-print-directory deploy-local
	@$(PY) scripts/demo.py

test: $(PY) ## Run unit and integration tests (starts host-mode LocalStack if none is running)
	@$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-unit: $(PY) ## Run unit tests only (no network)
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(PY) ## Run integration tests against LocalStack
	@$(PY) -m pytest -n $(TEST_WORKERS) tests/integration $(PYTEST_ARGS)

# bench-only dependencies (matplotlib, aiohttp), installed on demand so `make test` stays lean
$(VENV)/.bench-deps: requirements/bench.txt $(PY)
	@$(PY) -m pip install --disable-pip-version-check -q -c requirements/dev.txt -r requirements/bench.txt
	@touch $@

bench: $(VENV)/.bench-deps ## Measure every speed/memory target beside its floor (BENCH_QUICK=1: ~3 min)
	@PYTHONPATH=scripts $(PY) -m bench

lint: $(PY) ## Lint Python (ruff) and the SAM template (cfn-lint)
	@$(PY) -m ruff check .
	@$(VENV)/bin/cfn-lint template.yaml

clean: down ## Stop LocalStack and remove venvs, build output and LocalStack state
	rm -rf .build .localstack $(VENV) .pytest_cache .ruff_cache
