#!/usr/bin/env bash
# netwatch, end to end with real parts: the real bulkhead-helper (root, sandboxed,
# with its CAP_NET_ADMIN executor) spawns the real agent, which watches the rootful
# test dockerd (and the test Podman service) and has the helper write the rules into
# the HOST's iptables-nft tables. Checked against an independent model of what the
# labels ask for (rules computed here from `docker inspect`), with real traffic from
# a network namespace this script creates, and under faults (agent kill -9 during
# churn, dockerd restart, hand flush, 100 containers).
#
# Needs: scripts/testenv.sh up. Run as root. Traffic stays on this machine (a netns
# and a veth pair this script creates, and the test daemons' bridges).
# NOTE: case 4b restarts the rootful test dockerd, which stops every container of
# that daemon that has no restart policy (other tests' containers included).
# Nothing is left behind: containers, networks, netns, veths, ip rules/routes,
# sysctls and every iptables line are removed, and the cleanup asserts it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

BIN=${BULKHEAD_BIN_DIR:?set BULKHEAD_BIN_DIR to the build directory}
TESTENV=$here/../../scripts/testenv.sh
WORK=$(mktemp -d /tmp/bulkhead-netwatch-test.XXXXXX)
chmod 755 "$WORK"
ROOTFUL=/run/bulkhead-test/rootful-docker.sock
ROOTFUL_PIDFILE=/run/bulkhead-test/rootful-dockerd.pid
PODMAN_SOCK=/run/bulkhead-test/podman.sock
IMAGE=bulkhead/busybox:latest
ROOTFS_TAR=/var/lib/bulkhead-test/busybox-rootfs.tar   # built by scripts/testenv.sh
# An image that claims host ports by itself (issue 9): its containers must get nothing
# unless netwatch.trust_image_labels is set.
HOSTILE_IMAGE=bulkhead/nwt-image-labels:latest
NET=bh-nw SUBNET=172.31.77.0/24 GW=172.31.77.1
PNET=bh-nw-pod PSUBNET=172.31.78.0/24
NS=bh-nw-client VH=bhnw-h0 VC=bhnw-c0 HOST_IP=10.250.77.1 CLIENT_IP=10.250.77.2
PR0=bhnw-pr0 PR1=bhnw-pr1     # veth pair for policy routing's masquerade and rp_filter
MARK=2 TABLE=200
VERIFY=5                      # netwatch.verify_interval, seconds
TAG=bh-nwt                    # label (bh-nwt=1) and name prefix of everything created here
BODY="netwatch-dnat-body-$$-$RANDOM"
MARK_BODY="netwatch-mark-body-$$-$RANDOM"

dk() { timeout 60 docker -H "unix://$ROOTFUL" "$@"; }
pm() { timeout 60 podman --url "unix://$PODMAN_SOCK" "$@"; }
# shellcheck disable=SC2034  # read by wait_for (scripts/proc-lib.sh)
WAIT_FOR_INTERVAL=0.3   # wait_for's poll interval (s) here

# ------------------------------------------------------------------ the model
# What each container's labels ask for, registered when the container is created:
# DNAT_SPEC[name]="18080/tcp 5353/udp", MARK_SPEC[name]="9090/tcp" (published
# container ports not in the DNAT label). Containers without an entry must get nothing.
declare -A DNAT_SPEC=() MARK_SPEC=()
spec() { DNAT_SPEC[$1]=$2; MARK_SPEC[$1]=$3; }
CUR_RT=docker CUR_NET=$NET CUR_MASQ=""   # what the running helper watches
CUR_DNAT_IN=""                             # its netwatch.dnat_in_interface

# "name id ip" of every running container created here, on the watched runtime.
running_containers() {
  local ids fmt="{{.Name}} {{.Id}} {{with index .NetworkSettings.Networks \"$CUR_NET\"}}{{.IPAddress}}{{end}}"
  if [ "$CUR_RT" = docker ]; then
    ids=$(dk ps -q --no-trunc --filter "label=$TAG=1") || return 1
    [ -z "$ids" ] || dk inspect -f "$fmt" $ids
  else
    ids=$(pm ps -q --no-trunc --filter "label=$TAG=1") || return 1
    [ -z "$ids" ] || pm inspect -f "$fmt" $ids
  fi
}

# The exact owned lines of iptables-save ("table|line", sorted) the model expects.
expected_lines() {
  local list name id ip key pp port proto
  list=$(running_containers) || { echo "MODEL-ERROR: cannot list containers"; return 1; }
  {
    echo "mangle|:BULKHEAD-MARK - [0:0]"; echo "mangle|-A PREROUTING -j BULKHEAD-MARK"
    echo "filter|:BULKHEAD-FWD - [0:0]";  echo "filter|-A DOCKER-USER -j BULKHEAD-FWD"
    echo "nat|:BULKHEAD-DNAT - [0:0]";    echo "nat|-A PREROUTING -j BULKHEAD-DNAT"
    if [ -n "$CUR_MASQ" ]; then
      echo "nat|:BULKHEAD-MASQ - [0:0]"; echo "nat|-A POSTROUTING -j BULKHEAD-MASQ"; echo "nat|$CUR_MASQ"
    fi
    while read -r name id ip; do
      [ -n "$name" ] || continue
      name=${name#/}; key=${id:0:12}
      [ -n "$ip" ] || continue
      if [ -n "${DNAT_SPEC[$name]-}" ]; then
        echo "nat|:BHN-$key - [0:0]";    echo "nat|-A BULKHEAD-DNAT -j BHN-$key"
        echo "filter|:BHF-$key - [0:0]"; echo "filter|-A BULKHEAD-FWD -j BHF-$key"
        for pp in ${DNAT_SPEC[$name]}; do
          port=${pp%/*}; proto=${pp#*/}
          echo "nat|-A BHN-$key${CUR_DNAT_IN:+ -i $CUR_DNAT_IN} -p $proto -m addrtype --dst-type LOCAL -m $proto --dport $port -j DNAT --to-destination $ip:$port"
          echo "filter|-A BHF-$key -d $ip/32 -p $proto -m $proto --dport $port -j ACCEPT"
        done
      fi
      if [ -n "${MARK_SPEC[$name]-}" ]; then
        echo "mangle|:BHM-$key - [0:0]"; echo "mangle|-A BULKHEAD-MARK -j BHM-$key"
        for pp in ${MARK_SPEC[$name]}; do
          port=${pp%/*}; proto=${pp#*/}
          echo "mangle|-A BHM-$key -s $ip/32 -p $proto -m $proto --sport $port -j MARK --set-xmark 0x$(printf %x "$MARK")/0xffffffff"
        done
      fi
    done <<<"$list"
  } | LC_ALL=C sort
}

# What is in the host's tables now: every line naming an owned chain, "table|line", sorted.
owned_lines() {
  iptables-save 2>/dev/null | awk '/^\*/ { t = substr($0, 2); next } /BULKHEAD|BH[NFM]-/ { print t "|" $0 }' | LC_ALL=C sort
}
owned_count() { owned_lines | grep -c . ; }

# converge NAME SECS: pass once the owned lines equal the model (bounded), else fail with a diff.
LAST_DIFF=""
converge() {
  local name=$1 secs=$2 deadline=$((SECONDS + $2)) want got t0=$SECONDS
  while :; do
    want=$(expected_lines); got=$(owned_lines)
    if [ "$want" == "$got" ] && [[ $want != *MODEL-ERROR* ]]; then
      pass "$name (after $((SECONDS - t0))s)"; return 0
    fi
    ((SECONDS < deadline)) || break
    sleep 0.5
  done
  LAST_DIFF=$(diff <(echo "$want") <(echo "$got") | head -40)
  fail "$name" "not equal after ${secs}s (< expected, > iptables-save):"$'\n'"$LAST_DIFF"
  return 1
}

no_dupes() {  # exactly-once: no owned line twice (e.g. two jumps from a hook)
  local d; d=$(owned_lines | uniq -d)
  if [ -z "$d" ]; then pass "$1"; else fail "$1" "duplicated: $d"; fi
}

key_of() {  # first 12 hex of a container id
  if [ "$CUR_RT" = docker ]; then dk inspect -f '{{.Id}}' "$1" | cut -c1-12; else pm inspect -f '{{.Id}}' "$1" | cut -c1-12; fi
}
ip_of() { dk inspect -f "{{with index .NetworkSettings.Networks \"$NET\"}}{{.IPAddress}}{{end}}" "$1"; }

# ------------------------------------------------------------------ the helper
helper_pid=
start_helper() {  # config, log, [VAR=value...] (environment of the helper)
  local cfg=$1 log=$2; shift 2
  setsid env "$@" "$BIN/bulkhead-helper" --config "$cfg" >"$log" 2>&1 &
  helper_pid=$!
  HELPER_LOG=$log
}
# agent_pid (lib.sh): the child of the spawner, which is a child of our helper (the other
# child is the netfilter executor, whose children are iptables-restore/-save and ip).
full_passes() { grep -c "netwatch: full pass applied" "$HELPER_LOG" 2>/dev/null; }
wait_full_pass() { wait_for "$1" grep -q "netwatch: full pass applied" "$HELPER_LOG"; }
# stop_netwatch NAME: stop_helper NAME (lib.sh: SIGTERM; the helper must exit 0), and it
# must take every owned line with it.
stop_netwatch() {
  [ -n "$helper_pid" ] || return 0
  stop_helper "$1"
  check_eq "$1: no owned iptables line after SIGTERM (iptables-save | grep -cE 'BULKHEAD|BH[NFM]-')" 0 \
    "$(iptables-save | grep -cE 'BULKHEAD|BH[NFM]-')"
}

write_config() {  # file, watch_network, runtime_api, [extra netwatch lines]
  cat >"$1" <<YAML
router:
  enabled: false
netwatch:
  runtime_api: $3
  watch_network: $2
  watch_container_label: network.enable
  iptables_dnat_ports_label: network.dnat.ports
  iptables_mangle_mark_published_ports: "$MARK"
  verify_interval: ${VERIFY}s
  debounce: 200ms
  warmup: true
${4:-}
YAML
  chmod 644 "$1"
}

# ------------------------------------------------------------------ cleanup
OLD_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
created_rule=0 created_route=0
force_remove_owned() {  # last resort (helper killed): remove owned jumps and chains by hand
  local t hook parent chain i
  for t in mangle filter nat; do
    for hook in PREROUTING POSTROUTING FORWARD DOCKER-USER; do
      for parent in BULKHEAD-MARK BULKHEAD-FWD BULKHEAD-DNAT BULKHEAD-MASQ; do
        for i in $(seq 1 20); do iptables -w -t "$t" -D "$hook" -j "$parent" 2>/dev/null || break; done
      done
    done
    for chain in $(iptables-save -t "$t" | awk '/^:(BULKHEAD-|BH[NFM]-)/ { print substr($1, 2) }'); do iptables -w -t "$t" -F "$chain"; done
    for chain in $(iptables-save -t "$t" | awk '/^:(BULKHEAD-|BH[NFM]-)/ { print substr($1, 2) }'); do iptables -w -t "$t" -X "$chain"; done
  done
}
cleaned=0
cleanup() {
  [ "$cleaned" = 1 ] && return 0
  cleaned=1
  echo "== cleanup"
  stop_helper
  local left; left=$(owned_count)
  if [ "$left" -ne 0 ]; then
    fail "cleanup: no owned iptables line once the helper is gone" "$left line(s) left:"$'\n'"$(owned_lines | head -20)"
    force_remove_owned
  else
    pass "cleanup: no owned iptables line once the helper is gone"
  fi
  local ids
  ids=$(dk ps -aq --filter "label=$TAG=1" 2>/dev/null)
  [ -n "$ids" ] && { dk stop -t 1 $ids >/dev/null 2>&1; dk rm -f $ids >/dev/null 2>&1; }
  # Docker may still hold the endpoints of just-removed containers for a moment.
  dk network inspect "$NET" >/dev/null 2>&1 && wait_for 30 dk network rm "$NET"
  dk image rm "$HOSTILE_IMAGE" >/dev/null 2>&1
  if timeout 10 podman --url "unix://$PODMAN_SOCK" version >/dev/null 2>&1; then
    ids=$(pm ps -aq --filter "label=$TAG=1" 2>/dev/null); [ -n "$ids" ] && pm rm -f -t 0 $ids >/dev/null 2>&1
    pm network exists "$PNET" 2>/dev/null && wait_for 30 pm network rm "$PNET"
    pm image rm "$HOSTILE_IMAGE" >/dev/null 2>&1
  fi
  ip netns del "$NS" 2>/dev/null
  ip link del "$VH" 2>/dev/null
  ip link del "$PR0" 2>/dev/null
  [ "$created_rule" = 1 ] && while ip -4 rule del fwmark "$MARK" table "$TABLE" 2>/dev/null; do :; done
  [ "$created_route" = 1 ] && ip -4 route flush table "$TABLE" 2>/dev/null
  echo "$OLD_FORWARD" >/proc/sys/net/ipv4/ip_forward
  left=$(owned_count)
  check_eq "cleanup: iptables-save has no owned line at the end" 0 "$left"
  check_eq "cleanup: no ip rule for fwmark $MARK left" 0 "$(ip -4 rule show | grep -c "fwmark 0x$(printf %x $MARK) lookup $TABLE")"
  check "cleanup: no container, network or netns of this test left" sh -c \
    "[ -z \"\$(timeout 60 docker -H unix://$ROOTFUL ps -aq --filter label=$TAG=1)\" ] && ! timeout 60 docker -H unix://$ROOTFUL network inspect $NET >/dev/null 2>&1 && ! ip netns list | grep -qw $NS && ! ip link show $VH >/dev/null 2>&1 && ! ip link show $PR0 >/dev/null 2>&1"
  jobs -p | xargs -r kill 2>/dev/null
  keep_failed_logs /tmp/bulkhead-netwatch-test.failed "$WORK"/*.log
  rm -rf "$WORK"
}
guard_exit

# ------------------------------------------------------------------ preconditions
echo "== preconditions"
precondition "rootful test dockerd answers ($ROOTFUL)" dk version
precondition "the busybox rootfs tarball exists ($ROOTFS_TAR)" test -s "$ROOTFS_TAR"
precondition "no owned iptables line before the test (no other Bulkhead helper running)" test "$(owned_count)" -eq 0
# Leftovers of an aborted earlier run (everything of ours carries the label).
ids=$(dk ps -aq --filter "label=$TAG=1"); [ -n "$ids" ] && dk rm -f $ids >/dev/null
if dk network inspect "$NET" >/dev/null 2>&1; then
  [ "$(dk network inspect -f "{{index .Labels \"$TAG\"}}" "$NET")" = 1 ] && dk network rm "$NET" >/dev/null
fi
ip netns del "$NS" 2>/dev/null; ip link del "$VH" 2>/dev/null; ip link del "$PR0" 2>/dev/null
subnet_free() {  # no docker/podman network and no host route uses it
  local s=$1
  ! ip -4 route | grep -q "^${s%.0/24}\." || return 1
  dk network ls -q | xargs -r docker -H "unix://$ROOTFUL" network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' | grep -qw "$s" && return 1
  return 0
}
precondition "$SUBNET is free (no route, no docker network)" subnet_free "$SUBNET"
precondition "no ip rule for fwmark $MARK and table $TABLE is empty" sh -c \
  "[ \$(ip -4 rule show | grep -c 'lookup $TABLE') -eq 0 ] && [ -z \"\$(ip -4 route show table $TABLE 2>/dev/null)\" ]"
precondition "host ports 18080-18083, 19090-19093 free" sh -c "! ss -ltnH | awk '{print \$4}' | grep -qE ':(1808[0-3]|1909[0-3])\$'"

# ------------------------------------------------------------------ 1. rules from labels
echo "== 1. labels drive exactly the expected rules"
dk network create --subnet "$SUBNET" --gateway "$GW" --label "$TAG=1" "$NET" >/dev/null
BRIDGE=br-$(dk network inspect -f '{{.Id}}' "$NET" | cut -c1-12)
check "the docker network $NET has its bridge $BRIDGE" ip link show "$BRIDGE"
run_c() {  # name, DNAT spec, MARK spec, docker run arguments...
  local name=$1; spec "$1" "$2" "$3"; shift 3
  dk run -d --name "$name" --label "$TAG=1" --stop-timeout 1 "$@" >/dev/null
}
LONG=(--restart always)
check "DNAT container (network.dnat.ports=18080,5353/udp, httpd)" run_c $TAG-dnat "18080/tcp 5353/udp" "" "${LONG[@]}" --network "$NET" \
  --label network.enable=true --label network.dnat.ports=18080,5353/udp \
  "$IMAGE" sh -c "mkdir -p /www && echo $BODY >/www/index.html && exec httpd -f -p 18080 -h /www"
check "published-port container (-p 19090:9090, no DNAT label, httpd)" run_c $TAG-mark "" "9090/tcp" "${LONG[@]}" --network "$NET" \
  --label network.enable=true -p 19090:9090 \
  "$IMAGE" sh -c "mkdir -p /www && echo $MARK_BODY >/www/index.html && exec httpd -f -p 9090 -h /www"
check "unlabelled container (DNAT label and a published port, but no network.enable)" run_c $TAG-plain "" "" "${LONG[@]}" --network "$NET" \
  --label network.dnat.ports=18081 -p 19091:9091 "$IMAGE" sleep 3600
check "network.enable=false container" run_c $TAG-false "" "" "${LONG[@]}" --network "$NET" \
  --label network.enable=false --label network.dnat.ports=18082 -p 19092:9092 "$IMAGE" sleep 3600
check "bad label container (network.dnat.ports=99999)" run_c $TAG-bad "" "" "${LONG[@]}" --network "$NET" \
  --label network.enable=true --label network.dnat.ports=99999 "$IMAGE" sleep 3600
check "labelled container on another network (the default bridge)" run_c $TAG-othernet "" "" "${LONG[@]}" \
  --label network.enable=true --label network.dnat.ports=18083 "$IMAGE" sleep 3600

write_config "$WORK/main.yaml" "$NET" "$ROOTFUL"
start_helper "$WORK/main.yaml" "$WORK/helper-main.log"
if ! wait_full_pass 30; then
  fail "the first full pass is logged" "$(tail -20 "$HELPER_LOG")"
fi
converge "owned iptables lines == the model (6 containers, 2 with rules)" 20
no_dupes "no owned line is duplicated"
DNAT_KEY=$(key_of $TAG-dnat) MARK_KEY=$(key_of $TAG-mark) BAD_KEY=$(key_of $TAG-bad)
check_eq "the helper's jump is the first rule of DOCKER-USER (before Docker's RETURN)" "-A DOCKER-USER -j BULKHEAD-FWD" \
  "$(iptables -w -S DOCKER-USER | sed -n 2p)"
check_eq "the DNAT chain holds the label's ports in order" \
  "-A BHN-$DNAT_KEY -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 18080 -j DNAT --to-destination $(ip_of $TAG-dnat):18080|-A BHN-$DNAT_KEY -p udp -m addrtype --dst-type LOCAL -m udp --dport 5353 -j DNAT --to-destination $(ip_of $TAG-dnat):5353" \
  "$(iptables -w -t nat -S "BHN-$DNAT_KEY" | grep '^-A' | paste -sd'|')"
plan_out=$("$BIN/bulkhead-agent" netwatch plan --config "$WORK/main.yaml" 2>&1); plan_rc=$?
check_eq "netwatch plan exits 0" 0 "$plan_rc"
plan_rules=$(awk '/^\*/ { t = substr($0, 2); next } /^-A / { print t "|" $0 }' <<<"$plan_out" | LC_ALL=C sort)
want_rules=$(expected_lines | grep '|-A ')
if [ "$plan_rules" == "$want_rules" ]; then pass "netwatch plan prints exactly the applied rule lines"
else fail "netwatch plan prints exactly the applied rule lines" "$(diff <(echo "$want_rules") <(echo "$plan_rules") | head -20)"; fi
check_contains "netwatch plan lists the DNAT container with key and address" "#   $TAG-dnat $DNAT_KEY $(ip_of $TAG-dnat)" "$plan_out"
check_contains "netwatch plan names the bad label's container" "container $TAG-bad ($BAD_KEY): label network.dnat.ports=\"99999\"" "$plan_out"
check_contains "the log names the bad label's container" \
  "label problem problem=\"container $TAG-bad ($BAD_KEY): label network.dnat.ports=\\\"99999\\\": port \\\"99999\\\" is not 1...65535; no rules for this container\"" \
  "$(cat "$HELPER_LOG")"
check_contains "the log reports the full pass with the helper's summary" 'read_tables=true' "$(grep 'full pass applied' "$HELPER_LOG" | head -1)"
check "reverse path warmed up for the DNAT container" wait_for 10 grep -q "reverse path warmed up container=$TAG-dnat" "$HELPER_LOG"

# ------------------------------------------------------------------ 2. traffic
echo "== 2. traffic from a client network namespace"
echo 1 >/proc/sys/net/ipv4/ip_forward
ip netns add "$NS" && ip link add "$VH" type veth peer name "$VC" && ip link set "$VC" netns "$NS" \
  && ip addr add "$HOST_IP/30" dev "$VH" && ip link set "$VH" up \
  && ip -n "$NS" addr add "$CLIENT_IP/30" dev "$VC" && ip -n "$NS" link set "$VC" up && ip -n "$NS" link set lo up \
  && ip -n "$NS" route add default via "$HOST_IP"
check_contains "client netns $NS routes via the host side" "default via $HOST_IP dev $VC" "$(ip -n "$NS" -4 route show default)"
client_get() { ip netns exec "$NS" curl -s --max-time 5 "http://$HOST_IP:$1/"; }
pkts() {  # table chain: packet counter of the chain's first rule
  iptables -w -t "$1" -L "$2" -v -n -x 2>/dev/null | awk 'NR == 3 { print $1 + 0; found = 1 } END { if (!found) print -1 }'
}
dnat_before=$(pkts nat "BHN-$DNAT_KEY")
check_eq "a request to the host's port 18080 reaches the DNAT container" "$BODY" "$(client_get 18080)"
dnat_after=$(pkts nat "BHN-$DNAT_KEY")
check "the DNAT rule counted it ($dnat_before -> $dnat_after packets)" test "$dnat_after" -gt "$dnat_before"
# Port 18080 of another address (the MARK container's, where nothing listens on 18080),
# routed through the host: not the host's own, so not DNATed (--dst-type LOCAL).
out=$(ip netns exec "$NS" curl -s --max-time 3 "http://$(ip_of $TAG-mark):18080/"); rc=$?
check "traffic to port 18080 of another address is not DNATed to the DNAT container (curl rc $rc)" test "$rc" -ne 0 -a "$out" != "$BODY"
out=$(client_get 18082); rc=$?
check "no DNAT for the network.enable=false container's label port 18082 (curl fails: rc $rc)" test "$rc" -ne 0 -a -z "$out"
mark_before=$(pkts mangle "BHM-$MARK_KEY")
check_eq "a request to the published port 19090 reaches the marked container (Docker's DNAT)" "$MARK_BODY" "$(client_get 19090)"
mark_after=$(pkts mangle "BHM-$MARK_KEY")
check "its replies from port 9090 were marked in mangle PREROUTING ($mark_before -> $mark_after packets)" test "$mark_after" -gt "$mark_before"

# ------------------------------------------------------------------ 3. stop/start
echo "== 3. stop and start follow the events"
# Start right after a verify pass, so that the next one (${VERIFY}s away) cannot absorb the event.
n_full=$(full_passes)
wait_for $((VERIFY + 3)) sh -c "[ \$(grep -c 'netwatch: full pass applied' $HELPER_LOG) -gt $n_full ]"
n_changes=$(grep -c "netwatch: changes applied" "$HELPER_LOG")
dk stop -t 1 $TAG-dnat >/dev/null
converge "after docker stop, the DNAT container's chains are gone" 10
check "BHN-$DNAT_KEY no longer exists" sh -c "! iptables -w -t nat -S BHN-$DNAT_KEY >/dev/null 2>&1"
check "an incremental pass handled it (changes applied)" wait_for 5 sh -c "[ \$(grep -c 'netwatch: changes applied' $HELPER_LOG) -gt $n_changes ]"
out=$(client_get 18080); rc=$?
check "port 18080 no longer reaches anything (curl rc $rc)" test "$rc" -ne 0 -a -z "$out"
dk start $TAG-dnat >/dev/null
converge "after docker start, the DNAT container's lines are back exactly" 10
check "and its httpd answers through the DNAT again" wait_for 10 sh -c "[ \"\$(ip netns exec $NS curl -s --max-time 2 http://$HOST_IP:18080/)\" = $BODY ]"
ip netns del "$NS"; ip link del "$VH" 2>/dev/null
echo "$OLD_FORWARD" >/proc/sys/net/ipv4/ip_forward
check "the client netns and veth are removed" sh -c "! ip netns list | grep -qw $NS && ! ip link show $VH >/dev/null 2>&1"

# ------------------------------------------------------------------ 4. faults
echo "== 4a. kill -9 the agent while containers churn"
for i in 1 2 3; do
  run_c $TAG-churn$i "$((18100 + i))/tcp" "" --network "$NET" --label network.enable=true \
    --label network.dnat.ports=$((18100 + i)) "$IMAGE" sleep 3600 || fail "churn container $i starts"
done
churn() {
  local r i victim
  for r in 1 2 3 4 5 6; do
    for i in 1 2 3; do
      if ((r % 2)); then dk stop -t 1 $TAG-churn$i >/dev/null & else dk start $TAG-churn$i >/dev/null & fi
    done
    sleep 0.3
    if ((r == 2 || r == 4 || r == 5)); then
      victim=$(agent_pid)
      [ -n "$victim" ] && kill -9 "$victim" && echo "$victim" >>"$WORK/killed" && echo "killed agent $victim during churn round $r"
    fi
    wait
    sleep 0.5
  done
}
: >"$WORK/killed"
exits_before=$(grep -c "spawner: agent exited" "$HELPER_LOG")
with_timeout 120 churn; check_eq "the churn loop ends in time" 0 $?
check_eq "the agent was killed (kill -9) three times during the churn" 3 "$(sort -u "$WORK/killed" | grep -c .)"
check "the spawner saw the three deaths" wait_for 10 sh -c "[ \$(grep -c 'spawner: agent exited' $HELPER_LOG) -ge $((exits_before + 3)) ]"
check "the helper survived the agent's deaths" pid_alive "$helper_pid"
new_agent() { local p; p=$(agent_pid); [ -n "$p" ] && ! grep -qx "$p" "$WORK/killed"; }
check "a new agent runs" wait_for 20 new_agent
converge "after kill -9 during churn: owned lines == the model" 30
no_dupes "after kill -9 during churn: no duplicates"

echo "== 4b. restart the rootful dockerd"
foreign=$(dk ps --format '{{.Names}}' --filter "label!=$TAG=1" 2>/dev/null | paste -sd' ')
[ -n "$foreign" ] && echo "note: the restart stops other containers of this daemon: $foreign"
restart_test_dockerd "$ROOTFUL_PIDFILE" "$TESTENV" "$WORK/testenv-up.log" dk version
# --restart always brings the long-lived ones back (maybe with new addresses); the churn ones stay stopped.
check "the --restart always containers are running again" wait_for 60 sh -c \
  "[ \$(docker -H unix://$ROOTFUL ps -q --filter label=$TAG=1 --filter name=$TAG-dnat --filter status=running | wc -l) -eq 1 ]"
converge "after the dockerd restart: owned lines == the model (churn containers, not restarted, are gone)" 90
check_contains "the agent noticed the runtime going away and reconnected" "reconnecting" "$(grep 'runtime events stream' "$HELPER_LOG")"
dk start $TAG-churn1 $TAG-churn2 $TAG-churn3 >/dev/null
converge "the churn containers started again: owned lines == the model" 30
no_dupes "after the dockerd restart: no duplicates"
DNAT_KEY=$(key_of $TAG-dnat)

echo "== 4c. a hand flush is repaired by the verify pass"
log_mark=$(wc -l <"$HELPER_LOG")
iptables -w -t nat -F BULKHEAD-DNAT
iptables -w -F "BHF-$DNAT_KEY"
flushed=$(owned_lines)
if [ "$flushed" != "$(expected_lines)" ]; then pass "the flush removed owned lines"; else fail "the flush removed owned lines" "nothing changed"; fi
converge "restored within verify_interval (${VERIFY}s) + 7s" $((VERIFY + 7))
no_dupes "after the repair: no duplicates"
repair_line=$(tail -n +"$((log_mark + 1))" "$HELPER_LOG" | grep "netwatch: full pass applied" | grep -v "written=0 removed=0" | head -1)
check_contains "the repairing full pass rewrote the flushed container chain (written=1)" "written=1" "$repair_line"
check_contains "the repairing full pass reports the repaired dispatch chain (repaired=1)" "repaired=1" "$repair_line"

echo "== 4d. 100 containers started and removed"
for i in $(seq 1 100); do spec $TAG-bulk$i "$((20000 + i))/tcp" ""; done
bulk_start() {
  local b i
  for b in $(seq 0 9); do
    for i in $(seq $((b * 10 + 1)) $((b * 10 + 10))); do
      dk run -d --name $TAG-bulk$i --label "$TAG=1" --stop-timeout 1 --network "$NET" --label network.enable=true \
        --label network.dnat.ports=$((20000 + i)) "$IMAGE" sleep 3600 >/dev/null &
    done
    wait
  done
}
t0=$SECONDS
with_timeout 600 bulk_start; check_eq "100 containers started in time ($((SECONDS - t0))s)" 0 $?
check_eq "100 bulk containers are running" 100 "$(dk ps -q --filter "label=$TAG=1" --filter name=$TAG-bulk | wc -l)"
converge "with 100 more containers: owned lines == the model" 120
no_dupes "with 100 more containers: no duplicates"
# Stopped first, then removed: `rm -f` of running containers in parallel can leave Docker
# 20.10 with a stale endpoint count ("network ... has active endpoints").
bulk_rm() {
  seq 1 100 | sed "s/^/$TAG-bulk/" | xargs -P 5 -n 20 timeout 120 docker -H "unix://$ROOTFUL" stop -t 1 >/dev/null
  seq 1 100 | sed "s/^/$TAG-bulk/" | xargs -P 5 -n 20 timeout 120 docker -H "unix://$ROOTFUL" rm >/dev/null
}
t0=$SECONDS
with_timeout 300 bulk_rm; check_eq "100 containers removed in time ($((SECONDS - t0))s)" 0 $?
converge "after removing them: owned lines == the model (long-lived containers only)" 120
chains=$(owned_lines | grep -cE '\|:BH[NFM]-')
check_eq "only the long-lived containers' chains remain (dnat: BHN+BHF, mark: BHM, 3 churn: BHN+BHF)" 9 "$chains"
no_dupes "after removing them: no duplicates"
for i in 1 2 3; do unset "DNAT_SPEC[$TAG-churn$i]"; done
dk stop -t 1 $TAG-churn1 $TAG-churn2 $TAG-churn3 >/dev/null && dk rm $TAG-churn1 $TAG-churn2 $TAG-churn3 >/dev/null
converge "churn containers removed: owned lines == the model" 15

echo "== 8a. SIGTERM (main helper)"
stop_netwatch "main"

# ------------------------------------------------------------------ 5. policy routing
echo "== 5. policy routing"
ip link add "$PR0" type veth peer name "$PR1" && ip link set "$PR0" up && ip link set "$PR1" up
echo 1 >/proc/sys/net/ipv4/conf/$PR0/rp_filter
created_rule=1 created_route=1
MASQ_LINE="-A BULKHEAD-MASQ -s $SUBNET -o $PR0 -j MASQUERADE"
write_config "$WORK/policy.yaml" "$NET" "$ROOTFUL" "  policy_routing:
    rules: [{fwmark: $MARK, table: $TABLE}]
    routes: [{table: $TABLE, gateway: $GW, dev: $BRIDGE}]
    masquerade: [{subnet: $SUBNET, out_interface: $PR0}]
    rp_filter: {$PR0: 2}"
CUR_MASQ=$MASQ_LINE
start_helper "$WORK/policy.yaml" "$WORK/helper-policy.log"
check "policy routing applied (log)" wait_for 30 grep -q "policy routing applied" "$HELPER_LOG"
wait_full_pass 30
check_eq "exactly one ip rule: fwmark 0x$(printf %x $MARK) lookup $TABLE" 1 "$(ip -4 rule show | grep -c "fwmark 0x$(printf %x $MARK) lookup $TABLE")"
check_eq "table $TABLE holds the default route" "default via $GW dev $BRIDGE" "$(ip -4 route show table $TABLE | sed 's/ *$//')"
check_contains "a packet marked $MARK is routed by table $TABLE" "dev $BRIDGE table $TABLE" "$(ip -4 route get 198.51.100.7 mark $MARK 2>&1)"
out=$(ip -4 route get 198.51.100.7 2>&1)
if [[ $out != *"dev $BRIDGE"* ]]; then pass "an unmarked packet is not"; else fail "an unmarked packet is not" "$out"; fi
check_eq "rp_filter of $PR0 is 2" 2 "$(cat /proc/sys/net/ipv4/conf/$PR0/rp_filter)"
converge "owned lines == the model plus BULKHEAD-MASQ ($MASQ_LINE)" 20
old=$(agent_pid)
check "the policy helper's agent is found and killed (kill -9 ${old:-none})" kill -9 "${old:-none}"
new_policy_agent() { local p; p=$(agent_pid); [ -n "$p" ] && [ "$p" != "$old" ]; }
check "after kill -9 of the agent a new one applies policy routing again" wait_for 30 sh -c \
  "[ \$(grep -c 'policy routing applied' $HELPER_LOG) -ge 2 ]"
check_eq "still exactly one ip rule (re-applying is idempotent)" 1 "$(ip -4 rule show | grep -c "fwmark 0x$(printf %x $MARK) lookup $TABLE")"
converge "re-applied: owned lines unchanged, one masquerade line" 20
no_dupes "policy routing: no duplicates"
stop_netwatch "policy routing"
CUR_MASQ=""
check_eq "after SIGTERM: no ip rule fwmark $MARK" 0 "$(ip -4 rule show | grep -c "fwmark 0x$(printf %x $MARK)")"
check_eq "after SIGTERM: table $TABLE is empty" "" "$(ip -4 route show table $TABLE 2>/dev/null)"
check_eq "after SIGTERM: rp_filter of $PR0 is back to 1" 1 "$(cat /proc/sys/net/ipv4/conf/$PR0/rp_filter)"
ip link del "$PR0"

# ------------------------------------------------------------------ 6. podman
echo "== 6. Podman"
if ! timeout 20 podman --url "unix://$PODMAN_SOCK" info >/dev/null 2>&1; then
  fail "Podman API at unix://$PODMAN_SOCK answers (podman --url ... info)" \
    "the Podman service is not running: start it with scripts/testenv.sh up (netwatch's Podman case could not run)"
else
  pass "Podman API at unix://$PODMAN_SOCK answers"
  ids=$(pm ps -aq --filter "label=$TAG=1"); [ -n "$ids" ] && pm rm -f -t 0 $ids >/dev/null
  pm network rm "$PNET" >/dev/null 2>&1
  pm network create --subnet "$PSUBNET" --label "$TAG=1" "$PNET" >/dev/null
  CUR_RT=podman CUR_NET=$PNET
  prun() { local name=$1; spec "$1" "$2" "$3"; shift 3; pm run -d --name "$name" --label "$TAG=1" --stop-timeout 1 "$@" >/dev/null; }
  check "podman DNAT container (network.dnat.ports=18090,5354/udp)" prun $TAG-pdnat "18090/tcp 5354/udp" "" --network "$PNET" \
    --label network.enable=true --label network.dnat.ports=18090,5354/udp "$IMAGE" sleep 3600
  check "podman published-port container (-p 19095:9095)" prun $TAG-pmark "" "9095/tcp" --network "$PNET" \
    --label network.enable=true -p 19095:9095 "$IMAGE" sleep 3600
  check "podman unlabelled container" prun $TAG-pplain "" "" --network "$PNET" --label network.dnat.ports=18091 "$IMAGE" sleep 3600
  pm import --change 'CMD ["/bin/sh"]' --change 'LABEL network.enable=true' --change 'LABEL network.dnat.ports=22,53/udp,443' \
    "$ROOTFS_TAR" "$HOSTILE_IMAGE" >/dev/null
  check "podman container of the image with network.enable=true network.dnat.ports=22,53/udp,443 (no netwatch label of its own)" \
    prun $TAG-pimglabels "" "" --network "$PNET" "$HOSTILE_IMAGE" sleep 3600
  check_eq "podman inspect reports the image's labels as the container's" "true" "$(pm inspect -f '{{index .Config.Labels "network.enable"}}' $TAG-pimglabels)"
  write_config "$WORK/podman.yaml" "$PNET" "$PODMAN_SOCK"
  start_helper "$WORK/podman.yaml" "$WORK/helper-podman.log"
  wait_full_pass 30 || fail "podman: the first full pass is logged" "$(tail -20 "$HELPER_LOG")"
  converge "podman: owned lines == the model (nothing for the image-labelled container)" 20
  no_dupes "podman: no duplicates"
  pimg_key=$(key_of $TAG-pimglabels)
  check_contains "podman: the log says why the image's labels were ignored" \
    "container $TAG-pimglabels ($pimg_key): label(s) network.enable, network.dnat.ports only repeat image" "$(cat "$HELPER_LOG")"
  write_config "$WORK/podman-trust.yaml" "$PNET" "$PODMAN_SOCK" "  trust_image_labels: true"
  plan_out=$("$BIN/bulkhead-agent" netwatch plan --config "$WORK/podman-trust.yaml" 2>&1)
  check_contains "podman: netwatch plan with trust_image_labels: true DNATs the image's port 22" \
    "-A BHN-$pimg_key -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 22 -j DNAT" "$plan_out"
  pkey=$(key_of $TAG-pdnat)
  pm stop -t 1 $TAG-pdnat >/dev/null
  converge "podman: after stop, the DNAT container's chains are gone" 15
  check "podman: BHN-$pkey no longer exists" sh -c "! iptables -w -t nat -S BHN-$pkey >/dev/null 2>&1"
  pm start $TAG-pdnat >/dev/null
  converge "podman: after start, back exactly" 15
  stop_netwatch "podman"
  ids=$(pm ps -aq --filter "label=$TAG=1"); [ -n "$ids" ] && pm rm -f -t 0 $ids >/dev/null
  pm network rm "$PNET" >/dev/null
  pm image rm "$HOSTILE_IMAGE" >/dev/null
  CUR_RT=docker CUR_NET=$NET
fi

# ------------------------------------------------------------------ 9. labels baked into an image
echo "== 9. labels baked into an image are not obeyed unless trusted; the DNAT allow-list"
dk import --change 'CMD ["/bin/sh"]' --change 'LABEL network.enable=true' --change 'LABEL network.dnat.ports=22,53/udp,443' \
  - "$HOSTILE_IMAGE" <"$ROOTFS_TAR" >/dev/null
check_eq "the imported image carries network.enable=true network.dnat.ports=22,53/udp,443" "true 22,53/udp,443" \
  "$(dk image inspect -f '{{index .Config.Labels "network.enable"}} {{index .Config.Labels "network.dnat.ports"}}' "$HOSTILE_IMAGE")"
check "a container of that image with no netwatch label of its own" run_c $TAG-imglabels "" "" --network "$NET" "$HOSTILE_IMAGE" sleep 3600
check "a container of that image with its own labels (network.enable=True, network.dnat.ports=18084,18086)" \
  run_c $TAG-ownlabels "18084/tcp 18086/tcp" "" --network "$NET" --label network.enable=True --label network.dnat.ports=18084,18086 \
  "$HOSTILE_IMAGE" sleep 3600
check_eq "docker inspect reports the image's labels as the container's" "true" "$(dk inspect -f '{{index .Config.Labels "network.enable"}}' $TAG-imglabels)"
IMG_KEY=$(key_of $TAG-imglabels) OWN_KEY=$(key_of $TAG-ownlabels)
IMG_NOTE="container $TAG-imglabels ($IMG_KEY): label(s) network.enable, network.dnat.ports only repeat image"

start_helper "$WORK/main.yaml" "$WORK/helper-image.log"
wait_full_pass 30 || fail "image labels: the first full pass is logged" "$(tail -20 "$HELPER_LOG")"
converge "default: the image-labelled container gets no rule; own labels on the same image do" 20
check_eq "no owned line names the image-labelled container ($IMG_KEY)" 0 "$(owned_lines | grep -c "$IMG_KEY")"
check "two more full passes run" wait_for $((3 * VERIFY)) sh -c "[ \$(grep -c 'netwatch: full pass applied' $HELPER_LOG) -ge 3 ]"
check_eq "the log says once why its labels were ignored (after 3 full passes)" 1 "$(grep -c "$IMG_NOTE" "$HELPER_LOG")"
stop_netwatch "image labels (default)"

NOIF=bhnw-none   # the image's ports are the host's 22, 53 and 443: DNAT only on an interface no traffic uses
write_config "$WORK/trust.yaml" "$NET" "$ROOTFUL" "  trust_image_labels: true
  dnat_in_interface: $NOIF"
spec $TAG-imglabels "22/tcp 53/udp 443/tcp" ""
CUR_DNAT_IN=$NOIF
start_helper "$WORK/trust.yaml" "$WORK/helper-trust.log"
wait_full_pass 30 || fail "trust_image_labels: the first full pass is logged" "$(tail -20 "$HELPER_LOG")"
converge "trust_image_labels: true: the image's 22, 53/udp, 443 are DNATed (-i $NOIF, LOCAL only)" 20
stop_netwatch "image labels (trusted)"
CUR_DNAT_IN=""
spec $TAG-imglabels "" ""

write_config "$WORK/allow.yaml" "$NET" "$ROOTFUL" '  dnat_allowed_ports: ["18080/tcp", "18084-18085/tcp"]'
spec $TAG-dnat "18080/tcp" ""        # its 5353/udp is not allowed
spec $TAG-ownlabels "18084/tcp" ""   # its 18086 is not allowed
start_helper "$WORK/allow.yaml" "$WORK/helper-allow.log"
wait_full_pass 30 || fail "allow-list: the first full pass is logged" "$(tail -20 "$HELPER_LOG")"
converge "dnat_allowed_ports: disallowed ports get no rule, the containers keep their allowed ones" 20
check_contains "the log names the skipped port and its container" \
  "container $TAG-ownlabels ($OWN_KEY): DNAT port(s) 18086/tcp not in netwatch.dnat_allowed_ports; skipped" "$(cat "$HELPER_LOG")"
check_eq "the agent skipped them: the helper refused no stage (no 'reconcile failed')" 0 "$(grep -c 'reconcile failed' "$HELPER_LOG")"
stop_netwatch "allow-list"
spec $TAG-dnat "18080/tcp 5353/udp" ""
unset "DNAT_SPEC[$TAG-imglabels]" "DNAT_SPEC[$TAG-ownlabels]"
dk rm -f $TAG-imglabels $TAG-ownlabels >/dev/null
dk image rm "$HOSTILE_IMAGE" >/dev/null

# ------------------------------------------------------------------ 7. environment override
echo "== 7. the original daemon's WATCH_NETWORK overrides the config"
# With the original daemon's start-up and shutdown scripts (run by the agent, as its
# own unprivileged account, with the settings in their environment), and a
# verify_interval longer than the spawner's 10 s stop grace.
install -d -m 1777 "$WORK/marks"
for phase in startup shutdown; do
  printf '#!/bin/sh\nenv | sort >%s/marks/%s.env\n' "$WORK" "$phase" >"$WORK/$phase.sh"
  chmod 755 "$WORK/$phase.sh"
done
VERIFY=30 write_config "$WORK/env.yaml" "bh-nw-not-this-one" "$ROOTFUL" "  startup_script: $WORK/startup.sh
  shutdown_script: $WORK/shutdown.sh"
plan_out=$(WATCH_NETWORK=$NET "$BIN/bulkhead-agent" netwatch plan --config "$WORK/env.yaml" 2>&1)
check_contains "netwatch plan follows WATCH_NETWORK" "container(s) on $NET with" "$plan_out"
start_helper "$WORK/env.yaml" "$WORK/helper-env.log" WATCH_NETWORK="$NET"
wait_full_pass 30 || fail "env: the first full pass is logged" "$(tail -20 "$HELPER_LOG")"
converge "WATCH_NETWORK=$NET (config says bh-nw-not-this-one): rules for $NET's containers" 20
check_contains "the startup script ran with WATCH_NETWORK=$NET" "WATCH_NETWORK=$NET" "$(cat "$WORK/marks/startup.env" 2>&1)"
check_contains "the startup script got the mark setting" "IPTABLES_MANGLE_MARK_PUBLISHED_PORTS=$MARK" "$(cat "$WORK/marks/startup.env" 2>&1)"

# ------------------------------------------------------------------ 8. SIGTERM
echo "== 8. SIGTERM"
last_agent=$(agent_pid)
check "the agent is running before SIGTERM (pid ${last_agent:-none})" pid_alive "$last_agent"
stop_netwatch "final"
check "SIGTERM: the helper and its agent are gone within 5 s (verify_interval 30s; took ${STOP_MS} ms)" test "$STOP_MS" -le 5000
check_contains "SIGTERM: the agent ran the shutdown script (WATCH_NETWORK=$NET)" "WATCH_NETWORK=$NET" "$(cat "$WORK/marks/shutdown.env" 2>&1)"
out=$(grep "agent did not stop" "$HELPER_LOG")
check_eq "SIGTERM: the agent stopped by itself (no SIGKILL by the spawner)" "" "$out"
agent_gone() { [ -n "$last_agent" ] && ! pid_alive "$last_agent"; }   # a zombie awaiting PID 1 counts as gone
check "the agent is gone" wait_for 5 agent_gone

finish
