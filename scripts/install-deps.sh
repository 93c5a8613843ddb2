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
  dbus-user-session procps iproute2 psmisc strace python3 pkg-config podman
)

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
# Bounded in time so a hung mirror cannot block forever.
timeout 600 apt-get update
timeout 1800 apt-get install -y \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"

# Verify.
still=()
for p in "${missing[@]}"; do is_installed "$p" || still+=("$p"); done
[ "${#still[@]}" -eq 0 ] || die "still missing after install: ${still[*]}"
log "done; installed: ${missing[*]}"
