#!/usr/bin/env bash
# Docker over SSH, end to end with real parts: the real bulkhead-helper (root,
# dropping privileges) spawns the real agent, which carries the local sockets'
# connections over SSH to a real OpenSSH sshd on loopback (scripts/test-sshd.sh;
# user dockssh, whose sessions reach the rootful test dockerd). The real docker
# CLI runs as root against the local sockets.
#   lab    127.0.0.1:2222, ed25519 key           (streamlocal)
#   nosl   127.0.0.1:2223, sshd --no-streamlocal (falls back to dial-stdio)
#   fan    127.0.0.1:2224, its own sshd          (counting SSH connections)
#   bad    127.0.0.1:2222 with known_hosts.wrong (host key refused)
# Needs: scripts/testenv.sh up (starts sshd 2222). Run as root. Loopback only.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

BIN=${BULKHEAD_BIN_DIR:?set BULKHEAD_BIN_DIR to the build directory}
SSHD_CTL=$(cd "$here/../.." && pwd)/scripts/test-sshd.sh
RUN=/run/bulkhead-test
KEYS=$RUN/ssh
ROOTFUL=$RUN/rootful-docker.sock
LAB=$RUN/ssh-lab.sock
NOSL=$RUN/ssh-nosl.sock
FAN=$RUN/ssh-fan.sock
BAD=$RUN/ssh-bad.sock
IMAGE=bulkhead/busybox:latest
BUILD_TAG=bulkhead/ssh-test-build:latest
CONTAINERS=(bh-ssh-exec bh-ssh-logs bh-ssh-cp bh-ssh-kill)
FANOUT=50
# Scratch files (1 GiB blob, 200 MiB build context) need a disk, not /tmp on tmpfs.
W=$(mktemp -d /var/tmp/bulkhead-ssh-test.XXXXXX)
chmod 755 "$W"
HELPER_LOG=$W/helper.log
helper_pid=; agent_sock_pid=; proxy_pid=

# Docker CLI through a local socket, and straight to the rootful daemon; bounded.
dk() { local sock=$1; shift; with_timeout 120 docker -H "unix://$sock" "$@"; }
direct() { timeout 60 docker -H "unix://$ROOTFUL" "$@"; }
# ssh check NAME --config FILE: sets out (blanks squeezed: the output is
# column-aligned, e.g. "docker:    20.10.24+dfsg1 (API 1.41)") and rc.
run_check() {
  out=$(with_timeout 60 "$BIN/bulkhead-agent" ssh check "$@" 2>&1); rc=$?
  out=$(printf '%s' "$out" | tr '\t' ' ' | tr -s ' ')
}
accepted() { local n; n=$(grep -c "Accepted publickey for dockssh" "$RUN/sshd-$1.log" 2>/dev/null) || true; echo "${n:-0}"; }
# Established TCP connections to 127.0.0.1:PORT (from any client).
established_to() { ss -Htn state established "( dport = :$1 )" 2>/dev/null | wc -l; }
# Fingerprint of the key the test sshd serves (first entry of known_hosts).
SERVED_FP=$(ssh-keygen -lf "$KEYS/known_hosts" 2>/dev/null | awk 'NR == 1 { print $2 }')

cleanup() {
  direct rm -f "${CONTAINERS[@]}" >/dev/null 2>&1
  direct rmi -f "$BUILD_TAG" >/dev/null 2>&1
  [ -n "$proxy_pid" ] && kill -TERM "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  stop_helper
  [ -n "$agent_sock_pid" ] && kill -TERM "$agent_sock_pid" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null
  "$SSHD_CTL" stop 2223 >/dev/null 2>&1
  "$SSHD_CTL" stop 2224 >/dev/null 2>&1
  "$SSHD_CTL" start 2222 >/dev/null 2>&1   # in case a case killed it
  rm -rf "$W"
}
trap cleanup EXIT

# ---------------------------------------------------------------- set-up
if [ ! -s "$KEYS/known_hosts" ] || [ -z "$SERVED_FP" ]; then
  fail "test sshd keys present" "no $KEYS/known_hosts: run scripts/testenv.sh up"; summary; exit 1
