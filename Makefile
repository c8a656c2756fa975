# Two commands do all the set-up on a fresh Debian machine (see README):
#   make run    installs what is missing, then starts the application (Prefect server, serving process, app)
#   make test   installs what is missing, then runs every test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= $(if $(WORKFLOW_DATA_DIR),$(WORKFLOW_DATA_DIR),./data)
# Debian packages the application needs: venv for Debian's own python3, LibreOffice and poppler for the documents' PDF previews,
# fonts for Chinese text in them, Graphviz to draw the workflow diagrams on the case page.
DEBIAN_PACKAGES := python3-venv libreoffice-writer-nogui poppler-utils fonts-noto-cjk fonts-arphic-ukai graphviz
# ... and what only the tests need: PostgreSQL for the multi-machine (Prefect on PostgreSQL) test,
# Chromium for the browser tests (Playwright drives it; it never downloads a browser of its own).
TEST_PACKAGES := postgresql chromium

# requirements.txt names the direct dependencies; requirements.lock (`make lock`) pins every package, each with its hashes.
# uv installs the lock (seconds, not minutes). It is not in the lock: it is pinned here, with the sha256 of its two Linux
# wheels (x86_64, aarch64) from PyPI, and pip installs it with --require-hashes. Where that fails (another platform, an index
# without uv) pip installs the same lock, also with --require-hashes. To move uv: new UV_VERSION, and its wheels' hashes
# (`echo uv==VERSION | .venv/bin/uv pip compile --generate-hashes -` lists them all).
UV_VERSION := 0.13.9
UV_HASHES := sha256:d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19 \
             sha256:5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe
UV := $(VENV)/bin/uv
UV_PIN := $(VENV)/uv-requirement.txt

.PHONY: lint run demo test setup system-packages test-packages prefect-template bench lock preview-fonts

run: setup prefect-template
	$(PY) -m flows up --data-dir "$(DATA)" $(UP_ARGS)

# Fill the data directory with demonstration cases (every state of every workflow), then start.
demo: setup prefect-template
	$(PY) -m flows demo --data-dir "$(DATA)"
	$(PY) -m flows up --data-dir "$(DATA)" $(UP_ARGS)

test: setup test-packages prefect-template lint
	$(PY) -m pytest $(PYTEST_ARGS)

# pyflakes, bugbear, import order, pyupgrade (pyproject.toml); part of make test
lint: setup
	$(PY) -m ruff check .

bench: setup prefect-template
	$(PY) bench/run.py

# The project's own byte-code too, brought up to date (a fraction of a second when it is): where PYTHONDONTWRITEBYTECODE is
# set no process keeps it, and each command, worker and test process would compile flows/, storage/ and ui/ (~0.3 s).
setup: $(VENV)/.installed system-packages preview-fonts
	@$(PY) -m compileall -q -j 0 flows storage ui bench >/dev/null

# The documents' previews set 仿宋 and 楷体 in Fandol's simplified faces (GPL with font exception), which Debian ships only
# inside texlive-lang-chinese (a TeX distribution of 150 MB with its dependencies): the two font files are taken out of
# that package (apt-get download, dpkg-deb -x) into $(FONT_DIR); LibreOffice finds them through fontconfig.
FONT_DIR := /usr/local/share/fonts/fandol
FANDOL := FandolFang-Regular.otf FandolKai-Regular.otf
preview-fonts: | system-packages
	@if [ ! -f $(FONT_DIR)/FandolFang-Regular.otf ] || [ ! -f $(FONT_DIR)/FandolKai-Regular.otf ]; then \
	  echo "安装预览字体（Fandol 仿宋、楷体）到 $(FONT_DIR)"; \
	  tmp=$$(mktemp -d) && cd $$tmp && \
	  { apt-get download -qq texlive-lang-chinese 2>/dev/null || { apt-get update -qq && apt-get download -qq texlive-lang-chinese; }; } && \
	  dpkg-deb -x texlive-lang-chinese_*.deb x && mkdir -p $(FONT_DIR) && \
	  for f in $(FANDOL); do cp x/usr/share/texlive/texmf-dist/fonts/opentype/public/fandol/$$f $(FONT_DIR)/; done && \
	  fc-cache -f $(FONT_DIR) >/dev/null; status=$$?; cd / && rm -rf $$tmp; exit $$status; \
	fi

# Puts uv $(UV_VERSION) into the venv unless it is there; fails (quietly) when it cannot be had.
define get_uv
printf 'uv==$(UV_VERSION)$(foreach h,$(UV_HASHES), --hash=$(h))\n' > $(UV_PIN); \
{ [ "$$($(UV) --version 2>/dev/null)" = "uv $(UV_VERSION)" ] || \
  $(VENV)/bin/pip install --quiet --require-hashes --only-binary :all: --no-deps -r $(UV_PIN) >$(VENV)/uv-install.log 2>&1; }
endef

# after the Debian packages: Debian's python3 makes no venv without python3-venv.
# `uv pip sync` also removes what the lock no longer names (it keeps pip and setuptools, and uv is passed along).
# --compile-bytecode (pip does it unasked): the packages' byte-code is written once, at install; without it every process
# compiles what it imports (where PYTHONDONTWRITEBYTECODE is set, as in CI, every time): `import prefect` 3.3 s, not 1.4 s.
$(VENV)/.installed: requirements.lock | system-packages
	$(PYTHON) -m venv $(VENV)
	@if $(get_uv); then \
	  echo "uv $(UV_VERSION) installs requirements.lock"; \
	  $(UV) pip sync --quiet --require-hashes --compile-bytecode --python $(PY) requirements.lock $(UV_PIN); \
	else \
	  echo "uv $(UV_VERSION) cannot be had (see $(VENV)/uv-install.log): pip installs requirements.lock"; \
	  $(VENV)/bin/pip install --quiet --require-hashes -r requirements.lock; \
	fi
	touch $@

# Rewrites requirements.lock from requirements.txt, for Python 3.11 on Linux: every package at one version, with the
# hashes of all its files. Versions already in the lock stay where requirements.txt allows them;
# `make lock LOCK_ARGS=--upgrade` takes the newest of everything.
lock: | system-packages
	$(PYTHON) -m venv $(VENV)
	@$(get_uv) || { echo "make lock needs uv $(UV_VERSION) (see $(VENV)/uv-install.log)"; exit 1; }
	$(UV) pip compile --quiet --generate-hashes --python-version 3.11 --python-platform linux \
	  --custom-compile-command "make lock" $(LOCK_ARGS) requirements.txt -o requirements.lock

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
