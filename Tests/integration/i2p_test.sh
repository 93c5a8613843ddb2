#!/usr/bin/env bash
# i2p, end to end with real parts: the real bulkhead-helper (root, sandboxed) binds the
# Docker plugin socket and spawns the real agent, which serves the remote network driver
# to the rootful test dockerd and puts each container on the private I2P network
# (scripts/i2p-testnet.sh: four real i2pd routers in netns bh-i2p; the plugin uses
# router 1's SAM, tunnels of length 0, quantity 1).
#   - INBOUND: a busybox httpd container's 80/tcp .b32.i2p address, fetched by a client
#     on router 2 (its own SAM session, Tests/integration/i2p_sam.py fetch);
#   - OUTBOUND: containers fetch from a service on router 3 (i2p_sam.py serve) by its
#     .b32.i2p name with no proxy settings; the service sees the container's OUTBOUND
#     address (from `bulkhead-agent i2p status --format json`), not its service address;
#   - LEAKS: from containers on the plugin network, TCP/UDP/DNS/ICMP/IPv6 to a canary
#     namespace (scripts/i2p-canary.sh: counts every packet at prerouting -300 and records
#     every connection and query), the host's own addresses and ports (host-side
#     recorders, SAM, SOCKS, the agent's FORWARD listeners), another container, the
#     gateway's other ports, spoofing with NET_ADMIN: the canary gets ZERO packets, the
#     host-side recorders nothing, the testnet guard nothing, and the drop counters
#     (BULKHEAD-I2P-IN/-FWD) and the kernel log ("bulkhead-i2p drop") rise;
#   - a container without --dns pointing at the gateway, and one also attached to another
#     network, are stopped by the agent, and the log says why;
#   - FAULTS: restart router 1's i2pd, kill -9 the agent, stop and start the helper (the
#     drop rules stay while it is down: probed then too), flush the tables by hand,
#     restart the test dockerd. After each: the same addresses, the inbound fetch works,
#     the probes get nothing, each BULKHEAD-I2P jump exactly once, one bhi link per
#     running plugin container;
#   - removing the containers and then the network leaves no link, chain or state but keys.
#
# Needs: scripts/testenv.sh up (rootful test dockerd); starts the private I2P network
# (left up, like i2p_testnet_test.sh) and the canary (taken down at the end). Run as root.
# Traffic: loopback, 198.18.99.0/24, the canary (198.19.77.0/24, fdbc:4277::/64) and the
# containers and namespaces this test creates. Nothing else is ever addressed.
# Serialise real runs: flock /tmp/bulkhead-it.lock (the Makefile's integration-test does).
# NOTE: the dockerd fault restarts the rootful test dockerd (other tests' containers
# without a restart policy stop), and the flush fault flushes the host's filter INPUT and
# FORWARD, nat and raw PREROUTING (other rules in them are put back afterwards).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"   # also ROOT, the checkout's root

