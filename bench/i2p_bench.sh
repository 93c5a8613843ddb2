#!/usr/bin/env bash
# make bench (i2p): the plugin against i2pd's own client tunnels, on the private I2P
# network (scripts/i2p-testnet.sh), in one run, interleaved, medians and ratios only.
# The plugin uses router 1's SAM with the tunnels i2pd's SOCKS proxy has there (length 0,
# 2 each way; scripts/i2p-testnet.sh), so both sides get the same tunnel capacity.
#
#   throughput  64 MiB (BENCH_I2P_MIB) from a .b32.i2p service on router 3
#               (Tests/integration/i2p_sam.py serve: SAM FORWARD to a local server) to
#               (a) a plugin container: `wget -O /dev/null`, timed inside it (/proc/uptime);
#               (b) the host through router 1's SOCKS proxy (curl --socks5-hostname);
#               BENCH_I2P_RUNS (3) runs of each, interleaved.
#   first byte  of a new connection, BENCH_I2P_TTFB (9) each, interleaved:
#               outbound: the container's network namespace -> the service (curl in the
#               container's netns via nsenter, the name resolved by the plugin's DNS on
#               the gateway: the same path as the container's own programs) against the
#               host -> router 1's SOCKS -> the same service;
#               inbound: a SAM client on router 2 -> the container's 80/tcp address (the
#               plugin's session on router 1) against the same client -> a SAM FORWARD
#               service on router 1 (i2pd's own way of hosting a service).
# Timing is never pass/fail. BENCH_I2P_SOCKS_ONLY=1 runs only i2pd's side (no helper).
# Needs scripts/testenv.sh up (rootful test dockerd); starts the private I2P network if
# it is down (and leaves it up). Run as root, serialised with the integration tests
# (flock /tmp/bulkhead-it.lock). Traffic: loopback, 198.18.99.0/24, the containers and
# network this bench creates.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=Tests/integration/lib.sh
source "$here/../Tests/integration/lib.sh"   # ROOT, write_i2p_config; from scripts/proc-lib.sh: pid_alive, wait_for...
BIN=${BULKHEAD_BIN_DIR:-}
SOCKS_ONLY=${BENCH_I2P_SOCKS_ONLY:-0}
MIB=${BENCH_I2P_MIB:-64}
RUNS=${BENCH_I2P_RUNS:-3}
TTFB_N=${BENCH_I2P_TTFB:-9}
BYTES=$((MIB * 1024 * 1024))
SAM_PY=$ROOT/Tests/integration/i2p_sam.py
TESTNET=$ROOT/scripts/i2p-testnet.sh
ROOTFUL=/run/bulkhead-test/rootful-docker.sock
IMAGE=bulkhead/busybox:latest
SAM1=198.18.99.1:7656 SAM2=198.18.99.2:7656 SAM3=198.18.99.3:7656 SOCKS=198.18.99.1:4447
I2P_HOST=198.18.99.254
TAG=bh-i2pb NET=bh-i2pb-anon SUBNET=10.231.1.0/24 GW=10.231.1.1
STATE=/var/lib/bulkhead-test/i2p/bench-state
PLUGIN_SOCK=/run/docker/plugins/bulkhead-i2p.sock
[ "$(id -u)" -eq 0 ] || { echo "i2p bench: run as root" >&2; exit 1; }
[ "$SOCKS_ONLY" = 1 ] || [ -n "$BIN" ] || { echo "i2p bench: set BULKHEAD_BIN_DIR (or BENCH_I2P_SOCKS_ONLY=1)" >&2; exit 1; }
W=$(mktemp -d /tmp/bulkhead-i2p-bench.XXXXXX)
chmod 755 "$W"
dk() { timeout 120 docker -H "unix://$ROOTFUL" "$@"; }
# shellcheck disable=SC2034  # read by wait_for (scripts/proc-lib.sh)
WAIT_FOR_INTERVAL=0.5   # wait_for's poll interval (s) here
log() { echo "[i2p bench] $*" >&2; }

