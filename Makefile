# fqai — one Makefile for the whole toolchain. `make demo` and `make test` are
# the two commands a newcomer needs; both bootstrap everything from lock files.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SOLC_VERSION := 0.8.28
SOLCX_DIR := $(CURDIR)/.solcx
SOLC_WRAPPER := $(SOLCX_DIR)/solc-v$(SOLC_VERSION)

export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SOLCX_BINARY_PATH := $(SOLCX_DIR)
export FQAI_ROOT := $(CURDIR)

FUZZ_EXAMPLES ?= 2000

.PHONY: setup test test-contracts test-python test-browser test-multihost demo lint bench fuzz \
	coverage clean slither invariants mutants

CHROMIUM := /usr/bin/chromium
# Root can install system packages directly; anyone else needs passwordless sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)

setup: $(VENV)/.stamp node_modules/.stamp $(SOLC_WRAPPER) $(VENV)/.brownie-networks.stamp \
	frontend/node_modules/.stamp

$(VENV)/.brownie-networks.stamp: scripts/toolchain/brownie_networks.py $(VENV)/.stamp
	$(VENV)/bin/python scripts/toolchain/brownie_networks.py
	touch $@

$(VENV)/.stamp: requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade "pip>=24"
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

node_modules/.stamp: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

frontend/node_modules/.stamp: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium drives the browser suite (Playwright with executable_path); not needed by demo.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

$(SOLC_WRAPPER): scripts/toolchain/solc-wrapper.js node_modules/.stamp
	mkdir -p $(SOLCX_DIR)
	printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' "$(CURDIR)/node_modules/.bin/node" "$(CURDIR)/scripts/toolchain/solc-wrapper.js" > $@
	chmod 0755 $@
	ln -sf $@ $(SOLCX_DIR)/solc
	$@ --version | grep -q "Version: $(SOLC_VERSION)"

test: setup $(CHROMIUM)
	$(VENV)/bin/python scripts/toolchain/run_tests.py

test-browser: setup $(CHROMIUM)
	$(VENV)/bin/python -m pytest tests/browser -q

test-contracts: setup
	brownie test tests/contracts --network development

test-python: setup
	$(VENV)/bin/python -m pytest tests/python -q

# Chain, IPFS, SuperLink (TLS + SuperNode admission), coordinator and nodes, each on its own
# loopback address with its own directory (also part of `make test`, in the Python suite).
test-multihost: setup
	$(VENV)/bin/python -m pytest tests/python -q -m multihost

# Branch and statement coverage of the contracts' own sources -> reports/contract-coverage.json
# One Brownie session per module (a session keeps only its first module's coverage data); hit
# sets accumulate in reports/contract-coverage-raw.json. The stateful fuzz test is left out:
# traced, it takes longer than the rest together. Brownie's own report step fails after ours
# ("dict object expected"), hence `|| true` with our own check of the summary file.
coverage: setup
	rm -f reports/contract-coverage-raw.json reports/contract-coverage.json
	for t in test_model_nft test_marketplace test_federation_registry test_smoke_chain; do \
		brownie test tests/contracts/$$t.py --network development --coverage || true; done
	$(VENV)/bin/python -c "import json; d = json.load(open('reports/contract-coverage.json')); \
		[print(k, 'statements %d/%d' % tuple(v['statements']), 'branch outcomes %d/%d' % tuple(v['branch_outcomes'])) for k, v in d.items()]"

demo: setup
	$(VENV)/bin/python scripts/toolchain/demo.py

lint: setup
	ruff check fqai scripts tests bench
	ruff format --check fqai scripts tests bench
	$(VENV)/bin/python scripts/security/slither_check.py

# Contract security (docs/security/contracts.md); each writes reports/security/<name>.json.
# Slither, gated: no High/Medium finding, every other one triaged in scripts/security/slither_triage.toml.
slither: setup
	$(VENV)/bin/python scripts/security/slither_check.py

# Forge invariant campaign over the three contracts (tests/foundry, foundry.toml default profile).
invariants: setup
	$(VENV)/bin/python scripts/security/invariants.py

# Planted bugs (scripts/security/mutants.toml) in a temporary copy; the campaign must catch each one.
mutants: setup
	$(VENV)/bin/python scripts/security/mutants.py

bench: setup
	brownie run scripts/bench_gas.py --network development
	$(VENV)/bin/python bench/trust_bench.py
	$(VENV)/bin/python bench/federation_accuracy.py
	$(VENV)/bin/python bench/federation_byzantine.py
	$(VENV)/bin/python bench/federation_overhead.py
	$(VENV)/bin/python bench/federation_scale.py
	$(VENV)/bin/python bench/federation_dp_sgd.py
	$(VENV)/bin/python bench/federation_simulation.py
	$(VENV)/bin/python bench/recompute_bench.py
	$(VENV)/bin/python bench/selection_accuracy.py
	$(VENV)/bin/python bench/quantum_selection.py
	$(VENV)/bin/python bench/delivery_bench.py
	nice $(VENV)/bin/python bench/qml_bench.py

fuzz: setup
	FQAI_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FQAI_FUZZ_STEPS=25 brownie test tests/contracts/test_invariants.py --network development
	$(VENV)/bin/python scripts/security/invariants.py --profile fuzz

clean:
	rm -rf build reports .hypothesis .pytest_cache