fi
"$SSHD_CTL" start 2222 >/dev/null || { fail "sshd 2222 runs" "test-sshd.sh start 2222 failed"; summary; exit 1; }
"$SSHD_CTL" start 2223 --no-streamlocal >/dev/null || { fail "sshd 2223 (no streamlocal) starts" ""; summary; exit 1; }
"$SSHD_CTL" start 2224 >/dev/null || { fail "sshd 2224 starts" ""; summary; exit 1; }
direct rm -f "${CONTAINERS[@]}" >/dev/null 2>&1
df_free=$(df -Pk "$W" | awk 'NR == 2 { print $4 }')

remote_yaml() {  # name socket port key known_hosts [extra yaml lines...]
  local name=$1 sock=$2 port=$3 key=$4 kh=$5; shift 5
  printf '    - name: %s\n      local_socket: %s\n      ssh_user: dockssh\n      ssh_host: 127.0.0.1:%s\n' "$name" "$sock" "$port"
  [ -n "$key" ] && printf '      ssh_key_path: %s\n' "$key"
  printf '      remote_socket: %s\n      known_hosts: %s\n      timeout: 10s\n' "$ROOTFUL" "$kh"
  local l; for l in "$@"; do printf '      %s\n' "$l"; done
}
{
  printf 'router:\n  enabled: false\nssh:\n  remotes:\n'
  remote_yaml lab "$LAB" 2222 "$KEYS/id_ed25519" "$KEYS/known_hosts" "keepalive: 5s"
  remote_yaml nosl "$NOSL" 2223 "$KEYS/id_ed25519" "$KEYS/known_hosts"
  remote_yaml fan "$FAN" 2224 "$KEYS/id_ed25519" "$KEYS/known_hosts"
  remote_yaml bad "$BAD" 2222 "$KEYS/id_ed25519" "$KEYS/known_hosts.wrong"
} >"$W/bulkhead.yaml"

# Remotes only `ssh check` uses (never bound): other key types, ssh-agent, a loose key.
cp "$KEYS/id_ed25519" "$W/id_loose"; chmod 0644 "$W/id_loose"
{
  printf 'router:\n  enabled: false\nssh:\n  remotes:\n'
  remote_yaml k-ecdsa "$RUN/ssh-check-ecdsa.sock" 2222 "$KEYS/id_ecdsa" "$KEYS/known_hosts"
  remote_yaml k-rsa "$RUN/ssh-check-rsa.sock" 2222 "$KEYS/id_rsa" "$KEYS/known_hosts"
  remote_yaml k-agent "$RUN/ssh-check-agent.sock" 2222 "" "$KEYS/known_hosts"
  remote_yaml k-loose "$RUN/ssh-check-loose.sock" 2222 "$W/id_loose" "$KEYS/known_hosts"
} >"$W/check.yaml"

accepted_2224_before=$(accepted 2224)
setsid "$BIN/bulkhead-helper" --config "$W/bulkhead.yaml" >"$HELPER_LOG" 2>&1 &
helper_pid=$!
if ! wait_for 20 test -S "$LAB"; then
  cat "$HELPER_LOG"; fail "the lab socket appears" "no socket at $LAB"; summary; exit 1
fi
wait_for 30 docker -H "unix://$LAB" version

# ---------------------------------------------------------------- reusable cases
ps_burst() {  # seconds socket label: $FANOUT docker ps at once, all must succeed (outputs in $W/fan)
  local i p fails=0 pids=()
  mkdir -p "$W/fan"
  for i in $(seq 1 "$FANOUT"); do
    with_timeout "$1" docker -H "unix://$2" ps >"$W/fan/$i.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  check_eq "$3" 0 "$fails"
  [ "$fails" -eq 0 ] || sed -n '1,3p' "$(grep -L CONTAINER "$W"/fan/*.out | head -1)"
}
want_ver=$(direct version --format '{{.Server.Version}}')
want_api=$(direct version --format '{{.Server.APIVersion}}')

