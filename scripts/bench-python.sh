#!/usr/bin/env bash
# bench-python.sh — the Python tools `make bench` compares against, in their own venv:
# detect-secrets and trufflehog3 from PyPI, pinned; and docker-py, the client library
# the ssh test drives (sshd's MaxSessions fan-out). Debian's python3 refuses `pip install`
# into the system (PEP 668), so they live in $BULKHEAD_BENCH_VENV (default
# /var/cache/bulkhead-test/bench-venv), made once with python3-venv. Prints the venv's bin
# directory. Idempotent: a venv with every pinned version is left as it is.
set -euo pipefail
VENV=${BULKHEAD_BENCH_VENV:-/var/cache/bulkhead-test/bench-venv}
PINS=(detect-secrets==1.5.0 trufflehog3==3.0.10 docker==7.1.0)
log() { printf '[bench-python] %s\n' "$*" >&2; }
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
have() { "$VENV/bin/python" -m pip freeze 2>/dev/null | grep -qixF "$1"; }
ready=1
for pin in "${PINS[@]}"; do have "$pin" || ready=0; done
if [ "$ready" = 0 ]; then
  log "creating $VENV with ${PINS[*]}"
  mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV" || { log "python3 -m venv failed (install python3-venv: scripts/install-deps.sh --test)"; exit 1; }
  timeout 600 "$VENV/bin/python" -m pip install -q "${PINS[@]}" >&2
fi
echo "$VENV/bin"
