# evledger: `make run` starts the service, `make test` runs every check. Both start from
# `make setup`, which installs everything into the repo (.venv, node_modules) and is quick
# when nothing changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint typecheck layers unit integration contracts contracts-check bench \
        bench-ingest bench-devices bench-audit bench-audit-1m bench-trace bench-console bench-verify \
        fault-soak \
        clean lock lock-upgrade release

setup: $(STAMP) node_modules/.installed $(VENV)/.chromium web/dist/verify.html web/dist/console.html

# Debian's chromium for the page tests (Playwright drives it; it cannot download browsers here),
# poppler-utils (pdftoppm, pdftotext) and zbar-tools (zbarimg) for the certificate tests.
DEBS := chromium poppler-utils zbar-tools
$(VENV)/.chromium: $(STAMP)
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null && \
	  command -v zbarimg >/dev/null || { \
	  echo "installing $(DEBS) with apt (for the page and certificate tests)"; \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get install -y --no-install-recommends $(DEBS) >/dev/null 2>&1 || \
	  { $$SUDO apt-get update >/dev/null && \
	    $$SUDO apt-get install -y --no-install-recommends $(DEBS) >/dev/null; }; }
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null && command -v zbarimg >/dev/null
	@touch $@

# Third-party Python packages from requirements-dev.lock, each file's hash checked (as npm does
# from package-lock.json); then the three packages of this checkout, editable, without their
# dependencies (the lock has them). `make lock` updates the lock.
$(STAMP): pyproject.toml verifier/pyproject.toml ingest/pyproject.toml requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation \
	  -e ./verifier -e ./ingest -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
	  echo "requirements-dev.lock does not satisfy the pyproject.toml files: run make lock"; \
	  exit 1; }
	@touch $@

# Writes the Python locks from requirements-dev.in and requirements.in with uv (pinned in the
# lock): requirements-dev.lock (`make setup`) and requirements.lock (a release's run time, held
# to the versions of the first). Pins are kept where the pyproject.toml files still allow them;
# `make lock-upgrade` takes the newest releases. Each pin lists the hashes of all its files on
# PyPI (any platform), for Python 3.11 and later. The local packages are read from their
# folders, never looked up in an index, and left out of the locks.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
             --custom-compile-command "make lock" --no-emit-package evledger \
             --no-emit-package evledger-verify --no-emit-package evledger-ingest
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --require-hashes \
	  -r requirements-dev.lock
	$(UV_COMPILE) $(LOCK_FLAGS) requirements-dev.in -o requirements-dev.lock
	$(UV_COMPILE) $(LOCK_FLAGS) requirements.in -c requirements-dev.lock -o requirements.lock

lock-upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade

# A release in dist/: our three wheels (with the contract's artifact, the built pages and
# Swagger UI's files inside) and the wheels of their locked dependencies, hashes checked, for
# this platform and Python, with requirements.lock (what `evledger selftest --lockfile` checks);
# SHA256SUMS lists them. Install it anywhere without an index:
# `pip install --no-index --find-links dist/ evledger` (README, "Installing a release").
release: setup
	rm -rf dist && mkdir dist
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w dist \
	  ./verifier ./ingest .
	$(BIN)/python -m pip wheel --quiet --require-hashes -r requirements.lock -w dist
	cp requirements.lock dist/
	cd dist && sha256sum *.whl requirements.lock > SHA256SUMS

# The validation pack (README, "Validation"): the whole suite (about 21 minutes) with
# machine-readable results, the environment, build/validation/pack.json and pack.html, and the
# pack's SHA-256 logged as a signed validation record: in a private `evledger up` under
# build/validation/ledger, signed by its audit key, unless VALIDATION_ARGS names another ledger
# (--api URL --home DIR) or key (--key FILE --password-file FILE). TESTS="..." runs a subset.
.PHONY: validation-pack
validation-pack: setup
	$(BIN)/python -m tests.validation.pack --out build/validation \
	  $(if $(TESTS),--tests $(TESTS)) $(VALIDATION_ARGS)

node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# The verification page (/verify), one self-contained file built reproducibly with esbuild;
# it prints the file's SHA-256, also written to web/dist/verify.html.sha256 (web/verify/README.md).
web/dist/verify.html: web/page.mjs web/verify/build.mjs web/verify/index.html web/verify/style.css \
                      web/verify/package.json $(wildcard web/verify/src/*.js) \
                      $(wildcard web/verify/src/judge/*.js) node_modules/.installed
	node web/verify/build.mjs

# The QA console (/app), built the same way from web/console (it imports web/verify/src's
# records and bytes modules, and what they import); its SHA-256 goes to
# web/dist/console.html.sha256 (web/console/README.md).
web/dist/console.html: web/page.mjs web/console/build.mjs web/console/index.html web/console/style.css \
                       web/console/package.json $(wildcard web/console/src/*.js) \
                       $(wildcard web/verify/src/*.js) node_modules/.installed
	node web/console/build.mjs

run: setup
	$(BIN)/evledger up

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

layers: setup
	$(BIN)/lint-imports

contracts: setup
	node contracts/build.mjs

contracts-check: setup
	node contracts/build.mjs --check

unit: setup
	$(BIN)/pytest tests/unit -q

integration: setup
	$(BIN)/pytest tests/integration -q

test: setup lint typecheck layers contracts-check
	$(BIN)/pytest -q

# Benchmarks (see docs/benchmarks.md); peers are not project dependencies.
bench: setup
	$(BIN)/python -m pip install --quiet pymerkle opentimestamps && \
	$(BIN)/python -m pip install --quiet --no-deps merkletools
	$(BIN)/python bench/merkle.py
	$(BIN)/python bench/spine.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest_devices.py
	$(BIN)/python bench/audit.py --records 100000
	$(BIN)/python bench/trace.py --quick

# One benchmark each (see docs/benchmarks.md). The 1,000,000-record audit takes about 20 min.
bench-ingest: setup
	$(BIN)/python bench/ingest.py

bench-devices: setup
	$(BIN)/python bench/ingest_devices.py

bench-audit: setup
	$(BIN)/python bench/audit.py --records 100000

bench-verify: setup
	$(BIN)/python bench/verify.py

bench-audit-1m: setup
	$(BIN)/python bench/audit.py --records 1000000

# Trace and recall at 1,000,000 scans over 100,000 lots (about 8 minutes; py-spy if installed).
bench-trace: setup
	$(BIN)/python bench/trace.py --json .evledger/bench-trace.json \
		--profile .evledger/bench-trace-profile

# The QA console at 100,000 lots and about 1,000,000 records: every view over HTTP, one client
# and 8, the live update and a profile (7-11 minutes; written straight into the database,
# not signed: docs/benchmarks.md, "QA console").
bench-console: setup
	$(BIN)/python bench/console.py --json .evledger/bench-console.json

# The fault scenarios at full length (make test runs short versions): a 30 s chain outage under
# load, and kill -9 at random points under load, three times over.
fault-soak: setup
	EVLEDGER_TEST_CHAIN_OUTAGE=30 $(BIN)/pytest -q tests/integration/test_health.py
	for run in 1 2 3; do $(BIN)/pytest -q tests/integration/test_crash_under_load.py || exit 1; done

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
