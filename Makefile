# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and make.
# A second run is fast: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: a looser spec pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	# digest uroman's tables into the user cache now, so the first romanization starts warm
	$(PY) -c "from scriptbridge.views.fast_uroman.tables import Tables; Tables()"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	# out/demo is the demo's own folder: re-running replaces it
	$(PY) -m scriptbridge demo --output out/demo --overwrite

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	# exit code 5 means "no test selected": not a failure here
	$(PY) -m pytest -q -m slow || [ $$? -eq 5 ]

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

bench: $(STAMP)
	$(PY) bench/romanize_speed.py
	$(PY) bench/romanization_quality.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
