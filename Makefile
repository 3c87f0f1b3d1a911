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

.PHONY: help lab test test-unit test-notebooks notebooks lint bench bench-check test-browser check mutation student grade bench-grade gradescope clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# torch: on Linux without an NVIDIA GPU, the CPU build from PyTorch's CPU index (about 190 MB
# instead of several GB of CUDA libraries); tools/torch_index.py decides and says why in one
# line. TORCH_INDEX=<url> picks another index, TORCH_INDEX=default the default one.
$(STAMP): pyproject.toml tools/torch_index.py
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if (3, 10) <= v[:2] <= (3, 13) else "scratchlib needs Python 3.10 to 3.13; $(PYTHON) is %d.%d (set PYTHON=python3.12)" % v[:2])'
	$(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV): install Python's venv module (Debian: apt-get install python3-venv)"; exit 1; }
	torch_index=$$($(PYTHON) tools/torch_index.py) && $(PY) -m pip install --quiet -e '.[dev]' $$torch_index
	@touch $@

# HOST only from make's command line (`make lab HOST=0.0.0.0`): some shells export a HOST of
# their own (the machine's name), which must not become the address JupyterLab listens on.
lab: $(STAMP)  ## set up and open the course in JupyterLab at notebook 01 (HOST=0.0.0.0 in a container)
	@bash tools/lab.sh --venv $(VENV) $(if $(filter command line,$(origin HOST)),--host $(HOST))

# nbval runs twice. Once natively; once more with torch's plain CPU kernels
# (ATEN_CPU_CAPABILITY=default: no AVX2/AVX-512 code paths; MKL_CBWR=COMPATIBLE: MKL's
# conditional-numerical-reproducibility mode), which add up sums and matrix products in another
# order, as another student's CPU (AMD, ARM, an older Intel) does. A committed output that only
# holds on the CPU it was executed on then fails here and not on a student's laptop.
EMULATED_CPU := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE

test: $(STAMP)  ## set up and run the unit tests, nbval (native and on an emulated other CPU) and the browser test
	$(PY) -m pytest -rs tests notebooks $(NBVAL)
	$(EMULATED_CPU) $(PY) -m pytest notebooks $(NBVAL)

test-unit: $(STAMP)  ## only the unit tests
	$(PY) -m pytest tests -m "not browser"

# The browser test runs every notebook through JupyterLab in a headless Chromium (Debian:
# apt-get install chromium). `make test` skips it, saying so, where no Chromium is installed;
# here a missing Chromium is a failure. Screenshots land in build/screenshots/.
test-browser: $(STAMP)  ## only the browser test: the notebooks in JupyterLab, in headless Chromium
	SCRATCHLIB_BROWSER_REQUIRED=1 $(PY) -m pytest -rs tests/browser -m browser

test-notebooks: $(STAMP)  ## only nbval over the notebooks, natively and on the emulated other CPU
	$(PY) -m pytest notebooks $(NBVAL)
	$(EMULATED_CPU) $(PY) -m pytest notebooks $(NBVAL)

notebooks: $(STAMP)  ## re-execute every notebook in place (after editing one)
	$(PY) -m jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.record_timing=False notebooks/*.ipynb
	$(PY) tools/strip_notebooks.py notebooks/*.ipynb

# Style and types (ruff and mypy from [dev], configured in pyproject.toml). Kept out of
# `make test`: a style finding is not a broken course. CI runs both (.ci/run). All three
# checks run, so one call shows every finding; it fails if any of them fails.
lint: $(STAMP)  ## check style and types: ruff check, ruff format --check, mypy
	@status=0; for check in "ruff check ." "ruff format --check ." "mypy"; do \
		echo "$(PY) -m $$check"; $(PY) -m $$check || status=1; \
	done; exit $$status

bench: $(STAMP)  ## time one SGD step, ours vs torch (DEVICE=cuda for a GPU, THREADS=1 for one thread)
	$(PY) benchmarks/train_step.py --device $(or $(DEVICE),cpu) $(if $(THREADS),--threads $(THREADS)) --csv build/bench.csv

# Not part of `make test`: a timing, not a test. EX="4.3 4.11" times those exercises only.
bench-check: export EX := $(EX)
bench-check: $(STAMP)  ## time the self-check of every exercise (EX="4.3 4.11": those; KERNEL=1: check() in a kernel) in a student edition
	$(PY) benchmarks/check_times.py "$$EX" $(if $(KERNEL),--kernel) --csv build/check_times$(if $(KERNEL),_kernel).csv

# EX reaches Python through the environment, quoted by the shell: whatever it holds
# (EX='4.3;rm x', a quote) is the one argument, never a command
check: export EX := $(EX)
check: $(STAMP)  ## run the tests of one exercise, with reasons and its hint: make check EX=4.3
	@test -n "$$EX" || { echo "usage: make check EX=4.3 (an exercise id, as in its callout)"; exit 2; }
	@$(PY) -m scratchlib.course.exercises "$$EX"

# BEGIN TEACHER ONLY (left out of the student edition)
# Not part of `make test`: it takes long (about 7,300 mutants, 10 minutes on 2 cores). mutmut (the
# [mutation] extra) changes the modules of [tool.mutmut] in pyproject.toml one mutant at a time,
# in a copy under mutants/, and runs the tests that reach each change; docs/mutation.md is then
# written from its results and docs/mutation_explanations.toml, and the target fails on a module
# under 95% killed or a survivor without an explanation. A plain `make mutation` starts afresh;
# MUTANTS='scratchlib.layers.base.*' reruns only those mutants on top of the last results (after
# adding a test). CHILDREN: parallel test processes (2: the machine is shared). The hypothesis
# profile "ci" is derandomized, so a mutant is killed or not the same way every run.
CHILDREN ?= 2
mutation: export MUTANTS := $(MUTANTS)
mutation: $(STAMP)  ## mutation testing of the graded modules, report in docs/mutation.md (MUTANTS='pattern': rerun those only)
	torch_index=$$($(PYTHON) tools/torch_index.py) && $(PY) -m pip install --quiet -e '.[mutation]' $$torch_index
	test -n "$$MUTANTS" || rm -rf mutants
	set -f; HYPOTHESIS_PROFILE=ci $(VENV)/bin/mutmut run --max-children $(CHILDREN) $$MUTANTS
	$(PY) tools/mutation_report.py

TIMEOUT ?= 60
student: $(STAMP)  ## write the student edition to build/student (solutions replaced by stubs)
	PYTHONPATH=tools $(PY) -m teacher student

grade: $(STAMP)  ## grade a student's copy, or a folder of copies: make grade DIR=path [TIMEOUT=60] [JOBS=2]
	@test -n "$(DIR)" || { echo "usage: make grade DIR=path/to/a/student/copy (or a folder of copies)"; exit 2; }
	PYTHONPATH=tools $(PY) -m teacher --timeout $(TIMEOUT) $(if $(JOBS),--jobs $(JOBS)) grade "$(DIR)"
# Not part of `make test`: a measure, not a test (about a minute). LANES=2: as `make grade` does.
bench-grade: $(STAMP)  ## grade an honest copy of the whole course: its time and memory (Gradescope's limit is 768 MB)
	$(PY) benchmarks/grade_copy.py --lanes $(or $(LANES),1) --csv build/grade_copy.csv
gradescope: $(STAMP)  ## write build/gradescope.zip, the autograder for Gradescope (setup.sh, run_autograder)
	PYTHONPATH=tools $(PY) -m teacher gradescope
# END TEACHER ONLY

clean:  ## remove the environment and generated files
	rm -rf $(VENV) build .pytest_cache .hypothesis
