#!/usr/bin/env bash
# Audit proxy, end to end with real parts: the real helper and agent, the real
# docker CLI through audit.listen, the rootful test dockerd as audit.upstream.
# One labelled FAKE daemon (python) is used only for what no real dockerd sends:
# a malformed multiplexed stream.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
BIN=${BULKHEAD_BIN_DIR:?set BULKHEAD_BIN_DIR to the build directory}
RUN=/run/bulkhead-test
PROXY=$RUN/audit.sock
DIRECT=$RUN/rootful-docker.sock
LOGDIR=$RUN/audit-log
AUDIT=$LOGDIR/audit.jsonl
IMAGE=bulkhead/busybox:latest
W=$(mktemp -d /tmp/bulkhead-audit-test.XXXXXX)
mkdir -p "$LOGDIR" && chown bulkhead "$LOGDIR" && rm -f "$AUDIT" "$AUDIT.1" "$LOGDIR/baseline.jsonl"
helper_pid=; fake_pid=
dp() { docker -H "unix://$PROXY" "$@"; }
dd_() { docker -H "unix://$DIRECT" "$@"; }
start_helper() {  # config, log
  setsid "$BIN/bulkhead-helper" --config "$1" >"$2" 2>&1 &
  helper_pid=$!
  wait_for 20 test -S "$PROXY"
}
cleanup() {
  dd_ rm -f bh-au-plain bh-au-tty bh-au-follow >/dev/null 2>&1
  stop_helper
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
  rm -rf "$W" "$RUN/fake-docker.sock"
}
trap cleanup EXIT
events() { grep -c '"event":"secret"' "$AUDIT" 2>/dev/null || echo 0; }
# Synthetic secrets (random, not real).
AWS=AKIA$(head -c 300 /dev/urandom | tr -dc 'A-Z2-7' | head -c 16)
GH1=ghp_$(head -c 300 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 18)
GH2=$(head -c 300 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 18)
PW=Pw$(head -c 300 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 12)
red() { local v=$1; echo "${v:0:2}***${v: -2}"; }

cat >"$W/audit.yaml" <<YAML
audit:
  listen: $PROXY
  upstream: $DIRECT
  log_file: $AUDIT
YAML
start_helper "$W/audit.yaml" "$W/helper.log" || { cat "$W/helper.log"; fail "audit socket appears" "no $PROXY"; summary; exit 1; }
wait_for 20 dp version

