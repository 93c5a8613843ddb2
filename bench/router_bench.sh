#!/usr/bin/env bash
# make bench (router): the router against the direct socket and socat, measured
# in the same run, interleaved, medians only. Bounded: fixed counts, each probe
# has its own time limit. Traffic stays on Unix sockets of this machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BULKHEAD_BIN_DIR:?}
ROUNDS=${BENCH_ROUNDS:-7}
BYTES=${BENCH_BYTES:-2147483648}
PINGS=${BENCH_PINGS:-2000}
W=/run/bulkhead-bench
ALICE=$(id -u alice)
PROBE="python3 $here/relay_probe.py"
rm -rf "$W"; mkdir -p "$W/$ALICE"; chmod 755 "$W"; chown alice "$W/$ALICE"; chmod 700 "$W/$ALICE"
cp "$here/relay_probe.py" "$W/"; chmod 644 "$W/relay_probe.py"
PROBE="python3 $W/relay_probe.py"
pids=()
IMAGE=bulkhead/busybox:latest
cleanup() {
  runuser -u alice -- docker -H "unix:///run/user/$ALICE/docker.sock" rm -f bh-bench >/dev/null 2>&1 || true
  pkill -u alice -f "$W/" || true  # the sink and socat peers (runuser does not always pass the kill on)
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"
}
trap cleanup EXIT
AS_ALICE=(runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/$ALICE)
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "no socket $1" >&2; return 1; }

# The sink (throughput) runs as alice in her 0700 dir: the router checks the daemon's uid.
"${AS_ALICE[@]}" $PROBE sink "$W/$ALICE/sink.sock" & pids+=($!)
REAL=/run/user/$ALICE/docker.sock
wait_sock "$W/$ALICE/sink.sock"

# socat peers, one per upstream, as alice (the only uid allowed into her dir).
"${AS_ALICE[@]}" socat -b 1048576 UNIX-LISTEN:"$W/$ALICE/socat-sink.sock",fork,mode=600 UNIX-CONNECT:"$W/$ALICE/sink.sock" & pids+=($!)
"${AS_ALICE[@]}" socat UNIX-LISTEN:"$W/$ALICE/socat-real.sock",fork,mode=600 UNIX-CONNECT:"$REAL" & pids+=($!)

# Two routers: one relays to the sink, one to alice's real rootless dockerd.
for kind in sink real; do
  if [ $kind = sink ]; then template="$W/%d/sink.sock"; else template="/run/user/%d/docker.sock"; fi
  cat >"$W/$kind.yaml" <<YAML
router:
  listen: $W/router-$kind.sock
  user_socket: $template
  max_connections_per_user: 1000
YAML
  setsid "$BIN/bulkhead-helper" --config "$W/$kind.yaml" >"$W/$kind.log" 2>&1 & pids+=($!)
  wait_sock "$W/router-$kind.sock"
  # The sink router starts first: its agent is the only one until the next starts.
  [ $kind = sink ] && SINK_AGENT=$(pgrep -n -u bulkhead -f "bulkhead-agent run")
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
agent_cpu_ticks() { awk '{print $14 + $15}' "/proc/$SINK_AGENT/stat"; }
cpu_ticks=0
for r in $(seq 1 "$ROUNDS"); do
  for path in direct socat router; do
    case $path in
      direct) s_sink=$W/$ALICE/sink.sock; s_real=$REAL ;;
      socat) s_sink=$W/$ALICE/socat-sink.sock; s_real=$W/$ALICE/socat-real.sock ;;
      router) s_sink=$W/router-sink.sock; s_real=$W/router-real.sock ;;
    esac
    [ $path = router ] && before=$(agent_cpu_ticks)
    up[$path]+="$(timeout 120 "${AS_ALICE[@]}" $PROBE upload "$s_sink" "$BYTES") "
    [ $path = router ] && cpu_ticks=$((cpu_ticks + $(agent_cpu_ticks) - before))
    dl[$path]+="$(download "$s_real") "
    ping[$path]+="$(timeout 150 "${AS_ALICE[@]}" $PROBE ping "$s_real" "$PINGS" | cut -d' ' -f1) "
    keep[$path]+="$(timeout 150 "${AS_ALICE[@]}" $PROBE ping "$s_real" "$PINGS" keep | cut -d' ' -f1) "
  done
  echo "round $r/$ROUNDS done" >&2
done

m() { tr ' ' '\n' <<<"$1" | grep . | median; }
printf '\nRouter bench: %d rounds, median of each; %d MiB per upload, %d pings per round (alice, real rootless dockerd for pings)\n' \
  "$ROUNDS" $((BYTES / 1048576)) "$PINGS"
printf '%-28s %12s %12s %12s %14s %14s\n' metric direct socat router router/direct router/socat
ud=$(m "${up[direct]}"); us=$(m "${up[socat]}"); ur=$(m "${up[router]}")
dd=$(m "${dl[direct]}"); ds=$(m "${dl[socat]}"); dr=$(m "${dl[router]}")
awk -v d="$dd" -v s="$ds" -v r="$dr" 'BEGIN {printf "%-28s %12.0f %12.0f %12.0f %13.2fx %13.2fx\n", "docker exec cat MB/s", d, s, r, r/d, r/s}'
awk -v d="$ud" -v s="$us" -v r="$ur" 'BEGIN {printf "%-28s %12.0f %12.0f %12.0f %13.2fx %13.2fx\n", "raw upload to a sink MB/s", d, s, r, r/d, r/s}'
awk -v t="$cpu_ticks" -v hz="$(getconf CLK_TCK)" -v g="$(( BYTES * ROUNDS / 1073741824 ))" \
  'BEGIN {printf "%-28s %12s %12s %12.0f   (agent of the raw-upload router)\n", "agent CPU ms per GiB", "-", "-", t / hz * 1000 / g}'
echo "  (raw upload: sender, sink and relay all CPU-bound on $(nproc) cores; the relay's own capacity, not Docker's)"
pd=$(m "${ping[direct]}"); ps_=$(m "${ping[socat]}"); pr=$(m "${ping[router]}")
awk -v d="$pd" -v s="$ps_" -v r="$pr" 'BEGIN {printf "%-28s %12.0f %12.0f %12.0f %13.2fx %13.2fx\n", "new-conn /_ping median us", d, s, r, r/d, r/s; printf "%-28s %12s %12.0f %12.0f\n", "  added vs direct, us", "-", s-d, r-d}'
kd=$(m "${keep[direct]}"); ks=$(m "${keep[socat]}"); kr=$(m "${keep[router]}")
awk -v d="$kd" -v s="$ks" -v r="$kr" 'BEGIN {printf "%-28s %12.0f %12.0f %12.0f %13.2fx %13.2fx\n", "keep-alive /_ping median us", d, s, r, r/d, r/s; printf "%-28s %12s %12.0f %12.0f\n", "  added vs direct, us", "-", s-d, r-d}'