BIN=${BULKHEAD_BIN_DIR:?set BULKHEAD_BIN_DIR to the build directory}
TESTNET=$ROOT/scripts/i2p-testnet.sh
METRICS_PORT=19743
# The agent's /healthz is 200 and names no failing service (the i2p sessions are up).
healthy() { [ "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/healthz")" = 200 ]; }
CANARY=$ROOT/scripts/i2p-canary.sh
TESTENV=$ROOT/scripts/testenv.sh
SAM_PY=$here/i2p_sam.py
WORK=$(mktemp -d /tmp/bulkhead-i2p-test.XXXXXX)
chmod 755 "$WORK"
ROOTFUL=/run/bulkhead-test/rootful-docker.sock
ROOTFUL_PIDFILE=/run/bulkhead-test/rootful-dockerd.pid
IMAGE=bulkhead/busybox:latest

TAG=bh-i2pt                   # label (bh-i2pt=1) and name prefix of everything created here
NET=${I2P_TEST_NET:-anon}     # the plugin network
DRIVER=bulkhead-i2p
SUBNET=10.231.0.0/24 GW=10.231.0.1
OTHER_NET=$TAG-other OTHER_SUBNET=172.31.79.0/24   # --internal, for the two-networks case
STATE=/var/lib/bulkhead-test/i2p/plugin-state
PLUGIN_SOCK=/run/docker/plugins/bulkhead-i2p.sock
SAM1=198.18.99.1:7656 SAM2=198.18.99.2:7656 SAM3=198.18.99.3:7656
I2P_HOST=198.18.99.254        # host end of the testnet veth (FORWARD targets listen here)
CANARY4=198.19.77.1 CANARY6=fdbc:4277::1 CANARY_HOST4=198.19.77.254 HOST_PORT=17999
FAKE_POOL_PROBE=10.192.0.77   # inside the default fake_pool: not local, must not route
CONVERGE=2                    # i2p.converge_interval, seconds
UP_WAIT=${I2P_TEST_UP_WAIT:-120}
WEB=$TAG-web PEER=$TAG-peer PROBER=$TAG-prober
PAGE="i2p-plugin-page-$$-$RANDOM"
# What the agent's log line must say when it stops a container (checked with the name).
STOP_DNS_RE=${I2P_TEST_STOP_DNS_RE:-dns}
STOP_NET_RE=${I2P_TEST_STOP_NET_RE:-network}

dk() { timeout 60 docker -H "unix://$ROOTFUL" "$@"; }
# shellcheck disable=SC2034  # read by wait_for (scripts/proc-lib.sh)
WAIT_FOR_INTERVAL=0.5   # wait_for's poll interval (s) here: its commands are heavy (docker, i2p status)

# ------------------------------------------------------------------ the helper
helper_pid="" HELPER_LOG=$WORK/helper.log
start_helper() {
  setsid "$BIN/bulkhead-helper" --config "$WORK/i2p.yaml" >>"$HELPER_LOG" 2>&1 &
  helper_pid=$!
}
# agent_pid, stop_helper NAME (SIGTERM; the helper must exit 0): lib.sh.

write_config() {
  write_i2p_config "$WORK/i2p.yaml" "$SAM1" "$STATE" "$PLUGIN_SOCK" "$ROOTFUL" 1 "${CONVERGE}s" "127.0.0.1:$METRICS_PORT"
}

# ------------------------------------------------------------------ status
status_json() { timeout 20 "$BIN/bulkhead-agent" i2p status --format json --state-dir "$STATE" 2>/dev/null; }
# status_field CONTAINER WHAT (outbound | PORT): prints "ADDRESS STATE" (or nothing).
status_field() {
  status_json | python3 -c '
import json, sys
name, what = sys.argv[1], sys.argv[2]
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
if isinstance(d, dict):
    d = d.get("containers", d.get("status", []))
for c in d:
    if c.get("container", "").lstrip("/") != name:
        continue
    if what == "outbound":
        s = c.get("outbound") or {}
    else:
        s = next((x for x in c.get("services", []) if str(x.get("port")) == what), {})
    if s.get("address"):
        print(s["address"], s.get("state", "?"))
' "$1" "$2"
}
addr_up() { [[ "$(status_field "$1" "$2")" == *".b32.i2p up" ]]; }
addr_of() { status_field "$1" "$2" | awk '{ print $1 }'; }

# ------------------------------------------------------------------ rules and links
owned_v4() { iptables-save 2>/dev/null | awk '/^\*/ { t = substr($0, 2); next } /BULKHEAD-I2P/ { print t "|" $0 }'; }
owned_v6() { ip6tables-save 2>/dev/null | awk '/^\*/ { t = substr($0, 2); next } /BULKHEAD-I2P/ { print t "|" $0 }'; }
JUMPS4=("nat|-A PREROUTING -i bhi+ -j BULKHEAD-I2P-NAT" "raw|-A PREROUTING -i bhi+ -j BULKHEAD-I2P-SRC"
  "filter|-A INPUT -i bhi+ -j BULKHEAD-I2P-IN" "filter|-A FORWARD -i bhi+ -j BULKHEAD-I2P-FWD"
  "filter|-A FORWARD -o bhi+ -j BULKHEAD-I2P-FWD")
JUMPS6=("filter|-A INPUT -i bhi+ -j BULKHEAD-I2P-IN6" "filter|-A FORWARD -i bhi+ -j BULKHEAD-I2P-FWD6"
  "filter|-A FORWARD -o bhi+ -j BULKHEAD-I2P-FWD6")
jumps_once() {  # NAME: every jump exactly once, no owned line twice
  local name=$1 j v4 v6 bad=""
  v4=$(owned_v4); v6=$(owned_v6)
  for j in "${JUMPS4[@]}"; do [ "$(grep -cxF -- "$j" <<<"$v4")" = 1 ] || bad+="[$j: $(grep -cxF -- "$j" <<<"$v4")x] "; done
  for j in "${JUMPS6[@]}"; do [ "$(grep -cxF -- "$j" <<<"$v6")" = 1 ] || bad+="[ip6 $j: $(grep -cxF -- "$j" <<<"$v6")x] "; done
  local d; d=$( { echo "$v4"; echo "$v6" | sed 's/^/ip6 /'; } | grep -v '^\(ip6 \)\?$' | sort | uniq -d)
  [ -z "$d" ] || bad+="duplicated: $d"
  if [ -z "$bad" ]; then pass "$name: each BULKHEAD-I2P jump exactly once, no duplicate line"; else fail "$name: each BULKHEAD-I2P jump exactly once, no duplicate line" "$bad"; fi
}
bhi_links() { ip -o link show 2>/dev/null | grep -cE '^[0-9]+: bhi[0-9a-f]{12}[@:]'; }
plugin_running() { dk ps -q --filter "network=$NET" --filter status=running 2>/dev/null | grep -c .; }
links_match() { [ "$(bhi_links)" = "$(plugin_running)" ]; }
drops() {  # packets dropped or logged by our filter chains
  local c s=0 n
  for c in BULKHEAD-I2P-IN BULKHEAD-I2P-FWD; do
    n=$(iptables -w -L "$c" -v -x -n 2>/dev/null | awk '$3 == "DROP" { s += $1 } END { print s + 0 }')
    s=$((s + n))
  done
  n=$(iptables -w -t raw -L BULKHEAD-I2P-SRC -v -x -n 2>/dev/null | awk '$3 == "DROP" { s += $1 } END { print s + 0 }')
  echo $((s + n))
}
drops6() {
  local c s=0 n
  for c in BULKHEAD-I2P-IN6 BULKHEAD-I2P-FWD6; do
    n=$(ip6tables -w -L "$c" -v -x -n 2>/dev/null | awk '$3 == "DROP" { s += $1 } END { print s + 0 }'); s=$((s + n))
  done
  echo "$s"
}
klog_drops() { dmesg 2>/dev/null | grep -c "bulkhead-i2p drop"; }
guard_in() { ip netns exec bh-i2p nft list counter inet bh_i2p_guard dropped_in 2>/dev/null | awk '/packets/ { print $2 }'; }
canary_count() { "$CANARY" counts | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# ------------------------------------------------------------------ the leak probes
# Run inside a container (busybox sh). One line per probe: "NAME ok" or "NAME LEAK detail".
# nc: a leak is a connection or an answer (also a refusal: a stack answered); ping: any
# reply; nslookup: any answer (the canary and the host-side DNS answer REFUSED).
cat >"$WORK/probes.sh" <<'SH'
#!/bin/sh
# args: GW CANARY4 CANARY6 CANARY_HOST4 HOST_PORT I2P_HOST FAKE PEER_IP WEB_IP FWD_PORTS...
GW=$1 C4=$2 C6=$3 H4=$4 HP=$5 IH=$6 FAKE=$7 PEER_IP=$8 WEB_IP=$9; shift 9
tcp() {  # name host port [payload]
  out=$(echo "${4:-probe}" | timeout 6 nc -w 3 "$2" "$3" 2>&1); rc=$?
  case "$rc:$out" in
    0:*|*efused*) echo "$1 LEAK rc=$rc $(echo "$out" | head -c 100 | tr '\n' ' ')" ;;
    *) echo "$1 ok" ;;
  esac
}
icmp() {  # name ping-args...
  n=$1; shift
  if out=$(timeout 8 "$@" 2>&1); then echo "$n LEAK $(echo "$out" | grep -m1 'bytes from')"; else echo "$n ok"; fi
}
dns() {  # name qname server
  out=$(timeout 12 nslookup "$2" "$3" 2>&1)
  case "$out" in
    *REFUSED*|*NXDOMAIN*|*"Name:"*|*"can't find"*) echo "$1 LEAK $(echo "$out" | tail -n 3 | tr '\n' ' ')" ;;
    *) echo "$1 ok" ;;
  esac
}
udp() {  # name host port (busybox has no UDP nc: one traceroute probe, TTL 5)
  timeout 6 traceroute -n -f 5 -m 5 -q 1 -w 2 -p "$3" "$2" >/dev/null 2>&1
  echo "$1 ok"  # decided by the canary's counters
}
for p in 80 443 7656 4447 53; do tcp "tcp-canary-$p" "$C4" "$p"; done
udp udp-canary-443 "$C4" 443; udp udp-canary-123 "$C4" 123; udp udp-canary-53 "$C4" 53
dns dns-canary-udp example.com "$C4"
dns dns-canary-udp-i2p web.i2p "$C4"
icmp icmp-canary ping -c 2 -W 2 "$C4"
icmp icmp-gateway ping -c 2 -W 2 "$GW"
icmp icmp-fakepool ping -c 2 -W 2 "$FAKE"
icmp icmp-peer ping -c 2 -W 2 "$PEER_IP"
icmp ip6-allnodes ping6 -c 2 -W 2 -I eth0 ff02::1
icmp ip6-linklocal ping6 -c 2 -W 2 -I eth0 fe80::1
icmp ip6-canary ping6 -c 2 -W 2 "$C6"
tcp tcp6-canary-80 "$C6" 80
for p in 80 443 7656 53; do tcp "host-canary-side-$p" "$H4" "$p"; done
dns dns-host-canary-side example.com "$H4"
tcp host-gw-testport "$GW" "$HP"
tcp host-i2p-side-testport "$IH" "$HP"
udp udp-host-gw-testport "$GW" "$HP"
tcp sam-router1 198.18.99.1 7656 "HELLO VERSION MIN=3.1 MAX=3.3"
tcp sam-router2 198.18.99.2 7656 "HELLO VERSION MIN=3.1 MAX=3.3"
tcp socks-router1 198.18.99.1 4447
for p in "$@"; do tcp "agent-forward-listener-$p" "$IH" "$p"; done
for p in 22 80 443 7680 7653 7656 8080; do tcp "gateway-port-$p" "$GW" "$p"; done
tcp peer-container-8080 "$PEER_IP" 8080
tcp web-container-80-direct "$WEB_IP" 80
tcp fakepool-udp-53 "$FAKE" 53
# DNS through the gateway: only *.i2p is answered; everything else REFUSED (or, while the
# agent is down, no answer at all). An answer with a name in it is the leak.
out=$(timeout 12 nslookup example.com "$GW" 2>&1)
case "$out" in *Name:*) echo "dns-gateway-non-i2p-refused LEAK $(echo "$out" | tail -n 3 | tr '\n' ' ')" ;; *) echo "dns-gateway-non-i2p-refused ok" ;; esac
# The container's own resolver (Docker's embedded DNS forwards to --dns): no answer.
out=$(timeout 12 nslookup example.com 2>&1)
case "$out" in *"Name:"*) echo "dns-default-resolver-no-answer LEAK $(echo "$out" | tail -n 3 | tr '\n' ' ')" ;; *) echo "dns-default-resolver-no-answer ok" ;; esac
echo done
SH
chmod 644 "$WORK/probes.sh"

