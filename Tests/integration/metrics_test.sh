#!/usr/bin/env bash
# Metrics, health and status, end to end with real parts: the real helper and agent
# with router, audit, ssh, netwatch and metrics.listen enabled; traffic from the real
# docker CLI (alice through the router to her rootless daemon, carol refused, a secret
# through the audit proxy, docker over SSH to a real sshd); Debian's promtool checks
# the exposition and Debian's Prometheus server scrapes the agent, and its HTTP API is
# queried for the series. Then services are made to fail for real (sshd stopped, the
# rootful dockerd stopped, the agent killed with -9): /healthz, `bulkhead-agent status`
# and the scraped series must say so, and recover.
# Needs: scripts/testenv.sh up. Run as root. Loopback only.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"   # also ROOT, the checkout's root
BIN=${BULKHEAD_BIN_DIR:?set BULKHEAD_BIN_DIR to the build directory}
SSHD_CTL=$ROOT/scripts/test-sshd.sh
TESTENV=$ROOT/scripts/testenv.sh
RUN=/run/bulkhead-test
ROOTFUL=$RUN/rootful-docker.sock
ROOTFUL_PIDFILE=$RUN/rootful-dockerd.pid
ROUTER=$RUN/metrics-router.sock
AUDIT_SOCK=$RUN/metrics-audit.sock
LAB=$RUN/metrics-ssh.sock
UNIX_METRICS=$RUN/metrics.sock
LOGDIR=$RUN/metrics-audit-log
SSH_PORT=2224                 # its own sshd: stopping it touches no other test's
PORT=19741                    # not the default 9741, which `make run` may hold
PROM=127.0.0.1:19090
METRICS=127.0.0.1:$PORT
IMAGE=bulkhead/busybox:latest
W=$(mktemp -d /tmp/bulkhead-metrics-test.XXXXXX)
helper_pid=; prom_pid=

