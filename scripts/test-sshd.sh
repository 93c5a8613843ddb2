#!/usr/bin/env bash
# test-sshd.sh setup | start PORT [--no-streamlocal] | stop PORT | kill PORT | status
#
# A real OpenSSH sshd on loopback for Bulkhead's ssh service tests and bench.
#
#   setup   test user `dockssh` (home /home/dockssh, shell /bin/bash, group
#           docker, so it can use the rootful test daemon's socket); keys,
#           generated once in /var/lib/bulkhead-test/ssh/: the sshd host key
#           (ed25519), client keys id_ed25519, id_ecdsa, id_rsa (no passphrase,
#           all in ~dockssh/.ssh/authorized_keys) and a second ed25519 host key
#           that is never served (for known_hosts.wrong). Copies for the agent
#           in /run/bulkhead-test/ssh/ (dir 0700, keys 0600, owned by the
#           `bulkhead` account):
#             id_ed25519 id_ecdsa id_rsa (+ .pub)
#             known_hosts        the served host key for [127.0.0.1]:2222, :2223, :2224
#             known_hosts.wrong  the never-served key for the same entries
#           and ~dockssh/.ssh/{config,known_hosts,id_ed25519} so that, as
#           dockssh, `docker -H ssh://dockssh@127.0.0.1:2222 version` works
#           non-interactively.
#   start   sshd on 127.0.0.1:PORT only; config and pid file in
#           /run/bulkhead-test/sshd-PORT/, log /run/bulkhead-test/sshd-PORT.log
#           (LogLevel VERBOSE: "Connection from 127.0.0.1 port N",
#           "Accepted publickey for dockssh"; appended, one marker line per
#           start). Remote sessions get DOCKER_HOST=unix:///run/bulkhead-test/
#           rootful-docker.sock and a PATH with /usr/local/bin (the docker CLI).
#           --no-streamlocal sets AllowStreamLocalForwarding no (the
#           direct-streamlocal channel is refused; exec/dial-stdio still works).
#           Idempotent: a running instance with the same config is kept; one
#           with a different config is restarted.
#   stop    SIGTERM (then SIGKILL after a grace period) to the listener AND every
#           session it spawned (sshd children call setsid(), so they are found by
#           parent links and by the sockets they hold on :PORT, not by process
#           group); verifies nothing remains. Existing SSH connections drop.
#           Removes /run/bulkhead-test/sshd-PORT/ (the log stays).
#   kill    the same with SIGKILL straight away ("sshd dies mid-stream").
#   status  every instance under /run/bulkhead-test/sshd-*; exit 0 only if all
#           known instances are running.
#
# Must run as root. Traffic: loopback only.
set -euo pipefail

NAME=test-sshd
# shellcheck source=scripts/proc-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/proc-lib.sh"
KEY_DIR=$STATE_DIR/ssh
AGENT_KEY_DIR=$RUN_DIR/ssh
LOCK_FILE=$STATE_DIR/test-sshd.lock
SSHD=/usr/sbin/sshd
SSH_USER=dockssh
SSH_HOME=/home/dockssh
AGENT_USER=bulkhead
DOCKER_SOCK=$RUN_DIR/rootful-docker.sock
REMOTE_PATH=/usr/local/bin:/usr/bin:/bin
HOST_KEY=$KEY_DIR/ssh_host_ed25519_key
WRONG_HOST_KEY=$KEY_DIR/never_served_host_ed25519_key
CLIENT_KEYS=(id_ed25519 id_ecdsa id_rsa)
KNOWN_PORTS=(2222 2223 2224)  # the ports tests use (2224: ssh_test.sh's connection count)
START_TIMEOUT=15
STOP_GRACE=5

# ---------------------------------------------------------------- helpers

