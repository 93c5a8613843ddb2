# scripts/proc-lib.sh — shared by testenv.sh, test-sshd.sh and i2p-testnet.sh (sourced;
# set NAME first): the test environment's directories, their log lines, one lock per
# script, and the process bookkeeping daemons started by hand need here (no systemd
# on this machine).
RUN_DIR=/run/bulkhead-test
STATE_DIR=/var/lib/bulkhead-test

log()  { printf '[%s] %s\n' "$NAME" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$NAME" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }
require_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }
# hold_lock FILE SECONDS: serialise runs of this script; the lock is held until it exits.
hold_lock() {
  exec {_lock_fd}>"$1"
  flock -w "$2" "$_lock_fd" || die "another $(basename "$0") is running (lock $1)"
}
read_pid()  { [ -r "$1" ] && tr -dc '0-9' <"$1" || true; }
proc_comm() { cat "/proc/$1/comm" 2>/dev/null || true; }

# True if PID exists and is not a zombie. QUIRK: PID 1 here (process_api, not
# an init) reaps re-parented orphans only about once a second, so a killed
# daemon lingers as a zombie for a while and `kill -0` alone would say "alive".
pid_alive() {
  local st
  [ -n "${1:-}" ] || return 1
  { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}

# All descendants of PID (children first-level onwards), one per line.
descendants() {
  local table
  table=$(ps -eo pid=,ppid=)
  awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      n = 1; want[root] = 1; changed = 1
      while (changed) {
        changed = 0
        for (i in pids) { p = pids[i]
          if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 } }
      }
      for (p in want) if (p != root) print p
    }' <<<"$table"
}

# wait_gone SECS PID... — true when all PIDs have exited within SECS.
wait_gone() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs)) p any
  while :; do
    any=0
    for p in "$@"; do pid_alive "$p" && any=1; done
    [ "$any" -eq 0 ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.3
  done
}

# Close every fd above 2 in the current (sub)shell. Daemons started from here
# must not inherit the lock fd (it would keep the lock held forever) nor pipes
# of whoever called us (`testenv.sh up | tee` would never see EOF).
close_inherited_fds() {
  local f fd fds=()
  for f in "/proc/$BASHPID/fd/"*; do fds+=("${f##*/}"); done
  for fd in "${fds[@]}"; do
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
  done
}
