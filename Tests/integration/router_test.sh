#!/usr/bin/env bash
# Router, end to end with real parts: the real bulkhead-helper (root, dropping
# privileges) spawns the real agent; the real docker CLI runs as alice, bob,
# carol and root against the router; alice and bob each have a real rootless
# dockerd, root is relayed to the rootful test dockerd (router.root_policy=socket).
# Needs: scripts/testenv.sh up. Run as root. Traffic stays on this machine.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

BIN=${BULKHEAD_BIN_DIR:?set BULKHEAD_BIN_DIR to the build directory}
WORK=$(mktemp -d /tmp/bulkhead-router-test.XXXXXX)
chmod 755 "$WORK"
ROUTER=/run/bulkhead-test/router.sock
ROOTFUL=/run/bulkhead-test/rootful-docker.sock
LIMIT=6
HELPER_LOG=$WORK/helper.log
IMAGE=bulkhead/busybox:latest
ALICE=$(uid_of alice); BOB=$(uid_of bob); CAROL=$(uid_of carol)

cat >"$WORK/bulkhead.yaml" <<YAML
router:
  listen: $ROUTER
  root_policy: socket
  root_socket: $ROOTFUL
  max_connections_per_user: $LIMIT
YAML

helper_pid=
start_helper() {  # config file, log file
  setsid "$BIN/bulkhead-helper" --config "$1" >"$2" 2>&1 &
  helper_pid=$!
}
dk() { local user=$1; shift; as_user "$user" docker -H "unix://$ROUTER" "$@"; }
cleanup() {
  for u in alice bob; do as_user "$u" docker -H "unix:///run/user/$(uid_of "$u")/docker.sock" rm -f bh-it-exec bh-it-marker >/dev/null 2>&1; done
  stop_helper
  jobs -p | xargs -r kill 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Containers this test creates are made fresh (a stopped one from an earlier run would
# otherwise keep the name).
for u in alice bob; do as_user "$u" docker -H "unix:///run/user/$(uid_of "$u")/docker.sock" rm -f bh-it-exec bh-it-marker >/dev/null 2>&1; done

start_helper "$WORK/bulkhead.yaml" "$HELPER_LOG"
wait_for 20 test -S "$ROUTER" || { cat "$HELPER_LOG"; fail "router socket appears" "no socket at $ROUTER"; summary; exit 1; }
wait_for 20 dk alice version

echo "== identity: each user reaches only their own daemon"
out=$(dk alice info 2>&1)
check_contains "alice reaches a rootless daemon" "rootless" "$out"
check_contains "alice's daemon is hers" "Docker Root Dir: /home/alice/" "$out"
out=$(dk bob info 2>&1)
check_contains "bob reaches a rootless daemon" "rootless" "$out"
check_contains "bob's daemon is his" "Docker Root Dir: /home/bob/" "$out"
dk alice create --name bh-it-marker "$IMAGE" true >/dev/null 2>&1
check_contains "alice sees her container" "bh-it-marker" "$(dk alice ps -a --format '{{.Names}}' 2>&1)"
out=$(dk bob ps -a --format '{{.Names}}' 2>&1)
if [[ $out == *bh-it-marker* ]]; then fail "bob never sees alice's container" "$out"; else pass "bob never sees alice's container"; fi
out=$(as_user alice docker -H "unix:///run/user/$BOB/docker.sock" info 2>&1)
check_contains "alice cannot open bob's socket directly" "permission denied" "$out"
out=$(dk root info 2>&1)
check_contains "root follows root_policy=socket to the rootful daemon" "Docker Root Dir: /var/lib/bulkhead-test/rootful-docker" "$out"

echo "== clear errors"
out=$(dk carol version 2>&1)
check_contains "a user without a daemon gets the router's message" "Error response from daemon: bulkhead router: no rootless Docker daemon for uid $CAROL" "$out"

echo "== containers, exec and half-close through the router"
check_eq "docker run --rm" "hello-from-busybox" "$(dk alice run --rm "$IMAGE" echo hello-from-busybox 2>&1)"
check "a long-running container starts" dk alice run -d --name bh-it-exec "$IMAGE" sleep 600
check_eq "exec -i fed from a pipe" "piped-line" "$(echo piped-line | dk alice exec -i bh-it-exec cat 2>&1)"
seq 1 20000 >"$WORK/lines"
check_eq "run -i with piped stdin ends on half-close" "$(wc -l <"$WORK/lines")" "$(dk alice run -i --rm "$IMAGE" wc -l <"$WORK/lines" 2>&1 | tr -d ' ')"
out=$(printf 'echo attached-shell\nexit\n' | with_timeout 60 as_user alice docker -H "unix://$ROUTER" run -i --rm "$IMAGE" sh 2>&1)
check_contains "interactive shell over an attach stream" "attached-shell" "$out"

echo "== 1 GiB crosses the relay byte-identical, both ways"
head -c 1073741824 /dev/urandom >"$WORK/blob"
want=$(sha256sum "$WORK/blob" | cut -d' ' -f1)
chmod 644 "$WORK/blob"
got=$(as_user alice sh -c "docker -H unix://$ROUTER exec -i bh-it-exec sh -c 'cat >/tmp/blob && sha256sum /tmp/blob' <'$WORK/blob'" 2>&1 | cut -d' ' -f1)
check_eq "1 GiB up (sha256 inside the container)" "$want" "$got"
got=$(dk alice exec bh-it-exec cat /tmp/blob 2>/dev/null | sha256sum | cut -d' ' -f1)
check_eq "1 GiB down (sha256 at the client)" "$want" "$got"
dk alice exec bh-it-exec rm -f /tmp/blob >/dev/null 2>&1
rm -f "$WORK/blob"

echo "== per-connection stats in the log"
log_line=$(grep "router: connection closed" "$HELPER_LOG" | grep "uid=$ALICE" | tail -1)
check_contains "stats name the uid" "uid=$ALICE" "$log_line"
check_contains "stats count bytes to docker" "bytes_to_docker=" "$log_line"
check_contains "stats count bytes from docker" "bytes_from_docker=" "$log_line"
check_contains "stats give the duration" "duration_ms=" "$log_line"

echo "== per-user connection limit"
# Idle connections held open by alice; "bh-holder" marks them for pkill.
for _ in $(seq 1 "$LIMIT"); do
  as_user alice python3 -c "import socket,time; s=socket.socket(socket.AF_UNIX); s.connect('$ROUTER'); time.sleep(30) # bh-holder" 2>/dev/null &
done
wait_for 10 sh -c "ss -xp | grep -c '$ROUTER' | awk '{exit !(\$1 >= $LIMIT)}'"
sleep 1
out=$(dk alice version 2>&1)
check_contains "connection over the limit gets a clear error" "router.max_connections_per_user" "$out"
out=$(dk bob version --format '{{.Server.Version}}' 2>&1)
[[ $out =~ ^[0-9] ]] && pass "another user is not limited by alice's connections" || fail "another user is not limited by alice's connections" "$out"
pkill -u alice -f bh-holder
check "alice is served again once her connections close" wait_for 15 dk alice version

echo "== refused connections cannot exhaust the agent's fds"
# carol has no daemon: each of her connections is refused. 300 idle ones, sending
# nothing: each refusal holds a per-user slot until it is answered (2 s at most),
# then 32 overflow answers at most, and the rest are closed at once.
apid=$(agent_pid)
fds_before=$(ls /proc/"$apid"/fd | wc -l)
as_user carol python3 -c "
import socket,time
held=[]
for _ in range(300):
    s=socket.socket(socket.AF_UNIX); s.connect('$ROUTER'); held.append(s)
time.sleep(8) # bh-flood" 2>/dev/null &
peak=0
for _ in $(seq 1 20); do n=$(ls /proc/"$apid"/fd | wc -l); ((n > peak)) && peak=$n; sleep 0.1; done
out=$(dk bob version --format '{{.Server.Version}}' 2>&1)
[[ $out =~ ^[0-9] ]] && pass "bob is served during carol's flood" || fail "bob is served during carol's flood" "$out"
bound=$((LIMIT + 32 + 16))
((peak - fds_before <= bound)) && pass "agent fds grow by at most $bound during the flood (grew $((peak - fds_before)))" \
  || fail "agent fds stay bounded during a flood of refused connections" "grew from $fds_before to $peak"
pkill -u carol -f bh-flood
wait_for 15 sh -c "[ \$(ls /proc/$apid/fd | wc -l) -le $((fds_before + 4)) ]"
check_eq "the agent's fds are back once the flood ends" 1 "$(( $(ls /proc/"$apid"/fd | wc -l) <= fds_before + 4 ))"

echo "== a container that mounts the router socket (another network namespace)"
# The user's own rootless daemon runs a container with the router socket bind-mounted
# and the host's docker CLI (it needs only libc) inside: its root is the user's uid.
in_container() {  # user: docker info inside a container of that user's daemon, through the router
  as_user "$1" timeout 60 docker -H "unix:///run/user/$(uid_of "$1")/docker.sock" run --rm \
    -v "$ROUTER:/var/run/docker.sock" -v /usr/bin/docker:/usr/bin/docker:ro \
    -v /lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro -v /lib64:/lib64:ro \
    "$IMAGE" /usr/bin/docker info --format '{{.DockerRootDir}} {{.SecurityOptions}}' 2>&1
}
out=$(in_container alice)
check_contains "alice's container reaches alice's own daemon through the router" "/home/alice/" "$out"
check_contains "that daemon is rootless" "rootless" "$out"
out=$(in_container bob)
check_contains "bob's container reaches only bob's daemon" "/home/bob/" "$out"
[[ $out == *"/home/alice/"* ]] && fail "bob's container never reaches alice's daemon" "$out" || pass "bob's container never reaches alice's daemon"

echo "== capabilities as the kernel reports them"
helper_ok=1; agent_ok=1
for st in /proc/"$helper_pid"/task/*/status; do
  grep -q '^CapEff:\s*0000000000000403$' "$st" || helper_ok=0
  grep -q '^Seccomp:\s*2$' "$st" || helper_ok=0
done
apid=$(agent_pid)
for st in /proc/"$apid"/task/*/status; do grep -q '^CapEff:\s*0000000000000000$' "$st" || agent_ok=0; done
check_eq "every helper thread: CapEff 0x403 and seccomp filter" 1 "$helper_ok"
check_eq "every agent thread: CapEff 0 ($(ls /proc/"$apid"/task | wc -l) threads)" 1 "$agent_ok"
check_eq "the agent runs as bulkhead" "bulkhead" "$(ps -o user= -p "$apid")"

echo "== kill -9 the agent mid-transfer"
inode_before=$(stat -c %i "$ROUTER")
as_user alice sh -c "head -c 4294967296 /dev/zero | docker -H unix://$ROUTER exec -i bh-it-exec sh -c 'cat >/dev/null'" >/dev/null 2>&1 &
transfer=$!
sleep 3
check "a 4 GiB transfer is under way when the agent is killed" pid_alive "$transfer"
old_agent=$(agent_pid)
kill -9 "$old_agent"
wait "$transfer" 2>/dev/null
check "the helper survives the agent's death" pid_alive "$helper_pid"
new_agent() { local p; p=$(agent_pid); [ -n "$p" ] && [ "$p" != "$old_agent" ]; }
check "a new agent starts" wait_for 20 new_agent
check "the router serves again" wait_for 30 dk alice version
check_eq "the socket is the same (kept by the helper)" "$inode_before" "$(stat -c %i "$ROUTER")"

echo "== a live socket owned by another daemon is never taken"
cat >"$WORK/conflict.yaml" <<YAML
router:
  listen: $ROOTFUL
YAML
conflict_log=$WORK/conflict.log
"$BIN/bulkhead-helper" --config "$WORK/conflict.yaml" >"$conflict_log" 2>&1 &
conflict_pid=$!
wait_for 15 grep -q "live socket" "$conflict_log"
kill -TERM "$conflict_pid" 2>/dev/null; wait "$conflict_pid" 2>/dev/null
check_contains "the refusal names router.listen" "change router.listen" "$(cat "$conflict_log")"
check "the rootful daemon's socket still works" docker -H "unix://$ROOTFUL" version

echo "== graceful stop"
last_agent=$(agent_pid)
kill -TERM "$helper_pid"
wait_gone 20 "$helper_pid"
wait "$helper_pid"; code=$?
helper_pid=
check_eq "the helper exits 0 on SIGTERM" 0 "$code"
check "the router socket is removed" test ! -e "$ROUTER"
check "the agent is gone" wait_gone 0 "$last_agent"

summary