check_port() { [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || die "bad port '${1:-}'"; }
inst_dir()  { echo "$RUN_DIR/sshd-$1"; }
inst_conf() { echo "$RUN_DIR/sshd-$1/sshd_config"; }
inst_pidf() { echo "$RUN_DIR/sshd-$1/sshd.pid"; }
inst_log()  { echo "$RUN_DIR/sshd-$1.log"; }

# Pids listening on 127.0.0.1:PORT (any program).
listeners() { ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un || true; }
# Pids holding an established/closing TCP socket whose local port is PORT: the
# sshd session processes of that instance.
session_holders() { ss -Htnp state connected "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un || true; }
# Listener processes started with this instance's config (pid file lost, say).
config_procs() { pgrep -f -- "-f $(inst_conf "$1")( |$)" || true; }

# The listener pid of PORT if it is our sshd and alive.
listener_pid() {
  local pid; pid=$(read_pid "$(inst_pidf "$1")")
  if pid_alive "$pid" && [ "$(proc_comm "$pid")" = sshd ]; then echo "$pid"; return 0; fi
  pid=$(config_procs "$1" | head -n 1)
  pid_alive "$pid" && { echo "$pid"; return 0; }
  return 1
}

# Every process of the instance on PORT: listener(s), sessions, their descendants.
instance_pids() {
  local port=$1 p roots=()
  mapfile -t roots < <( { listener_pid "$port" || true; config_procs "$port"; session_holders "$port"; } | grep . | sort -un)
  for p in "${roots[@]}"; do
    pid_alive "$p" || continue
    echo "$p"
    descendants "$p"
  done | sort -un
}

# ---------------------------------------------------------------- setup

ensure_agent_account() {
  # Like the Makefile's `accounts` target.
  if ! id -u "$AGENT_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$AGENT_USER"
    log "created account $AGENT_USER"
  fi
}

ensure_ssh_user() {
  getent group docker >/dev/null || die "group docker missing (is docker.io installed?)"
  if id -u "$SSH_USER" >/dev/null 2>&1; then
    log "user $SSH_USER exists (uid $(id -u "$SSH_USER"))"
  else
    log "creating user $SSH_USER (home $SSH_HOME, group docker)"
    useradd --system --create-home --home-dir "$SSH_HOME" --shell /bin/bash --user-group --groups docker "$SSH_USER"
  fi
  id -nG "$SSH_USER" | tr ' ' '\n' | grep -qx docker || { log "adding $SSH_USER to group docker"; usermod -aG docker "$SSH_USER"; }
  [ "$(getent passwd "$SSH_USER" | cut -d: -f7)" = /bin/bash ] || usermod -s /bin/bash "$SSH_USER"
  # With UsePAM no, sshd refuses accounts whose password field starts with "!"
  # (useradd's default, "locked"). "*" = no password, but not locked.
  local pw; pw=$(getent shadow "$SSH_USER" | cut -d: -f2)
  [ "$pw" = '*' ] || usermod -p '*' "$SSH_USER"
  local g; g=$(id -g "$SSH_USER")
  [ -d "$SSH_HOME" ] || install -d -m 0750 -o "$SSH_USER" -g "$g" "$SSH_HOME"
  chown "$SSH_USER:$g" "$SSH_HOME"; chmod go-w "$SSH_HOME"   # StrictModes
}

gen_key() {  # gen_key TYPE FILE COMMENT [BITS]
  [ -s "$2" ] && [ -s "$2.pub" ] && return 0
  rm -f "$2" "$2.pub"
  log "generating $1 key $2"
  ssh-keygen -q -t "$1" ${4:+-b "$4"} -N '' -C "$3" -f "$2"
}

known_hosts_lines() {  # known_hosts_lines PUBFILE
  local p key; key=$(cut -d' ' -f1,2 "$1")
  for p in "${KNOWN_PORTS[@]}"; do printf '[127.0.0.1]:%s %s\n' "$p" "$key"; done
}

# install_if_changed MODE OWNER SRC DST: copy only when content/mode/owner differ.
put_file() {
  local mode=$1 owner=$2 src=$3 dst=$4
  if ! cmp -s "$src" "$dst" 2>/dev/null || [ "$(stat -c '%a %U' "$dst" 2>/dev/null)" != "${mode#0} $owner" ]; then
    install -m "$mode" -o "$owner" -g "$(id -g "$owner")" "$src" "$dst"
  fi
}

cmd_setup() {
  ensure_agent_account
  ensure_ssh_user
  install -d -m 0700 -o root -g root "$KEY_DIR"
  gen_key ed25519 "$HOST_KEY" "bulkhead-test-sshd-host"
  gen_key ed25519 "$WRONG_HOST_KEY" "bulkhead-test-never-served"
  gen_key ed25519 "$KEY_DIR/id_ed25519" "bulkhead-test-ed25519"
  gen_key ecdsa "$KEY_DIR/id_ecdsa" "bulkhead-test-ecdsa" 256
  gen_key rsa "$KEY_DIR/id_rsa" "bulkhead-test-rsa" 3072
  local tmp k; tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  known_hosts_lines "$HOST_KEY.pub" >"$tmp/known_hosts"
  known_hosts_lines "$WRONG_HOST_KEY.pub" >"$tmp/known_hosts.wrong"
  for k in "${CLIENT_KEYS[@]}"; do cat "$KEY_DIR/$k.pub"; done >"$tmp/authorized_keys"

  # The agent's copies.
  install -d -m 0700 -o "$AGENT_USER" -g "$(id -g "$AGENT_USER")" "$AGENT_KEY_DIR"
  for k in "${CLIENT_KEYS[@]}"; do
    put_file 0600 "$AGENT_USER" "$KEY_DIR/$k" "$AGENT_KEY_DIR/$k"
    put_file 0644 "$AGENT_USER" "$KEY_DIR/$k.pub" "$AGENT_KEY_DIR/$k.pub"
  done
  put_file 0644 "$AGENT_USER" "$tmp/known_hosts" "$AGENT_KEY_DIR/known_hosts"
  put_file 0644 "$AGENT_USER" "$tmp/known_hosts.wrong" "$AGENT_KEY_DIR/known_hosts.wrong"

  # dockssh: authorized keys, and a client side for `docker -H ssh://...` as dockssh.
  local d=$SSH_HOME/.ssh
  install -d -m 0700 -o "$SSH_USER" -g "$(id -g "$SSH_USER")" "$d"
  put_file 0600 "$SSH_USER" "$tmp/authorized_keys" "$d/authorized_keys"
  put_file 0600 "$SSH_USER" "$KEY_DIR/id_ed25519" "$d/id_ed25519"
  put_file 0644 "$SSH_USER" "$KEY_DIR/id_ed25519.pub" "$d/id_ed25519.pub"
  put_file 0644 "$SSH_USER" "$tmp/known_hosts" "$d/known_hosts"
  cat >"$tmp/config" <<EOF
# Written by scripts/test-sshd.sh: non-interactive access to the test sshd.
Host 127.0.0.1
  User $SSH_USER
  IdentityFile $d/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking yes
  UserKnownHostsFile $d/known_hosts
  BatchMode yes
EOF
  put_file 0600 "$SSH_USER" "$tmp/config" "$d/config"
  log "setup done: user $SSH_USER, keys in $KEY_DIR, agent copies in $AGENT_KEY_DIR ($(ssh-keygen -lf "$HOST_KEY.pub" | cut -d' ' -f2) is the served host key)"
}

# ---------------------------------------------------------------- start/stop

write_config() {  # write_config PORT STREAMLOCAL(yes|no) FILE
  cat >"$3" <<EOF
# Written by scripts/test-sshd.sh for the Bulkhead ssh tests. Loopback only.
Port $1
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $HOST_KEY
PidFile $(inst_pidf "$1")
LogLevel VERBOSE
UsePAM no
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthenticationMethods publickey
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
AllowUsers $SSH_USER
AllowStreamLocalForwarding $2
# QUIRK (OpenSSH 9.2 session.c, "XXX - streamlocal?"): the permission set for
# direct-streamlocal channels is switched on by AllowTcpForwarding, so
# "AllowTcpForwarding no" also denies streamlocal ("Received request to connect
# to path ..., but the request was denied"). So: local forwarding on, and
# PermitOpen (checked for TCP and streamlocal alike) allows only the test
# daemon's socket: no TCP destination matches it, so TCP forwarding stays off.
# The brackets stop sshd from splitting the path at its first "/".
AllowTcpForwarding local
PermitOpen [$DOCKER_SOCK]:*
PermitListen none
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
PermitUserEnvironment no
PrintMotd no
PrintLastLog no
UseDNS no
# Remote docker CLI (/usr/local/bin) and the rootful test daemon for
# "docker system dial-stdio" and friends.
SetEnv DOCKER_HOST=unix://$DOCKER_SOCK PATH=$REMOTE_PATH
EOF
}

cmd_start() {
  local port=$1 streamlocal=yes
  shift
  case "${1:-}" in
    "") ;;
    --no-streamlocal) streamlocal=no ;;
    *) die "unknown option '$1' (only --no-streamlocal)" ;;
  esac
  [ -x "$SSHD" ] || die "$SSHD missing (install openssh-server)"
  if [ ! -s "$HOST_KEY" ] || ! id -u "$SSH_USER" >/dev/null 2>&1; then die "run '$0 setup' first"; fi
  local dir conf pidf lg new pid
  dir=$(inst_dir "$port"); conf=$(inst_conf "$port"); pidf=$(inst_pidf "$port"); lg=$(inst_log "$port")
  install -d -m 0755 "$dir"
  new=$(mktemp "$dir/sshd_config.XXXXXX")
  write_config "$port" "$streamlocal" "$new"
  if pid=$(listener_pid "$port") && [ -n "$(listeners "$port")" ]; then
    if cmp -s "$new" "$conf"; then
      rm -f "$new"
      log "sshd on 127.0.0.1:$port already running (pid $pid, streamlocal $streamlocal)"
      return 0
    fi
    log "sshd on 127.0.0.1:$port runs with another config; restarting it"
    stop_instance "$port" TERM
  elif [ -n "$(instance_pids "$port")" ]; then
    log "sshd on 127.0.0.1:$port: leftovers of an earlier instance; stopping them"
    stop_instance "$port" TERM
  fi
  local other; other=$(listeners "$port")
  [ -z "$other" ] || { rm -f "$new"; die "127.0.0.1:$port is in use by pid(s) $other (not ours)"; }
  mv -f "$new" "$conf"; chmod 0644 "$conf"
  install -d -m 0755 -o root -g root /run/sshd   # privilege-separation dir
  "$SSHD" -t -f "$conf" || die "sshd -t rejects $conf"
  rm -f "$pidf"
  printf '=== %s test-sshd.sh start %s (streamlocal %s)\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$port" "$streamlocal" >>"$lg"
  (close_inherited_fds; cd / && exec setsid "$SSHD" -D -f "$conf" -E "$lg" </dev/null >/dev/null 2>&1) &
  await_daemon "sshd on :$port" "$!" "$lg" "$START_TIMEOUT" sshd_ready "$port" "$pidf"
  log "sshd on 127.0.0.1:$port up (pid $(read_pid "$pidf"), streamlocal $streamlocal, log $lg)"
}