helper_pid="" pids=()
cleanup() {
  set +e
  if [ "$SOCKS_ONLY" != 1 ]; then
    local ids; ids=$(dk ps -aq --filter "label=$TAG=1" 2>/dev/null)
    [ -n "$ids" ] && dk rm -f $ids >/dev/null 2>&1
    dk network inspect "$NET" >/dev/null 2>&1 && wait_for 30 dk network rm "$NET"
  fi
  if [ -n "$helper_pid" ]; then
    kill -TERM "$helper_pid" 2>/dev/null
    wait_gone 30 "$helper_pid" || kill -KILL "$helper_pid" 2>/dev/null
    wait "$helper_pid" 2>/dev/null
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT

log "private I2P network: $TESTNET up"
timeout 300 "$TESTNET" up >"$W/testnet.log" 2>&1 || { cat "$W/testnet.log" >&2; exit 1; }

serve() {  # NAME SAM VAR: a FORWARD service; sets VAR to its b32 once ready (not in a
  # subshell: its pid must reach the clean-up)
  local name=$1 sam=$2
  timeout 3600 python3 "$SAM_PY" serve --sam "$sam" --listen "$I2P_HOST" --body "first-byte-$name" \
    --timeout 3500 >"$W/$name.out" 2>"$W/$name.err" &
  pids+=($!)
  wait_for 90 grep -q '^ready' "$W/$name.out" || { log "service $name not ready: $(cat "$W/$name.err")"; exit 1; }
  printf -v "$3" '%s' "$(awk '$1 == "b32" { print $2 }' "$W/$name.out")"
}
SVC="" REF=""
serve svc "$SAM3" SVC             # the service on router 3 (64 MiB and first bytes)
log "service on router 3: $SVC"

socks_get() {  # PATH -> "seconds_total seconds_first_byte bytes"
  curl -s -o /dev/null --max-time 600 --socks5-hostname "$SOCKS" \
    -w '%{time_total} %{time_starttransfer} %{size_download} %{http_code}\n' "http://$SVC$1"
}
# Warm-up: the SOCKS tunnels reach the service's LeaseSet (bounded).
wait_for 120 sh -c "[ \"\$(curl -s --max-time 30 --socks5-hostname $SOCKS http://$SVC/)\" = first-byte-svc ]" ||
  { log "the service is not reachable through SOCKS"; exit 1; }

if [ "$SOCKS_ONLY" != 1 ]; then
  [ ! -e "$PLUGIN_SOCK" ] || { log "$PLUGIN_SOCK exists: another i2p helper runs"; exit 1; }
  write_i2p_config "$W/i2p.yaml" "$SAM1" "$STATE" "$PLUGIN_SOCK" "$ROOTFUL" 2 10s
  setsid "$BIN/bulkhead-helper" --config "$W/i2p.yaml" >"$W/helper.log" 2>&1 &
  helper_pid=$!
  wait_for 30 test -S "$PLUGIN_SOCK" || { log "no plugin socket: $(tail -5 "$W/helper.log")"; exit 1; }
  dk network create -d bulkhead-i2p --internal --subnet "$SUBNET" --label "$TAG=1" "$NET" >/dev/null
  dk run -d --name "$TAG-client" --label "$TAG=1" --network "$NET" --dns "$GW" "$IMAGE" sleep 86400 >/dev/null
  dk run -d --name "$TAG-web" --label "$TAG=1" --network "$NET" --dns "$GW" --expose 80 "$IMAGE" \
    sh -c "mkdir -p /www && echo first-byte-web >/www/index.html && exec httpd -f -p 80 -h /www" >/dev/null
  status_addr() {  # CONTAINER WHAT(outbound|PORT) -> address once up
    timeout 20 "$BIN/bulkhead-agent" i2p status --format json --state-dir "$STATE" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d.get("containers", d.get("status", [])) if isinstance(d, dict) else d
for c in d:
    if c.get("container", "").lstrip("/") == sys.argv[1]:
        s = c.get("outbound", {}) if sys.argv[2] == "outbound" else next((x for x in c.get("services", []) if str(x.get("port")) == sys.argv[2]), {})
        if s.get("state") == "up" and s.get("address"):
            print(s["address"])' "$1" "$2"
  }
  web_up() { [ -n "$(status_addr "$TAG-web" 80)" ]; }
  wait_for 120 web_up || { log "web's address never came up"; exit 1; }
  WEB=$(status_addr "$TAG-web" 80)
  log "container web's 80/tcp: $WEB"
  client_get() {  # PATH -> seconds inside the container (wget -O /dev/null)
    # shellcheck disable=SC2016 # expanded by the container's sh
    dk exec "$TAG-client" sh -c 'read a _ </proc/uptime; wget -qO /dev/null "$1" || exit 1; read b _ </proc/uptime; echo "$a $b"' \
      sh "http://$SVC$1" | awk '{ printf "%.2f\n", $2 - $1 }'
  }
  wait_for 120 client_get / || { log "the container cannot reach the service"; exit 1; }
  CPID=$(dk inspect -f '{{.State.Pid}}' "$TAG-client")
  FAKE=$(nsenter -t "$CPID" -n busybox nslookup "$SVC" "$GW" 2>/dev/null | awk '/^Address: / && $2 !~ /:53$/ { a = $2 } END { print a }')
  log "the plugin's DNS answers $SVC -> $FAKE"
  serve ref "$SAM1" REF           # i2pd's own FORWARD service on router 1 (inbound reference)
  log "reference service on router 1: $REF"
fi

# ---------------------------------------------------------------- throughput
plugin_tp="" socks_tp=""
for r in $(seq 1 "$RUNS"); do
  if [ "$SOCKS_ONLY" != 1 ]; then
    t=$(client_get "/bytes/$BYTES") || t=""
    [ -n "$t" ] && plugin_tp+=" $(awk -v b="$BYTES" -v t="$t" 'BEGIN { printf "%.3f", b / t / 1e6 }')"
    log "run $r/$RUNS: plugin container ${t:-FAILED} s"
  fi
  read -r tt _ size code <<<"$(socks_get "/bytes/$BYTES")"
  if [ "$code" = 200 ] && [ "$size" = "$BYTES" ]; then
    socks_tp+=" $(awk -v b="$BYTES" -v t="$tt" 'BEGIN { printf "%.3f", b / t / 1e6 }')"
    log "run $r/$RUNS: SOCKS $tt s"
  else
    log "run $r/$RUNS: SOCKS FAILED (HTTP $code, $size bytes)"
  fi
done

# ---------------------------------------------------------------- first byte
out_plugin="" out_socks="" in_plugin="" in_ref=""
for _ in $(seq 1 "$TTFB_N"); do
  if [ "$SOCKS_ONLY" != 1 ]; then
    v=$(nsenter -t "$CPID" -n curl -s -o /dev/null --max-time 60 --resolve "$SVC:80:$FAKE" -w '%{time_starttransfer}' "http://$SVC/") && out_plugin+=" $v"
  fi
  read -r _ v _ code <<<"$(socks_get /)"; [ "$code" = 200 ] && out_socks+=" $v"
done
if [ "$SOCKS_ONLY" != 1 ]; then
  # A SAM session on router 2 per target and round (the first stream, untimed, waits for
  # the LeaseSet), then TTFB_N new streams each; 2 rounds, the targets alternating.
  for r in 1 2; do
    for target in "$WEB" "$REF"; do
      vals=$(timeout 300 python3 "$SAM_PY" fetch --sam "$SAM2" --dest "$target" --count "$TTFB_N" --retry-for 60 --timeout 280 |
        awk '$1 == "first_byte_s" { printf " %s", $2 }') || true
      if [ "$target" = "$WEB" ]; then in_plugin+=$vals; else in_ref+=$vals; fi
    done
    log "inbound first-byte round $r/2 done"
  done
fi

# ---------------------------------------------------------------- report
pt=$(median_of "$plugin_tp"); st=$(median_of "$socks_tp")
op=$(median_of "$out_plugin"); os=$(median_of "$out_socks"); ip_=$(median_of "$in_plugin"); ir=$(median_of "$in_ref")
printf '\ni2p bench: private I2P network (i2pd 2.45, zero-hop tunnels), %d MiB x %d runs interleaved, %d new connections for first byte; medians\n' "$MIB" "$RUNS" "$TTFB_N"
printf '%-52s %12s %12s %10s\n' "metric" "plugin" "i2pd" "plugin/i2pd"
awk -v p="$pt" -v s="$st" -v mib="$MIB" 'BEGIN { printf "%-52s %12s %12s %10s\n", mib " MiB from router 3, MB/s (i2pd: SOCKS on router 1)", p, s, (p == "nan" || s == "nan" || s == 0) ? "-" : sprintf("%.2fx", p / s) }'
awk -v p="$op" -v s="$os" 'BEGIN { printf "%-52s %12s %12s %10s\n", "first byte, new conn. out to router 3, ms (i2pd: SOCKS)", (p == "nan" ? p : sprintf("%.1f", p * 1000)), (s == "nan" ? s : sprintf("%.1f", s * 1000)), (p == "nan" || s == "nan" || s == 0) ? "-" : sprintf("%.2fx", p / s) }'
awk -v p="$ip_" -v s="$ir" 'BEGIN { printf "%-52s %12s %12s %10s\n", "first byte, new conn. in from router 2, ms (i2pd: FORWARD)", (p == "nan" ? p : sprintf("%.1f", p * 1000)), (s == "nan" ? s : sprintf("%.1f", s * 1000)), (p == "nan" || s == "nan" || s == 0) ? "-" : sprintf("%.2fx", p / s) }'
echo "raw: plugin MB/s [$plugin_tp ] socks MB/s [$socks_tp ] out plugin s [$out_plugin ] out socks s [$out_socks ] in plugin s [$in_plugin ] in ref s [$in_ref ]"
echo "(throughput: plugin/i2pd >= 1.0x expected; the first-byte ratios: lower is better for the plugin)"