# An attacker with NET_ADMIN (and CAP_NET_RAW): its own IPv6 global address, a spoofed
# IPv4 source. One line per probe as above.
cat >"$WORK/attacker.sh" <<'SH'
#!/bin/sh
C4=$1 C6=$2
ip -6 addr add fdbc:4277::99/64 dev eth0 2>/dev/null
sleep 1
if timeout 8 ping6 -c 2 -W 2 "$C6" >/dev/null 2>&1; then echo "netadmin-ip6-canary LEAK"; else echo "netadmin-ip6-canary ok"; fi
ip addr add 10.231.0.250/32 dev eth0 2>/dev/null
if timeout 8 ping -c 2 -W 2 -I 10.231.0.250 "$C4" >/dev/null 2>&1; then echo "netadmin-spoofed-src-canary LEAK"; else echo "netadmin-spoofed-src-canary ok"; fi
ip route add "$C4/32" dev eth0 2>/dev/null
if timeout 8 ping -c 2 -W 2 "$C4" >/dev/null 2>&1; then echo "netadmin-onlink-route-canary LEAK"; else echo "netadmin-onlink-route-canary ok"; fi
echo done
SH
chmod 644 "$WORK/attacker.sh"

# The agent's FORWARD listeners (on the SAM control socket's local address, 198.18.99.254).
agent_forward_ports() {
  local a; a=$(agent_pid)
  [ -n "$a" ] || return 0
  ss -Hltnp 2>/dev/null | awk -v ih="$I2P_HOST:" -v pid="pid=$a," 'index($4, ih) == 1 && index($0, pid) { sub(".*:", "", $4); print $4 }' | sort -u | head -8
}