case_version_ps() {  # label socket
  local out
  out=$(dk "$2" version --format '{{.Server.Version}}' 2>&1)
  check_eq "$1: docker version shows the remote server" "$want_ver" "$out"
  check "$1: docker ps" dk "$2" ps
}
case_run() {
  check_eq "$1: run --rm echo" "hi" "$(dk "$2" run --rm "$IMAGE" echo hi 2>&1)"
}
case_exec_pipe() {
  dk "$2" rm -f bh-ssh-exec >/dev/null 2>&1
  check "$1: a long-running container starts" dk "$2" run -d --name bh-ssh-exec "$IMAGE" sleep 600
  check_eq "$1: exec -i fed from a pipe" "piped" "$(echo piped | with_timeout 60 docker -H "unix://$2" exec -i bh-ssh-exec cat 2>&1)"
  dk "$2" rm -f bh-ssh-exec >/dev/null 2>&1
}
case_logs_follow() {  # lines must arrive while the container runs; the command ends with it
  local f=$W/logs.out lp running
  dk "$2" rm -f bh-ssh-logs >/dev/null 2>&1
  dk "$2" run -d --name bh-ssh-logs "$IMAGE" sh -c 'i=1; while [ $i -le 10 ]; do echo line$i; i=$((i+1)); sleep 0.3; done' >/dev/null
  : >"$f"
  timeout 30 docker -H "unix://$2" logs -f bh-ssh-logs >"$f" 2>&1 &
  lp=$!
  wait_for 10 grep -q line1 "$f"
  running=$(direct inspect -f '{{.State.Running}}' bh-ssh-logs 2>&1)
  if grep -q line1 "$f" && [ "$running" = true ]; then pass "$1: logs -f lines arrive while the container runs"
  else fail "$1: logs -f lines arrive while the container runs" "running=$running, got [$(head -c 200 "$f")]"; fi
  local rc=0; wait "$lp" || rc=$?
  check_eq "$1: logs -f ends with the container (exit status)" 0 "$rc"
  check_eq "$1: logs -f output" "$(printf 'line%s\n' 1 2 3 4 5 6 7 8 9 10)" "$(cat "$f")"
  dk "$2" rm -f bh-ssh-logs >/dev/null 2>&1
}

echo "== 1. version, ps, ssh check"
case_version_ps lab "$LAB"
run_check lab --config "$W/bulkhead.yaml"
check_eq "ssh check lab exits 0" 0 "$rc"
check_contains "ssh check shows the host key fingerprint" "$SERVED_FP" "$out"
check_contains "ssh check shows the transport" "transport: streamlocal" "$out"
check_contains "ssh check shows the remote docker version" "docker: ${want_ver%%+*}" "$out"
check_contains "ssh check shows the remote API version" "$want_api" "$out"
check_contains "the helper log names the link's transport" "transport=streamlocal" "$(cat "$HELPER_LOG")"
ctx_line=$(grep -o 'docker context create .*' <<<"$out")
check_contains "ssh check prints the docker context line for the remote's socket" "docker context create bulkhead-lab" "$ctx_line"
mkdir -p "$W/docker-config"
check "the printed context line runs as printed" env DOCKER_CONFIG="$W/docker-config" timeout 60 sh -c "$ctx_line"
check_eq "docker --context bulkhead-lab reaches the remote daemon through the proxy" "$want_ver" \
  "$(DOCKER_CONFIG="$W/docker-config" timeout 60 docker --context bulkhead-lab version --format '{{.Server.Version}}' 2>&1)"

echo "== 2. run"
case_run lab "$LAB"

echo "== 3. logs -f"
case_logs_follow lab "$LAB"

echo "== 4. exec -i from a pipe"
case_exec_pipe lab "$LAB"

echo "== 4b. hijacked streams: exec -it on a pty, attach, run -i ending on half-close"
dk "$LAB" rm -f bh-ssh-exec >/dev/null 2>&1
dk "$LAB" run -d --name bh-ssh-exec "$IMAGE" sleep 600 >/dev/null
# script(1) gives the docker CLI a real terminal, so -t allocates one in the container.
out=$(with_timeout 60 script -qec "docker -H unix://$LAB exec -it bh-ssh-exec sh -c 'tty; echo tty-ok'" /dev/null 2>&1 | tr -d '\r')
check_contains "exec -it gets a terminal in the container" "/dev/pts/" "$out"
check_contains "exec -it output arrives" "tty-ok" "$out"
dk "$LAB" rm -f bh-ssh-exec >/dev/null 2>&1
dk "$LAB" run -d -i --name bh-ssh-exec "$IMAGE" sh >/dev/null
# The pause matters with any daemon: if stdin ends before the output arrives, the
# docker CLI detaches at once (seen on the direct socket too).
out=$( (printf 'echo attached-ok\n'; sleep 1; printf 'exit\n') | with_timeout 60 docker -H "unix://$LAB" attach bh-ssh-exec 2>&1)
check_contains "attach: input reaches the container, output comes back" "attached-ok" "$out"
dk "$LAB" rm -f bh-ssh-exec >/dev/null 2>&1
out=$(printf 'echo interactive-ok\n' | with_timeout 60 docker -H "unix://$LAB" run -i --rm "$IMAGE" sh 2>&1)
check_eq "run -i ends when its input ends (half-close forwarded)" "interactive-ok" "$out"

