#!/usr/bin/env bash
# i2p-canary.sh up|down|status|counts|reset|flows — the leak canary of the i2p test.
#
#   up      A network namespace bh-canary that the host routes to, and recorders:
#
#             host: bh-canary-h 198.19.77.254/24, fdbc:4277::fe/64
#                     <-->  bh-canary-n (in bh-canary): 198.19.77.1/24, fdbc:4277::1/64
#
#           (198.18.0.0/15 is benchmark space and fdbc:4277::/64 a ULA: both exist only on
#           this machine.) In the namespace:
#           - nft table inet bh_canary, chain at prerouting priority -300 (before conntrack),
#             ip and ip6: counter `pkts_in` of every packet that arrives (lo excepted), and
#             counter `nd_in` of IPv6 neighbour discovery and MLD (the host's own link chatter,
#             kept apart); sets flows4/other4/flows6/other6 record the first packet of every
#             flow (source . destination . protocol [. port]): `flows` lists them;
#           - its output chain lets out only what goes to the host end's subnets and to the
#             return networks (replies: $CANARY_RETURN_NETS, via the host end); anything else
#             is counted (`out_drop`) and dropped; no default route;
#           - a recorder (scripts/i2p-canary-recorder.py, as nobody) with DNS on udp+tcp 53
#             (answers REFUSED), TCP 80, 443, 7656, 4447 and UDP 443, 7656, 123, on both
#             canary addresses; every connection, datagram and query is a line in
#             /run/bulkhead-test/canary/canary.events.
#           On the host ("host-side probes": the host's own addresses and ports): a recorder
#           (as nobody) on 198.19.77.254 (dns 53, tcp 80, 443, 7656) and on 0.0.0.0 / [::]
#           port $CANARY_HOST_PORT (tcp and udp): /run/bulkhead-test/canary/host.events.
#   down    stops the recorders, deletes the namespace and the veth.
#   status  what runs; exits 0 only if everything is up.
#   counts  one line of key=value: canary_packets canary_nd canary_events host_events
#           canary_out_dropped (the test compares them before and after its probes).
#   reset   zeroes the counters, empties the flow sets and the event files.
#   flows   the recorded first packets (nft sets) and the last event lines.
#
# Nothing here sends anything except answers to whoever reached a recorder. Must run as
# root. Idempotent: `up` on a running canary only checks it.
set -euo pipefail

NAME=i2p-canary
# shellcheck source=scripts/proc-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/proc-lib.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECORDER=$HERE/i2p-canary-recorder.py
C_RUN=$RUN_DIR/canary
LOCK_FILE=$STATE_DIR/i2p-canary.lock

NS=bh-canary
HOST_IF=bh-canary-h
NS_IF=bh-canary-n
HOST4=198.19.77.254
CANARY4=198.19.77.1
NET4=198.19.77.0/24
HOST6=fdbc:4277::fe
CANARY6=fdbc:4277::1
NET6=fdbc:4277::/64
CANARY_HOST_PORT=${CANARY_HOST_PORT:-17999}
# Where replies may go (the i2p test's plugin subnets and the rootful test bridge).
CANARY_RETURN_NETS=${CANARY_RETURN_NETS:-10.231.0.0/16 172.30.250.0/24}
TABLE=bh_canary
CANARY_EVENTS=$C_RUN/canary.events
HOST_EVENTS=$C_RUN/host.events
CANARY_PID=$C_RUN/canary-recorder.pid
HOST_PID=$C_RUN/host-recorder.pid

nsx() { ip netns exec "$NS" "$@"; }
ns_exists() { [ -n "$(ip netns list 2>/dev/null | awk -v n="$NS" '$1 == n')" ]; }

recorder_alive() {  # pidfile
  local pid; pid=$(read_pid "$1")
  pid_alive "$pid" && [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *i2p-canary-recorder.py* ]]
}

# start_recorder PIDFILE LOG NETNS-OR-EMPTY ARGS... — runs it detached; waits for "ready".
start_recorder() {
  local pidfile=$1 logf=$2 netns=$3; shift 3
  local out=$pidfile.out pre=()
  [ -n "$netns" ] && pre=(ip netns exec "$netns")
  : >"$out"
  (close_inherited_fds; cd / && exec setsid "${pre[@]}" python3 "$RECORDER" --log "$logf" --user nobody "$@" \
      >"$out" 2>&1 </dev/null) &
  echo "$!" >"$pidfile"
  # 30 s: python's start-up on a loaded 2-core machine. await_daemon checks pid_alive, not
  # recorder_alive: until the subshell has exec'd (close_inherited_fds can be slow on a
  # loaded machine), its command line is still this script's.
  await_daemon "recorder ($pidfile)" "$!" "$out" 30 grep -q '^ready' "$out"
}

