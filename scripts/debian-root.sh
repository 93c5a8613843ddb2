#!/usr/bin/env bash
# debian-root.sh — a clean Debian 12 root with systemd, for the tests that need a real
# systemd as PID 1 (systemd-nspawn -b) or a clean system to install the .deb into.
#
#   scripts/debian-root.sh path          print the cached root's path, building it first
#                                        when it is missing or its package list changed
#   scripts/debian-root.sh copy DIR      a fresh writable copy of the cached root in DIR
#                                        (tests boot and change copies, never the cache)
#   scripts/debian-root.sh rebuild       build the cache again
#
# Built with mmdebstrap from Debian's packages (about 20 s plus the download), cached in
# $BULKHEAD_DEBIAN_ROOT (default /var/cache/bulkhead-test/debian-root). The root has only
# what Bulkhead needs at run time plus systemd and dbus: anything a test finds installed
# there came from the package or the test itself. Must run as root.
set -euo pipefail

NAME=debian-root
log() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }

CACHE=${BULKHEAD_DEBIAN_ROOT:-/var/cache/bulkhead-test/debian-root}
SUITE=bookworm
MIRROR=${BULKHEAD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# systemd as PID 1, dbus for systemctl, and the run-time libraries of Bulkhead's binaries
# and services (netwatch's iptables, the helper's ip(8)) so that booting needs no network.
INCLUDE=systemd,systemd-sysv,dbus,iproute2,iptables,nftables,libseccomp2,libcap2,libssh-4,libvectorscan5,ca-certificates,procps
STAMP="$SUITE minbase $INCLUDE"

[ "$(id -u)" -eq 0 ] || die "must run as root"

build() {
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (make test installs it: scripts/install-deps.sh --test)"
  local tmp="$CACHE.new"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$CACHE")"
  log "building $CACHE with mmdebstrap ($SUITE, minbase, $INCLUDE)"
  timeout 900 mmdebstrap --quiet --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$MIRROR" >&2 ||
    { rm -rf "$tmp"; die "mmdebstrap failed"; }
  # nspawn's -b needs a machine id; an empty one is filled at first boot of each copy.
  : >"$tmp/etc/machine-id"
  echo "$STAMP" >"$tmp/.bulkhead-root"
  rm -rf "$CACHE"
  mv "$tmp" "$CACHE"
  log "cached root ready: $CACHE ($(du -sh "$CACHE" | cut -f1))"
}

ensure() {
  if [ "$(cat "$CACHE/.bulkhead-root" 2>/dev/null)" != "$STAMP" ]; then build; fi
}

case "${1:-path}" in
  path) ensure; echo "$CACHE" ;;
  copy)
    dest=${2:?usage: debian-root.sh copy DIR}
    [ ! -e "$dest" ] || [ -z "$(ls -A "$dest")" ] || die "$dest exists and is not empty"
    ensure
    mkdir -p "$dest"
    cp -a "$CACHE/." "$dest/"
    echo "$dest"
    ;;
  rebuild) build; echo "$CACHE" ;;
  -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (path, copy DIR, rebuild; --help)" ;;
esac