echo "== 5. legacy build with a 200 MiB context"
mkdir -p "$W/ctx"
head -c $((200 * 1048576)) /dev/urandom >"$W/ctx/big"
printf 'FROM %s\nCOPY big /big\nRUN wc -c /big\n' "$IMAGE" >"$W/ctx/Dockerfile"
out=$(DOCKER_BUILDKIT=0 with_timeout 300 docker -H "unix://$LAB" build -t "$BUILD_TAG" "$W/ctx" 2>&1); rc=$?
check_eq "build exits 0" 0 "$rc"
check_contains "the build sees the whole context" "$((200 * 1048576)) /big" "$out"
check_contains "the image is tagged" "Successfully tagged $BUILD_TAG" "$out"
direct rmi -f "$BUILD_TAG" >/dev/null 2>&1
rm -rf "$W/ctx"

echo "== 6. docker cp, 1 GiB, both ways"
if [ "${df_free:-0}" -lt $((4 * 1048576)) ]; then
  fail "room for the 1 GiB cp test" "only ${df_free} KiB free in $W"
else
  head -c 1073741824 /dev/urandom >"$W/blob"
  want=$(sha256sum "$W/blob" | cut -d' ' -f1)
  check "a container for cp starts" dk "$LAB" run -d --name bh-ssh-cp "$IMAGE" sleep 600
  check "cp 1 GiB into the container" with_timeout 300 docker -H "unix://$LAB" cp "$W/blob" bh-ssh-cp:/blob
  got=$(direct exec bh-ssh-cp sha256sum /blob 2>&1 | cut -d' ' -f1)
  check_eq "1 GiB in: sha256 inside the container" "$want" "$got"
  rm -f "$W/blob"
  check "cp 1 GiB out of the container" with_timeout 300 docker -H "unix://$LAB" cp bh-ssh-cp:/blob "$W/blob.back"
  got=$(sha256sum "$W/blob.back" 2>/dev/null | cut -d' ' -f1)
  check_eq "1 GiB out: sha256 at the client" "$want" "$got"
  rm -f "$W/blob.back"
  direct rm -f bh-ssh-cp >/dev/null 2>&1
fi

echo "== 6b. flow control: memory stays bounded"
# After 2 GiB relayed (case 6) the agent's peak RSS must be nowhere near the transfer size.
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$(agent_pid)/status" 2>/dev/null)
echo "      agent VmHWM after the cp cases: ${hwm:-?} KiB"
if [ -n "$hwm" ] && [ "$hwm" -lt $((160 * 1024)) ]; then pass "agent peak memory stays under 160 MiB after 2 GiB"
else fail "agent peak memory stays under 160 MiB after 2 GiB" "VmHWM ${hwm:-?} KiB"; fi
# A remote that never reads: 512 MiB pushed at a container that sleeps. The client
# must be held back (SSH window, then the agent stops reading), not buffered.
dk "$LAB" rm -f bh-ssh-exec >/dev/null 2>&1
dk "$LAB" run -d --name bh-ssh-exec "$IMAGE" sleep 600 >/dev/null
rss_before=$(awk '/VmRSS/ { print $2 }' "/proc/$(agent_pid)/status")
( head -c $((512 * 1048576)) /dev/zero | with_timeout 60 docker -H "unix://$LAB" exec -i bh-ssh-exec sleep 6 >/dev/null 2>&1 ) &
stall=$!
sleep 4
rss_during=$(awk '/VmRSS/ { print $2 }' "/proc/$(agent_pid)/status")
wait "$stall"
echo "      agent VmRSS before ${rss_before} KiB, while the remote does not read ${rss_during} KiB"
if [ $((rss_during - rss_before)) -lt $((64 * 1024)) ]; then pass "a remote that does not read holds the client back (RSS grows < 64 MiB)"
else fail "a remote that does not read holds the client back (RSS grows < 64 MiB)" "before ${rss_before} KiB, during ${rss_during} KiB"; fi
check_eq "the link still works afterwards" "$want_ver" "$(dk "$LAB" version --format '{{.Server.Version}}' 2>&1)"
dk "$LAB" rm -f bh-ssh-exec >/dev/null 2>&1