echo "== logs: byte-identical, exact redacted events"
dd_ rm -f bh-au-plain >/dev/null 2>&1
dp run -d --name bh-au-plain "$IMAGE" sh -c "echo AWS_ACCESS_KEY_ID=$AWS; echo 'db password=$PW' >&2; printf 'token $GH1'; sleep 0.3; printf '$GH2 ok\n'" >/dev/null
wait_for 20 sh -c "[ \"\$(docker -H unix://$DIRECT inspect -f '{{.State.Running}}' bh-au-plain)\" = false ]"
dp logs bh-au-plain >"$W/p.out" 2>"$W/p.err"; dd_ logs bh-au-plain >"$W/d.out" 2>"$W/d.err"
check "stdout through the proxy is byte-identical" cmp "$W/p.out" "$W/d.out"
check "stderr through the proxy is byte-identical" cmp "$W/p.err" "$W/d.err"
wait_for 10 sh -c "[ \$(grep -c '\"event\":\"secret\"' $AUDIT) -ge 3 ]"
got=$(python3 -c '
import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e["event"]=="secret": print(e["pattern"], e["stream_type"], e["source"], e["redacted_match"])
' "$AUDIT" | sort)
want=$(printf '%s\n' "aws-access-key stdout logs $(red "$AWS")" "github-token stdout logs $(red "$GH1$GH2")" "password stderr logs $(red "$PW")" | sort)
check_eq "exactly the expected events (incl. a token split across two writes)" "$want" "$got"
cid=$(dd_ inspect -f '{{.Id}}' bh-au-plain)
check_contains "events name the container" "\"container_id\":\"$cid\"" "$(cat "$AUDIT")"

echo "== tty, exec, exec -i, logs -f"
before=$(events)
dd_ rm -f bh-au-tty >/dev/null 2>&1
dp run -d -t --name bh-au-tty "$IMAGE" sh -c "echo tty token $GH1$GH2; sleep 600" >/dev/null
sleep 1
dp logs bh-au-tty >"$W/tty.out"; dd_ logs bh-au-tty >"$W/tty.direct"
check "tty logs byte-identical" cmp "$W/tty.out" "$W/tty.direct"
check "a tty stream is audited as one stream" wait_for 10 grep -q '"stream_type":"tty"' "$AUDIT"
out=$(dp exec bh-au-tty sh -c "echo exec says $AWS")
check_contains "exec output passes through" "exec says $AWS" "$out"
check "exec output is audited against its container" wait_for 10 sh -c "grep '\"source\":\"exec\"' $AUDIT | grep -q $(dd_ inspect -f '{{.Id}}' bh-au-tty)"
check_eq "exec -i fed from a pipe works through the proxy" "piped" "$(echo piped | dp exec -i bh-au-tty cat)"
out=$(echo "attach says password=$PW" | dp run -i --rm "$IMAGE" cat)
check_contains "run -i (an attach stream) passes through" "attach says password=$PW" "$out"
check "attach output is audited" wait_for 10 grep -q '"source":"attach"' "$AUDIT"
# A client that goes away takes its upstream connection with it (the daemon's
# request context is cancelled): the agent holds no socket for it afterwards.
agent=$(agent_of "$helper_pid")
sockets() { find /proc/"$agent"/fd -lname 'socket:*' 2>/dev/null | wc -l; }
idle=$(sockets)
docker -H "unix://$PROXY" logs -f bh-au-tty >/dev/null 2>&1 &
follower=$!
wait_for 10 sh -c "[ \$(find /proc/$agent/fd -lname 'socket:*' | wc -l) -ge $((idle + 2)) ]"
following=$(sockets)
kill "$follower"; wait "$follower" 2>/dev/null
check "a follow stream holds a client and an upstream socket" test "$following" -ge $((idle + 2))
check "a client disconnect closes the upstream connection too" wait_for 10 sh -c "[ \$(find /proc/$agent/fd -lname 'socket:*' | wc -l) -le $idle ]"
dd_ rm -f bh-au-follow >/dev/null 2>&1
dp run -d --name bh-au-follow "$IMAGE" sh -c "echo start; sleep 1; echo late password=$PW; sleep 1; echo end" >/dev/null
timeout 30 docker -H "unix://$PROXY" logs -f bh-au-follow >"$W/f.out" 2>&1
dd_ logs bh-au-follow >"$W/f.direct" 2>&1
check "logs -f through the proxy equals the direct logs" cmp "$W/f.out" "$W/f.direct"
check "a secret printed while following is audited" wait_for 10 sh -c "grep '\"source\":\"logs\"' $AUDIT | grep -q $(dd_ inspect -f '{{.Id}}' bh-au-follow)"

echo "== SIGHUP reopens the audit file (logrotate)"
mv "$AUDIT" "$AUDIT.1"
lines_before=$(wc -l <"$AUDIT.1")
agent=$(agent_of "$helper_pid")
kill -HUP "$agent"
dp exec bh-au-tty sh -c "echo after rotation $AWS" >/dev/null
check "events after SIGHUP go to a new file" wait_for 10 grep -q '"source":"exec"' "$AUDIT"
check_eq "the rotated file is left alone" "$lines_before" "$(wc -l <"$AUDIT.1")"
cat "$AUDIT.1" >>"$W/all.jsonl"

echo "== no plain secret anywhere"
leaks=$(cat "$AUDIT" "$W/all.jsonl" "$W/helper.log" | grep -c -e "$AWS" -e "$PW" -e "$GH1$GH2" || true)
check_eq "no plain secret in the audit file or the logs" 0 "$leaks"
stop_helper

echo "== malformed stream (FAKE daemon: no real dockerd sends one)"
python3 - "$RUN/fake-docker.sock" "$W/fake.sent" <<'PY' &
# FAKE Docker daemon for this one case: answers any request with a multiplexed
# logs response whose second frame header claims 4 GiB, then closes.
import os, socket, struct, sys
path, sent_file = sys.argv[1], sys.argv[2]
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX); s.bind(path); os.chmod(path, 0o600); s.listen(4)
body = struct.pack(">BxxxI", 1, 6) + b"hello\n" + struct.pack(">BxxxI", 1, 0xFFFFFFFF) + b"only a few bytes"
resp = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: close\r\n\r\n" + body
open(sent_file, "wb").write(resp)
for _ in range(3):
    c, _ = s.accept()
    c.recv(65536); c.sendall(resp); c.close()
