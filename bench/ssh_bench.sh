#!/usr/bin/env bash
# make bench (ssh): Bulkhead's ssh proxy (standalone `bulkhead-agent ssh proxy`,
# one SSH connection, one channel per Docker connection) against the docker CLI's
# own ssh:// helper (one `ssh ... docker system dial-stdio` per connection), with
# `scp` of the same file over the same sshd as the ceiling for docker cp, all
# to the same test sshd (127.0.0.1:2222, scripts/test-sshd.sh) and the same
# rootful test dockerd, both docker CLIs run as the same user (dockssh).
# Measured in the same run, interleaved, medians only; ratios are reported, no
# absolute time is a pass/fail. Bounded: fixed counts, every command has its own
# time limit. Traffic: loopback only.
#
#   BENCH_SSH_VERSION_N  docker version calls per side        (15)
#   BENCH_SSH_CP_ROUNDS  docker cp rounds per side            (3)
#   BENCH_SSH_CP_BYTES   size of the file copied out          (1 GiB)
#   BENCH_SSH_FANOUT     concurrent docker ps per side        (50)
#   BENCH_SSH_SKIP_PROXY=1  measure only the ssh:// side (no Bulkhead binary needed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/proc-lib.sh
source "$here/../scripts/proc-lib.sh"   # as_user, pid_alive, wait_for, wait_sock...
SKIP_PROXY=${BENCH_SSH_SKIP_PROXY:-0}
if [ "$SKIP_PROXY" = 1 ]; then BIN=${BULKHEAD_BIN_DIR:-}; else BIN=${BULKHEAD_BIN_DIR:?}; fi
N=${BENCH_SSH_VERSION_N:-15}
CP_ROUNDS=${BENCH_SSH_CP_ROUNDS:-3}
CP_BYTES=${BENCH_SSH_CP_BYTES:-1073741824}
SMALL_BYTES=$((256 * 1048576))
FANOUT=${BENCH_SSH_FANOUT:-50}
U=dockssh
UHOME=/home/dockssh
PORT=2222
ROOTFUL=/run/bulkhead-test/rootful-docker.sock
IMAGE=bulkhead/busybox:latest
CONTAINER=bh-ssh-bench
# The file copied in: on disk (not tmpfs), readable by dockssh.
UPLOAD=/var/tmp/bulkhead-bench-ssh-upload
W=/run/bulkhead-bench-ssh
PROXY_SOCK=$W/$U/proxy.sock
SSH_HOST=ssh://$U@127.0.0.1:$PORT
PROXY_HOST=unix://$PROXY_SOCK
proxy_pid=

direct() { timeout 120 docker -H "unix://$ROOTFUL" "$@"; }
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$proxy_pid/status"; }

cleanup() {
  set +e
  if [ -n "$proxy_pid" ]; then
    kill -TERM "$proxy_pid" 2>/dev/null
    wait_gone 5 "$proxy_pid"
    kill -KILL "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null
  fi
  direct rm -f "$CONTAINER" >/dev/null 2>&1
  rm -rf "$W" "$UPLOAD" "$SCP_IN"
}
trap cleanup EXIT

# ---------------------------------------------------------------- set-up
[ "$(id -u)" -eq 0 ] || { echo "ssh_bench: run as root" >&2; exit 1; }
"$here/../scripts/test-sshd.sh" start "$PORT" >/dev/null
if [ ! -r "$UHOME/.ssh/id_ed25519" ] || [ ! -r "$UHOME/.ssh/known_hosts" ]; then echo "ssh_bench: run scripts/test-sshd.sh setup" >&2; exit 1; fi
rm -rf "$W"; mkdir -p "$W/$U"; chmod 755 "$W"; chown "$U:" "$W/$U"; chmod 700 "$W/$U"
as_user "$U" timeout 60 docker -H "$SSH_HOST" version >/dev/null || { echo "ssh_bench: docker -H $SSH_HOST does not work as $U" >&2; exit 1; }

if [ "$SKIP_PROXY" != 1 ]; then
  # setpriv execs (no fork), so $! is the proxy itself: its /proc/PID/status is the one read.
  setpriv --reuid="$U" --regid="$U" --init-groups env -i HOME="$UHOME" USER="$U" LOGNAME="$U" PATH="$CLEAN_PATH" LANG=C.UTF-8 \
    "$BIN/bulkhead-agent" ssh proxy -ssh-user "$U" -ssh-host "127.0.0.1:$PORT" -ssh-key "$UHOME/.ssh/id_ed25519" \
    -local-socket "$PROXY_SOCK" -remote-socket "$ROOTFUL" -timeout 10s --known-hosts "$UHOME/.ssh/known_hosts" \
    >"$W/proxy.log" 2>&1 </dev/null &
  proxy_pid=$!
  proxy_bound_or_gone() { [ -S "$PROXY_SOCK" ] || ! pid_alive "$proxy_pid"; }
  wait_for 20 proxy_bound_or_gone || true
  if [ ! -S "$PROXY_SOCK" ]; then echo "ssh_bench: the proxy did not bind $PROXY_SOCK:" >&2; tail -n 20 "$W/proxy.log" >&2; exit 1; fi
  as_user "$U" timeout 60 docker -H "$PROXY_HOST" version >/dev/null || { echo "ssh_bench: docker through the proxy fails" >&2; tail -n 20 "$W/proxy.log" >&2; exit 1; }
