# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and make.
# A second run is fast: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup browser demo test test-slow lint bench bench-probe clean

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

# Debian's chromium, for the test that opens report.html in a real headless browser. Best effort:
# without root or apt the browser test skips and says why; nothing else needs it.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  command -v apt-get >/dev/null 2>&1 && { \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -q >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "note: could not install Debian chromium (apt-get install chromium); the browser test will skip"

demo: $(STAMP)
	# out/demo is the demo's own folder: re-running replaces it
	$(PY) -m scriptbridge demo --output out/demo --overwrite

test: $(STAMP) browser
	$(PY) -m pytest -q

test-slow: $(STAMP) browser
	# exit code 5 means "no test selected": not a failure here
	$(PY) -m pytest -q -m slow || [ $$? -eq 5 ]

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

bench: $(STAMP)
	$(PY) bench/romanize_speed.py
	$(PY) bench/romanization_quality.py
	$(PY) bench/encode_speed.py
	$(PY) bench/teacher_student_speed.py --threads 1 --steps 60 --padded --bf16
	$(PY) bench/pretrain_speed.py --threads 1 --steps 12

# the "before" alignment numbers of docs/probe_baselines.md (about 15 min on 2 CPU cores)
bench-probe: $(STAMP)
	$(PY) bench/probe_baselines.py --output docs/probe_baselines.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
