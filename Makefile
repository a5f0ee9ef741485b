# `make demo` and `make test` set up everything they need on a fresh machine (Python >= 3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench fuzz screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/python -m ssrauth.demo

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src bench

# The browser tests drive Debian's Chromium (never `playwright install`: it downloads a browser
# build and fails here); apt installs it when missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	.ci/apt-install chromium

# Node.js and npm, from apt when missing: the npm projects below need them.
ENSURE_NPM := command -v npm >/dev/null || .ci/apt-install nodejs npm

# The real Amplify JS client the browser tests load (tests/amplify).
AMPLIFY := tests/amplify
$(AMPLIFY)/dist/amplify-page.js: $(AMPLIFY)/package.json $(AMPLIFY)/package-lock.json $(AMPLIFY)/entry.js
	$(ENSURE_NPM)
	cd $(AMPLIFY) && npm ci --no-audit --no-fund && npm run --silent build

# The OpenID Connect provider the OIDC integration tests run on loopback (tests/oidc:
# oidc-provider under Node.js; the tests also run `npm ci` themselves when it is missing).
OIDC_IDP := tests/oidc
$(OIDC_IDP)/node_modules/.package-lock.json: $(OIDC_IDP)/package.json $(OIDC_IDP)/package-lock.json
	$(ENSURE_NPM)
	cd $(OIDC_IDP) && npm ci --no-audit --no-fund

# pytest exits 5 when it collected no test: an empty suite is a defect, so say so and fail.
test: lint $(CHROMIUM) $(AMPLIFY)/dist/amplify-page.js $(OIDC_IDP)/node_modules/.package-lock.json
	@$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# The HTTP load generator the figures in docs/performance.md are measured with; apt installs it
# when missing, as Chromium for the tests (the bench alone falls back to a Python client).
WRK := /usr/bin/wrk
$(WRK):
	.ci/apt-install wrk

bench: $(VENV)/.test-installed $(WRK)
	$(BIN)/python -m bench --loadgen wrk
	$(BIN)/python -m bench.storms
	$(BIN)/python -m bench.coordinators

# Long-run fuzzing (docs/security.md, "Fuzzing"): libFuzzer through atheris, or hypothesis where
# atheris does not install; `make test` runs the same command with `--budget small`.
FUZZ_BUDGET ?= 1000000
fuzz: $(VENV)/.test-installed
	$(BIN)/python -m bench.fuzz --budget $(FUZZ_BUDGET)

# The pictures in docs/ are taken by the browser tests in Chromium; this retakes them.
screenshots: $(VENV)/.test-installed
	SSRAUTH_SCREENSHOTS=docs/img $(BIN)/pytest -q tests/browser/test_demo_browser.py \
		tests/browser/test_oidc_browser.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis \
		$(AMPLIFY)/node_modules $(AMPLIFY)/dist $(OIDC_IDP)/node_modules
