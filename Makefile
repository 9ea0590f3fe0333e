# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
WEB_DEPS := web_client/node_modules/.package-lock.json

.PHONY: run test lint typecheck unit node-test scenario-check bench bench-parties clean browser mutation mutation-changed mutation-services

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[embedded,dev]'
	touch $(STAMP)

run: $(STAMP) $(WEB_DEPS)
	$(PY) -m backend

# The desk's browser dependencies (voximplant-websdk), served from web_client/node_modules.
$(WEB_DEPS): web_client/package-lock.json
	npm ci --prefix web_client --no-audit --no-fund --loglevel=error

cloud_scripts/node_modules/.package-lock.json: cloud_scripts/package-lock.json
	npm ci --prefix cloud_scripts --no-audit --no-fund --loglevel=error

# Debian's chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

LINT_DIRS := backend tests $(wildcard bench)

lint: $(STAMP)
	$(PY) -m ruff check $(LINT_DIRS)
	$(PY) -m ruff format --check $(LINT_DIRS)

typecheck: $(STAMP)
	$(PY) -m mypy

node-test:
	node --test tests/voxengine/

scenario-check: cloud_scripts/node_modules/.package-lock.json
	npm run --silent --prefix cloud_scripts check

# Branch coverage of backend/ is printed at the end (pytest-cov; the test's own subprocesses,
# backend processes and the database server, are not measured).
COVERAGE := --cov=backend --cov-branch --cov-report=term

# The suite waits more than it computes, so it runs on two workers (a module stays on one);
# then the test marked `alone`, which measures latency, with both cores to itself. The
# coverage of both runs is added up and printed at the end.
test: $(STAMP) cloud_scripts/node_modules/.package-lock.json $(WEB_DEPS) browser lint typecheck node-test scenario-check
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not alone" $(COVERAGE) --cov-report=
	$(PY) -m pytest -m alone $(COVERAGE) --cov-append

bench: $(STAMP)
	$(PY) bench/dispatch.py

bench-parties: $(STAMP)
	$(PY) bench/parties.py

# Mutation testing ([tool.mutmut] in pyproject.toml): mutmut mutates backend/domain/,
# backend/services/ and backend/adapters/documents.py in mutants/ (git-ignored, made afresh)
# and runs the fast tests against each mutant, one worker at a time. Then the score per
# package and file, and the survivors; docs/testing.md explains the ones that are left.
# MUTANTS narrows the run, e.g. MUTANTS='backend.domain*'. Fails under the targets below.
MUTANTS ?=
MUTATION_TARGETS := --require backend/domain/=90 --require backend/adapters/=90
mutation: $(STAMP)
	rm -rf mutants && mkdir mutants
	$(VENV)/bin/mutmut run --max-children 1 $(MUTANTS) > mutants/run.log 2>&1 \
	  || { tail -c 5000 mutants/run.log; exit 1; }
	$(PY) bench/mutation_report.py --survivors $(MUTATION_TARGETS)

# The same over the files changed since MUTATION_BASE only (CI: the commit before the one
# it tests, i.e. the previous main for a merge). Nothing to do when none of them changed.
# The core's files only: the fast tests reach no service (those need a database server:
# mutation-services), so a changed service only printed 0 of its mutants killed, "no tests".
MUTATION_BASE ?= HEAD~1
MUTATED := 'backend/domain/*.py' backend/adapters/documents.py
mutation-changed: $(STAMP)
	@git rev-parse -q --verify '$(MUTATION_BASE)^{commit}' >/dev/null \
	  || { echo "mutation: no $(MUTATION_BASE) to compare with, nothing run"; exit 0; }; \
	files=$$(git diff --name-only --diff-filter=d '$(MUTATION_BASE)' -- $(MUTATED) \
	  | grep -v '__init__\.py$$' || true); \
	if [ -z "$$files" ]; then echo "mutation: no mutated file changed since $(MUTATION_BASE)"; exit 0; fi; \
	echo "mutation: $$(echo $$files)"; \
	rm -rf mutants && mkdir mutants; \
	$(VENV)/bin/mutmut run --max-children 1 $$(echo "$$files" | sed -e 's/\.py$$/.*/' -e 's|/|.|g') \
	  > mutants/run.log 2>&1 || { tail -c 5000 mutants/run.log; exit 1; }; \
	$(PY) bench/mutation_report.py --survivors --only $$files $(MUTATION_TARGETS)

# The services against one real SecantusDB server (bench/mutation_services.py): the unit and
# the single-process integration tests, in var/mutation-services/ (kept: mutmut resumes and
# keeps results; MUTATION_FRESH=1 starts anew). Days for all of services: run it per function,
# e.g. MUTANTS='backend.services.engine.x_run*', or SAMPLE=200 SEED=2 for the estimated score of
# all of services from a random sample. docs/testing.md has the scores and the survivors.
MUTATION_FRESH ?=
mutation-services: $(STAMP) $(WEB_DEPS)
	$(PY) bench/mutation_services.py $(if $(MUTATION_FRESH),--fresh) $(if $(SAMPLE),--sample $(SAMPLE) --seed $(or $(SEED),1)) $(MUTANTS)

clean:
	rm -rf $(VENV) var cloud_scripts/node_modules web_client/node_modules mutants
