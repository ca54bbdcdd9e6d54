# The two commands: `make up` runs the platform, `make test` runs every test.
# Both create the environment first (uv, then one venv with every distribution editable).
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Byte-compiled at install: with PYTHONDONTWRITEBYTECODE set (as on these machines) every
# process would otherwise compile every module it imports, each time it starts (measured:
# importing a service's app took 4.9 s of CPU, every service and migration and test
# process paying it).
export UV_COMPILE_BYTECODE := 1

.PHONY: up demo test dev-env lint bench compose-config

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'

$(VENV)/.synced: $(UV) Makefile uv.lock pyproject.toml shared/pyproject.toml gateway/pyproject.toml services/*/pyproject.toml
	$(UV) sync --locked
	$(VENV)/bin/python -m compileall -q -j0 shared/src gateway/src services/*/src
	touch $@

# Debian packages beside the Python ones (fonts for letters): deploy/system-packages.txt.
.tools/.system-packages: deploy/system-packages.txt deploy/install-system-packages
	deploy/install-system-packages deploy/system-packages.txt
	mkdir -p .tools && touch $@

dev-env: .tools/.system-packages $(VENV)/.synced

up: dev-env
	$(VENV)/bin/innopark-dev up

# The demo data set, through the public API of the platform `make up` runs (idempotent).
demo: dev-env
	$(VENV)/bin/innopark-dev demo

test: dev-env
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Formatting, lint (unused `noqa` included: RUF100) and types (shared/ and gateway/).
lint: dev-env
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

.PHONY: fuzz browser

# schemathesis longer than `make test` runs it: more examples and the coverage phase.
fuzz: dev-env
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-50} FUZZ_PHASES=examples,coverage,fuzzing \
	FUZZ_TIMEOUT_SECONDS=1800 $(VENV)/bin/pytest tests/fuzz -p no:cacheprovider \
	-o timeout=2400 $(PYTEST_ARGS)

# Debian's Chromium for the portal test (tests/contract/test_portal.py installs it too).
browser:
	test -x /usr/bin/chromium || (apt-get update -q && apt-get install -y -q chromium)

# Every benchmark of issue #12, one at a time, bounded; writes docs/benchmarks.md.
# `make bench ONLY=registry_paths PROFILE=/tmp/flames`: py-spy flame graphs of the
# processes under load (see benchmarks/harness.py).
bench: dev-env
	$(VENV)/bin/python benchmarks/run_all.py $(if $(ONLY),--only $(ONLY)) $(if $(PROFILE),--profile $(PROFILE))

# With the placeholders of deploy/compose.example.env, so it passes on a fresh clone (the
# real values come from .env or the environment when the file is used).
compose-config:
	docker-compose --env-file deploy/compose.example.env config -q
