#!/usr/bin/env bash
# i2p-testnet.sh up|down|status — a private I2P network for Bulkhead's i2p tests and bench.
#
#   up      Four real i2pd routers (Debian's i2pd 2.45.1) in the network namespace
#           bh-i2p, on 198.18.99.1 to .4 (netid 99, NTCP2 only, on port 2100N; use
#           tunnels of length 0 or 1: so few routers cannot build longer ones; 1-hop
#           tunnels did not become ready in the first 2 minutes after `up` in 3 runs of
#           3, and worked in every run made later; zero-hop ones work at once).
#           Reached from the host through a veth pair:
#
#             host: bh-i2p-h 198.18.99.254/24  <-->  bh-i2p-n (in bh-i2p):
#                                                    198.18.99.1/24 ... .4/24
#
#             routers 1-3  SAM v3 on 198.18.99.N:7656: the routers for destinations
#             router 1     SOCKS proxy (socks4a/5, .i2p names) on 198.18.99.1:4447,
#                          tunnels of length $BH_I2P_SOCKS_LENGTH (default 0), 2 each way
#             router 4     the only floodfill; no SAM, no destination
#
#           Why a separate floodfill: in i2pd 2.45, a destination whose own router is a
#           floodfill holding the peer's LeaseSet2 takes it from the router's netDb and
#           re-parses it as a LeaseSet v1 (LeaseSet::PopulateLeases): "LeaseSet: Rncorrect
#           number of leases", then garlic the peer cannot decrypt ("Flags/static section
#           AEAD verification failed"), and streams never get an answer. With every router
#           a floodfill, CONNECT and SOCKS succeeded but no byte ever came back.
#
#           A SAM STREAM FORWARD from the host makes i2pd 2.45 connect back to the
#           address the SAM client came from, 198.18.99.254: listen there (or on 0.0.0.0).
#           The routers run as the system user bh-i2p (no capabilities), each with its
#           own datadir /var/lib/bulkhead-test/i2p/rN (keys, netDb; config i2pd.conf,
#           rewritten on every `up`), log /run/bulkhead-test/i2p-rN.log, pid file
#           /run/bulkhead-test/i2p/rN.pid. On the first `up` each router is started once
#           to make its keys and router.info; every `up` then copies each router's
#           router.info into the other routers' netDb (reseeding is disabled).
#           `up` returns when every router knows all the others and has an NTCP2
#           connection to the floodfill, and routers 1-3 answer SAM and create a SAM
#           session (about 20 s: i2pd 2.45 checks a new session every 20 s); it prints
#           progress, and fails after $BH_I2P_UP_TIMEOUT s (default 180) with the
#           routers' log tails. Also written: /run/bulkhead-test/i2p/testnet.env
#           (shell variables BH_I2P_SAM1..3, BH_I2P_SOCKS, BH_I2P_HOST_ADDR).
#   down    stops the routers (SIGTERM, then SIGKILL) and every other process left in
#           the namespace, deletes the namespace (and with it the veth pair). Datadirs
#           (keys, netDb) and logs are kept, so the next `up` is fast.
#   status  each router's process, SAM answer (HELLO VERSION), known and connected
#           peers, the SOCKS port, the routes and the guard's drop counters; exits 0
#           only if everything is up.
#   restart N
#           stops router N only (SIGTERM, then SIGKILL: every SAM socket on it closes) and
#           starts it again with the same keys and config; returns when its SAM (if it has
#           one) answers and it is connected to the floodfill again (the i2p test's fault).
#
# Nothing leaves the machine. The namespace has one route, 198.18.99.0/24 on the veth
# (no default route: `ip netns exec bh-i2p ip route`), IPv6 is disabled in it, and an
# nftables table in it (inet bh_i2p_guard) drops, and counts, every packet that is not
# on lo or to/from 198.18.99.0/24. Reseeding has no URL, the address book no
# subscription, NTP is off, UPnP is off. `status` shows the drop counters and any
# address outside 198.18.99.0/24 that a router log names.
#
# Debian's i2pd service is not used (scripts/install-deps.sh --test keeps it disabled). Beware:
# its init script's `stop` kills every process running /usr/sbin/i2pd, these routers too.
#
# Must run as root. Idempotent: `up` on a running network only checks it.
set -euo pipefail

