# The two commands of the README: `make run` and `make test`.
# Both create the virtualenv and install what they need; both are idempotent.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test coverage-services lint security format install install-dev browser messages clean-var

help:
	@echo "make run    set up and serve Aftersales with demo data on http://$(HOST):$(PORT)"
	@echo "make test   set up and run the whole test suite, then print the coverage report"
	@echo "make coverage-services  branch coverage of the services (fails under 90%)"
	@echo "make lint   ruff, import layers (import-linter), types (mypy), makemigrations --check"
	@echo "make security  check --deploy with production settings + bandit"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.installed-run: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

# The browser tests drive Debian's Chromium; install it when missing and we may.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Chromium for the browser tests (apt-get)..."; \
			(apt-get install -y -qq chromium >/dev/null 2>&1 || \
			 (apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null)); \
		else \
			echo "Chromium is missing and apt-get is not usable here: install chromium to run the browser tests." >&2; \
		fi; \
	fi

# Compiled translations (.mo) are built, not committed; msgfmt comes from gettext.
messages: install
	@if ! command -v msgfmt >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing gettext (msgfmt) to compile the translations..."; \
		(apt-get install -y -qq gettext >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null && apt-get install -y -qq gettext >/dev/null)); \
	fi
	$(PY) manage.py compilemessages --ignore=.venv -v 0

run: export DEBUG ?= true
run: install messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	@echo ""
	@echo "  Aftersales is starting on http://$(HOST):$(PORT)/"
	@echo "  Demo logins (password: aftersales-demo):"
	@echo "    manager  - the manager (dashboard, admin, dev mailbox at /dev/mailbox/)"
	@echo "    rep1     - a sales rep (My day)"
	@echo "    rep2     - another sales rep"
	@echo "  Web, Celery worker and beat run together; Ctrl-C stops all of them."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" HOST=$(HOST) WEB_PORT=$(PORT) $(BIN)/honcho start -f Procfile

test: export SECRET_KEY ?= $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
test: install-dev browser messages
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered $(PYTEST_ARGS)

# The services: the writes of the three domains (README, Development). Without the browser journeys and
# the real-worker proofs (whose workers are other processes, not measured) it takes a few minutes.
SERVICES := customers/services/*,touchpoints/services/*,feedback/services/*,feedback/survey_email.py

coverage-services: export SECRET_KEY ?= $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
coverage-services: install-dev messages
	$(BIN)/pytest -m "not browser and not celery" --cov --cov-report= $(PYTEST_ARGS)
	$(BIN)/coverage report --include='$(SERVICES)' --no-skip-covered --fail-under=90

lint: export SECRET_KEY ?= $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(PY) manage.py makemigrations --check --dry-run

# Production settings must pass Django's deployment checklist (HSTS, secure cookies, SSL redirect,
# a strong SECRET_KEY); bandit reports medium/high findings in the project's own code.
security: export SECRET_KEY ?= $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')
security: install-dev
	env -u DATABASE_URL DEBUG=false BEHIND_HTTPS_PROXY=true ALLOWED_HOSTS=aftersales.example.com \
		VAR_DIR="$$(mktemp -d)" $(PY) manage.py check --deploy --fail-level WARNING
	$(BIN)/bandit -ll -q -r . -x ./.venv,./tests,./staticfiles,./var,./node_modules,./test-artifacts

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-var:
	rm -rf var/