echo "== 7. $FANOUT concurrent docker ps over one SSH connection (remote fan, sshd 2224)"
ps_burst 60 "$FAN" "all $FANOUT concurrent docker ps succeed"
check_eq "sshd 2224 accepted exactly one SSH connection since the helper started" 1 "$(( $(accepted 2224) - accepted_2224_before ))"
check_eq "exactly one established TCP connection to 2224" 1 "$(established_to 2224)"
rm -rf "$W/fan"

echo "== 8a. wrong host key"
run_check bad --config "$W/bulkhead.yaml"
[ "$rc" -ne 0 ] && pass "ssh check bad fails" || fail "ssh check bad fails" "exit 0: $out"
check_contains "the refusal says host key" "host key" "$out"
check_contains "the refusal names the offered key's fingerprint" "$SERVED_FP" "$out"
out=$(with_timeout 40 docker -H "unix://$BAD" version 2>&1); rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then pass "docker through the bad remote gets an error, not a hang"
else fail "docker through the bad remote gets an error, not a hang" "exit $rc: $out"; fi
echo "      docker said: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ' | cut -c1-300)"
bad_log=$(grep -i "host key" "$HELPER_LOG" | tail -n 3)
check_contains "the agent logs the host key refusal" "host key" "$bad_log"
check_contains "the logged refusal has the fingerprint" "SHA256:" "$bad_log"

echo "== 8b. sshd without streamlocal forwarding: dial-stdio fallback"
case_version_ps nosl "$NOSL"
check_contains "the helper log shows the dial-stdio transport" "transport=dial-stdio" "$(cat "$HELPER_LOG")"
case_run nosl "$NOSL"
case_exec_pipe nosl "$NOSL"
case_logs_follow nosl "$NOSL"
run_check nosl --config "$W/bulkhead.yaml"
check_contains "ssh check nosl reports dial-stdio" "transport: dial-stdio" "$out"

echo "== 8b2. $FANOUT concurrent clients on dial-stdio: sshd's MaxSessions (10) per connection"
# Each client is an SSH session here, and sshd refuses the 11th on one connection: the
# proxy must open more connections (at most ceil($FANOUT / 10)), and no client may fail.
# The bound allows one connection more than ceil($FANOUT / 10): sessions that ended just
# before are still counted by sshd until their process exits, and a refusal in that window
# can make the proxy open one more (on a fresh remote it opens exactly ceil($FANOUT / 10)).
max_conns=$(( (FANOUT + 9) / 10 + 1 ))
# First $FANOUT clients that hold their connections (so their sessions) open together until
# every one has its answer: the refusals teach the proxy the server's limit, and it packs
# the clients into as few connections as that allows.
out=$(with_timeout 120 python3 - "$NOSL" "$FANOUT" <<'PY' 2>&1
import socket, sys
path, n = sys.argv[1], int(sys.argv[2])
clients = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX); s.settimeout(90); s.connect(path)
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"); clients.append(s)
ok = 0
for s in clients:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
    ok += data.startswith(b"HTTP/1.1 200")
print("answered", ok, "of", n)
PY
)
nosl_conns=$(established_to 2223)
check_eq "$FANOUT clients holding a session at once: every one answered" "answered $FANOUT of $FANOUT" "$(tail -n 1 <<<"$out")"
echo "      SSH connections to 2223 with $FANOUT sessions held: $nosl_conns"
check "... over more than one SSH connection and at most ceil($FANOUT / 10) + 1 = $max_conns" test "$nosl_conns" -gt 1 -a "$nosl_conns" -le "$max_conns"
ps_burst 120 "$NOSL" "all $FANOUT concurrent docker ps through nosl succeed"
echo "      SSH connections to 2223 after the docker ps burst: $(established_to 2223)"
check "still at most $max_conns SSH connections" test "$(established_to 2223)" -le "$max_conns"
rm -rf "$W/fan"
check_contains "sshd logged the refused sessions (no more sessions)" "no more sessions" "$(cat "$RUN/sshd-2223.log")"
check_contains "the agent logged the extra connections" "opening another SSH connection" "$(cat "$HELPER_LOG")"
# docker-py (PyPI, pinned in scripts/bench-python.sh): 20 threads, 100 calls. Its pool
# discards connections beyond max_pool_size without waiting for them to close, so it holds
# more sockets than threads: the script measures the most it held, and the proxy may use
# ceil(that / 10) SSH connections, no more.
venv_bin=$(bash "$here/../../scripts/bench-python.sh" 2>"$W/venv.log")
if [ -z "$venv_bin" ]; then
  fail "docker-py is available" "$(tail -n 5 "$W/venv.log")"
else
  out=$(with_timeout 180 "$venv_bin/python" - "$NOSL" <<'PY' 2>&1
import concurrent.futures, os, sys, threading, time, docker
client = docker.DockerClient(base_url="unix://" + sys.argv[1], max_pool_size=20, timeout=60)
peak, done = [0], threading.Event()
def sockets():
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink("/proc/self/fd/" + fd).startswith("socket:")
        except OSError:
            pass
    return n
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], sockets()); time.sleep(0.005)
sampler = threading.Thread(target=sample); sampler.start()
def call(i):
    return len(client.containers.list(all=True)) >= 0 and client.ping()
with concurrent.futures.ThreadPoolExecutor(20) as pool:
    results = list(pool.map(call, range(100)))
