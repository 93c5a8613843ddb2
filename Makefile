# Bulkhead. As root on Debian 12, the only two set-up commands are:
#   make run    install what is missing, build, install, start helper + agent
#   make test   install what is missing, build, run every test with real parts
SHELL := /bin/bash
PREFIX ?= /usr/local
CONFIG ?= /etc/bulkhead/bulkhead.yaml
SWIFT ?= swift
DEBUG_BIN = $(shell $(SWIFT) build --show-bin-path 2>/dev/null)
RELEASE_BIN = $(shell $(SWIFT) build -c release --show-bin-path 2>/dev/null)
FUZZ_SECONDS ?= 5
# libFuzzer on the IPC decoders: `make fuzz` runs FUZZ_TIME s, `make test` FUZZ_SMOKE_TIME s.
FUZZ_TIME ?= 600
FUZZ_SMOKE_TIME ?= 15
# The agent is exec'd as the unprivileged `bulkhead` account, which may not be able
# to traverse the checkout (e.g. under /root): tests and bench run staged copies.
STAGE = /run/bulkhead-test/bin

.PHONY: help deps deps-runtime deps-build deps-test accounts revision build release install uninstall run test unit-test fuzz fuzz-smoke integration-test bench testenv-up testenv-down deb clean

help:
	@echo "make run     install run-time + build deps, build (release), install to $(PREFIX)/bin, start the helper with $(CONFIG)"
	@echo "make test    install all deps (+ test peers), start the test environment (dockerd, rootless daemons, podman, sshd), build the .deb, run all tests"
	@echo "             (the i2p tests start a private I2P network, scripts/i2p-testnet.sh, and a leak canary,"
	@echo "             scripts/i2p-canary.sh; make testenv-down stops all)"
	@echo "make bench   router vs direct socket and socat; audit engine vs detect-secrets; audit proxy vs direct socket and a splice relay;"
	@echo "             ssh proxy vs docker's ssh://;"
	@echo "             netwatch: batched iptables-restore commits vs one iptables exec per rule (in throwaway netns);"
	@echo "             i2p: 64 MiB and first byte, plugin container vs i2pd's SOCKS proxy on the private I2P network"
	@echo "make install build and install binaries, the config (if missing) and the accounts"
	@echo "             (installs only run-time packages for the services in $(CONFIG), and the -dev libraries)"
	@echo "make uninstall  bulkhead-helper cleanup --force, then remove the binaries from $(PREFIX)/bin and the unit;"
	@echo "             PURGE=1 also removes /etc/bulkhead, /var/lib/bulkhead, /var/log/bulkhead and the accounts"
	@echo "make deb     build $(DEB_DIR)/bulkhead_<version>-1_amd64.deb (static Swift runtime; scripts/build-deb.sh)"
	@echo "make deps-runtime | deps-build | deps-test   one set of Debian packages (scripts/install-deps.sh --help)"
	@echo "make fuzz    libFuzzer on the IPC decoders for FUZZ_TIME=$(FUZZ_TIME) s (build in .build-fuzz)"

# Debian packages, in three sets (scripts/install-deps.sh --help): run time (for the
# services enabled in $(CONFIG)), build (-dev libraries) and test peers.
deps: deps-runtime deps-build deps-test

deps-runtime:
	@scripts/install-deps.sh --runtime --config $(CONFIG)

deps-build:
	@scripts/install-deps.sh --build

deps-test:
	@scripts/install-deps.sh --test

# The helper drops to bulkhead-helper; the agent runs as bulkhead; netwatch's netfilter
# executor runs as bulkhead-netfilter. All are system accounts.
accounts:
	@for u in bulkhead-helper bulkhead bulkhead-netfilter; do \
	  id -u $$u >/dev/null 2>&1 || { useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $$u && echo "created account $$u"; }; \
	done

# The git revision goes into the binaries' --version through an untracked header;
# it is rewritten (and its one C file touched) only when the revision changes.
REVISION_H = Sources/CBuildInfo/git_revision.h
revision:
	@line="#define BULKHEAD_GIT_REVISION \"$$(git describe --always --dirty 2>/dev/null || echo unknown)\""; \
	[ "$$(cat $(REVISION_H) 2>/dev/null)" = "$$line" ] || { echo "$$line" > $(REVISION_H); touch Sources/CBuildInfo/CBuildInfo.c; }