# shellcheck disable=SC2034  # read by wait_for (scripts/proc-lib.sh)
WAIT_FOR_INTERVAL=0.3   # wait_for's poll interval (s) here
scrape() { curl -s --max-time 5 "http://$METRICS/metrics"; }
# The value of one series, exactly as the exposition names it (labels in declared order).
metric() { scrape | awk -v k="$1" '$1 == k { print $2 }'; }
at_least() { awk -v v="$1" -v min="$2" 'BEGIN { exit !(v != "" && v + 0 >= min) }'; }
healthz() { curl -s --max-time 10 -o "$W/healthz.body" -w '%{http_code}' "http://$METRICS/healthz"; }
healthz_is() { [ "$(healthz)" = "$1" ]; }
status_json() { "$BIN/bulkhead-agent" status --config "$W/bulkhead.yaml" --format json 2>&1; }
# One field of the status document, by a Python expression over `d`.
status_field() { status_json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" 2>&1; }
# Prometheus' instant query: the first result's value, or nothing.
query() {
  curl -s --max-time 5 --data-urlencode "query=$1" "http://$PROM/api/v1/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
query_is() { [ "$(query "$1")" = "$2" ]; }
query_at_least() { at_least "$(query "$1")" "$2"; }
start_helper() {
  setsid "$BIN/bulkhead-helper" --config "$1" >>"$W/helper.log" 2>&1 &
  helper_pid=$!
}
cleanup() {
  stop_helper
  [ -n "$prom_pid" ] && kill -TERM "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  prom_pid=
  "$SSHD_CTL" stop "$SSH_PORT" >/dev/null 2>&1
  # A failed run must not leave the shared daemon stopped.
  timeout 300 bash "$TESTENV" up >/dev/null 2>&1
  keep_failed_logs /tmp/bulkhead-metrics-test.failed "$W"/*.log "$W"/*.yaml
  rm -rf "$W" "$LOGDIR"
}
guard_exit

precondition "the rootful test dockerd answers" timeout 20 docker -H "unix://$ROOTFUL" version
precondition "alice's rootless dockerd answers" as_user alice timeout 20 docker -H "unix:///run/user/$(uid_of alice)/docker.sock" version
precondition "test sshd on $SSH_PORT starts" "$SSHD_CTL" start "$SSH_PORT"
precondition "promtool and prometheus are installed" command -v promtool prometheus
mkdir -p "$LOGDIR" && chown bulkhead "$LOGDIR"

AWS=AKIA$(head -c 300 /dev/urandom | tr -dc 'A-Z2-7' | head -c 16)   # synthetic, not a real key
cat >"$W/bulkhead.yaml" <<YAML
router:
  listen: $ROUTER
audit:
  listen: $AUDIT_SOCK
  upstream: $ROOTFUL
  log_file: $LOGDIR/audit.jsonl
ssh:
  remotes:
    - name: lab
      local_socket: $LAB
      ssh_user: dockssh
      ssh_host: 127.0.0.1:$SSH_PORT
      ssh_key_path: $RUN/ssh/id_ed25519
      remote_socket: $ROOTFUL
      known_hosts: $RUN/ssh/known_hosts
      timeout: 10s
      keepalive: 2s
netwatch:
  runtime_api: $ROOTFUL
  watch_network: bh-metrics-none
  verify_interval: 5s
metrics:
  listen: $METRICS
YAML
chmod 644 "$W/bulkhead.yaml"
start_helper "$W/bulkhead.yaml"
precondition "the agent answers /healthz with 200" wait_for 40 healthz_is 200

echo "== traffic through every service"
check "alice: docker ps through the router" as_user alice timeout 60 docker -H "unix://$ROUTER" ps
out=$(as_user carol timeout 60 docker -H "unix://$ROUTER" ps 2>&1)
check_contains "carol (no rootless daemon) is refused" "bulkhead router" "$out"
check_eq "a secret through the audit proxy passes unchanged" "AWS_ACCESS_KEY_ID=$AWS" \
  "$(timeout 60 docker -H "unix://$AUDIT_SOCK" run --rm "$IMAGE" echo "AWS_ACCESS_KEY_ID=$AWS" 2>&1)"
check "docker ps over SSH" timeout 60 docker -H "unix://$LAB" ps
check "netwatch completed a full pass" wait_for 20 grep -q "netwatch: full pass applied" "$W/helper.log"

echo "== /metrics: promtool and the series"
scrape >"$W/metrics.txt"
lint=$(promtool check metrics <"$W/metrics.txt" 2>&1); code=$?
check_eq "promtool check metrics passes with nothing to say ($(grep -c '^# TYPE' "$W/metrics.txt") families)" "0:" "$code:$lint"
carol=$(uid_of carol); alice_uid=$(uid_of alice)
check "router: one relayed connection at least" at_least "$(metric 'bulkhead_router_connections_total{outcome="relayed"}')" 1
check "router: carol's refusal is counted for her uid" at_least "$(metric "bulkhead_router_user_refusals_total{uid=\"$carol\",reason=\"not-found\"}")" 1
check "router: bytes both ways" at_least "$(metric 'bulkhead_router_relayed_bytes_total{direction="to_client"}')" 100
check_eq "router: no connection open now" "0.0" "$(metric bulkhead_router_connections_active)"
check_eq "audit: the AWS key is counted by rule and severity" "1" "$(metric 'bulkhead_audit_findings_total{rule="aws-access-key",severity="critical"}')"
check "audit: output bytes were scanned" at_least "$(metric bulkhead_audit_scanned_bytes_total)" 20
check_eq "audit: nothing dropped" "0" "$(metric bulkhead_audit_dropped_bytes_total)"
check_eq "ssh: link up" "1.0" "$(metric 'bulkhead_ssh_link_up{remote="lab"}')"
check "ssh: a channel opened" at_least "$(metric 'bulkhead_ssh_channels_total{remote="lab",outcome="opened"}')" 1
check "netwatch: the sync histogram has full passes" at_least "$(metric 'bulkhead_netwatch_sync_duration_seconds_count{pass="full"}')" 1
check_eq "netwatch: no rule owned (nothing on the network)" "0.0" "$(metric bulkhead_netwatch_rules_owned)"
check "helper: connectUserDockerSocket granted" at_least "$(metric 'bulkhead_helper_intents_total{type="connectUserDockerSocket",outcome="granted"}')" 1
check "helper: connectUserDockerSocket refused (carol)" at_least "$(metric 'bulkhead_helper_intents_total{type="connectUserDockerSocket",outcome="refused"}')" 1
check_eq "helper: no agent restart yet" "0" "$(metric bulkhead_helper_agent_restarts_total)"
for s in router audit ssh netwatch metrics; do
  check_eq "service_up{service=$s} is 1" "1.0" "$(metric "bulkhead_service_up{service=\"$s\"}")"
done

echo "== a real Prometheus scrapes the agent"
cat >"$W/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: bulkhead
    static_configs:
      - targets: ['$METRICS']
YAML
check "promtool check config" promtool check config "$W/prometheus.yml"
setsid prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/tsdb" \
  --web.listen-address="$PROM" >"$W/prometheus.log" 2>&1 &
prom_pid=$!
check "prometheus is ready" wait_for 60 curl -sf "http://$PROM/-/ready"
check "prometheus scrapes the agent (up == 1)" wait_for 30 query_is 'up{job="bulkhead"}' 1
check "prometheus has the router's relayed connections" query_at_least 'bulkhead_router_connections_total{outcome="relayed"}' 1
check "prometheus has the audit finding" query_is 'bulkhead_audit_findings_total{rule="aws-access-key"}' 1
check "prometheus has the ssh link up" query_is 'bulkhead_ssh_link_up{remote="lab"}' 1
check "prometheus has netwatch's sync histogram" query_at_least 'bulkhead_netwatch_sync_duration_seconds_bucket{pass="full",le="+Inf"}' 1
check "prometheus has the helper's granted intents" query_at_least 'sum(bulkhead_helper_intents_total{outcome="granted"})' 3
check "prometheus has more than 40 bulkhead series" query_at_least 'count({__name__=~"bulkhead_.*"})' 40

echo "== status and /healthz while everything works"
check_eq "/healthz: 200" 200 "$(healthz)"
check_eq "/healthz body" "ok" "$(cat "$W/healthz.body")"
text=$("$BIN/bulkhead-agent" status --config "$W/bulkhead.yaml" 2>&1); code=$?
check_eq "bulkhead-agent status exits 0" 0 "$code"
check_contains "status: the verdict" "all services ok" "$text"
check_contains "status: the ssh link, up" "link lab: up for" "$text"
check_contains "status: the router's open connections" "open_connections=0" "$text"
check_eq "status --format json: every service healthy" "True audit,metrics,netwatch,router,ssh" \
  "$(status_field 'str(all(s["healthy"] for s in d["services"])) + " " + ",".join(sorted(s["name"] for s in d["services"]))')"

echo "== sshd stopped"
check "the test sshd stops (every session too)" "$SSHD_CTL" stop "$SSH_PORT"
check "/healthz turns 503" wait_for 30 healthz_is 503
body=$(cat "$W/healthz.body")
check_contains "/healthz names ssh" "ssh: failing" "$body"
check_contains "/healthz names the link and why" "link lab down" "$body"
check "/healthz does not name the router" bash -c "! grep -q '^router' '$W/healthz.body'"
text=$("$BIN/bulkhead-agent" status --config "$W/bulkhead.yaml" 2>&1); code=$?
check_eq "bulkhead-agent status exits 1" 1 "$code"
check_contains "status text: FAILING: ssh" "FAILING: ssh" "$text"
check_eq "status json: ssh's link is down, with a reason" "False down True" \
  "$(status_field '[str(s["healthy"]) + " " + s["checks"][0]["state"] + " " + str(bool(s["checks"][0].get("detail"))) for s in d["services"] if s["name"] == "ssh"][0]')"
check "prometheus sees the link down" wait_for 15 query_is 'bulkhead_ssh_link_up{remote="lab"}' 0
check "prometheus sees service_up{ssh} 0" wait_for 15 query_is 'bulkhead_service_up{service="ssh"}' 0
out=$(timeout 60 docker -H "unix://$LAB" ps 2>&1)
check_contains "a client meanwhile gets the reason" "bulkhead ssh: remote lab" "$out"
check "the refused channel is counted" at_least "$(metric 'bulkhead_ssh_channels_total{remote="lab",outcome="refused"}')" 1
check "sshd starts again" "$SSHD_CTL" start "$SSH_PORT"
check "/healthz is 200 again (the link reconnects)" wait_for 60 healthz_is 200
check "the reconnect is counted" at_least "$(metric 'bulkhead_ssh_reconnects_total{remote="lab"}')" 1
check "docker ps over SSH works again" timeout 60 docker -H "unix://$LAB" ps

echo "== the rootful dockerd stopped"
dpid=$(tr -dc 0-9 <"$ROOTFUL_PIDFILE")
kill -TERM "$dpid"
dockerd_gone() { ! pid_alive "$dpid"; }
check "the rootful dockerd stops" wait_for 90 dockerd_gone
check "/healthz turns 503" wait_for 30 healthz_is 503
check "/healthz names netwatch and audit" wait_for 30 bash -c \
  "curl -s --max-time 10 http://$METRICS/healthz >'$W/h2' ; grep -q '^netwatch: failing' '$W/h2' && grep -q '^audit: failing' '$W/h2'"
check_contains "audit's failing check is its upstream" "upstream unreachable" "$(cat "$W/h2")"
check_eq "status json: netwatch and audit fail, router and ssh do not" "audit,netwatch" \
  "$(status_field '",".join(sorted(s["name"] for s in d["services"] if not s["healthy"]))')"
check "prometheus sees service_up{netwatch} 0" wait_for 15 query_is 'bulkhead_service_up{service="netwatch"}' 0
check "netwatch counts the failed passes or the lost events stream" bash -c \
  "[ \$(curl -s http://$METRICS/metrics | awk '\$1 == \"bulkhead_netwatch_event_stream_reconnects_total\" { print \$2 }') -ge 1 ]"
with_timeout 300 bash "$TESTENV" up >"$W/testenv-up.log" 2>&1
check_eq "scripts/testenv.sh up restarts it" 0 $?
check "/healthz is 200 again" wait_for 90 healthz_is 200
check "audit works again" timeout 60 docker -H "unix://$AUDIT_SOCK" ps

echo "== the agent killed with -9"
old_agent=$(agent_of "$helper_pid")
granted_before=$(metric 'bulkhead_helper_intents_total{type="connectUserDockerSocket",outcome="granted"}')
kill -KILL "$old_agent"
new_agent_up() { local a; a=$(agent_of "$helper_pid"); [ -n "$a" ] && [ "$a" != "$old_agent" ] && healthz_is 200; }
check "a new agent serves /healthz with 200" wait_for 60 new_agent_up
check_eq "bulkhead_helper_agent_restarts_total is 1" "1" "$(metric bulkhead_helper_agent_restarts_total)"
check_eq "the helper's counts survive the agent (granted connectUserDockerSocket)" "$granted_before" \
  "$(metric 'bulkhead_helper_intents_total{type="connectUserDockerSocket",outcome="granted"}')"
check_eq "status shows the new agent's pid" "$(agent_of "$helper_pid")" "$(status_field 'd["pid"]')"

echo "== bad requests"
check_eq "an unknown path: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/nope")"
check_eq "POST: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$METRICS/metrics")"
python3 - "$PORT" <<'PY' >/dev/null 2>&1
import socket, sys
for junk in (b"\x00\xff" * 3000 + b"\r\n\r\n", b"GET /" + b"A" * 200000 + b" HTTP/1.1\r\n\r\n", b"GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    try:
        s.sendall(junk); s.recv(4096)
    except OSError:
        pass
    s.close()
PY
agent_serves() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/healthz")" = 200 ] && pid_alive "$(agent_pid)"; }
check "the agent survives malformed HTTP (/healthz 200, same pid)" agent_serves

out=$(python3 - "$PORT" <<'PY' 2>&1
import socket, sys, time
held, closed = [], 0
for _ in range(100):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    held.append(s)
time.sleep(1)
for s in held:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
# Prometheus holds one connection of its own: 36 or 37 are over the cap.
print("over the cap: closed" if closed in (36, 37) else f"closed {closed}")
PY
)
check_eq "100 idle connections at once: those past the cap of 64 are closed" "over the cap: closed" "$(tail -n 1 <<<"$out")"
check "... and once they are gone, /healthz answers 200" wait_for 10 healthz_is 200

echo "== metrics.listen on a Unix socket"
stop_helper
sed "s|  listen: $METRICS|  listen: $UNIX_METRICS\n  mode: \"0660\"|" "$W/bulkhead.yaml" >"$W/unix.yaml"
chmod 644 "$W/unix.yaml"
start_helper "$W/unix.yaml"
check "the socket appears" wait_for 30 test -S "$UNIX_METRICS"
check_eq "it has mode 0660 and owner root" "660 root" "$(stat -c '%a %U' "$UNIX_METRICS")"
check "/healthz over the socket: 200" wait_for 40 bash -c "[ \"\$(curl -s --unix-socket $UNIX_METRICS -o /dev/null -w '%{http_code}' http://localhost/healthz)\" = 200 ]"
check "promtool passes over the socket too" bash -c "curl -s --unix-socket $UNIX_METRICS http://localhost/metrics | promtool check metrics"
check "bulkhead-agent status --config reads the socket path" "$BIN/bulkhead-agent" status --config "$W/unix.yaml"

echo "== stopping"
# The helper closes the agent's link while the agent drains its services: that must
# not turn the agent's stop into a failure (it did, about one stop in three).
stop_helper "SIGTERM with every service running"
check_eq "no stop of the agent in this test ended with an error" 0 "$(grep -c 'stopped with an error' "$W/helper.log")"

finish
