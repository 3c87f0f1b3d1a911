# scratchlib: `make lab` opens the course, `make test` runs every test.
# Both create the virtual environment .venv first (once; again when pyproject.toml changes).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NBVAL  := --nbval --nbval-current-env --nbval-cell-timeout=600 --nbval-sanitize-with tests/nbval_sanitize.cfg
# No MPLBACKEND here: the kernels of `make lab`, `make notebooks` and nbval pick matplotlib's
# inline backend themselves, and an inherited Agg turns every inline plot off (no picture in
# the lab, none in the committed notebooks, nbval failing on each plot cell). The unit tests
# select Agg in tests/conftest.py.

.PHONY: help lab test test-unit test-notebooks notebooks bench test-browser check student grade gradescope clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if (3, 10) <= v[:2] <= (3, 12) else "scratchlib needs Python 3.10 to 3.12; $(PYTHON) is %d.%d (set PYTHON=python3.11)" % v[:2])'
	$(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV): install Python's venv module (Debian: apt-get install python3-venv)"; exit 1; }
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

lab: $(STAMP)  ## set up and open the course in JupyterLab
	@bash tools/lab.sh $(VENV)

test: $(STAMP)  ## set up and run the unit tests, nbval and the browser test over every notebook
	$(PY) -m pytest -rs tests notebooks $(NBVAL)

test-unit: $(STAMP)  ## only the unit tests
	$(PY) -m pytest tests -m "not browser"

# The browser test runs every notebook through JupyterLab in a headless Chromium (Debian:
# apt-get install chromium). `make test` skips it, saying so, where no Chromium is installed;
# here a missing Chromium is a failure. Screenshots land in build/screenshots/.
test-browser: $(STAMP)  ## only the browser test: the notebooks in JupyterLab, in headless Chromium
	SCRATCHLIB_BROWSER_REQUIRED=1 $(PY) -m pytest -rs tests/browser -m browser

test-notebooks: $(STAMP)  ## only nbval over the notebooks
	$(PY) -m pytest notebooks $(NBVAL)

notebooks: $(STAMP)  ## re-execute every notebook in place (after editing one)
	$(PY) -m jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.record_timing=False notebooks/*.ipynb

bench: $(STAMP)  ## time one SGD step, ours vs torch (DEVICE=cuda for a GPU, THREADS=1 for one thread)
	$(PY) benchmarks/train_step.py --device $(or $(DEVICE),cpu) $(if $(THREADS),--threads $(THREADS)) --csv build/bench.csv

check: $(STAMP)  ## run the tests of one exercise, with reasons and its hint: make check EX=4.3
	@test -n "$(EX)" || { echo "usage: make check EX=4.3 (an exercise id, as in its callout)"; exit 2; }
	@$(PY) -m scratchlib.exercises $(EX)

# BEGIN TEACHER ONLY (left out of the student edition)
TIMEOUT ?= 120
student: $(STAMP)  ## write the student edition to build/student (solutions replaced by stubs)
	PYTHONPATH=tools $(PY) -m teacher student

grade: $(STAMP)  ## grade a student's copy, or a folder of copies: make grade DIR=path [TIMEOUT=120]
	@test -n "$(DIR)" || { echo "usage: make grade DIR=path/to/a/student/copy (or a folder of copies)"; exit 2; }
	PYTHONPATH=tools $(PY) -m teacher --timeout $(TIMEOUT) grade "$(DIR)"
gradescope: $(STAMP)  ## write build/gradescope.zip, the autograder for Gradescope (setup.sh, run_autograder)
	PYTHONPATH=tools $(PY) -m teacher gradescope
# END TEACHER ONLY

clean:  ## remove the environment and generated files
	rm -rf $(VENV) build .pytest_cache .hypothesis