build: deps-build revision
	$(SWIFT) build

release: deps-build revision
	$(SWIFT) build -c release

install: deps-runtime release accounts
	install -d $(PREFIX)/bin /etc/bulkhead
	install -m 0755 $(RELEASE_BIN)/bulkhead-helper $(RELEASE_BIN)/bulkhead-agent $(PREFIX)/bin/
	@[ -e $(CONFIG) ] || { install -m 0644 config/bulkhead.example.yaml $(CONFIG) && echo "installed default config $(CONFIG)"; }
	@# The audit service's log_file: written by the agent, so owned by its account.
	install -d -m 0750 -o bulkhead -g adm /var/log/bulkhead

# Undo `make install`: bulkhead-helper cleanup --force (if the helper is installed), then
# the binaries and the unit in UNITDIR; PURGE=1 also the config directory, state, logs and
# the accounts. scripts/uninstall.sh --help.
UNITDIR ?= /etc/systemd/system
PURGE ?= 0
uninstall:
	scripts/uninstall.sh --prefix $(PREFIX) --config $(CONFIG) --unit-dir $(UNITDIR) $(if $(filter 1,$(PURGE)),--purge)

# The Debian package: a static-Swift release build, man pages, completions, dpkg-deb.
# scripts/build-deb.sh --help. The .deb goes to DEB_DIR.
DEB_DIR ?= .build/deb
deb: deps-build revision
	scripts/build-deb.sh --out $(DEB_DIR)

run: install
	@echo "starting bulkhead-helper (Ctrl-C stops helper and agent)"
	exec $(PREFIX)/bin/bulkhead-helper --config $(CONFIG)

testenv-up: deps-runtime deps-test accounts
	scripts/testenv.sh up

# The i2p canary and the private I2P network first: `testenv.sh down` empties
# /run/bulkhead-test (their pid files). `Tests/integration/*_test.sh` includes i2p_test.sh.
testenv-down:
	scripts/i2p-canary.sh down
	scripts/i2p-testnet.sh down
	scripts/testenv.sh down

unit-test: build testenv-up
	BULKHEAD_FUZZ_SECONDS=$(FUZZ_SECONDS) $(SWIFT) test

fuzz: deps-build
	scripts/fuzz-ipc.sh $(FUZZ_TIME)

fuzz-smoke: deps-build
	scripts/fuzz-ipc.sh $(FUZZ_SMOKE_TIME)

integration-test: build testenv-up
	install -d -m 0755 $(STAGE) && install -m 0755 $(DEBUG_BIN)/bulkhead-helper $(DEBUG_BIN)/bulkhead-agent $(STAGE)/
	@status=0; for t in Tests/integration/*_test.sh; do \
	  echo "### $$t"; BULKHEAD_BIN_DIR=$(STAGE) BULKHEAD_DEB_DIR=$(abspath $(DEB_DIR)) bash $$t || status=1; \
	done; exit $$status

# `deb` before the integration tests: deb_test.sh installs that .deb into a clean root
# (it builds one itself only when run alone without a fresh one).
test: unit-test fuzz-smoke deb integration-test

bench: release testenv-up accounts
	install -d -m 0755 $(STAGE) && install -m 0755 $(RELEASE_BIN)/bulkhead-helper $(RELEASE_BIN)/bulkhead-agent $(STAGE)/
	BULKHEAD_BIN_DIR=$(STAGE) bash bench/router_bench.sh
	BULKHEAD_BIN_DIR=$(STAGE) bash bench/audit_bench.sh
	BULKHEAD_BIN_DIR=$(STAGE) bash bench/audit_proxy_bench.sh
	BULKHEAD_BIN_DIR=$(STAGE) bash bench/ssh_bench.sh
	BULKHEAD_BIN_DIR=$(STAGE) bash bench/netwatch_bench.sh
	BULKHEAD_BIN_DIR=$(STAGE) bash bench/i2p_bench.sh

clean:
	rm -rf .build .build-fuzz .build-deb