PY
fake_pid=$!
sed "s|upstream: $DIRECT|upstream: $RUN/fake-docker.sock|" "$W/audit.yaml" >"$W/fake.yaml"
wait_for 10 test -S "$RUN/fake-docker.sock"
start_helper "$W/fake.yaml" "$W/helper2.log"
curl -s --unix-socket "$PROXY" -o "$W/fake.got" --raw http://docker/containers/x/logs?stdout=1 -D "$W/fake.headers"
python3 -c "import sys; h=open(sys.argv[1],'rb').read(); b=open(sys.argv[2],'rb').read(); sys.exit(0 if h.replace(b'\r\n\r\n',b'\r\n\r\n',1)+b == open(sys.argv[3],'rb').read() else 1)" "$W/fake.headers" "$W/fake.got" "$W/fake.sent"
check_eq "the client gets exactly the bytes the upstream sent" 0 $?
check "the audit records a protocol-error event" wait_for 10 grep -q '"event":"protocol_error"' "$AUDIT"
pe_conn=$(grep "protocol error in an audited stream" "$W/helper2.log" | grep -oE 'conn=[0-9]+' | head -1)
check_contains "the protocol error's log line names its connection" "conn=" "$pe_conn"
check "the same connection's closing line carries the same id" wait_for 10 grep -qE "connection closed .*${pe_conn:-conn=none}( |\$)" "$W/helper2.log"
apid=$(agent_of "$helper_pid")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$apid/status")
[ "$rss" -lt 200000 ] && pass "the agent did not allocate for the claimed 4 GiB (VmRSS ${rss} kB)" || fail "agent memory bounded" "VmRSS ${rss} kB"
check "the helper and agent are still alive" pid_alive "$apid"

echo "== audit.disabled_rules"
stop_helper
sed "s|upstream: $RUN/fake-docker.sock|upstream: $DIRECT|" "$W/fake.yaml" >"$W/disabled.yaml"
printf '  disabled_rules: [password]\n' >>"$W/disabled.yaml"
start_helper "$W/disabled.yaml" "$W/helper3.log"
wait_for 20 dp version
pw_before=$(grep -c '"pattern":"password"' "$AUDIT"); aws_before=$(grep -c '"pattern":"aws-access-key"' "$AUDIT")
dd_ rm -f bh-au-disabled >/dev/null 2>&1
dp run --name bh-au-disabled "$IMAGE" sh -c "echo AWS_ACCESS_KEY_ID=$AWS; echo 'db password=$PW'" >/dev/null 2>&1
dp logs bh-au-disabled >/dev/null 2>&1
dd_ rm -f bh-au-disabled >/dev/null 2>&1
check "with password disabled, the AWS key is still recorded" wait_for 10 sh -c "[ \$(grep -c '\"pattern\":\"aws-access-key\"' $AUDIT) -gt $aws_before ]"
check_eq "and the password is not" "$pw_before" "$(grep -c '"pattern":"password"' "$AUDIT")"
check_contains "the service's start line lists the disabled rules" "disabled_rules=password" "$(cat "$W/helper3.log")"
stop_helper
sed 's|disabled_rules: \[password\]|disabled_rules: [no-such-rule]|' "$W/disabled.yaml" >"$W/unknown.yaml"
start_helper "$W/unknown.yaml" "$W/helper4.log"
check "an unknown rule id is an error that names it" wait_for 20 grep -q "audit.disabled_rules: no rule named no-such-rule" "$W/helper4.log"
stop_helper

echo "== audit.baseline: an earlier audit file silences the secrets it holds"
stop_helper
check "secret events carry a fingerprint" grep -q '"event":"secret".*"fingerprint":"bh1:' "$AUDIT"
# The file was rotated above (reload test): the baseline is both parts.
cat "$AUDIT.1" "$AUDIT" >"$LOGDIR/baseline.jsonl" && chown bulkhead "$LOGDIR/baseline.jsonl"
sed 's|  disabled_rules: \[password\]||' "$W/disabled.yaml" >"$W/baseline.yaml"
printf '  baseline: %s\n' "$LOGDIR/baseline.jsonl" >>"$W/baseline.yaml"
start_helper "$W/baseline.yaml" "$W/helper-baseline.log"
wait_for 20 dp version
before=$(events)
dp logs bh-au-plain >/dev/null 2>&1
sleep 1
check_eq "docker logs read again: no new secret event" "$before" "$(events)"
check_contains "the start line counts the baseline's fingerprints" "baseline_fingerprints=" "$(cat "$W/helper-baseline.log")"
dp run --rm "$IMAGE" sh -c "echo fresh token ghp_$(head -c 300 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)" >/dev/null 2>&1
check "a new secret is still recorded" wait_for 10 sh -c "[ \$(grep -c '\"event\":\"secret\"' $AUDIT) -gt $before ]"
stop_helper

