# Everything the project needs is installed by these targets into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/qclone demo

# One BLAS thread per test process: two xdist workers on two cores would
# otherwise oversubscribe the CPU with BLAS threads.
test: export OPENBLAS_NUM_THREADS = 1
test: export OMP_NUM_THREADS = 1
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow and not service"
	$(BIN)/python -m pytest -m "slow or service"; rc=$$?; test $$rc -eq 0 -o $$rc -eq 5

bench: $(STAMP)
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
