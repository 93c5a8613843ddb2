#!/usr/bin/env bash
# install-deps.sh — install the Debian 12 packages Bulkhead needs, in three separate sets.
#
#   scripts/install-deps.sh --runtime [--config FILE]   what the binaries and the enabled
#                                                       services need at run time
#   scripts/install-deps.sh --build                     the -dev libraries `swift build` needs
#   scripts/install-deps.sh --test                      the real peers the tests start or call
#   scripts/install-deps.sh --runtime --build           sets combine (make install / make run)
#   scripts/install-deps.sh --dry-run --runtime ...     print present/missing, install nothing
#
# --runtime reads the services from --config FILE (default /etc/bulkhead/bulkhead.yaml, or
# config/bulkhead.example.yaml while that does not exist): a top-level `i2p:` section whose
# `sam:` is on loopback (the default 127.0.0.1:7656) adds i2pd. Always installed: the
# libraries both binaries link (libseccomp2, libcap2, libssh-4, libvectorscan5) and
# iptables + iproute2 (netwatch and i2p run iptables-restore/-save and ip; so does
# `bulkhead-helper cleanup`, which uninstalling runs). router, ssh and audit need nothing more.
#
# Idempotent: packages already installed (dpkg-query Status) are skipped, and
# `apt-get update` only runs when something is missing. Must run as root.
set -euo pipefail

NAME=install-deps
log() { printf '[%s] %s\n' "$NAME" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }

RUNTIME_BASE=(libseccomp2 libcap2 libssh-4 libvectorscan5 iptables iproute2)
BUILD=(libseccomp-dev libcap-dev libssh-dev libvectorscan-dev pkg-config)
# Everything the tests, scripts/ and bench/ start or call: docker and the rootless
# stack, podman, sshd, strace, busybox for tiny images, socat, a private I2P network
# (i2pd), the clean Debian root (mmdebstrap, systemd-nspawn), the package check (lintian),
# the SARIF schema check (python3-jsonschema), the bench's Python tools' venv
# (python3-venv: scripts/bench-python.sh) and the metrics test's Prometheus server and
# promtool (prometheus).
TEST=(
  docker.io rootlesskit uidmap slirp4netns podman openssh-server strace busybox-static socat
  i2pd curl python3 dbus-user-session psmisc procps iptables nftables iproute2
  mmdebstrap systemd-container lintian python3-jsonschema python3-venv prometheus
)
# Installed without their Recommends even in --test mode: prometheus recommends
# prometheus-node-exporter, another daemon no test needs.
NO_RECOMMENDS=(prometheus)
# i2pd in --test mode is only for the private test network (scripts/i2p-testnet.sh), whose
# routers run in a network namespace. Debian's postinst runs `invoke-rc.d i2pd start`: with
# no systemd here that would start a router on the public I2P network. So while installing
# it for the tests, a policy-rc.d (unless the machine has one) denies that start, and
# afterwards the init script's links are disabled and any router it started is stopped.
# In --runtime mode (without --test) i2pd is the SAM bridge the i2p service uses, so
# Debian's service is left as its package sets it up (enabled and started).
# prometheus is treated the same way: its postinst would start a server on *:9090; the
# metrics test runs its own, on loopback, with its own config and storage.
POLICY_RC=/usr/sbin/policy-rc.d
QUIET_DAEMONS=(i2pd prometheus)

want_runtime=0 want_build=0 want_test=0 dry_run=0
CONFIG=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) want_runtime=1 ;;
    --build) want_build=1 ;;
    --test) want_test=1 ;;
    --all) want_runtime=1 want_build=1 want_test=1 ;;
    --config) [ $# -ge 2 ] || die "--config needs a file"; CONFIG=$2; shift ;;
    --dry-run) dry_run=1 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (--runtime, --build, --test, --all, --config FILE, --dry-run; --help)" ;;
  esac
  shift
done
[ $((want_runtime + want_build + want_test)) -gt 0 ] || die "say which set: --runtime, --build, --test or --all (--help)"
[ "$dry_run" -eq 1 ] || [ "$(id -u)" -eq 0 ] || die "must run as root"

# The top-level keys of a YAML file that are not commented out (services are sections).
enabled_sections() { grep -oE '^[a-z][a-z0-9_]*:' "$1" | tr -d ':' | sort -u; }
# The i2p section's `sam:` value, or empty for the default.
i2p_sam() { awk '/^[a-z][a-z0-9_]*:/ { in_i2p = ($0 ~ /^i2p:/) } in_i2p && /^[ \t]+sam:/ { sub(/#.*/, ""); print $2; exit }' "$1"; }

PACKAGES=()
add() { local p q; for p in "$@"; do for q in "${PACKAGES[@]}"; do [ "$p" = "$q" ] && continue 2; done; PACKAGES+=("$p"); done; }