NAME=i2p-testnet
# shellcheck source=scripts/proc-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/proc-lib.sh"
I2P_RUN=$RUN_DIR/i2p
I2P_STATE=$STATE_DIR/i2p
LOCK_FILE=$STATE_DIR/i2p-testnet.lock
ENV_FILE=$I2P_RUN/testnet.env

I2PD=/usr/sbin/i2pd
I2PD_CERTS=/usr/share/i2pd/certificates
ROUTER_USER=bh-i2p

NS=bh-i2p
HOST_IF=bh-i2p-h
NS_IF=bh-i2p-n
NET=198.18.99
PREFIX=$NET.0/24
HOST_ADDR=$NET.254
ROUTERS=(1 2 3 4)
SAM_ROUTERS=(1 2 3)    # routers with a SAM bridge: destinations live there
FLOODFILL=4            # the only floodfill (never a destination: see above)
NETID=99
SAM_PORT=7656
SOCKS_ROUTER=1
SOCKS_PORT=4447
SOCKS_LENGTH=${BH_I2P_SOCKS_LENGTH:-0}
GUARD_TABLE=bh_i2p_guard

UP_TIMEOUT=${BH_I2P_UP_TIMEOUT:-180}
KEYGEN_TIMEOUT=30
SESSION_TIMEOUT=60   # one SAM SESSION CREATE (zero-hop tunnels: well under 1 s here)
STOP_GRACE=10        # SIGTERM makes i2pd stop at once (SIGINT would wait for transit tunnels)

r_addr()    { echo "$NET.$1"; }
r_port()    { echo "$((21000 + $1))"; }
r_dir()     { echo "$I2P_STATE/r$1"; }
r_pidfile() { echo "$I2P_RUN/r$1.pid"; }
r_log()     { echo "$RUN_DIR/i2p-r$1.log"; }
has_sam()   { [[ " ${SAM_ROUTERS[*]} " == *" $1 "* ]]; }
nsx()       { ip netns exec "$NS" "$@"; }
# (No `cmd | grep -q` here: with pipefail, grep exiting early can fail the pipeline.)
ns_exists() { [ -n "$(ip netns list 2>/dev/null | awk -v n="$NS" '$1 == n')" ]; }

# ---------------------------------------------------------------- helpers

# The pid of router N if it runs: from its pid file (checked: an i2pd with its datadir),
# else found by its datadir in the command line (pid file lost, e.g. `testenv.sh down`
# empties /run/bulkhead-test).
router_pid() {
  local n=$1 pid
  pid=$(read_pid "$(r_pidfile "$n")")
  if pid_alive "$pid" && [ "$(proc_comm "$pid")" = i2pd ] &&
     [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"--datadir=$(r_dir "$n") "* ]]; then
    echo "$pid"; return 0
  fi
  ps -eo pid=,stat=,args= | awk -v d="--datadir=$(r_dir "$n")" '
    $2 !~ /^Z/ && $3 == "'"$I2PD"'" && !found { for (i = 4; i <= NF; i++) if ($i == d) { print $1; found = 1 } }'
}

# sam_hello ADDR — the SAM bridge's answer to HELLO (one line), within 5 s.
sam_hello() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "HELLO VERSION MIN=3.1 MAX=3.3\n" >&3; IFS= read -r l <&3 || exit 1; printf "%s\n" "${l%$'"'\r'"'}"' \
    "$1" "$SAM_PORT" 2>/dev/null
}

# sam_session_probe ADDR — create (and drop, by closing the socket) a transient zero-hop
# STREAM session; prints the SESSION STATUS line.
sam_session_probe() {
  timeout "$SESSION_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "HELLO VERSION MIN=3.1 MAX=3.3\n" >&3; IFS= read -r l <&3 || exit 1
    case $l in "HELLO REPLY RESULT=OK"*) ;; *) printf "%s\n" "$l"; exit 1 ;; esac
    printf "SESSION CREATE STYLE=STREAM ID=testnet-probe-%s DESTINATION=TRANSIENT SIGNATURE_TYPE=7 i2cp.leaseSetEncType=4,0 inbound.length=0 outbound.length=0 inbound.quantity=1 outbound.quantity=1\n" "$$" >&3
    IFS= read -r l <&3 || exit 1; printf "%s\n" "${l:0:60}"; case $l in "SESSION STATUS RESULT=OK"*) exit 0 ;; esac; exit 1' \
    "$1" "$SAM_PORT" 2>/dev/null
}

port_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# Number of routerInfo files in router N's netDb.
netdb_count() { find "$(r_dir "$1")/netDb" -name 'routerInfo-*.dat' 2>/dev/null | wc -l; }

# Routers router N has an established NTCP2 connection with (as "M M ..."): both ends
# of every connection are in the namespace, so `ss` there sees them all.
connected_peers() {
  local n=$1
  nsx ss -Htn state established 2>/dev/null | awk -v net="$NET." -v me="$NET.$n" '
    { split($3, l, ":"); split($4, r, ":")
      if (l[1] == me && index(r[1], net) == 1 && r[1] != me &&
          ((l[2] > 21000 && l[2] < 21100) || (r[2] > 21000 && r[2] < 21100))) {
        sub(net, "", r[1]); seen[r[1]] = 1 } }
    END { for (p in seen) printf "%s ", p }'
}

guard_counter() {  # guard_counter NAME -> packets dropped by the guard's named counter
  nsx nft list counter inet "$GUARD_TABLE" "$1" 2>/dev/null | awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

# Addresses outside 198.18.99.0/24 that the router logs name (0.0.0.0 = "any": ignored).
foreign_addresses_in_logs() {
  local n
  for n in "${ROUTERS[@]}"; do cat "$(r_log "$n")" 2>/dev/null || true; done |
    grep -oE '(^|[^0-9.])([0-9]{1,3}\.){3}[0-9]{1,3}([^0-9.]|$)' | grep -oE '([0-9]{1,3}\.){3}[0-9]{1,3}' |
    grep -vE "^(${NET//./\\.}\.[0-9]+|0\.0\.0\.0)$" | sort -u || true
}

log_tails() {
  local n
  for n in "${ROUTERS[@]}"; do
    echo "----- $(r_log "$n") (last 15 lines)" >&2
    tail -n 15 "$(r_log "$n")" >&2 2>/dev/null || true
  done
}

# ---------------------------------------------------------------- up steps

setup_user() {
  if ! id -u "$ROUTER_USER" >/dev/null 2>&1; then
    log "creating system user $ROUTER_USER (runs the routers)"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ROUTER_USER"
  fi
}

setup_netns() {
  local other
  other=$(ip -4 route show to match "$NET.1" 2>/dev/null | grep -v "dev $HOST_IF" | grep -v '^default' || true)
  [ -z "$other" ] || die "the host already routes $PREFIX elsewhere: $other"
  if ! ns_exists; then
    log "creating network namespace $NS"
    ip netns add "$NS"
  fi
  # IPv6 off inside (no link-local chatter either), before any link comes up.
  nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nsx ip link set lo up
  if ! ip link show "$HOST_IF" >/dev/null 2>&1; then
    nsx ip link del "$NS_IF" 2>/dev/null || true
    log "creating veth $HOST_IF (host, $HOST_ADDR/24) <-> $NS_IF (in $NS)"
    ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
  fi
  sysctl -qw "net.ipv6.conf.$HOST_IF.disable_ipv6=1"
  [[ "$(ip -4 addr show dev "$HOST_IF")" == *"inet $HOST_ADDR/24 "* ]] || ip addr add "$HOST_ADDR/24" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  local n
  for n in "${ROUTERS[@]}"; do
    [[ "$(nsx ip -4 addr show dev "$NS_IF")" == *"inet $(r_addr "$n")/24 "* ]] || nsx ip addr add "$(r_addr "$n")/24" dev "$NS_IF"
  done
  nsx ip link set "$NS_IF" up
  setup_guard
  check_no_route_out
}

# nftables in the namespace: only lo and 198.18.99.0/24 on the veth; the rest is counted
# and dropped (in case a route out ever appeared).
setup_guard() {
  nsx nft -f - <<EOF
table inet $GUARD_TABLE
delete table inet $GUARD_TABLE
table inet $GUARD_TABLE {
  counter dropped_out { }
  counter dropped_in { }
  chain output {
    type filter hook output priority 0; policy drop;
    oifname "lo" accept
    oifname "$NS_IF" ip daddr $PREFIX accept
    counter name "dropped_out" drop
  }
  chain input {
    type filter hook input priority 0; policy drop;
    iifname "lo" accept
    iifname "$NS_IF" ip saddr $PREFIX accept
    counter name "dropped_in" drop
  }
}
EOF
}

check_no_route_out() {
  local routes bad
  routes=$(nsx ip -4 route show table all 2>/dev/null | grep -v '^local \|^broadcast ' || true)
  bad=$(grep -v "^${PREFIX//./\\.} dev $NS_IF " <<<"$routes" | grep -v '^$' || true)
  [ -z "$bad" ] || die "unexpected route(s) in $NS: $bad"
  [ -z "$(nsx ip -6 route show table all 2>/dev/null | grep -v '^$' || true)" ] || die "IPv6 routes in $NS: $(nsx ip -6 route show table all)"
}

write_config() {
  local n=$1 d socks_enabled=false sam_enabled=false floodfill=false
  d=$(r_dir "$n")
  [ "$n" = "$SOCKS_ROUTER" ] && socks_enabled=true
  [ "$n" = "$FLOODFILL" ] && floodfill=true
  has_sam "$n" && sam_enabled=true
  install -d -m 0700 -o "$ROUTER_USER" -g "$ROUTER_USER" "$d"
  install -d -m 0755 -o root -g root "$d/tunnels.d"
  : >"$d/tunnels.conf"
  cat >"$d/i2pd.conf.new" <<EOF
# Written by scripts/i2p-testnet.sh on every \`up\`: router $n of Bulkhead's private I2P network.
ipv4 = true
ipv6 = false
nat = false
host = $(r_addr "$n")
address4 = $(r_addr "$n")
port = $(r_port "$n")
netid = $NETID
reservedrange = false
floodfill = $floodfill
bandwidth = X
notransit = false

[ntcp2]
enabled = true
published = true
port = $(r_port "$n")

[ssu2]
enabled = false
published = false

[http]
enabled = false
[httpproxy]
enabled = false
[socksproxy]
enabled = $socks_enabled
address = $(r_addr "$n")
port = $SOCKS_PORT
inbound.length = $SOCKS_LENGTH
outbound.length = $SOCKS_LENGTH
inbound.quantity = 2
outbound.quantity = 2
outproxy.enabled = false
[sam]
enabled = $sam_enabled
address = $(r_addr "$n")
port = $SAM_PORT
[bob]
enabled = false
[i2cp]
enabled = false
[i2pcontrol]
enabled = false
[upnp]
enabled = false
[precomputation]
elgamal = false

[reseed]
verify = false
urls =
yggurls =
file =
zipfile =
threshold = 0

[addressbook]
enabled = true
defaulturl = http://dummy.i2p/hosts.txt
subscriptions =

[exploratory]
inbound.length = 0
outbound.length = 0
inbound.quantity = 1
outbound.quantity = 1

[nettime]
enabled = false
frompeers = false

[persist]
profiles = false

[meshnets]
yggdrasil = false
EOF
  # A changed config (say floodfill or not) changes the router.info the others get seeded
  # with: make_keys refreshes it first.
  cmp -s "$d/i2pd.conf.new" "$d/i2pd.conf" || rm -f "$d/router.info"
  mv "$d/i2pd.conf.new" "$d/i2pd.conf"
}

# start_router N — i2pd in the namespace, as $ROUTER_USER with no capabilities; its own
# session (setsid); log on stdout into $(r_log N) (opened here, by root).
start_router() {
  local n=$1 d
  d=$(r_dir "$n")
  (close_inherited_fds; cd / && exec ip netns exec "$NS" setsid \
      setpriv --reuid="$ROUTER_USER" --regid="$ROUTER_USER" --init-groups \
        --inh-caps=-all --bounding-set=-all --no-new-privs -- \
      "$I2PD" --datadir="$d" --conf="$d/i2pd.conf" --tunconf="$d/tunnels.conf" \
        --tunnelsdir="$d/tunnels.d" --certsdir="$I2PD_CERTS" --pidfile="$d/i2pd.pid" \
        --log=stdout --loglevel=info \
      >"$(r_log "$n")" 2>&1 </dev/null) &
  echo "$!" >"$(r_pidfile "$n")"
}

stop_routers() {
  local n pid pids=()
  for n in "${ROUTERS[@]}"; do
    pid=$(router_pid "$n")
    [ -n "$pid" ] && pids+=("$pid")
  done
  # Anything else running in the namespace was started by this script too.
  if ns_exists; then
    mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$NS" 2>/dev/null || true)
  fi
  if [ "${#pids[@]}" -gt 0 ]; then
    mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
    kill_pids routers "$STOP_GRACE" "${pids[@]}"
  fi
  for n in "${ROUTERS[@]}"; do rm -f "$(r_pidfile "$n")"; done
}

# First `up` (or after the keys were removed, or the config changed): start each router
# once for its keys and a router.info that matches its config, then stop it.
make_keys() {
  local n todo=()
  for n in "${ROUTERS[@]}"; do
    [ -s "$(r_dir "$n")/router.keys" ] && [ -s "$(r_dir "$n")/router.info" ] || todo+=("$n")
  done
  [ "${#todo[@]}" -eq 0 ] && return 0
  log "first start of router(s) ${todo[*]} (new, or new config): making keys and router.info"
  for n in "${todo[@]}"; do rm -f "$(r_dir "$n")/router.info"; start_router "$n"; done
  local deadline=$((SECONDS + KEYGEN_TIMEOUT)) done_all
  while :; do
    done_all=1
    for n in "${todo[@]}"; do
      [ -s "$(r_dir "$n")/router.info" ] || done_all=0
      pid_alive "$(read_pid "$(r_pidfile "$n")")" || { log_tails; die "router $n exited while making its keys"; }
    done
    [ "$done_all" -eq 1 ] && break
    [ "$SECONDS" -ge "$deadline" ] && { log_tails; die "no router.info within ${KEYGEN_TIMEOUT}s"; }
    sleep 0.3
  done
  sleep 1   # let i2pd finish writing
  stop_routers
}

# The I2P base64 (A-Z a-z 0-9 - ~) of SHA-256 of the router identity that starts router.info
# (384 bytes of keys, then a certificate: type, 2-byte length, payload).
ri_hash() {
  python3 - "$1" <<'EOF'
import base64, hashlib, sys
ri = open(sys.argv[1], "rb").read()
ident = ri[:387 + int.from_bytes(ri[385:387], "big")]
print(base64.b64encode(hashlib.sha256(ident).digest(), altchars=b"-~").decode())
EOF
}

seed_netdbs() {
  local n m h f dst
  # Only the current routers, as they are now: nothing stale (old caps, old identities).
  for n in "${ROUTERS[@]}"; do
    find "$(r_dir "$n")/netDb" -name 'routerInfo-*.dat' -delete 2>/dev/null || true
  done
  for n in "${ROUTERS[@]}"; do
    f=$(r_dir "$n")/router.info
    h=$(ri_hash "$f")
    for m in "${ROUTERS[@]}"; do
      [ "$m" = "$n" ] && continue
      dst=$(r_dir "$m")/netDb/r${h:0:1}
      install -d -m 0700 -o "$ROUTER_USER" -g "$ROUTER_USER" "$(r_dir "$m")/netDb" "$dst"
      install -m 0644 -o "$ROUTER_USER" -g "$ROUTER_USER" "$f" "$dst/routerInfo-$h.dat"
    done
  done
  log "netDbs seeded with each other's router.info"
}

# wait_ready — every router knows all the others and is connected to the floodfill; on
# routers 1-3, SAM answers and a session can be made. The session probes run in parallel: i2pd 2.45 checks a new SAM
# session's tunnels every 20 s, so each takes about 20 s. Progress every 10 s.
wait_ready() {
  local quick=${1:-}   # "quick": routers found running; no session probe
  local t0=$SECONDS deadline=$((SECONDS + UP_TIMEOUT)) n pid next_report=$((SECONDS + 10))
  local -A sam_ok=() session_ok=() probe=()
  rm -f "$I2P_RUN"/probe-r*
  while :; do
    local all=1 line=""
    for n in "${ROUTERS[@]}"; do
      pid=$(router_pid "$n")
      [ -n "$pid" ] || { log_tails; die "router $n ($(r_addr "$n")) exited during start-up (log: $(r_log "$n"))"; }
      local known peers
      known=$(netdb_count "$n")
      peers=$(connected_peers "$n")
      if ! has_sam "$n"; then
        sam_ok[$n]=none; session_ok[$n]=none
      elif [ -z "${sam_ok[$n]:-}" ]; then
        case $(sam_hello "$(r_addr "$n")" || true) in "HELLO REPLY RESULT=OK"*) sam_ok[$n]=ok ;; esac
      fi
      if ! has_sam "$n"; then
        :
      elif [ -n "$quick" ]; then
        session_ok[$n]=skipped; echo skipped >"$I2P_RUN/probe-r$n.ok"
      elif [ -n "${sam_ok[$n]:-}" ] && [ -z "${session_ok[$n]:-}" ]; then
        if [ -s "$I2P_RUN/probe-r$n.ok" ]; then
          session_ok[$n]=ok
        elif [ -z "${probe[$n]:-}" ] || ! pid_alive "${probe[$n]}"; then
          # (fd 9, the lock, is not inherited: a probe may outlive a failed `up`)
          ( exec 9>&-; t=$SECONDS
            if sam_session_probe "$(r_addr "$n")" >"$I2P_RUN/probe-r$n.out"; then
              echo "$((SECONDS - t))" >"$I2P_RUN/probe-r$n.ok"
            fi ) &
          probe[$n]=$!
        fi
      fi
      line+=" r$n: sam=${sam_ok[$n]:-no} session=${session_ok[$n]:-no} netDb=$known peers=[${peers% }]"
      # Every router knows all the others; the floodfill is connected to every router
      # (each publishes its RouterInfo there); the others need no connection yet.
      if [ -z "${sam_ok[$n]:-}" ] || [ -z "${session_ok[$n]:-}" ] ||
         [ "$known" -lt "$((${#ROUTERS[@]} - 1))" ] ||
         { [ "$n" = "$FLOODFILL" ] && [ "$(wc -w <<<"$peers")" -lt "$((${#ROUTERS[@]} - 1))" ]; } ||
         { [ "$n" != "$FLOODFILL" ] && [[ " $peers" != *" $FLOODFILL "* ]]; }; then
        all=0
      fi
    done
    if [ "$all" -eq 1 ]; then
      if [ -n "$quick" ]; then
        log "ready (no session probe: the routers were running):$line"
      else
        log "ready after $((SECONDS - t0))s (SAM session creation took$(for n in "${SAM_ROUTERS[@]}"; do printf ' %s' "$(cat "$I2P_RUN/probe-r$n.ok")"; done) s):$line"
      fi
      rm -f "$I2P_RUN"/probe-r*
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tails
      for n in "${SAM_ROUTERS[@]}"; do
        [ -s "$I2P_RUN/probe-r$n.out" ] && log "router $n session probe answered: $(cat "$I2P_RUN/probe-r$n.out")"
      done
      die "not ready within ${UP_TIMEOUT}s:$line"
    fi
    if [ "$SECONDS" -ge "$next_report" ]; then
      log "waiting ($((SECONDS - t0))s):$line"
      next_report=$((SECONDS + 10))
    fi
    sleep 1
  done
}

write_env() {
  {
    echo "# Written by scripts/i2p-testnet.sh up"
    local n
    for n in "${SAM_ROUTERS[@]}"; do echo "BH_I2P_SAM$n=$(r_addr "$n"):$SAM_PORT"; done
    echo "BH_I2P_SOCKS=$(r_addr "$SOCKS_ROUTER"):$SOCKS_PORT"
    echo "BH_I2P_HOST_ADDR=$HOST_ADDR"
    echo "BH_I2P_NETNS=$NS"
  } >"$ENV_FILE"
}

print_summary() {
  local n
  log "---------------------------------------------------------------- summary"
  for n in "${ROUTERS[@]}"; do
    log "router $n: pid $(router_pid "$n"), $(has_sam "$n" && echo "SAM $(r_addr "$n"):$SAM_PORT" || echo "floodfill, no SAM"), NTCP2 $(r_addr "$n"):$(r_port "$n")$([ "$n" = "$SOCKS_ROUTER" ] && echo ", SOCKS $(r_addr "$n"):$SOCKS_PORT (tunnel length $SOCKS_LENGTH)"), datadir $(r_dir "$n"), log $(r_log "$n")"
  done
  log "host side: $HOST_IF $HOST_ADDR/24 (SAM FORWARD targets listen here); netns $NS has no default route"
  log "variables: $ENV_FILE"
}

cmd_up() {
  local t0=$SECONDS n
  [ -x "$I2PD" ] || die "$I2PD missing (scripts/install-deps.sh --test installs i2pd)"
  setup_user
  setup_netns
  install -d -m 0755 "$I2P_RUN"
  install -d -m 0755 "$I2P_STATE"
  local running=0
  for n in "${ROUTERS[@]}"; do [ -n "$(router_pid "$n")" ] && running=$((running + 1)); done
  if [ "$running" -ne "${#ROUTERS[@]}" ]; then
    [ "$running" -gt 0 ] && { log "only $running of ${#ROUTERS[@]} routers run: restarting all"; stop_routers; }
    for n in "${ROUTERS[@]}"; do write_config "$n"; done
    make_keys
    seed_netdbs
    for n in "${ROUTERS[@]}"; do start_router "$n"; done
    log "routers started: pids $(for n in "${ROUTERS[@]}"; do printf '%s ' "$(read_pid "$(r_pidfile "$n")")"; done)"
  else
    log "all ${#ROUTERS[@]} routers already running; checking them"
  fi
  if [ "$running" -eq "${#ROUTERS[@]}" ]; then wait_ready quick; else wait_ready; fi
  check_no_route_out
  write_env
  print_summary
  log "up done in $((SECONDS - t0))s"
}

