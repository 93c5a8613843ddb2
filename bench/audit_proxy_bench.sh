#!/usr/bin/env bash
# make bench (audit proxy): the proxy against the direct socket and the minimal C
# splice relay (bench/relays/minimal_relay.c, the floor of any relay here) in front
# of the same daemon (the rootful test dockerd), interleaved, medians of ROUNDS.
#   unscanned: an archive download (GET .../archive, a chunked tar) and upload
#              (PUT .../archive, a Content-Length body), both with curl;
#   scanned:   `docker exec cat` of the same blob, and `docker logs` of a 1 GiB log,
#              with the real docker CLI.
# Plus the agent's CPU per GiB through the proxy. Traffic stays on this machine's Unix sockets.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/proc-lib.sh
source "$here/../scripts/proc-lib.sh"   # wait_sock, median_of...
BIN=${BULKHEAD_BIN_DIR:?}
ROUNDS=${BENCH_ROUNDS:-5}
BLOB_MIB=${BENCH_BLOB_MIB:-512}
LOG_MIB=${BENCH_LOG_MIB:-1024}
RUN=/run/bulkhead-test
DIRECT=$RUN/rootful-docker.sock
# The helper binds only in root-only directories (not /tmp): use one under /run.
B=$RUN/audit-bench
W=$(mktemp -d /tmp/bulkhead-audit-proxy-bench.XXXXXX)
rm -rf "$B"; mkdir -p "$B/auditlog"; chown bulkhead "$B/auditlog"
PROXY=$B/audit.sock
SPLICE=$B/splice.sock
IMAGE=bulkhead/busybox:latest
dd_() { timeout 300 docker -H "unix://$DIRECT" "$@"; }
pids=()
cleanup() {
  kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
  dd_ rm -f bh-bench-log bh-bench-blob >/dev/null 2>&1 || true
  rm -rf "$W" "$B"
}
trap cleanup EXIT

cat >"$W/audit.yaml" <<YAML
audit:
  listen: $PROXY
  upstream: $DIRECT
  log_file: $B/auditlog/audit.jsonl
YAML
setsid "$BIN/bulkhead-helper" --config "$W/audit.yaml" >"$W/helper.log" 2>&1 & pids+=($!)
cc -O2 -pthread -o "$W/minimal_relay" "$here/relays/minimal_relay.c"
"$W/minimal_relay" splice "$SPLICE" "$DIRECT" & pids+=($!); RELAY=$!
wait_sock "$PROXY" || { tail -5 "$W/helper.log"; echo "audit proxy did not start" >&2; exit 1; }
wait_sock "$SPLICE"
AGENT=$(pgrep -n -u bulkhead -f "bulkhead-agent run")
agent_ticks() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }
# The minimal relay forks per connection: its reaped children's CPU counts too (cutime, cstime).
relay_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$RELAY/stat"; }

dd_ rm -f bh-bench-log bh-bench-blob >/dev/null 2>&1 || true
echo "writing a ${LOG_MIB} MiB container log and a ${BLOB_MIB} MiB blob" >&2
# 4 KiB lines: dockerd's json-file reader is per line, and short lines would measure only it.
dd_ run --name bh-bench-log "$IMAGE" sh -c \
  "line=\$(head -c 3000 /dev/urandom | base64 | tr -d '\n' | head -c 4095); yes \"\$line\" | head -c $((LOG_MIB << 20))" >/dev/null
dd_ run -d --name bh-bench-blob "$IMAGE" sleep 3600 >/dev/null
head -c $((BLOB_MIB << 20)) /dev/urandom >"$W/blob"
tar -C "$W" -cf "$W/blob.tar" blob
rm "$W/blob"
TAR_BYTES=$(stat -c %s "$W/blob.tar")
curl -fsS --unix-socket "$DIRECT" -T "$W/blob.tar" "http://docker/v1.41/containers/bh-bench-blob/archive?path=/tmp"

mbps() { awk -v b="$1" -v a="$2" -v z="$3" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}'; }
timed() {  # bytes, command...: MB/s
  local bytes=$1 t0 t1; shift
  t0=$(date +%s.%N); "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }; t1=$(date +%s.%N)
  mbps "$bytes" "$t0" "$t1"
}
download() { timeout 120 curl -fsS --unix-socket "$1" -o /dev/null "http://docker/v1.41/containers/bh-bench-blob/archive?path=/tmp/blob"; }
upload() { timeout 120 curl -fsS --unix-socket "$1" -T "$W/blob.tar" "http://docker/v1.41/containers/bh-bench-blob/archive?path=/tmp"; }
exec_cat() { timeout 120 docker -H "unix://$1" exec bh-bench-blob cat /tmp/blob; }
logs() { timeout 300 docker -H "unix://$1" logs bh-bench-log; }

ops=(download upload exec_cat logs)
declare -A bytes=([download]=$TAR_BYTES [upload]=$TAR_BYTES [exec_cat]=$((BLOB_MIB << 20)) [logs]=$((LOG_MIB << 20)))
declare -A rate ticks
for r in $(seq 1 "$ROUNDS"); do
  for op in "${ops[@]}"; do
    for path in direct splice audit; do
      case $path in direct) sock=$DIRECT ;; splice) sock=$SPLICE; before=$(relay_ticks) ;; audit) sock=$PROXY; before=$(agent_ticks) ;; esac
      rate[$op.$path]+="$(timed "${bytes[$op]}" $op "$sock") "
      case $path in
        splice) sleep 0.2; ticks[$op.splice]=$(( ${ticks[$op.splice]:-0} + $(relay_ticks) - before )) ;;
        audit) ticks[$op.audit]=$(( ${ticks[$op.audit]:-0} + $(agent_ticks) - before )) ;;
      esac
    done
  done
  echo "round $r/$ROUNDS done" >&2
done

printf '\nAudit proxy bench: %d rounds, interleaved, medians; %d MiB blob (tar %d bytes), %d MiB log\n' "$ROUNDS" "$BLOB_MIB" "$TAR_BYTES" "$LOG_MIB"
echo "  splice: the minimal C splice relay in front of the same daemon (the floor of a relay here)"
printf '%-34s %9s %9s %9s %9s %9s %12s %12s\n' "MB/s" direct splice audit a/direct a/splice "splice ms/GiB" "agent ms/GiB"
declare -A label=([download]="archive download (unscanned)" [upload]="archive upload (unscanned)"
                  [exec_cat]="docker exec cat (scanned)" [logs]="docker logs (scanned)")
hz=$(getconf CLK_TCK)
for op in "${ops[@]}"; do
  d=$(median_of "${rate[$op.direct]}"); s=$(median_of "${rate[$op.splice]}"); a=$(median_of "${rate[$op.audit]}")
  awk -v l="${label[$op]}" -v d="$d" -v s="$s" -v a="$a" -v ts="${ticks[$op.splice]}" -v ta="${ticks[$op.audit]}" -v hz="$hz" \
    -v gib="$(awk -v b="${bytes[$op]}" -v n="$ROUNDS" 'BEGIN {print b * n / 1073741824}')" \
    'BEGIN {k = 1000 / hz / gib; printf "%-34s %9.0f %9.0f %9.0f %8.2fx %8.2fx %12.0f %12.0f\n", l, d, s, a, a / d, a / s, ts * k, ta * k}'
done
echo "  (CPU: the minimal relay with its per-connection children; the agent, all its threads)"
events=$(grep -c '"event":"secret"' "$B/auditlog/audit.jsonl" 2>/dev/null || true)
echo "  (secret events from the random data: ${events:-0}; the scanned rows include the scan on the agent's scanner thread)"