stop_recorder() {
  local pid; pid=$(read_pid "$1")
  if recorder_alive "$1"; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone 5 "$pid" || { kill -KILL "$pid" 2>/dev/null || true; wait_gone 5 "$pid" || warn "recorder $pid survived SIGKILL"; }
  fi
  rm -f "$1" "$1.out"
}

setup_netns() {
  local other
  other=$(ip -4 route show to match "$CANARY4" 2>/dev/null | grep -v "dev $HOST_IF" | grep -v '^default' || true)
  [ -z "$other" ] || die "the host already routes $NET4 elsewhere: $other"
  ns_exists || { log "creating network namespace $NS"; ip netns add "$NS"; }
  nsx ip link set lo up
  # No router advertisements or autoconf inside; the canary never asks for anything.
  nsx sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.dad_transmits=0
  # Recorders run as nobody: ports below 1024 inside this namespace only.
  nsx sysctl -qw net.ipv4.ip_unprivileged_port_start=0
  if ! ip link show "$HOST_IF" >/dev/null 2>&1; then
    nsx ip link del "$NS_IF" 2>/dev/null || true
    log "creating veth $HOST_IF (host, $HOST4/24 $HOST6/64) <-> $NS_IF (in $NS, $CANARY4/24 $CANARY6/64)"
    ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
  fi
  sysctl -qw "net.ipv6.conf.$HOST_IF.accept_ra=0" "net.ipv6.conf.$HOST_IF.router_solicitations=0" \
    "net.ipv6.conf.$HOST_IF.dad_transmits=0"
  nsx sysctl -qw "net.ipv6.conf.$NS_IF.accept_ra=0" "net.ipv6.conf.$NS_IF.router_solicitations=0" \
    "net.ipv6.conf.$NS_IF.dad_transmits=0"
  [[ "$(ip -4 addr show dev "$HOST_IF")" == *"inet $HOST4/24 "* ]] || ip addr add "$HOST4/24" dev "$HOST_IF"
  [[ "$(ip -6 addr show dev "$HOST_IF")" == *"inet6 $HOST6/64 "* ]] || ip addr add "$HOST6/64" dev "$HOST_IF" nodad
  [[ "$(nsx ip -4 addr show dev "$NS_IF")" == *"inet $CANARY4/24 "* ]] || nsx ip addr add "$CANARY4/24" dev "$NS_IF"
  [[ "$(nsx ip -6 addr show dev "$NS_IF")" == *"inet6 $CANARY6/64 "* ]] || nsx ip addr add "$CANARY6/64" dev "$NS_IF" nodad
  ip link set "$HOST_IF" up
  nsx ip link set "$NS_IF" up
  local n
  for n in $CANARY_RETURN_NETS; do
    nsx ip -4 route replace "$n" via "$HOST4" dev "$NS_IF"
  done
  setup_nft
}

setup_nft() {
  local ret4
  ret4=$(tr ' ' ',' <<<"$CANARY_RETURN_NETS")
  nsx nft -f - <<EOF
table inet $TABLE
delete table inet $TABLE
table inet $TABLE {
  counter pkts_in { }
  counter nd_in { }
  counter out_drop { }
  set flows4 { type ipv4_addr . ipv4_addr . inet_proto . inet_service; size 4096; flags dynamic; }
  set other4 { type ipv4_addr . ipv4_addr . inet_proto; size 4096; flags dynamic; }
  set flows6 { type ipv6_addr . ipv6_addr . inet_proto . inet_service; size 4096; flags dynamic; }
  set other6 { type ipv6_addr . ipv6_addr . inet_proto; size 4096; flags dynamic; }
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    iifname "lo" accept
    icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } counter name "nd_in" accept
    counter name "pkts_in"
    meta nfproto ipv4 meta l4proto { tcp, udp } add @flows4 { ip saddr . ip daddr . meta l4proto . th dport }
    meta nfproto ipv4 meta l4proto != { tcp, udp } add @other4 { ip saddr . ip daddr . meta l4proto }
    meta nfproto ipv6 meta l4proto { tcp, udp } add @flows6 { ip6 saddr . ip6 daddr . meta l4proto . th dport }
    meta nfproto ipv6 meta l4proto != { tcp, udp } add @other6 { ip6 saddr . ip6 daddr . meta l4proto }
  }
  chain out {
    type filter hook output priority 0; policy drop;
    oifname "lo" accept
    oifname "$NS_IF" ip daddr { $NET4, $ret4 } accept
    oifname "$NS_IF" ip6 daddr $NET6 accept
    oifname "$NS_IF" ip6 daddr fe80::/10 accept
    oifname "$NS_IF" ip6 daddr ff02::/16 icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld-listener-done, mld2-listener-report } accept
    counter name "out_drop" drop
  }
}
EOF
}