# sshd_ready PORT PIDFILE: it listens on PORT and has written its pid file.
sshd_ready() { [ -n "$(listeners "$1")" ] && [ -s "$2" ]; }

# stop_instance PORT SIGNAL(TERM|KILL)
stop_instance() {
  local port=$1 sig=$2 pids=() left=()
  mapfile -t pids < <(instance_pids "$port")
  if [ "${#pids[@]}" -eq 0 ]; then
    log "sshd on :$port not running"
  else
    log "sending SIG$sig to sshd :$port listener and sessions: ${pids[*]}"
    kill -"$sig" "${pids[@]}" 2>/dev/null || true
    if ! wait_gone "$STOP_GRACE" "${pids[@]}"; then
      [ "$sig" = KILL ] || log "some still running after ${STOP_GRACE}s; SIGKILL"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 10 "${pids[@]}" || true
    fi
  fi
  # Anything spawned while we were killing (a session forked in between)?
  local round
  for round in 1 2 3; do
    mapfile -t left < <(instance_pids "$port")
    [ "${#left[@]}" -eq 0 ] && break
    log "leftovers of :$port (round $round): ${left[*]}; SIGKILL"
    kill -KILL "${left[@]}" 2>/dev/null || true
    wait_gone 5 "${left[@]}" || true
  done
  rm -f "$(inst_pidf "$port")"
  mapfile -t left < <(instance_pids "$port")
  if [ "${#left[@]}" -gt 0 ] || [ -n "$(listeners "$port")" ]; then
    ps -o pid,ppid,stat,user,args -p "$( { printf '%s\n' "${left[@]}"; listeners "$port"; } | grep . | paste -sd,)" >&2 || true
    die "sshd :$port: processes remain"
  fi
  rm -rf "$(inst_dir "$port")"   # config and pid file; the log stays
  log "sshd on :$port stopped; no listener, no session left"
}