cmd_down() {
  stop_routers
  if ns_exists; then
    log "deleting network namespace $NS (and the veth pair)"
    ip netns del "$NS"
  fi
  ip link del "$HOST_IF" 2>/dev/null || true
  rm -rf "$I2P_RUN"
  local n left=""
  for n in "${ROUTERS[@]}"; do left+=$(router_pid "$n"); done
  [ -z "$left" ] || { warn "router processes left over: $left"; return 1; }
  log "down done; datadirs ($I2P_STATE) and logs kept"
}

cmd_restart() {
  local n=$1 pid t0=$SECONDS deadline
  [[ " ${ROUTERS[*]} " == *" $n "* ]] || die "no router $n"
  pid=$(router_pid "$n")
  [ -n "$pid" ] || die "router $n is not running (use up)"
  log "restarting router $n (pid $pid), keys kept"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$STOP_GRACE" "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone 10 "$pid" || die "router $n (pid $pid) survived SIGKILL"
  fi
  start_router "$n"
  deadline=$((SECONDS + UP_TIMEOUT))
  while :; do
    [ -n "$(router_pid "$n")" ] || { log_tails; die "router $n exited while restarting"; }
    if { ! has_sam "$n" || [[ "$(sam_hello "$(r_addr "$n")" || true)" == "HELLO REPLY RESULT=OK"* ]]; } &&
       { [ "$n" = "$FLOODFILL" ] || [[ " $(connected_peers "$n")" == *" $FLOODFILL "* ]]; }; then
      break
    fi
    [ "$SECONDS" -lt "$deadline" ] || { log_tails; die "router $n not ready within ${UP_TIMEOUT}s of its restart"; }
    sleep 0.5
  done
  log "router $n restarted (pid $(router_pid "$n")) in $((SECONDS - t0))s"
}

