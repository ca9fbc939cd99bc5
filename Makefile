# Two commands for a newcomer (see README.md): `make run` and `make test`.
# Every install step lives here, so a fresh machine needs nothing but Python 3.11+ and Node 20.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run test lint bench setup system-packages clean

# The whole demo (docs/demo.md); `datacage serve` runs the control plane alone.
run: setup
	$(VENV)/bin/datacage demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

bench: setup $(BENCH_STAMP)
	$(PY) bench/solid_get.py
	$(PY) bench/pull_ratio.py
	$(PY) bench/pulls.py
	$(PY) bench/control_plane.py
	$(PY) bench/dashboard.py
	$(PY) bench/consent_check.py
	$(PY) bench/output_gate.py
	$(PY) bench/identifier_scan.py
	$(PY) bench/sandbox_start.py
	$(PY) bench/push_crypto.py
	$(PY) bench/psi.py
	$(PY) bench/delivery.py
	$(PY) bench/audit_trail.py
	$(PY) bench/registry_virtuoso.py
	$(PY) bench/sparql_connections.py
	$(PY) bench/attestation.py
	$(PY) bench/fleet.py
	# One space with 100 000 consents against one with 100, embedded and on oxigraph serve:
	# about an hour on the shared 2-core machine (most of it seeding and the job claim).
	$(PY) bench/scale.py --consents 100000 --backend both

# bench/psi.py's baseline (openmined-psi pins protobuf exactly): only for `make bench`.
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m pip check
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

setup: $(STAMP) node_modules/.installed system-packages

# Debian packages the tests drive for real: chromium (browser tests), bubblewrap (the
# algorithm sandbox), nginx (the pod side of mutual TLS), and podman, runc, uidmap,
# catatonit (podman's --init) and mmdebstrap (docker/'s images built and run without a Docker
# daemon, on a Debian base made from the Debian mirror: tests/support/containers.py), and
# virtuoso-opensource (Virtuoso 7, a registry back end: tests/support/virtuoso.py starts a real
# virtuoso-t), and redis-server (the broker of a fleet of datacages: tests/integration/
# test_fleet.py and bench/fleet.py start their own on a free port). Installed only when
# missing; without root the step says what to install instead of failing half-way.
DEBIAN_PACKAGES := chromium bubblewrap nginx podman runc uidmap catatonit mmdebstrap virtuoso-opensource redis-server
system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
	      { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; }; \
	  else echo "Please install these Debian packages (as root):$$missing"; exit 1; fi; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The Community Solid Server (pinned in package-lock.json) for the tests, the benchmarks and the demo.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules
