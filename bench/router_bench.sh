#!/usr/bin/env bash
# make bench (router): the router against the direct socket, the two minimal C
# relays (read/write copy and splice: the physical limit of a relay here) and
# socat, measured in the same run, interleaved, medians only. Bounded: fixed counts, each probe
# has its own time limit. Traffic stays on Unix sockets of this machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/proc-lib.sh
source "$here/../scripts/proc-lib.sh"   # as_user, pid_alive, wait_for, wait_sock...
BIN=${BULKHEAD_BIN_DIR:?}
ROUNDS=${BENCH_ROUNDS:-7}
BYTES=${BENCH_BYTES:-2147483648}
PINGS=${BENCH_PINGS:-2000}
W=/run/bulkhead-bench
ALICE=$(uid_of alice)
PROBE="python3 $here/relay_probe.py"
rm -rf "$W"; mkdir -p "$W/$ALICE"; chmod 755 "$W"; chown alice "$W/$ALICE"; chmod 700 "$W/$ALICE"
cp "$here/relay_probe.py" "$W/"; chmod 644 "$W/relay_probe.py"
cc -O2 -pthread -o "$W/minimal_relay" "$here/relays/minimal_relay.c"; chmod 755 "$W/minimal_relay"
PROBE="python3 $W/relay_probe.py"
pids=()
IMAGE=bulkhead/busybox:latest
cleanup() {
  as_user alice docker -H "unix:///run/user/$ALICE/docker.sock" rm -f bh-bench >/dev/null 2>&1 || true
  pkill -u alice -f "$W/" || true  # the sink and socat peers (runuser does not always pass the kill on)
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"
}
trap cleanup EXIT
as_user_argv alice; AS_ALICE=("${AS_USER_ARGV[@]}")   # an array: `& pids+=($!)` is the runuser

# The sink (throughput) runs as alice in her 0700 dir: the router checks the daemon's uid.
"${AS_ALICE[@]}" $PROBE sink "$W/$ALICE/sink.sock" & pids+=($!)
REAL=/run/user/$ALICE/docker.sock
wait_sock "$W/$ALICE/sink.sock"

# socat peers, one per upstream, as alice (the only uid allowed into her dir).
"${AS_ALICE[@]}" socat -b 1048576 UNIX-LISTEN:"$W/$ALICE/socat-sink.sock",fork,mode=600 UNIX-CONNECT:"$W/$ALICE/sink.sock" & pids+=($!)
"${AS_ALICE[@]}" socat UNIX-LISTEN:"$W/$ALICE/socat-real.sock",fork,mode=600 UNIX-CONNECT:"$REAL" & pids+=($!)
# The minimal relays, the same way.
for kind in copy splice; do
  "${AS_ALICE[@]}" "$W/minimal_relay" $kind "$W/$ALICE/$kind-sink.sock" "$W/$ALICE/sink.sock" & pids+=($!)
  "${AS_ALICE[@]}" "$W/minimal_relay" $kind "$W/$ALICE/$kind-real.sock" "$REAL" & pids+=($!)
  wait_sock "$W/$ALICE/$kind-real.sock"
done

# Two routers: one relays to the sink, one to alice's real rootless dockerd.
for kind in sink real; do
  if [ $kind = sink ]; then template="$W/%d/sink.sock"; else template="/run/user/%d/docker.sock"; fi
  cat >"$W/$kind.yaml" <<YAML
router:
  listen: $W/router-$kind.sock
  user_socket: $template
  max_connections_per_user: 2000
YAML
  setsid "$BIN/bulkhead-helper" --config "$W/$kind.yaml" >"$W/$kind.log" 2>&1 & pids+=($!)
  wait_sock "$W/router-$kind.sock"
  # The sink router starts first: its agent is the only one until the next starts.
  [ $kind = sink ] && SINK_AGENT=$(pgrep -n -u bulkhead -f "bulkhead-agent run") && SINK_HELPER=$(pgrep -n -f "bulkhead-helper --config $W/sink.yaml")
done
sleep 1

# A container in alice's real daemon holding a 512 MiB file for the download bench.
DL_BYTES=$((512 * 1048576))
timeout 60 "${AS_ALICE[@]}" docker -H "unix://$REAL" run -d --name bh-bench "$IMAGE" sleep 3600 >/dev/null
timeout 120 "${AS_ALICE[@]}" docker -H "unix://$REAL" exec bh-bench sh -c "head -c $DL_BYTES /dev/urandom >/tmp/blob"
download() {  # socket: MB/s of `docker exec cat` of the blob, through the real docker CLI
  local t0 t1
  t0=$(date +%s.%N)
  timeout 120 "${AS_ALICE[@]}" docker -H "unix://$1" exec bh-bench cat /tmp/blob >/dev/null
  t1=$(date +%s.%N)
  awk -v b="$DL_BYTES" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}'
}

declare -A up dl ping keep
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }  # pid, VmRSS or VmHWM
IDLE_AGENT_KIB=$(kib "$SINK_AGENT" VmRSS); IDLE_HELPER_KIB=$(kib "$SINK_HELPER" VmRSS)
# CPU ticks of the relay on the upload path: the agent's own, or a forking relay's
# together with its reaped children's (cutime, cstime).
declare -A relay_pid cpu_ticks=([copy]=0 [splice]=0 [socat]=0 [router]=0)
relay_pid[router]=$SINK_AGENT
for kind in copy splice; do relay_pid[$kind]=$(pgrep -n -f "minimal_relay $kind $W/$ALICE/$kind-sink.sock"); done
relay_pid[socat]=$(pgrep -n -f "socat -b 1048576 UNIX-LISTEN:$W/$ALICE/socat-sink.sock")
relay_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/${relay_pid[$1]}/stat"; }
for r in $(seq 1 "$ROUNDS"); do
  for path in direct copy splice socat router; do
    case $path in
      direct) s_sink=$W/$ALICE/sink.sock; s_real=$REAL ;;
      copy | splice | socat) s_sink=$W/$ALICE/$path-sink.sock; s_real=$W/$ALICE/$path-real.sock ;;
      router) s_sink=$W/router-sink.sock; s_real=$W/router-real.sock ;;
    esac
    [ $path != direct ] && before=$(relay_ticks $path)
    up[$path]+="$(timeout 120 "${AS_ALICE[@]}" $PROBE upload "$s_sink" "$BYTES") "
    [ $path != direct ] && sleep 0.2 && cpu_ticks[$path]=$((cpu_ticks[$path] + $(relay_ticks $path) - before))
    dl[$path]+="$(download "$s_real") "
    ping[$path]+="$(timeout 150 "${AS_ALICE[@]}" $PROBE ping "$s_real" "$PINGS" | cut -d' ' -f1) "
    keep[$path]+="$(timeout 150 "${AS_ALICE[@]}" $PROBE ping "$s_real" "$PINGS" keep | cut -d' ' -f1) "
  done
  echo "round $r/$ROUNDS done" >&2
done

# Memory: the peak during the transfers above, then 1000 idle connections held open.
PEAK_AGENT_KIB=$(kib "$SINK_AGENT" VmHWM); PEAK_HELPER_KIB=$(kib "$SINK_HELPER" VmHWM)
HOLD=${BENCH_HOLD:-1000}
"${AS_ALICE[@]}" $PROBE hold "$W/router-sink.sock" "$HOLD" 30 >"$W/hold.out" & hold_pid=$!
wait_for 20 grep -q held "$W/hold.out" || true
sleep 3  # the router sets each one up after the kernel accepted it
HELD_AGENT_KIB=$(kib "$SINK_AGENT" VmRSS); HELD_HELPER_KIB=$(kib "$SINK_HELPER" VmRSS)
HELD_FDS=$(ls "/proc/$SINK_AGENT/fd" | wc -l)
kill $hold_pid 2>/dev/null || true; wait $hold_pid 2>/dev/null || true

printf '\nRouter bench: %d rounds, median of each; %d MiB per upload, %d pings per round (alice, real rootless dockerd for pings)\n' \
  "$ROUNDS" $((BYTES / 1048576)) "$PINGS"
echo "  copy, splice: minimal C relays (bench/relays/minimal_relay.c), the physical limit of a relay on this machine"
printf '%-26s %9s %9s %9s %9s %9s %9s %9s %9s\n' metric direct copy splice socat router r/direct r/splice r/socat
row() {  # label, then the five medians; higher is better unless $7 says "lower"
  awk -v l="$1" -v d="$2" -v c="$3" -v p="$4" -v s="$5" -v r="$6" \
    'BEGIN {printf "%-26s %9.0f %9.0f %9.0f %9.0f %9.0f %8.2fx %8.2fx %8.2fx\n", l, d, c, p, s, r, r/d, r/p, r/s}'
}
declare -A med
for metric in up dl ping keep; do
  for path in direct copy splice socat router; do
    declare -n series=$metric
    med[$metric.$path]=$(median_of "${series[$path]}")
  done
