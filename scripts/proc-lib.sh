# scripts/proc-lib.sh — the one shell library of processes and users (sourced): by
# testenv.sh, test-sshd.sh, i2p-testnet.sh and i2p-canary.sh (set NAME first), by
# Tests/integration/lib.sh (so by every integration test) and by the bench scripts.
# It holds the test environment's directories, log lines, one lock per script, and
# the process bookkeeping daemons started by hand need here (no systemd on this machine):
#   as_user USER CMD...     CMD as USER (runuser) in a clean environment: HOME, USER,
#                           LOGNAME, PATH=$CLEAN_PATH, LANG=C.UTF-8, XDG_RUNTIME_DIR
#   as_user_argv USER       the same as a command prefix, in the array AS_USER_ARGV
#                           (for `exec`, setsid or `&` with the real pid in $!)
#   uid_of USER / user_home USER
#   pid_alive PID...        true if one of the PIDs exists and is not a zombie
#   wait_gone SECS PID...   true once none of the PIDs is alive (within SECS)
#   kill_pids LABEL GRACE PID...  SIGTERM to the live PIDs, SIGKILL to what is left after
#                           GRACE s (a log line for each; a warning if any survive)
#   wait_for SECS CMD...    run CMD (quiet) until it succeeds, every $WAIT_FOR_INTERVAL
#                           s (0.2); false once SECS have passed
#   wait_sock SOCK [SECS]   wait_for a Unix socket (10 s); says so on stderr if none
#   await_daemon NAME PID LOG SECS CHECK...  wait_for CHECK while PID lives; else die
#   median / median_of STR  the median of the numbers on stdin / of STR's words (nan if
#                           none): what the bench scripts report
RUN_DIR=/run/bulkhead-test
STATE_DIR=/var/lib/bulkhead-test
# The PATH of the clean environments (as_user; daemons started by hand).
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log()  { printf '[%s] %s\n' "${NAME:-${0##*/}}" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "${NAME:-${0##*/}}" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "${NAME:-${0##*/}}" "$*" >&2; exit 1; }
require_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }
# hold_lock FILE SECONDS: serialise runs of this script; the lock is held until it exits.
hold_lock() {
  exec {_lock_fd}>"$1"
  flock -w "$2" "$_lock_fd" || die "another $(basename "$0") is running (lock $1)"
}
read_pid()  { [ -r "$1" ] && tr -dc '0-9' <"$1" || true; }
proc_comm() { cat "/proc/$1/comm" 2>/dev/null || true; }

# True if one of the PIDs exists and is not a zombie (empty PIDs are not alive).
# QUIRK: PID 1 here (process_api, not an init) reaps re-parented orphans only about
# once a second, so a killed daemon lingers as a zombie for a while and `kill -0`
# alone would say "alive".
pid_alive() {
  local p st
  for p in "$@"; do
    [ -n "$p" ] || continue
    { read -r st <"/proc/$p/stat"; } 2>/dev/null || continue
    st=${st##*) }
    [ "${st%% *}" != Z ] && return 0
  done
  return 1
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
  local deadline=$((SECONDS + $1)); shift
  while pid_alive "$@"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.3
  done
  return 0
}

# kill_pids LABEL GRACE PID... — SIGTERM, wait up to GRACE s, then SIGKILL. By pid only.
kill_pids() {
  local label=$1 grace=$2; shift 2
  local live=() p
  for p in "$@"; do pid_alive "$p" && live+=("$p"); done
  [ "${#live[@]}" -eq 0 ] && return 0
  log "stopping $label: pids ${live[*]}"
  kill -TERM "${live[@]}" 2>/dev/null || true
  if ! wait_gone "$grace" "${live[@]}"; then
    log "$label still running after ${grace}s; sending SIGKILL"
    kill -KILL "${live[@]}" 2>/dev/null || true
    wait_gone 10 "${live[@]}" || warn "$label: some pids survived SIGKILL: ${live[*]}"
  fi
}

# wait_for SECS CMD... — run CMD (output discarded) until it succeeds; false once SECS
# have passed. CMD may be a shell function; it runs in this shell. The poll interval
# is $WAIT_FOR_INTERVAL seconds (0.2); a script polling heavier commands sets it once.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep "${WAIT_FOR_INTERVAL:-0.2}"
  done
}

# wait_sock SOCK [SECS] — wait_for the Unix socket SOCK (10 s); a line on stderr if none.
wait_sock() {
  wait_for "${2:-10}" test -S "$1" || { echo "no socket $1 after ${2:-10} s" >&2; return 1; }
}

# median — the median of the numbers on stdin, one a line; "nan" if there is none.
median() {
  sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
# median_of "N N ..." — the median of the words of one string (nan if there is none).
median_of() { tr ' ' '\n' <<<"$1" | { grep . || true; } | median; }

# await_daemon NAME PID LOG SECS CHECK...: wait until CHECK succeeds (every
# $WAIT_FOR_INTERVAL s); die with LOG's tail if PID exits first or SECS pass.
await_daemon() {
  local name=$1 pid=$2 logfile=$3 limit=$4; shift 4
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$pid"; then
      tail -n 25 "$logfile" >&2 || true
      die "$name exited during start-up (log: $logfile)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 25 "$logfile" >&2 || true
      die "$name did not answer within ${limit}s (log: $logfile)"
    fi
    sleep "${WAIT_FOR_INTERVAL:-0.2}"
  done
}

uid_of()    { id -u "$1"; }
user_home() { getent passwd "$1" | cut -d: -f6; }

# as_user_argv USER — sets AS_USER_ARGV to the command prefix that runs a command as
# USER in a clean environment (env -i): HOME, USER, LOGNAME, PATH=$CLEAN_PATH,
# LANG=C.UTF-8 and XDG_RUNTIME_DIR=/run/user/UID. runuser stays the parent of CMD.
as_user_argv() {
  local uid
  uid=$(uid_of "$1") || return 1
  AS_USER_ARGV=(runuser -u "$1" -- env -i HOME="$(user_home "$1")" USER="$1" LOGNAME="$1"
    PATH="$CLEAN_PATH" LANG=C.UTF-8 XDG_RUNTIME_DIR="/run/user/$uid")
}

# as_user USER CMD... — run CMD as USER (as_user_argv's environment).
as_user() {
  local AS_USER_ARGV
  as_user_argv "$1" || return 1
  shift
  "${AS_USER_ARGV[@]}" "$@"
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