# leak_round NAME: every probe from the prober (and the attacker), then the canary, the
# host-side recorders, the testnet guard, the peer's log, the drop counters, the kernel log.
leak_round() {
  local name=$1 c0 e0 h0 g0 d0 k0 d60 out line n_lines peer_ip web_ip fwd
  "$CANARY" reset
  c0=$(canary_count canary_packets); e0=$(canary_count canary_events); h0=$(canary_count host_events)
  g0=$(guard_in); d0=$(drops); d60=$(drops6); k0=$(klog_drops)
  peer_ip=$(dk inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$PEER" 2>/dev/null)
  web_ip=$(dk inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$WEB" 2>/dev/null)
  mapfile -t fwd < <(agent_forward_ports)
  local peer_log0; peer_log0=$(dk logs "$PEER" 2>&1 | grep -c .)
  out=$(dk cp "$WORK/probes.sh" "$PROBER:/tmp/probes.sh" 2>&1 && timeout 300 docker -H "unix://$ROOTFUL" exec "$PROBER" \
    sh /tmp/probes.sh "$GW" "$CANARY4" "$CANARY6" "$CANARY_HOST4" "$HOST_PORT" "$I2P_HOST" "$FAKE_POOL_PROBE" \
    "${peer_ip:-10.231.0.254}" "${web_ip:-10.231.0.253}" "${fwd[@]}" 2>&1)
  # A new container needs the plugin: not while the helper (and so the agent) is stopped.
  local scripts=1
  if [ -n "$helper_pid" ]; then
    scripts=2
    out+=$'\n'$(timeout 120 docker -H "unix://$ROOTFUL" run --rm --label "$TAG=1" --network "$NET" --dns "$GW" --cap-add NET_ADMIN \
      -v "$WORK/attacker.sh:/attacker.sh:ro" "$IMAGE" sh /attacker.sh "$CANARY4" "$CANARY6" 2>&1)
  fi
  n_lines=0
  while read -r line; do
    case "$line" in
      *" ok") n_lines=$((n_lines + 1)); pass "$name: probe ${line% ok} got nothing" ;;
      *" LEAK"*) n_lines=$((n_lines + 1)); fail "$name: probe ${line%% *} got nothing" "$line" ;;
    esac
  done <<<"$out"
  [ "$(grep -c '^done$' <<<"$out")" = "$scripts" ] || fail "$name: the probe scripts ran to their end" "$(tail -n 5 <<<"$out")"
  [ "$n_lines" -ge 40 ] || fail "$name: at least 40 probe results" "$n_lines: $(tail -n 5 <<<"$out")"
  sleep 1
  check_eq "$name: the canary counted zero packets (prerouting -300, ip+ip6)" 0 "$(( $(canary_count canary_packets) - c0 ))"
  check_eq "$name: the canary's recorders got zero connections or queries" 0 "$(( $(canary_count canary_events) - e0 ))"
  check_eq "$name: the host-side recorders ($CANARY_HOST4, *:$HOST_PORT) got nothing" 0 "$(( $(canary_count host_events) - h0 ))"
  check_eq "$name: the testnet guard saw nothing from the plugin network" "${g0:-?}" "$(guard_in)"
  check_eq "$name: the peer container's httpd logged no request" "$peer_log0" "$(dk logs "$PEER" 2>&1 | grep -c .)"
  local d1 k1; d1=$(drops); k1=$(klog_drops)
  check "$name: the drop counters rose ($d0 -> $d1 packets; ip6 $d60 -> $(drops6))" test "$d1" -gt "$d0"
  check "$name: the kernel log's \"bulkhead-i2p drop\" lines rose ($k0 -> $k1)" test "$k1" -gt "$k0"
  if [ "$_TL_FAILED" -gt 0 ]; then "$CANARY" flows >"$WORK/canary-flows-$(tr -c 'a-z0-9\n' - <<<"$name").txt" 2>&1; fi
}