done
args() { echo "${med[$1.direct]} ${med[$1.copy]} ${med[$1.splice]} ${med[$1.socat]} ${med[$1.router]}"; }
row "docker exec cat MB/s" $(args dl)
row "raw upload to a sink MB/s" $(args up)
awk -v c="${cpu_ticks[copy]}" -v p="${cpu_ticks[splice]}" -v s="${cpu_ticks[socat]}" -v r="${cpu_ticks[router]}" \
  -v hz="$(getconf CLK_TCK)" -v g="$(( BYTES * ROUNDS / 1073741824 ))" \
  'BEGIN {k = 1000 / hz / g; printf "%-26s %9s %9.0f %9.0f %9.0f %9.0f %9s %8.2fx %8.2fx\n", "relay CPU ms per GiB", "-", c*k, p*k, s*k, r*k, "-", r/p, r/s}'
echo "  (raw upload: sender, sink and relay all CPU-bound on $(nproc) cores; the relay's own capacity, not Docker's."
echo "   Relay CPU on the uploads: the router's agent, or the relay process with its per-connection children.)"
row "new-conn /_ping med. us" $(args ping)
awk -v d="${med[ping.direct]}" -v c="${med[ping.copy]}" -v p="${med[ping.splice]}" -v s="${med[ping.socat]}" -v r="${med[ping.router]}" \
  'BEGIN {printf "%-26s %9s %9.0f %9.0f %9.0f %9.0f\n", "  added vs direct, us", "-", c-d, p-d, s-d, r-d}'
row "keep-alive /_ping med. us" $(args keep)
awk -v d="${med[keep.direct]}" -v c="${med[keep.copy]}" -v p="${med[keep.splice]}" -v s="${med[keep.socat]}" -v r="${med[keep.router]}" \
  'BEGIN {printf "%-26s %9s %9.0f %9.0f %9.0f %9.0f\n", "  added vs direct, us", "-", c-d, p-d, s-d, r-d}'

# Where a new connection's set-up time goes, from the router's own per-connection log lines.
setup_med() { grep -o "$1=[0-9]*" "$W/real.log" | cut -d= -f2 | median; }
printf '%-26s setup (accept to upstream connected) %s us, of which the helper round trip %s us (medians over %s connections)\n' \
  "router per connection" "$(setup_med setup_us)" "$(setup_med helper_us)" "$(grep -c helper_us= "$W/real.log")"

printf '\nMemory (KiB, from /proc): idle, peak during the transfers, with %d idle connections open (%d agent fds)\n' "$HOLD" "$HELD_FDS"
printf '%-10s %10s %10s %10s %s\n' process idle peak held "per idle connection"
printf '%-10s %10d %10d %10d %s\n' helper "$IDLE_HELPER_KIB" "$PEAK_HELPER_KIB" "$HELD_HELPER_KIB" "-"
awk -v i="$IDLE_AGENT_KIB" -v p="$PEAK_AGENT_KIB" -v h="$HELD_AGENT_KIB" -v n="$HOLD" \
  'BEGIN {printf "%-10s %10d %10d %10d %.1f KiB\n", "agent", i, p, h, (h - i) / n}'

# The IPC round trip alone (helperCounters, the cheapest request), against two bare
# processes echoing on the same kind of socket: the wake-up floor of this machine.
cc -O2 -o "$W/ipc_rtt" "$here/relays/ipc_rtt.c"
printf 'router:\n  listen: %s/ipc-router.sock\n' "$W" >"$W/ipc.yaml"
read -r fb fs hb hs < <("$W/ipc_rtt" "$BIN/bulkhead-helper" "$W/ipc.yaml" 3000 2>/dev/null | awk '{print $2, $4, $6, $8}')
printf '%-26s helper %s us, bare processes %s us (caller sleeps in recv); with a busy-polling caller: helper %s us, bare %s us\n' \
  "IPC round trip median" "$hb" "$fb" "$hs" "$fs"