if [ "$want_runtime" -eq 1 ]; then
  if [ -z "$CONFIG" ]; then
    CONFIG=/etc/bulkhead/bulkhead.yaml
    [ -e "$CONFIG" ] || CONFIG="$(cd "$(dirname "$0")/.." && pwd)/config/bulkhead.example.yaml"
  fi
  if [ ! -e "$CONFIG" ]; then
    log "runtime: no $CONFIG yet: reading the example that make install puts there"
    CONFIG="$(cd "$(dirname "$0")/.." && pwd)/config/bulkhead.example.yaml"
  fi
  [ -r "$CONFIG" ] || die "cannot read the config $CONFIG"
  services=$(enabled_sections "$CONFIG" | grep -xE 'router|ssh|audit|netwatch|i2p' | paste -sd' ' || true)
  # router has defaults and is on unless its section says otherwise; the others need a section.
  log "runtime: services in $CONFIG: ${services:-none} (router runs with its defaults)"
  add "${RUNTIME_BASE[@]}"
  if [[ " $services " == *" i2p "* ]]; then
    sam=$(i2p_sam "$CONFIG"); sam=${sam:-127.0.0.1:7656}
    case "$sam" in
      127.* | "[::1]"* | localhost*) log "runtime: i2p uses a local SAM bridge ($sam): adding i2pd"; add i2pd ;;
      *) log "runtime: i2p uses the SAM bridge at $sam: no local I2P router installed" ;;
    esac
  fi
fi
[ "$want_build" -eq 1 ] && add "${BUILD[@]}"
[ "$want_test" -eq 1 ] && add "${TEST[@]}"

export DEBIAN_FRONTEND=noninteractive
# needrestart (if installed) would otherwise prompt/print after apt-get install.
export NEEDRESTART_SUSPEND=1 NEEDRESTART_MODE=a

# dpkg -s exits 0 for a package that is known but not installed (e.g. "deinstall"
# / config-files state) on some dpkg versions, so also check the Status line.
# No pipe: with pipefail, `dpkg -s | grep -q` fails at random when grep exits
# early and dpkg dies of SIGPIPE on a long description (docker.io's is long).
is_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

sets=$( { [ "$want_runtime" -eq 0 ] || echo runtime; [ "$want_build" -eq 0 ] || echo build; [ "$want_test" -eq 0 ] || echo test; } | paste -sd+)
missing=()
for p in "${PACKAGES[@]}"; do
  if is_installed "$p"; then
    log "present: $p"
  else
    log "missing: $p"
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  log "$sets: all ${#PACKAGES[@]} packages already installed; nothing to do"
  exit 0
fi
if [ "$dry_run" -eq 1 ]; then
  log "$sets: dry run: would install ${#missing[@]} package(s): ${missing[*]}"
  exit 0
fi

log "$sets: installing ${#missing[@]} package(s): ${missing[*]}"
new_quiet=(); own_policy=0
if [ "$want_test" -eq 1 ]; then
  for p in "${missing[@]}"; do
    for d in "${QUIET_DAEMONS[@]}"; do [ "$p" = "$d" ] && new_quiet+=("$p"); done
  done
fi
if [ "${#new_quiet[@]}" -gt 0 ] && [ ! -e "$POLICY_RC" ]; then
  log "temporary $POLICY_RC: no service may start during the install (${new_quiet[*]}: i2pd would join the public network)"
  printf '#!/bin/sh\n# bulkhead install-deps.sh: temporary, removed after apt-get\nexit 101\n' >"$POLICY_RC"
  chmod 0755 "$POLICY_RC"
  own_policy=1
  trap 'rm -f "$POLICY_RC"' EXIT
fi
# Bounded in time so a hung mirror cannot block forever. Without --test, only what is
# listed and its Depends (--no-install-recommends); the test peers keep their Recommends
# (podman's catatonit, fuse-overlayfs...), as they always had.
recommends=--no-install-recommends
[ "$want_test" -eq 0 ] || recommends=--install-recommends
with_recommends=() without_recommends=()
for p in "${missing[@]}"; do
  lean=0
  for q in "${NO_RECOMMENDS[@]}"; do [ "$p" = "$q" ] && lean=1; done
  if [ "$lean" -eq 1 ]; then without_recommends+=("$p"); else with_recommends+=("$p"); fi
done
timeout 600 apt-get update
if [ "${#with_recommends[@]}" -gt 0 ]; then
  timeout 1800 apt-get install -y "$recommends" \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${with_recommends[@]}"
fi
if [ "${#without_recommends[@]}" -gt 0 ]; then
  timeout 1800 apt-get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${without_recommends[@]}"
fi

if [ "$own_policy" -eq 1 ]; then rm -f "$POLICY_RC"; trap - EXIT; fi
for daemon in "${new_quiet[@]}"; do
  # Debian's daemon must not run: disable its boot links / unit, stop it if it started anyway.
  update-rc.d "$daemon" disable >/dev/null 2>&1 || true
  # `systemctl disable` edits the unit links offline too (no systemd runs here).
  if command -v systemctl >/dev/null; then systemctl disable "$daemon.service" >/dev/null 2>&1 || true; fi
  if [ -d /run/systemd/system ]; then systemctl stop "$daemon.service" >/dev/null 2>&1 || true; fi
  pid=$(tr -dc '0-9' 2>/dev/null <"/run/$daemon/$daemon.pid" || tr -dc '0-9' 2>/dev/null <"/run/$daemon.pid" || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$daemon" ]; then
    log "stopping the $daemon that Debian's postinst started (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  fi
  log "$daemon installed for the tests; Debian's $daemon service is disabled (the tests start their own)"
done

# Verify.
still=()
for p in "${missing[@]}"; do is_installed "$p" || still+=("$p"); done
[ "${#still[@]}" -eq 0 ] || die "still missing after install: ${still[*]}"
log "$sets: done; installed: ${missing[*]}"
