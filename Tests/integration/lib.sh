# Tests/integration/lib.sh — tiny bash test harness for Bulkhead integration tests.
#
# Usage (in a test script, run as root):
#   #!/usr/bin/env bash
#   set -uo pipefail            # not -e: failing checks must not abort the script
#   . "$(dirname "$0")/lib.sh"
#   check "alice can list" as_user alice docker -H "unix:///run/user/$(uid_of alice)/docker.sock" ps
#   check_eq "answer" 42 "$(compute)"
#   summary                     # prints "N passed, N failed"; non-zero if any failed
#
# Functions:
#   pass NAME                    record a pass
#   fail NAME DETAIL             record a failure with a detail line
#   check NAME CMD...            pass if CMD exits 0, else fail with its exit code and stderr tail
#   check_eq NAME EXPECTED ACTUAL
#   check_contains NAME NEEDLE HAYSTACK
#   summary                      final line "N passed, N failed"; returns 1 if any failed
#   agent_of HELPER_PID          print the pid of the agent that helper's spawner runs
#                                (the spawner is the helper's child running as bulkhead)
#   agent_pid                    agent_of "$helper_pid" (nothing when there is no helper)
#   stop_helper [NAME]           SIGTERM to $helper_pid (SIGKILL after 30 s), reap it, clear
#                                helper_pid; sets STOP_MS. With NAME it also checks that it
#                                exited by itself, with status 0
#   with_timeout SECS CMD...     run CMD (also a shell function) killed after SECS seconds;
#                                exit status 124 on timeout
#   need_root                    exit 2 ("run as root" on stderr) unless run as root
#   restart_test_dockerd PIDFILE TESTENV LOG CMD...
#                                SIGTERM to the rootful test dockerd (pid in PIDFILE), then
#                                `TESTENV up` (output to LOG) starts it again; checks that it
#                                stops, that the up succeeds and that CMD (`dk version`) answers
#   write_i2p_config FILE SAM STATE_DIR PLUGIN_SOCK DOCKER_SOCK QUANTITY CONVERGE [METRICS]
#                                the helper's config for the i2p plugin alone on the private
#                                I2P network (scripts/i2p-testnet.sh): tunnels of length 0,
#                                QUANTITY each way; with METRICS a metrics.listen; mode 644
#
# Variables: REPO, the checkout's root (ROOT: the same, the name some tests use).
#
# From scripts/proc-lib.sh (sourced here; the one copy shared with scripts/ and bench/):
#   as_user USER CMD...          run CMD as USER (runuser) in a clean environment: HOME,
#                                USER, LOGNAME, PATH, LANG=C.UTF-8, XDG_RUNTIME_DIR=/run/user/UID
#   uid_of USER                  print USER's numeric uid
#   pid_alive PID...             true if one of the PIDs exists and is not a zombie
#   wait_gone SECS PID...        true once none of the PIDs is alive (within SECS)
#   wait_for SECS CMD...         retry CMD (output discarded; also a shell function) every
#                                $WAIT_FOR_INTERVAL s (0.2) until it succeeds; false after SECS
#   wait_sock SOCK [SECS]        wait_for the Unix socket SOCK (10 s)
#
# Tests with a `cleanup` function (it must be safe to run more than once):
#   guard_exit                   a run that stops before `finish` runs cleanup and is a
#                                failure ("aborted"); INT and TERM end the run
#   precondition NAME CMD...     pass, or fail with CMD's output tail and end the run
#   keep_failed_logs DIR FILE... after a failure, copy FILEs to DIR for a post-mortem
#   finish                       cleanup, then summary (the test's last line)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034  # for the tests that source this
ROOT=$REPO
# shellcheck source=scripts/proc-lib.sh
source "$REPO/scripts/proc-lib.sh"

_TL_PASSED=0
_TL_FAILED=0
_TL_FAILED_NAMES=()

pass() {
  _TL_PASSED=$((_TL_PASSED + 1))
  printf 'PASS: %s\n' "$1"
}

fail() {
  _TL_FAILED=$((_TL_FAILED + 1))
  _TL_FAILED_NAMES+=("$1")
  printf 'FAIL: %s\n' "$1"
  [ -n "${2:-}" ] && printf '      %s\n' "$2" | sed '2,$s/^/      /'
  return 0
}

check() {
  local name=$1; shift
  local errf rc=0
  errf=$(mktemp)
  "$@" >/dev/null 2>"$errf" || rc=$?
  if [ "$rc" -eq 0 ]; then
    pass "$name"
  else
    fail "$name" "exit $rc: $*"$'\n'"$(tail -n 5 "$errf")"
  fi
  rm -f "$errf"
  return 0
}

check_eq() {
  if [ "$2" == "$3" ]; then
    pass "$1"
  else
    fail "$1" "expected [$2], got [$3]"
  fi
}

check_contains() {
  if [[ "$3" == *"$2"* ]]; then
    pass "$1"
  else
    fail "$1" "[$2] not found in [$(printf '%s' "$3" | tail -c 400)]"
  fi
}

