#!/usr/bin/env bash
# install-deps.sh — install the Debian 12 packages Bulkhead's build and its
# real-parts test environment need. Idempotent: packages already installed
# (checked with dpkg -s) are skipped, and `apt-get update` only runs when
# something is missing. Must run as root.
set -euo pipefail

NAME=install-deps
log() { printf '[%s] %s\n' "$NAME" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }

PACKAGES=(
  docker.io rootlesskit uidmap slirp4netns iptables nftables socat
  libseccomp-dev libcap-dev libssh-dev libvectorscan-dev busybox-static openssh-server curl
  dbus-user-session procps iproute2 psmisc strace python3 pkg-config podman i2pd
)
# i2pd is only for the private test network (scripts/i2p-testnet.sh), whose routers run in a
# network namespace. Debian's postinst runs `invoke-rc.d i2pd start`: with no systemd here that
# would start a router on the public I2P network. So while installing it, a policy-rc.d (unless
# the machine has one) denies that start, and afterwards the init script's links are disabled
# and any router it started anyway is stopped.
POLICY_RC=/usr/sbin/policy-rc.d

[ "$(id -u)" -eq 0 ] || die "must run as root"

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
  log "all ${#PACKAGES[@]} packages already installed; nothing to do"
  exit 0
fi

log "installing ${#missing[@]} package(s): ${missing[*]}"
new_i2pd=0; own_policy=0
for p in "${missing[@]}"; do [ "$p" = i2pd ] && new_i2pd=1; done
if [ "$new_i2pd" -eq 1 ] && [ ! -e "$POLICY_RC" ]; then
  log "temporary $POLICY_RC: no service may start during the install (i2pd would join the public network)"
  printf '#!/bin/sh\n# bulkhead install-deps.sh: temporary, removed after apt-get\nexit 101\n' >"$POLICY_RC"
  chmod 0755 "$POLICY_RC"
  own_policy=1
  trap 'rm -f "$POLICY_RC"' EXIT
fi
# Bounded in time so a hung mirror cannot block forever.
timeout 600 apt-get update
timeout 1800 apt-get install -y \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"

if [ "$own_policy" -eq 1 ]; then rm -f "$POLICY_RC"; trap - EXIT; fi
if [ "$new_i2pd" -eq 1 ]; then
  # Debian's router must not run: disable its boot links / unit, stop it if it started anyway.
  update-rc.d i2pd disable >/dev/null 2>&1 || true
  # `systemctl disable` edits the unit links offline too (no systemd runs here).
  if command -v systemctl >/dev/null; then systemctl disable i2pd.service >/dev/null 2>&1 || true; fi
  if [ -d /run/systemd/system ]; then systemctl stop i2pd.service >/dev/null 2>&1 || true; fi
  pid=$(tr -dc '0-9' 2>/dev/null </run/i2pd/i2pd.pid || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = i2pd ]; then
    log "stopping the i2pd that Debian's postinst started (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  fi
  log "i2pd installed; Debian's i2pd service is disabled (the tests start their own routers)"
fi

# Verify.
still=()
for p in "${missing[@]}"; do is_installed "$p" || still+=("$p"); done
[ "${#still[@]}" -eq 0 ] || die "still missing after install: ${still[*]}"
log "done; installed: ${missing[*]}"
