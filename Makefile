# Two commands on a fresh machine with Python 3.11:  make demo  ·  make test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OKRSYNC := $(VENV)/bin/okrsync
EXAMPLE := config/example.yaml
DEMO_AS_OF ?= 2026-11-21
DEMO_HISTORY := 2026-10-05 2026-10-12 2026-10-19 2026-10-26 2026-11-02 2026-11-09 2026-11-16

.PHONY: install install-test demo test bench schema clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -c constraints.txt -e '.[test,mysql]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# A real sync of the example config (local CSV + SQLite sources, no credentials). The sample data
# covers 2026-Q4, so the demo syncs a few past weeks first (history for charts and forecasts),
# then the day DEMO_AS_OF, and prints the status tree.
demo: install
	@for d in $(DEMO_HISTORY); do $(OKRSYNC) -c $(EXAMPLE) run --quiet --as-of $$d; done
	$(OKRSYNC) -c $(EXAMPLE) run --as-of $(DEMO_AS_OF)
	@echo; echo "HTML report: file://$(CURDIR)/reports/okr.html   (JSON: reports/okr.json)"

test: install-test
	$(PY) -m pytest

bench: install
	$(PY) bench/bench_store.py

schema: install
	$(OKRSYNC) schema -o config/okrsync.schema.json

clean:
	rm -rf $(VENV) .okrsync reports
