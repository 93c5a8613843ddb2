#!/usr/bin/env bash
# uninstall.sh — undo `make install` (run by `make uninstall`; the .deb has its own scripts).
#
#   scripts/uninstall.sh [--prefix DIR] [--config FILE] [--unit-dir DIR] [--purge]
#
# In this order:
#   1. stops and disables bulkhead-helper.service if systemd runs and the unit is installed;
#   2. if DIR/bin/bulkhead-helper exists: `bulkhead-helper cleanup --force --config FILE`
#      removes every chain, jump, rule, link, ip rule and stale socket Bulkhead owns
#      (a config that does not exist is replaced by the built-in defaults). If it fails,
#      nothing else is removed (exit 1), so it can be run again;
#   3. removes DIR/bin/bulkhead-helper and DIR/bin/bulkhead-agent, and the unit and its
#      drop-ins from the unit directory (default /etc/systemd/system);
#   4. only with --purge: FILE's directory (/etc/bulkhead), /var/lib/bulkhead,
#      /var/log/bulkhead and the accounts bulkhead-helper, bulkhead, bulkhead-netfilter.
# Defaults: --prefix /usr/local, --config /etc/bulkhead/bulkhead.yaml. Idempotent: what is
# already gone is skipped. A helper running outside systemd (`make run`) is not killed:
# stop it first. Must run as root.
set -euo pipefail

NAME=uninstall
log() { printf '[%s] %s\n' "$NAME" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }

PREFIX=/usr/local
CONFIG=/etc/bulkhead/bulkhead.yaml
UNITDIR=/etc/systemd/system
PURGE=0
STATEDIR=/var/lib/bulkhead
LOGDIR=/var/log/bulkhead
ACCOUNTS=(bulkhead-helper bulkhead bulkhead-netfilter)
UNIT=bulkhead-helper.service

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
    --config) CONFIG=${2:?--config needs a file}; shift ;;
    --unit-dir) UNITDIR=${2:?--unit-dir needs a directory}; shift ;;
    --purge) PURGE=1 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help)" ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || die "must run as root"
HELPER=$PREFIX/bin/bulkhead-helper

# 1. The service, when systemd runs it.
if [ -e "$UNITDIR/$UNIT" ] && [ -d /run/systemd/system ]; then
  log "stopping and disabling $UNIT"
  timeout 120 systemctl disable --now "$UNIT" || die "systemctl disable --now $UNIT failed"
fi

# 2. Netfilter state, links, ip rules and sockets.
if [ -x "$HELPER" ]; then
  cfg=$CONFIG tmp=""
  if [ ! -e "$cfg" ]; then
    tmp=$(mktemp); cfg=$tmp
    log "$CONFIG does not exist: cleanup uses the built-in defaults"
  fi
  log "$HELPER cleanup --force --config $cfg"
  status=0
  timeout 300 "$HELPER" cleanup --force --config "$cfg" || status=$?
  [ -z "$tmp" ] || rm -f "$tmp"
  [ "$status" -eq 0 ] || die "cleanup failed (exit $status): nothing was removed; fix the cause and run again"
else
  log "no $HELPER: no cleanup"
fi

# 3. Binaries and unit.
for f in "$PREFIX/bin/bulkhead-helper" "$PREFIX/bin/bulkhead-agent" "$UNITDIR/$UNIT" "$UNITDIR/$UNIT.d/netwatch.conf"; do
  if [ -e "$f" ] || [ -L "$f" ]; then rm -f "$f" && log "removed $f"; fi
done
if [ -d "$UNITDIR/$UNIT.d" ]; then rmdir "$UNITDIR/$UNIT.d" 2>/dev/null && log "removed $UNITDIR/$UNIT.d" || log "kept $UNITDIR/$UNIT.d: it holds other drop-ins"; fi
[ ! -d /run/systemd/system ] || systemctl daemon-reload || true

# 4. Configuration, state, logs and accounts.
if [ "$PURGE" -eq 1 ]; then
  for d in "$(dirname "$CONFIG")" "$STATEDIR" "$LOGDIR"; do
    if [ -e "$d" ]; then rm -rf "$d" && log "removed $d"; fi
  done
  for u in "${ACCOUNTS[@]}"; do
    if id -u "$u" >/dev/null 2>&1; then
      if pgrep -u "$u" >/dev/null 2>&1; then die "account $u still runs processes ($(pgrep -u "$u" | paste -sd' ')): stop them first"; fi
      userdel "$u" && log "removed account $u"
    fi
    if getent group "$u" >/dev/null; then groupdel "$u" && log "removed group $u"; fi
  done
else
  log "kept $(dirname "$CONFIG"), $STATEDIR, $LOGDIR and the accounts (PURGE=1 removes them)"
fi
log "done"