done.set(); sampler.join()
print("failed", len(results) - sum(results), "peak", peak[0])
PY
)
  last=$(tail -n 1 <<<"$out")
  check_eq "docker-py: 100 calls from 20 threads, none failed" "failed 0" "${last% peak *}"
  peak=${last##* peak }
  [[ "$peak" =~ ^[0-9]+$ ]] || peak=0
  allowed=$(( (peak + 9) / 10 + 1 )); [ "$allowed" -ge "$max_conns" ] || allowed=$max_conns
  echo "      docker-py held at most $peak sockets; SSH connections to 2223: $(established_to 2223)"
  check "docker-py: at most ceil(max($peak, $FANOUT) / 10) + 1 = $allowed SSH connections" test "$(established_to 2223)" -le "$allowed"
fi

echo "== 8c. sshd killed mid-stream"
dk "$LAB" rm -f bh-ssh-kill >/dev/null 2>&1
dk "$LAB" run -d --name bh-ssh-kill "$IMAGE" sh -c 'while :; do echo tick; sleep 0.5; done' >/dev/null
timeout 60 docker -H "unix://$LAB" logs -f bh-ssh-kill >"$W/kill.out" 2>&1 &
lp=$!
wait_for 10 grep -q tick "$W/kill.out"
check "logs -f streams before the kill" grep -q tick "$W/kill.out"
"$SSHD_CTL" kill 2222 >/dev/null
t0=$SECONDS
wait_gone 30 "$lp"
rc=0; if pid_alive "$lp"; then rc=hang; kill "$lp" 2>/dev/null; wait "$lp" 2>/dev/null; else wait "$lp" || rc=$?; fi
said=$(grep -v '^tick$' "$W/kill.out" | tail -n 2 | tr '\n' ' ' | cut -c1-300)
# Ended by itself within 30 s, and either a non-zero status or an error message.
if [ "$rc" != hang ] && [ "$rc" != 124 ] && { [ "$rc" != 0 ] || [ -n "$said" ]; }; then
  pass "the client's logs -f ends with an error ($((SECONDS - t0))s, exit $rc)"
else
  fail "the client's logs -f ends with an error" "exit $rc; last: $(tail -n 2 "$W/kill.out" | tr '\n' ' ')"
fi
echo "      client said: $said"
check "sshd 2222 starts again" "$SSHD_CTL" start 2222
check "docker version through lab works again within 15 s" wait_for 15 docker -H "unix://$LAB" version
direct rm -f bh-ssh-kill >/dev/null 2>&1

echo "== 9. key types and ssh-agent"
for k in ecdsa rsa; do
  run_check "k-$k" --config "$W/check.yaml"
  check_eq "ssh check with id_$k exits 0" 0 "$rc"
  check_contains "ssh check with id_$k reaches docker" "docker: ${want_ver%%+*}" "$out"
done
agent_sock=$W/ssh-agent.sock
agent_env=$(timeout 10 ssh-agent -a "$agent_sock" -s 2>&1)
agent_sock_pid=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' <<<"$agent_env")
check "ssh-add the ed25519 key" env SSH_AUTH_SOCK="$agent_sock" timeout 10 ssh-add -q "$KEYS/id_ed25519"
SSH_AUTH_SOCK=$agent_sock run_check k-agent --config "$W/check.yaml"
check_eq "ssh check via ssh-agent (no ssh_key_path) exits 0" 0 "$rc"
check_contains "ssh check via ssh-agent reaches docker" "docker: ${want_ver%%+*}" "$out"
out=$(env -u SSH_AUTH_SOCK timeout 60 "$BIN/bulkhead-agent" ssh check k-agent --config "$W/check.yaml" 2>&1); rc=$?
[ "$rc" -ne 0 ] && pass "without key and agent, ssh check fails" || fail "without key and agent, ssh check fails" "$out"
[ -n "$agent_sock_pid" ] && kill -TERM "$agent_sock_pid" 2>/dev/null
agent_sock_pid=

echo "== 10. key permissions"
run_check k-loose --config "$W/check.yaml"
[ "$rc" -ne 0 ] && pass "a 0644 key is refused" || fail "a 0644 key is refused" "exit 0: $out"
check_contains "the refusal says 0600" "0600" "$out"

echo "== 11. standalone ssh proxy"
PX=$RUN/ssh-proxy-test.sock
"$BIN/bulkhead-agent" ssh proxy -ssh-user dockssh -ssh-host 127.0.0.1:2222 -ssh-key "$KEYS/id_ed25519" \
  -local-socket "$PX" -remote-socket "$ROOTFUL" -timeout 10s --known-hosts "$KEYS/known_hosts" \
  --transport dial-stdio >"$W/proxy.log" 2>&1 &
proxy_pid=$!
if wait_for 20 test -S "$PX"; then
  check_eq "proxy (dial-stdio): run --rm echo" "hi" "$(dk "$PX" run --rm "$IMAGE" echo hi 2>&1)"
  kill -TERM "$proxy_pid"; rc=0
  wait_gone 15 "$proxy_pid"
  wait "$proxy_pid" || rc=$?
  check_eq "the proxy exits 0 on SIGTERM" 0 "$rc"
  check "the proxy removes its socket" test ! -e "$PX"
else
  fail "the standalone proxy binds its socket" "$(tail -n 5 "$W/proxy.log")"
  kill -TERM "$proxy_pid" 2>/dev/null
fi
proxy_pid=

echo "== 11b. kill -9 of the agent: restarted by the helper, links converge"
old_agent=$(agent_pid)
kill -KILL "$old_agent"
new_agent=
new_agent_runs() { new_agent=$(agent_pid); [ -n "$new_agent" ] && [ "$new_agent" != "$old_agent" ]; }
wait_for 30 new_agent_runs
if [ -n "$new_agent" ] && [ "$new_agent" != "$old_agent" ]; then pass "a new agent runs (pid $old_agent -> $new_agent)"
else fail "a new agent runs" "agent pid still [$new_agent]"; fi
check "docker version through lab works again within 30 s" wait_for 30 docker -H "unix://$LAB" version
check "docker ps through fan works again" wait_for 30 docker -H "unix://$FAN" ps
# The dead agent's SSH connections went with it; the new one has exactly one per remote.
check_eq "exactly one established TCP connection to 2224 (none leaked, none doubled)" 1 "$(established_to 2224)"

echo "== 12. graceful stop of the helper"
last_agent=$(agent_pid)
kill -TERM "$helper_pid"
wait_gone 20 "$helper_pid"
code=0; wait "$helper_pid" || code=$?
helper_pid=
check_eq "the helper exits 0 on SIGTERM" 0 "$code"
check "the lab socket is removed" test ! -e "$LAB"
check "every remote's socket is removed" test ! -e "$NOSL" -a ! -e "$FAN" -a ! -e "$BAD"
[ -n "$last_agent" ] && check "the agent is gone" wait_gone 0 "$last_agent"

summary
