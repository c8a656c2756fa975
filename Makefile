# Two commands do all the set-up on a fresh Debian machine (see README):
#   make run    installs what is missing, then starts the application (Prefect server, serving process, app)
#   make test   installs what is missing, then runs every test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= $(if $(WORKFLOW_DATA_DIR),$(WORKFLOW_DATA_DIR),./data)
# Debian packages the application needs: venv for Debian's own python3, LibreOffice and poppler for the documents' PDF previews,
# fonts for Chinese text in them.
DEBIAN_PACKAGES := python3-venv libreoffice-writer-nogui poppler-utils fonts-noto-cjk fonts-arphic-ukai
# ... and what only the tests need: PostgreSQL for the multi-machine (Prefect on PostgreSQL) test,
# Chromium for the browser tests (Playwright drives it; it never downloads a browser of its own).
TEST_PACKAGES := postgresql chromium

.PHONY: run demo test setup system-packages test-packages prefect-template bench

run: setup prefect-template
	$(PY) -m flows up --data-dir "$(DATA)" $(UP_ARGS)

# Fill the data directory with demonstration cases (every state of every workflow), then start.
demo: setup prefect-template
	$(PY) -m flows demo --data-dir "$(DATA)"
	$(PY) -m flows up --data-dir "$(DATA)" $(UP_ARGS)

test: setup test-packages prefect-template
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup prefect-template
	$(PY) bench/run.py

setup: $(VENV)/.installed system-packages

# after the Debian packages: Debian's python3 makes no venv without python3-venv
$(VENV)/.installed: requirements.txt | system-packages
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

# A migrated empty Prefect database, copied into each new data directory (first start in seconds, not ~15 s).
prefect-template: $(VENV)/.installed
	$(PY) -m flows prepare

# Installs only what dpkg does not already have; needs root (CI and the office server run as root).
system-packages:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(DEBIAN_PACKAGES)"

test-packages:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_PACKAGES)"

.PHONY: apt-install
apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "安装系统软件包:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