summary() {
  if [ "$_TL_FAILED" -gt 0 ]; then
    printf 'failed: %s\n' "${_TL_FAILED_NAMES[*]}"
  fi
  printf '%d passed, %d failed\n' "$_TL_PASSED" "$_TL_FAILED"
  [ "$_TL_FAILED" -eq 0 ]
}

# External commands go through timeout(1); shell functions/builtins run in a
# background subshell that is killed (with its descendants) when time is up.
with_timeout() {
  local secs=$1; shift
  if [ "$(type -t "$1")" = file ]; then
    timeout --kill-after=5 "$secs" "$@"
    return
  fi
  local pid rc=0 deadline tree=()
  ( "$@" ) &
  pid=$!
  deadline=$(( ${EPOCHREALTIME/./} + secs * 1000000 ))   # microseconds; integer SECS
  while pid_alive "$pid"; do
    if [ "${EPOCHREALTIME/./}" -ge "$deadline" ]; then
      mapfile -t tree < <(echo "$pid"; descendants "$pid")   # descendants: proc-lib.sh
      kill -TERM "${tree[@]}" 2>/dev/null
      for _ in 1 2 3 4 5 6 7 8 9 10; do pid_alive "${tree[@]}" || break; sleep 0.1; done
      kill -KILL "${tree[@]}" 2>/dev/null
      wait "$pid" 2>/dev/null
      return 124
    fi
    sleep 0.1
  done
  wait "$pid" || rc=$?
  return "$rc"
}

need_root() { [ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 2; }; }

agent_of() {
  local spawner
  spawner=$(pgrep -P "$1" -u bulkhead | head -1)
  [ -n "$spawner" ] && pgrep -P "$spawner" -x bulkhead-agent | head -1
}

# The helper a test started last is $helper_pid (the test sets it; empty when none).
agent_pid() { [ -n "${helper_pid:-}" ] && agent_of "$helper_pid"; }

STOP_MS=0
stop_helper() {
  local name=${1:-} code=0 t0=${EPOCHREALTIME/./}
  [ -n "${helper_pid:-}" ] || return 0
  kill -TERM "$helper_pid" 2>/dev/null
  if ! wait_gone 30 "$helper_pid"; then
    [ -n "$name" ] && fail "$name: helper exits on SIGTERM" "still running after 30s; killing it"
    kill -KILL "$helper_pid" 2>/dev/null
  fi
  wait "$helper_pid" 2>/dev/null || code=$?
  STOP_MS=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
  helper_pid=
  [ -z "$name" ] || check_eq "$name: helper exits 0 on SIGTERM (took ${STOP_MS} ms)" 0 "$code"
}

restart_test_dockerd() {
  local pidfile=$1 testenv=$2 uplog=$3; shift 3
  local dpid rc=0
  dpid=$(tr -dc 0-9 <"$pidfile")
  kill -TERM "$dpid"
  check "the rootful dockerd stops" wait_gone 90 "$dpid"   # a zombie (PID 1 reaps late) counts as gone
  with_timeout 300 bash "$testenv" up >"$uplog" 2>&1 || rc=$?
  check_eq "scripts/testenv.sh up restarts it" 0 "$rc"
  check "the restarted dockerd answers" wait_for 30 "$@"
}

write_i2p_config() {
  local file=$1 sam=$2 state=$3 plugin_sock=$4 docker_sock=$5 quantity=$6 converge=$7 metrics=${8:-}
  {
    cat <<YAML
router:
  enabled: false
i2p:
  enabled: true
  sam: $sam
  subnets: [10.231.0.0/16]
  inbound_length: 0
  outbound_length: 0
  inbound_quantity: $quantity
  outbound_quantity: $quantity
  state_dir: $state
  converge_interval: $converge
  plugin_socket: $plugin_sock
  docker_socket: $docker_sock
YAML
    [ -z "$metrics" ] || printf 'metrics:\n  listen: %s\n' "$metrics"
  } >"$file"
  chmod 644 "$file"
}

_TL_FINISHED=0
_tl_on_exit() {
  local rc=$?
  if [ "$_TL_FINISHED" = 0 ]; then
    cleanup
    fail "the test ran to its end" "aborted (exit status $rc)"
    summary
    exit 1
  fi
  [ "$_TL_FAILED" -gt 0 ] && rc=1
  exit "$rc"
}

guard_exit() {
  trap _tl_on_exit EXIT
  trap 'exit 130' INT TERM
}

precondition() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then
    pass "precondition: $name"
  else
    fail "precondition: $name" "cannot run the test: $(tail -n 8 <<<"$out")"
    cleanup; _TL_FINISHED=1; summary; exit 1
  fi
}

keep_failed_logs() {
  local dir=$1; shift
  [ "$_TL_FAILED" -gt 0 ] || return 0
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$@" "$dir/" 2>/dev/null
  echo "logs of this failed run: $dir/"
}

finish() {
  cleanup
  _TL_FINISHED=1
  summary
}