# after_fault NAME: the same addresses, inbound works, no leak, rules and links exact.
after_fault() {
  local name=$1
  check "$name: web's 80/tcp address is up again (${UP_WAIT}s)" wait_for "$UP_WAIT" addr_up "$WEB" 80
  check_eq "$name: web's 80/tcp address is the same" "$B32_WEB" "$(addr_of "$WEB" 80)"
  check_eq "$name: web's outbound address is the same" "$B32_WEB_OUT" "$(addr_of "$WEB" outbound)"
  check_eq "$name: the prober's outbound address is the same" "$B32_PROBER_OUT" "$(addr_of "$PROBER" outbound)"
  inbound_fetch "$name"
  check "$name: one bhi link per running plugin container ($(bhi_links) links, $(plugin_running) containers)" wait_for $((CONVERGE + 10)) links_match
  jumps_once "$name"
  leak_round "$name"
}

inbound_fetch() {  # NAME: a client on router 2 fetches web's page by its .b32.i2p
  local out
  out=$(timeout 200 python3 "$SAM_PY" fetch --sam "$SAM2" --dest "$B32_WEB" --retry-for 150 --timeout 190 --print-body 2>&1)
  check_eq "$1: INBOUND: a client on router 2 fetches web's page by $B32_WEB" "$PAGE" "$(sed -n '/^body$/,$p' <<<"$out" | sed 1d | tr -d '\r\n')"
  [[ "$out" == *"status HTTP/1.0_200_OK"* ]] || echo "$out" | tail -n 5 | sed 's/^/      /'
}

