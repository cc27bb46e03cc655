# resnet-lessons: two commands for a fresh machine.
#   make lab    create .venv if missing, install everything, open JupyterLab on notebooks/
#   make test   create/update .venv, then ruff, the unit tests and nbval over the student edition (fast mode)
# and, for instructors:
#   make run    execute the whole series headless (fast mode unless RESNET_LESSONS_FAST=0) into build/
#   make execute NB=notebooks/01_x.ipynb [OUT=build]   execute one notebook in fast mode, save it with outputs
#   make rehearse  run full mode's code on a CPU with every training run cut short (what CI does after test)
#   make student   regenerate the student edition, student/, from notebooks/ (after any notebook change)
#   make slides    the lecture decks: build/slides/NN_name.slides.html from the stored notebooks, offline

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra arguments for JupyterLab, e.g. `make lab LAB_ARGS="--no-browser --port 8890"`.
LAB_ARGS ?=
# pytest-xdist workers for the unit tests and nbval (each notebook stays on one worker).
WORKERS ?= 2
# Kernels that execute notebooks draw with the inline backend, so every figure is stored as an image:
# a backend set outside (MPLBACKEND=Agg, say) would be inherited and leave only "<Figure size ...>" text.
KERNEL_ENV := MPLBACKEND=module://matplotlib_inline.backend_inline

.PHONY: lab run execute test install lint unit nbval rehearse clean

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
	@# visdom's web page files, from the npm registry (pinned; once, ~25 MB): one line if that cannot be done.
	-$(BIN)/python -m resnet_lessons.lab.visdom_assets
	touch $(STAMP)

# Jupyter refuses to run as root without --allow-root (containers, some cloud machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

run: $(STAMP)
	mkdir -p build
	$(KERNEL_ENV) $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=3600 \
	  --output-dir build notebooks/[0-9][0-9]_*.ipynb

# Execute one notebook in fast mode and save it with its outputs (figures as images, finished progress
# bars): in place, or into OUT. `make execute NB=notebooks/01_plain_nets_degradation.ipynb [OUT=build]`
execute: $(STAMP)
	@test -f "$(NB)" || { echo "usage: make execute NB=notebooks/NN_name.ipynb [OUT=folder]" >&2; exit 2; }
	RESNET_LESSONS_FAST=1 $(KERNEL_ENV) $(BIN)/jupyter nbconvert --to notebook --execute \
	  --ExecutePreprocessor.timeout=3600 $(if $(OUT),--output-dir $(OUT),--inplace) $(NB)

# The student edition: notebooks/ without the worked solutions, exercise and check outputs cleared
# (resnet_lessons/edition.py). tests/test_edition.py fails when the committed student/ is out of step.
.PHONY: student
student: $(STAMP)
	$(BIN)/python -m resnet_lessons.lab.edition build notebooks student

# The lecture decks (resnet_lessons/lab/slides.py): every notebook's slide metadata and stored outputs as a
# reveal.js deck, its libraries fetched once from the npm registry into build/slides/assets/. No execution.
.PHONY: slides
slides: $(STAMP)
	$(BIN)/python -m resnet_lessons.lab.slides notebooks build/slides

lint: $(STAMP)
	$(BIN)/ruff check resnet_lessons tests benchmarks

unit: $(STAMP)
	RESNET_LESSONS_FAST=1 $(BIN)/pytest -q -n $(WORKERS) tests

# nbval runs the student edition, top to bottom as a student runs it, and compares its outputs with the
# stored ones (every output but the cleared exercises' is the instructor edition's, tests/test_edition.py).
# The instructor edition's solutions are run and checked by `make rehearse`, in full mode.
nbval: $(STAMP)
	RESNET_LESSONS_FAST=1 $(KERNEL_ENV) $(BIN)/pytest -q -n $(WORKERS) --dist loadfile --nbval student \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

test: lint unit nbval

# Full mode's code path on a CPU: every notebook with RESNET_LESSONS_FAST=0 (full-size networks, all the
# data, the stored-reference overlays), but each training run cut to one epoch on 1,000 images and each
# time estimate to a batch of 16 (benchmarks/full_mode_rehearsal.py). CI runs it after `make test`; about
# 5 minutes on 2 cores (results/rehearsals/).
rehearse: $(STAMP)
	$(KERNEL_ENV) $(BIN)/python benchmarks/full_mode_rehearsal.py --save-dir build/rehearsal

clean:
	rm -rf build .pytest_cache
