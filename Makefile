# wangnet — the two front-door commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the product and its tests use; installed by `make setup` when run as root.
DEB_WEB := chromium fonts-noto-cjk
DEB_LAB := iproute2 iputils-ping snmpd snmp snmptrapd openssh-server lldpd bird2
DEB_VOD := ffmpeg nginx wrk
DEB_SIP := sip-tester baresip linphone-cli kamailio
DEB_MON := prometheus prometheus-snmp-exporter prometheus-alertmanager
DEB_PROD := slapd ldap-utils postgresql
DEB_PACKAGES := $(DEB_WEB) $(DEB_LAB) $(DEB_VOD) $(DEB_SIP) $(DEB_MON) $(DEB_PROD)
PYTEST_ARGS ?=
# pytest-xdist: tests/conftest.py groups the tests that share a server (the root lab, the e2e `wangnet serve`)
# or a module fixture onto one worker and sends the long groups first. One process: PYTEST_XDIST= PYTEST_XDIST_PG=
XDIST_2 := -n 2 --dist loadgroup --no-loadscope-reorder
PYTEST_XDIST ?= $(XDIST_2)
PYTEST_XDIST_PG ?= $(XDIST_2)

.PHONY: setup bootstrap venv fakenos translations vendor run test clean

setup: bootstrap venv fakenos translations vendor

# Debian packages: only when root and only those missing, so setup stays idempotent and quick.
bootstrap:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "bootstrap: Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "bootstrap: installing$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "bootstrap: not root, cannot install:$$missing (tests needing them will skip and say so)"; fi

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# fakenos (emulated vendor CLIs for the NAPALM driver tests) pins paramiko < 5, which napalm 5 cannot use:
# it runs as a separate server process from its own small environment.
FAKENOS_VENV := .venv-fakenos
fakenos: $(FAKENOS_VENV)/.installed

$(FAKENOS_VENV)/.installed: tests/fakenos-requirements.txt
	@test -x $(FAKENOS_VENV)/bin/python || $(PYTHON) -m venv $(FAKENOS_VENV)
	$(FAKENOS_VENV)/bin/python -m pip install -q -r tests/fakenos-requirements.txt
	@touch $@

translations: venv
	$(BIN)/python -c "from web.i18n import compile_catalogs; compile_catalogs()"

# Browser libraries from npm (package.json), copied into the ignored web/static/vendor/ (never committed).
vendor:
	@if [ -f package.json ]; then \
	  if ! command -v npm >/dev/null; then echo "vendor: npm missing, cannot install hls.js and uPlot (the player page and the device charts need them)"; exit 0; fi; \
	  if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ package-lock.json -nt node_modules ]; then \
	    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi; touch node_modules; \
	  fi; \
	  mkdir -p web/static/vendor && cp node_modules/hls.js/dist/hls.min.js web/static/vendor/; \
	  cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css web/static/vendor/; \
	fi

run: setup
	$(BIN)/wangnet inventory check
	$(BIN)/wangnet db upgrade
	$(BIN)/wangnet user demo-admin
	$(BIN)/wangnet vod demo --if-empty
	@# the devices, simulated on 127.0.0.1 (no root needed); stopped when serve exits
	@$(BIN)/wangnet sim down >/dev/null
	$(BIN)/wangnet sim up
	trap '$(BIN)/wangnet sim down' EXIT; $(BIN)/wangnet serve

test: setup
	$(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)
	@# again on a real PostgreSQL server (tests/pg_fixtures.py): the unit and integration tests that use the store
	$(BIN)/pytest $(PYTEST_XDIST_PG) --db=postgres tests/unit tests/integration $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) *.egg-info test-artifacts .pytest_cache
