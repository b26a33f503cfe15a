# smokegate: `make demo` runs the offline demo, `make test` runs the suite's own tests.
# Both bootstrap .venv from requirements.txt (the one place versions are pinned).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ENV    ?= demo

.PHONY: venv demo test lint bench bench-http bench-html bench-iam clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

## venv: only install (what a pipeline runs before `pytest checks/ --env ...`)
venv: $(STAMP)

## demo: run every check of envs/$(ENV).yaml (default: the offline demo) and print the reports
demo: $(STAMP)
	@$(PY) -m pytest checks/ --env $(ENV); rc=$$?; \
	if [ $$rc -gt 1 ]; then echo "smokegate: the run did not complete (pytest exit $$rc)"; exit $$rc; fi; \
	echo; echo "smokegate $(ENV): $$(grep -m1 -o 'gate [PF]A[SI][SL]ED[^*]*' reports/$(ENV)/summary.md)"; \
	for f in report.html junit.xml summary.md; do echo "  $(CURDIR)/reports/$(ENV)/$$f"; done

## test: the suite's own tests (unit, local servers, moto, end-to-end)
test: $(STAMP)
	$(PY) -m pytest tests/ -q -n auto

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: bench-http bench-html bench-iam

bench-http: $(STAMP)
	$(PY) bench/http_bench.py

bench-html: $(STAMP)
	$(PY) bench/html_bench.py

## bench-iam: 5 000 users on a moto server behind 40 ms/request, smokegate vs the per-user walk
## (the sequential naive walk takes ~15 min; `$(PY) bench/iam_bench.py --users 500` is quicker)
bench-iam: $(STAMP)
	$(PY) bench/iam_bench.py

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache
