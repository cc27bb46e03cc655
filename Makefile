# resnet-lessons: two commands for a fresh machine.
#   make lab    create .venv if missing, install everything, open JupyterLab on notebooks/
#   make test   create/update .venv, then ruff, the unit tests and nbval over every notebook (fast mode)
# and, for instructors:
#   make run    execute the whole series headless (fast mode unless RESNET_LESSONS_FAST=0) into build/
#   make rehearse  run full mode's code on a CPU with every training run cut short (what CI does after test)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra arguments for JupyterLab, e.g. `make lab LAB_ARGS="--no-browser --port 8890"`.
LAB_ARGS ?=
# pytest-xdist workers for the unit tests and nbval (each notebook stays on one worker).
WORKERS ?= 2

.PHONY: lab run test install lint unit nbval rehearse clean

install: $(STAMP)

# Re-install whenever pyproject.toml changes. visdom 0.2.4 (the newest release for Python 3.11) is only
# published as source and its build imports pkg_resources, which setuptools 81 removed, so on 3.11 we
# build it with a pinned setuptools first; Python 3.12+ gets a newer visdom from the extras as usual.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "setuptools<81" wheel
	$(BIN)/python -c 'import sys; sys.exit(sys.version_info >= (3, 12))' \
	  && $(BIN)/python -m pip install --quiet --no-build-isolation "visdom==0.2.4" || true
	$(BIN)/python -m pip install --quiet -e ".[lab,visdom,test]"
	touch $(STAMP)

# Jupyter refuses to run as root without --allow-root (containers, some cloud machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

run: $(STAMP)
	mkdir -p build
	$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=3600 \
	  --output-dir build notebooks/[0-9][0-9]_*.ipynb

lint: $(STAMP)
	$(BIN)/ruff check resnet_lessons tests benchmarks

unit: $(STAMP)
	RESNET_LESSONS_FAST=1 $(BIN)/pytest -q -n $(WORKERS) tests

nbval: $(STAMP)
	RESNET_LESSONS_FAST=1 $(BIN)/pytest -q -n $(WORKERS) --dist loadfile --nbval notebooks \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

test: lint unit nbval

# Full mode's code path on a CPU: every notebook with RESNET_LESSONS_FAST=0 (full-size networks, all the
# data, the stored-reference overlays), but each training run cut to one epoch on 1,000 images
# (benchmarks/full_mode_rehearsal.py). CI runs it after `make test`; it took 236 s in CI on 2 cores.
rehearse: $(STAMP)
	$(BIN)/python benchmarks/full_mode_rehearsal.py --save-dir build/rehearsal

clean:
	rm -rf build .pytest_cache
