# One-command entry points. Each target builds/updates its own virtual environment.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: venv browser test test-fast lint docs demo bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# The explorer's browser tests drive Debian's chromium (never a downloaded browser).
CHROMIUM ?= /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq chromium chromium-driver; }

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

test: $(STAMP) browser
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

# The inner loop: ruff and every test not marked slow (make test still runs everything).
test-fast: $(STAMP) browser
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q -m "not slow"

# The user guide (MkDocs + Material) into site/; broken links or missing pages fail the build.
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

demo: $(STAMP)
	$(PY) -m celebalab.demo --out $(DEMO_OUT)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache site