fi
SIDES=(ssh); [ "$SKIP_PROXY" = 1 ] || SIDES=(proxy ssh)
host_of() { if [ "$1" = proxy ]; then echo "$PROXY_HOST"; else echo "$SSH_HOST"; fi; }

# A container holding the files copied out.
direct rm -f "$CONTAINER" >/dev/null 2>&1 || true
direct run -d --name "$CONTAINER" "$IMAGE" sleep 3600 >/dev/null
timeout 300 docker -H "unix://$ROOTFUL" exec "$CONTAINER" sh -c "head -c $CP_BYTES /dev/urandom >/blob && head -c $SMALL_BYTES /dev/urandom >/blob256"
head -c "$CP_BYTES" /dev/urandom >"$UPLOAD"; chown "$U:" "$UPLOAD"; chmod 600 "$UPLOAD"

# Seconds (with µs) of one command run as dockssh, measured inside its own shell
# so runuser's start-up is not counted; fails if the command fails.
timed() {  # limit, docker args...
  local limit=$1; shift
  as_user "$U" bash -c 'l=$1; shift; e=$(mktemp); t0=$EPOCHREALTIME
    timeout "$l" "$@" >/dev/null 2>"$e" || { cat "$e" >&2; rm -f "$e"; exit 1; }; t1=$EPOCHREALTIME; rm -f "$e"
    echo $(( ${t1/./} - ${t0/./} ))' _ "$limit" "$@"
}
cp_out() { timed 300 docker -H "$(host_of "$1")" cp "$CONTAINER:$2" -; }   # side, path: µs
cp_in() { timed 300 docker -H "$(host_of "$1")" cp "$UPLOAD" "$CONTAINER:/upload"; }   # side: µs
# The ceiling: the same bytes through the same sshd by scp (OpenSSH's own client and
# window sizes), out to /dev/null and in to a file on the same disk as the upload.
# -O: the SCP protocol over an exec channel (the test sshd has no sftp subsystem).
SCP_IN=/var/tmp/bulkhead-bench-scp-in
scp_out() { timed 300 scp -O -q -P "$PORT" -o BatchMode=yes "$U@127.0.0.1:$UPLOAD" /dev/null; }
scp_in() { timed 300 scp -O -q -P "$PORT" -o BatchMode=yes "$UPLOAD" "$U@127.0.0.1:$SCP_IN"; }

# ---------------------------------------------------------------- proxy memory
# VmHWM (peak RSS) reset to the current RSS before each transfer (clear_refs 5),
# read after it: the peak of that transfer alone.
mem_idle=-; mem_small=-; mem_big=-
if [ "$SKIP_PROXY" != 1 ]; then
  mem_idle=$(kib VmRSS)
  echo 5 >"/proc/$proxy_pid/clear_refs"
  cp_out proxy /blob256 >/dev/null
  mem_small=$(kib VmHWM)
  echo 5 >"/proc/$proxy_pid/clear_refs"
  cp_out proxy /blob >/dev/null
  mem_big=$(kib VmHWM)
  echo "proxy memory measured" >&2
fi

# ---------------------------------------------------------------- latency and throughput
declare -A ver cp up
rate() { awk -v b="$CP_BYTES" -v us="$1" 'BEGIN {printf "%.1f", b / us}'; }   # bytes/µs = MB/s
for r in $(seq 1 "$N"); do
  order=("${SIDES[@]}"); [ $((r % 2)) -eq 0 ] && [ "${#SIDES[@]}" -eq 2 ] && order=(ssh proxy)
  for side in "${order[@]}"; do ver[$side]+="$(timed 60 docker -H "$(host_of "$side")" version) "; done
done
echo "docker version: $N rounds done" >&2
for r in $(seq 1 "$CP_ROUNDS"); do
  order=("${SIDES[@]}"); [ $((r % 2)) -eq 0 ] && [ "${#SIDES[@]}" -eq 2 ] && order=(ssh proxy)
  for side in "${order[@]}"; do
    cp[$side]+="$(rate "$(cp_out "$side" /blob)") "
    up[$side]+="$(rate "$(cp_in "$side")") "
  done
  cp[scp]+="$(rate "$(scp_out)") "
  up[scp]+="$(rate "$(scp_in)") "
  echo "docker cp: round $r/$CP_ROUNDS done" >&2
done

