# Everything the project needs is installed by these targets into .venv: the core, every extra
# ([storage], [hardware], [dask]) and the test tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint install bench chaos clean docs browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

install: $(STAMP)

# The dashboard's browser test drives Debian's chromium with its matching chromedriver (never a
# browser downloaded at run time): installed here when missing and running as root (as CI does).
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { test "$$(id -u)" = 0 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
		echo "make: chromium and chromium-driver are missing and this is not root: the browser test will skip"

demo: $(STAMP)
	$(BIN)/qclone demo

# ruff and mypy (configured in pyproject.toml) also run inside the suite: tests/test_lint.py.
lint: $(STAMP)
	$(BIN)/ruff check qclone tests bench
	$(BIN)/mypy

# One BLAS/OpenMP thread per process while two xdist workers share the two
# cores (more would oversubscribe them); the serial group keeps the defaults.
test: $(STAMP) browser
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -m "not slow and not service"
	$(BIN)/python -m pytest -m "slow or service"; rc=$$?; test $$rc -eq 0 -o $$rc -eq 5

# The long form of the adversarial suite: each part prints its figures and fails on a finding.
# schemathesis (>= 1000 requests), then >= 100 kill -9 each: the embedded server and every role of a deployment, each on SQLite and PostgreSQL.
# Then the other placements as deployments, 100 kills each (a kill every ~1.8 s: about 3 min a run on 2 cores):
# keep-A killing only the vault, the custodian c1, a provider and the gateway in turn (the vault's loss, recovered
# from c1 and the providers), and split-key (a second vault v2) with the metadata on PostgreSQL.
# Last, three gateways and a substrate node of two workers on PostgreSQL (a gateway, the substrate or one of its workers killed).
chaos: $(STAMP)
	$(BIN)/python -m tests.storage.api_fuzz --requests 1200
	$(BIN)/python -m qclone.storage.chaos --kills 100 --seed 1
	$(BIN)/python -m qclone.storage.chaos --kills 100 --seed 2 --db postgresql
	$(BIN)/python -m qclone.storage.chaos --kills 100 --seed 3 --mode deployment
	$(BIN)/python -m qclone.storage.chaos --kills 100 --seed 4 --mode deployment --db postgresql
	$(BIN)/python -m qclone.storage.chaos --kills 100 --seed 5 --mode deployment --placement keep-A --targets vault,c1,p1,gateway
	$(BIN)/python -m qclone.storage.chaos --kills 100 --seed 6 --mode deployment --placement split-key --db postgresql
	$(BIN)/python -m qclone.storage.chaos --kills 100 --seed 7 --mode deployment --db postgresql --gateways 3 --substrate-workers 2

# The documentation site (guides, tutorials, API reference from the docstrings) into site/;
# a warning fails the build. make test builds it too (tests/docs/test_site.py).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info site
