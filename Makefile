# Two commands do all the set-up on a fresh Debian machine (see README):
#   make run    installs what is missing, then starts the application
#   make test   installs what is missing, then runs every test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Debian packages the documents' PDF previews and their tests need (fonts for Chinese text).
DEBIAN_PACKAGES := libreoffice-writer-nogui poppler-utils fonts-noto-cjk fonts-arphic-ukai

.PHONY: run test setup system-packages bench

run: setup
	$(PY) -m flows demo --data-dir $${WORKFLOW_DATA_DIR:-./data}
	@echo "演示数据已生成。可用 '$(PY) -m flows list' 和 '$(PY) -m flows show 案件号' 查看。"

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) bench/run.py

setup: $(VENV)/.installed system-packages

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

# Installs only what dpkg does not already have; needs root (CI and the office server run as root).
system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "安装系统软件包:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