start_recorders() {
  install -d -m 0755 "$C_RUN"
  touch "$CANARY_EVENTS" "$HOST_EVENTS"
  if ! recorder_alive "$CANARY_PID"; then
    local args=() a p
    for a in "$CANARY4" "[$CANARY6]"; do
      args+=(--dns "$a:53")
      for p in 80 443 7656 4447; do args+=(--tcp "$a:$p"); done
      for p in 443 7656 123; do args+=(--udp "$a:$p"); done
    done
    start_recorder "$CANARY_PID" "$CANARY_EVENTS" "$NS" "${args[@]}"
    log "canary recorder: pid $(read_pid "$CANARY_PID"), events $CANARY_EVENTS"
  fi
  if ! recorder_alive "$HOST_PID"; then
    # Port 53 on the host needs root to bind: the recorder binds first, then drops to nobody.
    start_recorder "$HOST_PID" "$HOST_EVENTS" "" \
      --dns "$HOST4:53" --tcp "$HOST4:80" --tcp "$HOST4:443" --tcp "$HOST4:7656" \
      --tcp "0.0.0.0:$CANARY_HOST_PORT" --udp "0.0.0.0:$CANARY_HOST_PORT" \
      --tcp "[::]:$CANARY_HOST_PORT" --udp "[::]:$CANARY_HOST_PORT"
    log "host-side recorder: pid $(read_pid "$HOST_PID"), events $HOST_EVENTS"
  fi
}

counter_of() {  # NAME -> packets of the named counter in the canary table
  nsx nft list counter inet "$TABLE" "$1" 2>/dev/null |
    awk '/packets/ { for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}
lines_of() { local n=0; [ -f "$1" ] && n=$(grep -c . "$1" || true); echo "${n:-0}"; }

cmd_counts() {
  echo "canary_packets=$(counter_of pkts_in) canary_nd=$(counter_of nd_in) canary_events=$(lines_of "$CANARY_EVENTS") host_events=$(lines_of "$HOST_EVENTS") canary_out_dropped=$(counter_of out_drop)"
}

cmd_reset() {
  local c s
  for c in pkts_in nd_in out_drop; do nsx nft reset counter inet "$TABLE" "$c" >/dev/null; done
  for s in flows4 other4 flows6 other6; do nsx nft flush set inet "$TABLE" "$s"; done
  : >"$CANARY_EVENTS"; : >"$HOST_EVENTS"
}

cmd_flows() {
  local s
  for s in flows4 other4 flows6 other6; do
    echo "--- first packets ($s: source . destination . protocol [. port])"
    nsx nft list set inet "$TABLE" "$s" | sed -n '/elements/,/}/p'
  done
  echo "--- canary events (last 20 of $(lines_of "$CANARY_EVENTS"))"; tail -n 20 "$CANARY_EVENTS" 2>/dev/null || true
  echo "--- host-side events (last 20 of $(lines_of "$HOST_EVENTS"))"; tail -n 20 "$HOST_EVENTS" 2>/dev/null || true
}

cmd_up() {
  setup_netns
  start_recorders
  log "up: canary $CANARY4 / $CANARY6 in $NS (routed from the host via $HOST_IF $HOST4); host probes on $HOST4 and port $CANARY_HOST_PORT; $(cmd_counts)"
}

cmd_down() {
  stop_recorder "$CANARY_PID"
  stop_recorder "$HOST_PID"
  if ns_exists; then
    local left=()
    mapfile -t left < <(ip netns pids "$NS" 2>/dev/null)
    [ "${#left[@]}" -eq 0 ] || { warn "processes left in $NS: ${left[*]}; killing them"; kill -KILL "${left[@]}" 2>/dev/null || true; }
    log "deleting network namespace $NS (and the veth pair)"
    ip netns del "$NS"
  fi
  ip link del "$HOST_IF" 2>/dev/null || true
  rm -rf "$C_RUN"
  log "down"
}

cmd_status() {
  local ok=0
  if ns_exists; then log "netns $NS: present; $(cmd_counts)"; else log "netns $NS: absent"; ok=1; fi
  if ip link show "$HOST_IF" >/dev/null 2>&1; then
    log "host side: $HOST_IF $(ip -br addr show dev "$HOST_IF" | awk '{ $1 = ""; $2 = ""; print }')"
  else
    log "host side: $HOST_IF absent"; ok=1
  fi
  if recorder_alive "$CANARY_PID"; then log "canary recorder: pid $(read_pid "$CANARY_PID")"; else log "canary recorder: DOWN"; ok=1; fi
  if recorder_alive "$HOST_PID"; then log "host-side recorder: pid $(read_pid "$HOST_PID")"; else log "host-side recorder: DOWN"; ok=1; fi
  return "$ok"
}

require_root
case "${1:-}" in
  up|down|status|counts|reset|flows) ;;
  *) echo "usage: $0 up|down|status|counts|reset|flows" >&2; exit 2 ;;
esac
mkdir -p "$RUN_DIR" "$STATE_DIR"
hold_lock "$LOCK_FILE" 60
case "$1" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  counts) cmd_counts ;;
  reset) cmd_reset ;;
  flows) cmd_flows ;;
esac