# ---------------------------------------------------------------- fan-out
# FANOUT concurrent `docker ps`, as dockssh; prints "failures wall_ms", and the
# most frequent error lines on stderr.
fanout() {
  as_user "$U" bash -c 'h=$1; n=$2; d=$(mktemp -d); pids=(); t0=$EPOCHREALTIME
    for i in $(seq 1 "$n"); do timeout 120 docker -H "$h" ps >/dev/null 2>"$d/$i" & pids+=($!); done
    f=0; for p in "${pids[@]}"; do wait "$p" || f=$((f + 1)); done; t1=$EPOCHREALTIME
    echo "$f $(( (${t1/./} - ${t0/./}) / 1000 ))"
    cat "$d"/* 2>/dev/null | grep . | sort | uniq -c | sort -rn | head -n 3 >&2
    rm -rf "$d"' _ "$1" "$FANOUT"
}
declare -A fan
for side in "${SIDES[@]}"; do
  fan[$side]=$(fanout "$(host_of "$side")" 2>"$W/fan-$side.err")
done

# ---------------------------------------------------------------- report
vp=$(median_of "${ver[proxy]:-}"); vs=$(median_of "${ver[ssh]}")
cpp=$(median_of "${cp[proxy]:-}"); cps=$(median_of "${cp[ssh]}")
upp=$(median_of "${up[proxy]:-}"); ups=$(median_of "${up[ssh]}")
cpc=$(median_of "${cp[scp]}"); upc=$(median_of "${up[scp]}")
printf '\nssh bench: docker CLI as %s -> sshd 127.0.0.1:%s -> rootful test dockerd; %d docker version rounds, %d x %d MiB docker cp rounds, interleaved; medians\n' \
  "$U" "$PORT" "$N" "$CP_ROUNDS" $((CP_BYTES / 1048576))
printf '%-36s %14s %14s %12s %s\n' metric proxy ssh:// ratio expectation
awk -v p="$vp" -v s="$vs" 'BEGIN {
  if (p == "nan") printf "%-36s %14s %14.1f %12s %s\n", "docker version median ms", "-", s/1000, "-", "ssh:// / proxy >= 5x"
  else printf "%-36s %14.1f %14.1f %11.1fx %s (%s)\n", "docker version median ms", p/1000, s/1000, s/p, "ssh:// / proxy >= 5x", (s/p >= 5 ? "met" : "NOT met") }'
awk -v p="$cpp" -v s="$cps" 'BEGIN {
  if (p == "nan") printf "%-36s %14s %14.0f %12s %s\n", "docker cp out MB/s", "-", s, "-", "proxy / ssh:// >= 1.0x"
  else printf "%-36s %14.0f %14.0f %11.2fx %s (%s)\n", "docker cp out MB/s", p, s, p/s, "proxy / ssh:// >= 1.0x", (p/s >= 1.0 ? "met" : "NOT met") }'
awk -v p="$upp" -v s="$ups" 'BEGIN {
  if (p == "nan") printf "%-36s %14s %14.0f %12s %s\n", "docker cp in MB/s", "-", s, "-", "proxy / ssh:// >= 1.0x"
  else printf "%-36s %14.0f %14.0f %11.2fx %s (%s)\n", "docker cp in MB/s", p, s, p/s, "proxy / ssh:// >= 1.0x", (p/s >= 1.0 ? "met" : "NOT met") }'
printf '%-36s %14s %14s %12s %s\n' "the ceiling: scp, same file, same sshd" proxy scp ratio expectation
for dir in out in; do
  if [ $dir = out ]; then p=$cpp; c=$cpc; else p=$upp; c=$upc; fi
  awk -v p="$p" -v c="$c" -v l="docker cp $dir vs scp $dir MB/s" 'BEGIN {
    if (p == "nan") printf "%-36s %14s %14.0f\n", l, "-", c
    else printf "%-36s %14.0f %14.0f %11.2fx %s (%s)\n", l, p, c, p/c, "proxy / scp >= 0.9x", (p/c >= 0.9 ? "met" : "NOT met") }'
done
read -r fs fs_ms <<<"${fan[ssh]}"
if [ "$SKIP_PROXY" != 1 ]; then read -r fp fp_ms <<<"${fan[proxy]}"; else fp=-; fp_ms=-; fi
printf '%-36s %14s %14s\n' "$FANOUT concurrent docker ps: failures" "$fp" "$fs"
printf '%-36s %14s %14s\n' "  wall time ms" "$fp_ms" "$fs_ms"
printf '%-36s %14s\n' "proxy VmRSS idle KiB" "$mem_idle"
printf '%-36s %14s\n' "proxy VmHWM, 256 MiB cp KiB" "$mem_small"
printf '%-36s %14s\n' "proxy VmHWM, $((CP_BYTES / 1048576)) MiB cp KiB" "$mem_big"
echo "  (all raw samples, version µs: proxy [${ver[proxy]:-}] ssh:// [${ver[ssh]}]; cp out MB/s: proxy [${cp[proxy]:-}] ssh:// [${cp[ssh]}]; cp in MB/s: proxy [${up[proxy]:-}] ssh:// [${up[ssh]}]; scp out [${cp[scp]}] in [${up[scp]}])"
for side in "${SIDES[@]}"; do
  if [ -s "$W/fan-$side.err" ]; then
    echo "  most frequent fan-out errors via $side (count, line):"
    sed 's/^/    /' "$W/fan-$side.err" | cut -c1-200
  fi
done
echo "  (sshd defaults: MaxStartups 10:30:100, MaxSessions 10; the ssh:// helper opens one SSH connection per Docker connection)"
