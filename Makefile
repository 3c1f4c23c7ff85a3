# Development entry points. `make demo` and `make test` work on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV ?= .venv
PY := $(VENV)/bin/python
PLUGINS := $(sort $(wildcard plugins/brs-*))
STAMP := $(VENV)/.brs-installed
PYTEST_ARGS ?=

DIST ?= dist
WHEEL_PLUGINS ?= $(PLUGINS)

.PHONY: dev system-deps test-servers deploy-tools container-tools wheels demo docs man test test-unit test-deploy test-pods bench lint clean

$(STAMP): core/pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e 'core[test]' $(foreach p,$(PLUGINS),-e '$(p)[test]')
	touch $@

## dev: install every distribution of the repository editable into .venv
dev: $(STAMP)

## system-deps: database servers and tools the tests start (Debian packages; idempotent)
system-deps:
	bash scripts/install-system-deps.sh

## test-servers: servers that are not plain Debian packages, under /opt/brs-test (with Ceph RGW)
BRS_WITH_CEPH ?= 1
test-servers: dev
	BRS_WITH_CEPH=$(BRS_WITH_CEPH) bash scripts/install-test-servers.sh

## deploy-tools: helm, kubectl (kustomize), checkov and promtool for tests/deploy (offline after install; idempotent)
deploy-tools:
	bash scripts/install-deploy-tools.sh

## container-tools: podman, buildah, runc, mmdebstrap and a private podman configuration (no networks)
container-tools:
	bash scripts/install-container-tools.sh

## wheels: brs, every plugin (or WHEEL_PLUGINS) and all their dependencies as wheels in $(DIST),
## for the images in deploy/images, which install from them without a package index
wheels: $(STAMP)
	rm -rf $(DIST)
	$(PY) -m pip wheel -q --wheel-dir $(DIST) ./core $(foreach p,$(WHEEL_PLUGINS),./$(p)) 'psycopg[binary]>=3.1'

## docs: the documentation site in build/site (mkdocs, Material theme), built offline with --strict
docs: dev
	$(PY) scripts/reference_docs.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

## man: manual pages of brs and every subcommand in build/man (click-man, from the same option declarations as --help)
man: dev
	$(VENV)/bin/pip install -q click-man
	$(VENV)/bin/click-man brs --target build/man

## demo: back up a directory, wipe it, restore it, and prove the data came back
demo: dev
	bash scripts/demo.sh

## test: static checks, then the whole test suite against real servers and real pods (tests/pods)
test: dev system-deps test-servers deploy-tools container-tools lint
	source scripts/test-servers.env && $(PY) -m pytest $(PYTEST_ARGS)

## test-pods: only the pod tests: real pods under podman, from images built with the repository's wheels
test-pods: dev system-deps test-servers container-tools
	source scripts/test-servers.env && $(PY) -m pytest tests/pods $(PYTEST_ARGS)

## test-unit: every package's tests that need no server, tool or end-to-end process (under a minute)
test-unit: dev
	$(PY) -m pytest core/tests plugins -m "not server and not tools and not integration and not slow" $(PYTEST_ARGS)

## test-deploy: the Helm chart, kustomize overlays and monitoring files (tests/deploy)
test-deploy: dev deploy-tools
	$(PY) -m pytest tests/deploy $(PYTEST_ARGS)

## bench: CLI start-up against python -c pass; the memory each layer of code takes before data moves; pipeline throughput and memory against the shell pipeline; memory and throughput through the S3, GCS and Azure emulators; a PostgreSQL base backup against pg_basebackup; the tar engines alone (brs's, libarchive's through libarchive-c, installed for it, and GNU tar's)
bench: dev
	$(PY) bench/startup.py
	$(PY) bench/memory.py
	$(PY) bench/pipeline.py
	$(VENV)/bin/pip install -q libarchive-c && $(PY) bench/engines.py
	. scripts/test-servers.env && $(PY) bench/storage.py
	. scripts/test-servers.env && $(PY) bench/postgres.py

## lint: ruff (lint + format) on everything, mypy --strict on every package (pinned tools)
LINT_TOOLS := ruff==0.17.6 mypy==2.4.1 types-PyYAML==6.0.12.20261113
PACKAGES := brs $(foreach p,$(PLUGINS),$(subst -,_,$(notdir $(p))))
lint: dev
	$(PY) -m pip install -q $(LINT_TOOLS)
	$(VENV)/bin/ruff check core plugins tests bench scripts
	$(VENV)/bin/ruff format --check core plugins tests bench scripts
	$(VENV)/bin/mypy --strict --ignore-missing-imports $(foreach p,$(PACKAGES),-p $(p))

clean:
	rm -rf $(VENV) .pytest_cache $(DIST) build/man build/site