cmd_status() {
  local ok=0 d port pid sl n any=0
  for d in "$RUN_DIR"/sshd-*/; do
    [ -d "$d" ] || continue
    port=${d%/}; port=${port##*/sshd-}
    [[ "$port" =~ ^[0-9]+$ ]] || continue
    any=1
    sl=$(awk '$1 == "AllowStreamLocalForwarding" { print $2 }' "$(inst_conf "$port")" 2>/dev/null || true)
    if pid=$(listener_pid "$port") && [ -n "$(listeners "$port")" ]; then
      n=$(ss -Htn state established "sport = :$port" 2>/dev/null | wc -l)
      log "sshd :$port RUNNING pid $pid, streamlocal ${sl:-?}, $n established connection(s), log $(inst_log "$port")"
    else
      log "sshd :$port DOWN (config $(inst_conf "$port"))"
      ok=1
    fi
  done
  [ "$any" -eq 1 ] || { log "no sshd instance configured"; ok=1; }
  if id -u "$SSH_USER" >/dev/null 2>&1; then
    log "user $SSH_USER uid $(id -u "$SSH_USER"), groups $(id -nG "$SSH_USER")"
  else
    log "user $SSH_USER missing (run setup)"; ok=1
  fi
  if [ -s "$AGENT_KEY_DIR/known_hosts" ]; then
    log "agent keys: $AGENT_KEY_DIR ($(find "$AGENT_KEY_DIR" -mindepth 1 -printf '%f\n' | sort | paste -sd' '))"
  else
    log "agent keys missing in $AGENT_KEY_DIR (run setup)"; ok=1
  fi
  return "$ok"
}

# ---------------------------------------------------------------- main

usage() { echo "usage: $0 setup | start PORT [--no-streamlocal] | stop PORT | kill PORT | status" >&2; exit 2; }
require_root
cmd=${1:-}
case "$cmd" in
  setup|status) ;;
  start|stop|kill) check_port "${2:-}" ;;
  *) usage ;;
esac

mkdir -p "$RUN_DIR" "$STATE_DIR"
hold_lock "$LOCK_FILE" 120

case "$cmd" in
  setup)  cmd_setup ;;
  start)  cmd_start "$2" "${@:3}" ;;
  stop)   stop_instance "$2" TERM ;;
  kill)   stop_instance "$2" KILL ;;
  status) cmd_status ;;
esac