# ------------------------------------------------------------------ cleanup
force_remove_owned() {  # last resort: remove our jumps and chains by hand
  local t line chain cmd
  for cmd in iptables ip6tables; do
    for t in raw nat filter; do
      "$cmd"-save -t "$t" 2>/dev/null | grep -- '^-A [A-Z]* .*-j BULKHEAD-I2P' | while read -r line; do
        eval "$cmd -w -t $t ${line/-A /-D }" 2>/dev/null
      done
      for chain in $("$cmd"-save -t "$t" 2>/dev/null | awk '/^:BULKHEAD-I2P/ { print substr($1, 2) }'); do "$cmd" -w -t "$t" -F "$chain"; done
      for chain in $("$cmd"-save -t "$t" 2>/dev/null | awk '/^:BULKHEAD-I2P/ { print substr($1, 2) }'); do "$cmd" -w -t "$t" -X "$chain"; done
    done
  done
}
SVC_PID=
cleaned=0
cleanup() {
  [ "$cleaned" = 1 ] && return 0
  cleaned=1
  echo "== cleanup"
  local ids l
  ids=$(dk ps -aq --filter "label=$TAG=1" 2>/dev/null)
  # Containers and networks first, while the plugin still answers (removing them needs it).
  if [ -n "$ids" ]; then dk stop -t 1 $ids >/dev/null 2>&1; dk rm -f $ids >/dev/null 2>&1; fi
  dk network inspect "$NET" >/dev/null 2>&1 && wait_for 30 dk network rm "$NET"
  dk network inspect "$OTHER_NET" >/dev/null 2>&1 && wait_for 30 dk network rm "$OTHER_NET"
  stop_helper
  [ -n "$SVC_PID" ] && { kill "$SVC_PID" 2>/dev/null; wait "$SVC_PID" 2>/dev/null; }
  if [ -n "$(owned_v4)$(owned_v6)" ]; then
    fail "cleanup: no BULKHEAD-I2P line once the network and the helper are gone" "$( { owned_v4; owned_v6; } | head -20)"
    force_remove_owned
  fi
  for l in $(ip -o link show 2>/dev/null | grep -oE '^[0-9]+: bhi[0-9a-f]{12}' | awk '{ print $2 }'); do
    fail "cleanup: no bhi link left" "$l"; ip link del "$l" 2>/dev/null
  done
  [ -S "$PLUGIN_SOCK" ] && [ -z "$(pgrep -x bulkhead-helper)" ] && rm -f "$PLUGIN_SOCK"
  timeout 30 "$CANARY" down >/dev/null 2>&1 || echo "warning: $CANARY down failed"
  jobs -p | xargs -r kill 2>/dev/null
  keep_failed_logs /tmp/bulkhead-i2p-test.failed "$WORK"/*.log "$WORK"/*.txt "$WORK"/*.out
  rm -rf "$WORK"
}
guard_exit

# ------------------------------------------------------------------ preconditions
echo "== preconditions"
need_root
precondition "rootful test dockerd answers ($ROOTFUL)" dk version
precondition "the private I2P network is up ($TESTNET up)" with_timeout 300 "$TESTNET" up
precondition "no BULKHEAD-I2P line before the test (no other i2p helper running)" test -z "$(owned_v4)$(owned_v6)"
precondition "no plugin socket before the test ($PLUGIN_SOCK)" test ! -e "$PLUGIN_SOCK"
# Leftovers of an aborted earlier run (everything of ours carries the label).
ids=$(dk ps -aq --filter "label=$TAG=1"); [ -n "$ids" ] && dk rm -f $ids >/dev/null
for n in "$NET" "$OTHER_NET"; do
  if dk network inspect "$n" >/dev/null 2>&1; then
    [ "$(dk network inspect -f "{{index .Labels \"$TAG\"}}" "$n")" = 1 ] && dk network rm "$n" >/dev/null
  fi
done
precondition "no docker network named $NET" sh -c "! timeout 20 docker -H unix://$ROOTFUL network inspect $NET"
precondition "no host route into $SUBNET" sh -c "! ip -4 route | grep -q '^10\.231\.'"
precondition "the canary is up ($CANARY up)" with_timeout 60 "$CANARY" up
"$CANARY" reset
precondition "the canary counts from zero" test "$(canary_count canary_packets)" = 0

# ------------------------------------------------------------------ 1. the plugin
echo "== 1. the helper binds the plugin socket; the network and containers"
write_config
start_helper
check "the plugin socket appears ($PLUGIN_SOCK)" wait_for 30 test -S "$PLUGIN_SOCK"
check_eq "the plugin socket is root:root 0600" "root:root 600" "$(stat -c '%U:%G %a' "$PLUGIN_SOCK" 2>&1)"
check_eq "the state dir is the agent's, 0700" "bulkhead 700" "$(stat -c '%U %a' "$STATE" 2>&1)"
check "docker network create -d $DRIVER --internal --subnet $SUBNET $NET" \
  dk network create -d "$DRIVER" --internal --subnet "$SUBNET" --label "$TAG=1" "$NET"
check_eq "the network's driver is $DRIVER" "$DRIVER" "$(dk network inspect -f '{{.Driver}}' "$NET" 2>&1)"
jumps_once "network created, no container yet"
check_eq "no bhi link before the first container" 0 "$(bhi_links)"
run_c() {  # name, docker run arguments...
  local name=$1; shift
  dk run -d --name "$name" --label "$TAG=1" --restart always --network "$NET" --dns "$GW" "$@" >/dev/null
}
check "web: httpd on 80 (--expose 80)" run_c "$WEB" --expose 80 "$IMAGE" \
  sh -c "mkdir -p /www && echo $PAGE >/www/index.html && exec httpd -f -p 80 -h /www"
check "peer: httpd -vv on 8080 (logs every request)" run_c "$PEER" "$IMAGE" \
  sh -c "mkdir -p /www && echo peer >/www/index.html && exec httpd -f -vv -p 8080 -h /www"
check "prober: the container the leak probes run in" run_c "$PROBER" "$IMAGE" sleep 86400
check "web's 80/tcp address comes up (${UP_WAIT}s)" wait_for "$UP_WAIT" addr_up "$WEB" 80
check "web's outbound address comes up" wait_for 60 addr_up "$WEB" outbound
check "the prober's outbound address comes up" wait_for 60 addr_up "$PROBER" outbound
B32_WEB=$(addr_of "$WEB" 80); B32_WEB_OUT=$(addr_of "$WEB" outbound); B32_PROBER_OUT=$(addr_of "$PROBER" outbound)
echo "    web 80/tcp: $B32_WEB; web outbound: $B32_WEB_OUT; prober outbound: $B32_PROBER_OUT"
check "the addresses are .b32.i2p (52 chars)" sh -c "echo '$B32_WEB $B32_WEB_OUT $B32_PROBER_OUT' | grep -qE '^[a-z2-7]{52}\.b32\.i2p [a-z2-7]{52}\.b32\.i2p [a-z2-7]{52}\.b32\.i2p$'"
check "web's service and outbound addresses differ" test "$B32_WEB" != "$B32_WEB_OUT"
check_contains "the log names web's 80/tcp address" "$B32_WEB" "$(cat "$HELPER_LOG")"
text=$(timeout 20 "$BIN/bulkhead-agent" i2p status --state-dir "$STATE" 2>&1)
check_contains "i2p status (text) lists web's 80/tcp address" "$B32_WEB" "$text"
check "one bhi link per running plugin container ($(bhi_links) links)" wait_for 10 links_match
check_eq "web has one interface besides lo (no docker_gwbridge)" "eth0" \
  "$(dk exec "$WEB" ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | grep -v '^lo$' | paste -sd' ')"
check_eq "web's default route is via the gateway" "default via $GW dev eth0" "$(dk exec "$WEB" ip route | grep "^default" | sed "s/ *$//")"
check "no docker_gwbridge on the host" sh -c "! ip link show docker_gwbridge"
jumps_once "three containers"
check_eq "every key file is 0600" "" "$(find "$STATE/keys" -type f ! -perm 600 2>/dev/null | paste -sd' ')"
check "web has key files" test -n "$(find "$STATE/keys/$WEB" -type f 2>/dev/null)"

# ------------------------------------------------------------------ 2. inbound, outbound
echo "== 2. INBOUND and OUTBOUND"
inbound_fetch "first"
timeout 900 python3 "$SAM_PY" serve --sam "$SAM3" --listen "$I2P_HOST" --peer-log "$WORK/service-peers.out" \
  --body "i2p-service-page-$$" --timeout 880 >"$WORK/service.out" 2>"$WORK/service.log" &
SVC_PID=$!
check "the service on router 3 is ready" wait_for 90 grep -q '^ready' "$WORK/service.out"
SVC=$(awk '$1 == "b32" { print $2 }' "$WORK/service.out")
echo "    service on router 3: $SVC"
outbound_ok() { [ "$(dk exec "$WEB" timeout 30 wget -qO- "http://$SVC/peer" 2>/dev/null)" = "$B32_WEB_OUT" ]; }
check "OUTBOUND: web fetches http://$SVC/peer (no proxy settings) and the service saw web's OUTBOUND address" wait_for 120 outbound_ok
saw=$(dk exec "$WEB" timeout 30 wget -qO- "http://$SVC/peer" 2>&1)
check_eq "OUTBOUND: the service saw $B32_WEB_OUT" "$B32_WEB_OUT" "$saw"
check "/healthz: 200 once the sessions are up" wait_for 60 healthy
check_contains "bulkhead-agent status: i2p ok, with its sessions" "sessions_up=" \
  "$("$BIN/bulkhead-agent" status --listen "127.0.0.1:$METRICS_PORT" 2>&1)"
check "OUTBOUND: not web's service address" test "$saw" != "$B32_WEB"
# One attempt, as a user would type it: the new container's first connection waits for
# its identity and its outbound session (tens of seconds), it is not reset.
body=$(timeout 150 docker -H "unix://$ROOTFUL" run --rm --label "$TAG=1" --network "$NET" --dns "$GW" "$IMAGE" \
  wget -qO- "http://$SVC/" 2>&1)
check_eq "OUTBOUND: docker run --rm ... wget -qO- http://$SVC/ gets the page at the first attempt" "i2p-service-page-$$" "$body"
last=$(tail -n 1 "$WORK/service-peers.out" | awk '{ print $2 }')
check "OUTBOUND: the --rm container called from an address of its own (not web's, not a service address)" \
  sh -c "[ -n '$last' ] && [ '$last' != '$B32_WEB' ] && [ '$last' != '$B32_WEB_OUT' ] && [ '$last' != '$B32_PROBER_OUT' ]"
nx=$(dk exec "$WEB" sh -c "timeout 40 wget -qO- http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b32.i2p/; echo rc=\$?" 2>&1)
check_contains "an unreachable .b32.i2p closes the container's connection promptly (wget fails within 40 s)" "rc=1" "$nx"

# ------------------------------------------------------------------ 3. leaks
echo "== 3. LEAKS"
leak_round "leaks"
dns_i2p=$(dk exec "$PROBER" nslookup "$SVC" "$GW" 2>&1)
check_contains "DNS for a .b32.i2p name via the gateway answers a fake address" "Address: 10." "$dns_i2p"

# ------------------------------------------------------------------ 4. refused configurations
echo "== 4. a container without --dns at the gateway, or on a second network, is stopped"
not_running() { [ "$(dk inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" != true ]; }
dk run -d --name "$TAG-nodns" --label "$TAG=1" --network "$NET" "$IMAGE" sleep 600 >/dev/null
check "$TAG-nodns (no --dns) is stopped by the agent" wait_for 60 not_running "$TAG-nodns"
check "the log says why $TAG-nodns was stopped (matches /$STOP_DNS_RE/i)" \
  sh -c "grep -F '$TAG-nodns' '$HELPER_LOG' | grep -qiE '$STOP_DNS_RE'"
dk network create --internal --subnet "$OTHER_SUBNET" --label "$TAG=1" "$OTHER_NET" >/dev/null
dk run -d --name "$TAG-twonet" --label "$TAG=1" --network "$NET" --dns "$GW" "$IMAGE" sleep 600 >/dev/null
dk network connect "$OTHER_NET" "$TAG-twonet"
check "$TAG-twonet (also on $OTHER_NET) is stopped by the agent" wait_for 60 not_running "$TAG-twonet"
check "the log says why $TAG-twonet was stopped (matches /$STOP_NET_RE/i)" \
  sh -c "grep -F '$TAG-twonet' '$HELPER_LOG' | grep -qiE '$STOP_NET_RE'"
grep -E "$TAG-(nodns|twonet)" "$HELPER_LOG" | head -4 | sed 's/^/    log: /'
dk rm -f "$TAG-nodns" "$TAG-twonet" >/dev/null 2>&1
check "one bhi link per running plugin container after those" wait_for $((CONVERGE + 10)) links_match

# ------------------------------------------------------------------ 5. faults
echo "== 5a. restart router 1's i2pd (the plugin's SAM bridge), keys kept"
check "$TESTNET restart 1" with_timeout 240 "$TESTNET" restart 1
after_fault "i2pd restart"
check "/healthz: 200 again after the i2pd restart (sessions re-created)" wait_for 90 healthy

echo "== 5b. kill -9 the agent"
old=$(agent_pid)
check "the agent is found and killed (kill -9 ${old:-none})" kill -9 "${old:-none}"
new_agent() { local p; p=$(agent_pid); [ -n "$p" ] && [ "$p" != "$old" ]; }
check "a new agent runs" wait_for 30 new_agent
after_fault "agent kill -9"

echo "== 5c. stop and start the helper"
stop_helper "helper stop"
check "fail closed: with the helper stopped, the drop rules stay while links exist" \
  sh -c "iptables-save | grep -qF -- '-A FORWARD -i bhi+ -j BULKHEAD-I2P-FWD'"
leak_round "helper stopped"
start_helper
check "the plugin socket is back" wait_for 30 test -S "$PLUGIN_SOCK"
after_fault "helper restart"

echo "== 5d. flush the tables by hand"
iptables-save >"$WORK/before-flush.rules"; ip6tables-save >"$WORK/before-flush6.rules"
iptables -w -F INPUT; iptables -w -F FORWARD; iptables -w -t nat -F PREROUTING; iptables -w -t raw -F PREROUTING
ip6tables -w -F INPUT; ip6tables -w -F FORWARD
check_eq "the flush removed our jumps" "" "$(owned_v4 | grep -- '-A \(INPUT\|FORWARD\|PREROUTING\) ')"
sleep $((CONVERGE + 3))
jumps_once "after the flush + converge_interval (${CONVERGE}s) + 3 s"
# Put back the other owners' rules of the flushed chains (Docker's, Podman's).
restore_others() {  # save-file cmd
  local t="" line
  while IFS= read -r line; do
    case "$line" in
      \**) t=${line#\*} ;;
      "-A INPUT "*|"-A FORWARD "*|"-A PREROUTING "*)
        [[ "$line" == *BULKHEAD-I2P* ]] && continue
        [ "$t" = filter ] || [ "$t" = nat ] || [ "$t" = raw ] || continue
        [ "$t" = filter ] || [[ "$line" == "-A PREROUTING "* ]] || continue
        eval "$2 -w -t $t ${line/-A /-C }" 2>/dev/null || eval "$2 -w -t $t $line"
        ;;
    esac
  done <"$1"
}
restore_others "$WORK/before-flush.rules" iptables
restore_others "$WORK/before-flush6.rules" ip6tables
after_fault "hand flush"

echo "== 5e. restart the rootful test dockerd"
restart_test_dockerd "$ROOTFUL_PIDFILE" "$TESTENV" "$WORK/testenv-up.log" dk version
check "the --restart always containers run again" wait_for 90 sh -c \
  "[ \$(timeout 20 docker -H unix://$ROOTFUL ps -q --filter label=$TAG=1 --filter status=running | wc -l) -eq 3 ]"
after_fault "dockerd restart"

# ------------------------------------------------------------------ 6. removal
echo "== 6. remove the containers, then the network"
ids=$(dk ps -aq --filter "label=$TAG=1")
[ -n "$ids" ] && { dk stop -t 1 $ids >/dev/null; dk rm $ids >/dev/null; }
check_eq "no bhi link once the containers are gone" 0 "$(bhi_links)"
check "docker network rm $NET" wait_for 30 dk network rm "$NET"
dk network rm "$OTHER_NET" >/dev/null 2>&1
no_owned() { [ -z "$(owned_v4)$(owned_v6)" ]; }
check "no BULKHEAD-I2P chain or jump in iptables-save and ip6tables-save" wait_for $((CONVERGE + 10)) no_owned
left=$(find "$STATE" -mindepth 1 ! -path "$STATE/keys" ! -path "$STATE/keys/*" -type f 2>/dev/null |
  grep -vE '/(status|names)\.json$' | paste -sd' ')
check_eq "no state left but keys (and the status/names files)" "" "$left"
check "the keys are kept (web's)" test -n "$(ls -A "$STATE/keys/$WEB" 2>/dev/null)"
stop_helper "final"
check "the plugin socket is gone" test ! -e "$PLUGIN_SOCK"

finish
