# The two commands: `make up` runs the platform, `make test` runs every test.
# Both create the environment first (uv, then one venv with every distribution editable).
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: up test dev-env lint bench compose-config

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'

$(VENV)/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml gateway/pyproject.toml services/*/pyproject.toml
	$(UV) sync --locked
	touch $@

dev-env: $(VENV)/.synced

up: dev-env
	$(VENV)/bin/innopark-dev up

test: dev-env
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Formatting, lint (unused `noqa` included: RUF100) and types (shared/ and gateway/).
lint: dev-env
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: dev-env
	for b in benchmarks/*.py; do $(VENV)/bin/python $$b || exit 1; done

compose-config:
	docker-compose config -q