cmd_status() {
  local ok=0 n pid hello peers
  if ! ns_exists; then
    log "netns $NS: absent"
    ok=1
  else
    local default_route; default_route=$(nsx ip route show default)
    log "netns $NS: present; routes: $(nsx ip -4 route show | tr '\n' ';')  default route: ${default_route:-none}"
    [ -z "$default_route" ] || ok=1
    log "guard (nft inet $GUARD_TABLE in $NS): dropped out $(guard_counter dropped_out || echo '?') packets, in $(guard_counter dropped_in || echo '?')"
    [ -n "$(guard_counter dropped_out)" ] || { log "guard table missing"; ok=1; }
  fi
  if ip link show "$HOST_IF" >/dev/null 2>&1; then
    log "host side: $HOST_IF $(ip -4 -br addr show dev "$HOST_IF" | awk '{ print $2, $3 }')"
  else
    log "host side: $HOST_IF absent"; ok=1
  fi
  for n in "${ROUTERS[@]}"; do
    pid=$(router_pid "$n")
    if [ -z "$pid" ]; then
      log "router $n: DOWN (log $(r_log "$n"))"; ok=1; continue
    fi
    peers=$(connected_peers "$n")
    if has_sam "$n"; then
      hello=$(sam_hello "$(r_addr "$n")" || true)
      hello="SAM $(r_addr "$n"):$SAM_PORT: ${hello:-no answer}"
      case $hello in *"HELLO REPLY RESULT=OK"*) ;; *) ok=1 ;; esac
    else
      hello="floodfill, no SAM"
    fi
    log "router $n: RUNNING pid $pid, $hello; netDb $(netdb_count "$n") routers; connected to [${peers% }]"
    [ "$(netdb_count "$n")" -ge "$((${#ROUTERS[@]} - 1))" ] || ok=1
  done
  if port_open "$(r_addr "$SOCKS_ROUTER")" "$SOCKS_PORT"; then
    log "SOCKS: $(r_addr "$SOCKS_ROUTER"):$SOCKS_PORT open"
  else
    log "SOCKS: $(r_addr "$SOCKS_ROUTER"):$SOCKS_PORT not answering"; ok=1
  fi
  local foreign; foreign=$(foreign_addresses_in_logs)
  log "addresses outside $PREFIX named in the router logs: ${foreign:-none}"
  return "$ok"
}

# ---------------------------------------------------------------- main

require_root
case "${1:-}" in
  up|down|status) ;;
  restart) [ -n "${2:-}" ] || { echo "usage: $0 restart N" >&2; exit 2; } ;;
  *) echo "usage: $0 up|down|status|restart N" >&2; exit 2 ;;
esac

mkdir -p "$RUN_DIR" "$STATE_DIR"
hold_lock "$LOCK_FILE" 300

case "$1" in
  up)     cmd_up ;;
  down)   cmd_down ;;
  status) cmd_status ;;
  restart) cmd_restart "$2" ;;
esac