echo "== API allow-lists (audit.profile, audit.allow) with the real docker CLI"
sed 's|  disabled_rules: \[password\]||' "$W/disabled.yaml" >"$W/readonly.yaml"
printf '  profile: read-only\n' >>"$W/readonly.yaml"
start_helper "$W/readonly.yaml" "$W/helper5.log"
wait_for 20 dp version
check "read-only profile: docker ps works" dp ps
dd_ rm -f bh-au-refused >/dev/null 2>&1
out=$(timeout 60 docker -H "unix://$PROXY" run --rm --name bh-au-refused "$IMAGE" true 2>&1); code=$?
check "read-only profile: docker run fails" test "$code" -ne 0
check_contains "and the docker CLI prints the proxy's reason" "bulkhead audit proxy: POST" "$out"
check_contains "which names the allow-list" "is not in the allow-list" "$out"
check_eq "the daemon never saw the create (no such container)" "" "$(dd_ ps -aq --filter name=bh-au-refused)"
# The CLI is still sending the create's body when the proxy refuses: it must read the 403,
# not a reset connection ("broken pipe"), every time (5 tries, bounded).
printed=0
for _ in 1 2 3 4 5; do
  out=$(timeout 60 docker -H "unix://$PROXY" run --rm "$IMAGE" true 2>&1)
  [[ $out == *"is not in the allow-list"* ]] && printed=$((printed + 1))
done
check_eq "five refused docker run: the reason printed every time" 5 "$printed"
check "the refusal is an audit event" wait_for 10 grep -q '"event":"api_refused".*"method":"POST"' "$AUDIT"
check_contains "and a log line with its connection" "request refused by the API allow-list" "$(grep conn= "$W/helper5.log")"
stop_helper
dd_ rm -f bh-au-exec >/dev/null 2>&1
dd_ run -d --name bh-au-exec "$IMAGE" sleep 600 >/dev/null
cp "$W/readonly.yaml" "$W/exec.yaml"
cat >>"$W/exec.yaml" <<'YAML'
  allow:
    POST: '(/v[0-9.]+)?/(containers/[^/]+/exec|exec/[^/]+/(start|resize))'
    GET: '(/v[0-9.]+)?/exec/[^/]+/json'
YAML
start_helper "$W/exec.yaml" "$W/helper6.log"
wait_for 20 dp version
got=$(printf 'through the hijack\n' | timeout 60 docker -H "unix://$PROXY" exec -i bh-au-exec cat 2>&1)
check_eq "an allowed hijacked stream (exec -i) passes both ways" "through the hijack" "$got"
out=$(timeout 60 docker -H "unix://$PROXY" stop bh-au-exec 2>&1); code=$?
check "a request the added rules do not cover is still refused (docker stop)" test "$code" -ne 0
check_eq "and the container still runs" true "$(dd_ inspect -f '{{.State.Running}}' bh-au-exec)"
# An exec start that is not hijacked (no such exec: 404) leaves the connection in HTTP:
# a DELETE sent right behind it, in the same write, must be checked, not passed as stdin.
dd_ tag "$IMAGE" bh-au-smuggle:1
got=$(python3 - "$PROXY" <<'PY'
import re, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
start = b"POST /v1.41/exec/no-such-exec/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
s.sendall(start + b"DELETE /v1.41/images/bh-au-smuggle:1 HTTP/1.1\r\nHost: docker\r\n\r\n")
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
except socket.timeout:
    pass
# A JSON error body ends in a bare \n, so a status line may follow it mid-"line".
print(" ".join(re.findall(r"HTTP/1\.1 ([0-9]{3}) ", data.decode(errors="replace"))))
PY
)
check_eq "a request smuggled behind a failed exec start: 404, then 403" "404 403" "$got"
check "and the daemon never saw it (the image is still there)" dd_ image inspect bh-au-smuggle:1
dd_ rmi bh-au-smuggle:1 >/dev/null 2>&1
stop_helper
dd_ rm -f bh-au-exec >/dev/null 2>&1
printf 'audit:\n  listen: %s\n  allow:\n    PATCH: ".*"\n    GET: "(unclosed"\n' "$PROXY" >"$W/bad-allow.yaml"
msg=$("$BIN/bulkhead-helper" check-config --config "$W/bad-allow.yaml" 2>&1); code=$?
check "check-config refuses a bad allow-list" test "$code" -ne 0
check_contains "naming a method it cannot filter" "audit.allow.PATCH" "$msg"
check_contains "and a pattern that does not compile" 'audit.allow.GET "(unclosed" is not a valid regular expression' "$msg"

summary
