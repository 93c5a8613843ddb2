#!/usr/bin/env bash
# testenv.sh up|down|status — Bulkhead's "real parts" integration-test environment.
#
#   up      /dev/net/tun usable by unprivileged users; a rootful test dockerd on
#           unix:///run/bulkhead-test/rootful-docker.sock; test users alice, bob,
#           carol (carol never gets a daemon: she exercises the "no rootless
#           daemon" error path); a real rootless dockerd for alice and bob
#           (dockerd-rootless.sh = rootlesskit + slirp4netns) on
#           /run/user/UID/docker.sock; the image bulkhead/busybox:latest built
#           from Debian's busybox-static (nothing is pulled) in all three daemons;
#           a real OpenSSH sshd on 127.0.0.1:2222 (scripts/test-sshd.sh: user
#           dockssh, keys and known_hosts in /run/bulkhead-test/ssh/) whose
#           sessions reach the rootful test dockerd; a rootful Podman API
#           service on unix:///run/bulkhead-test/podman.sock (own storage in
#           /var/lib/bulkhead-test/podman, own network config), with the same image.
#   down    stops all daemons started by `up` (podman's containers too; and any test sshd, e.g. the
#           --no-streamlocal one on 2223 that the ssh tests start) and removes their runtime files in
#           /run/bulkhead-test (the *.log files are kept until the next `up`).
#           Users, data roots and images stay, so the next `up` is fast.
#   status  prints what is running; exits 0 only if everything is up.
#
# Must run as root. Idempotent: `up` on a running environment only checks it.
# This machine has no systemd (PID 1 is not systemd), so every daemon is started
# by hand, detached with setsid, and tracked with pid files.
#
# Paths deliberately avoided: /var/run/docker.sock is reserved for the product
# under test; the rootful test daemon therefore also gets its own data-root,
# exec-root and pidfile, and its own bridge, so that it cannot collide with a
# dockerd that uses the defaults (/var/lib/docker, /var/run/docker,
# /var/run/docker.pid, docker0).
set -euo pipefail

NAME=testenv
# shellcheck source=scripts/proc-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/proc-lib.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_SSHD=$HERE/test-sshd.sh
SSHD_PORT=2222         # the test sshd `up` starts (tests may add 2223 --no-streamlocal)
SSHD_PORTS=(2222 2223 2224) # stopped by `down` (and any other sshd-PORT instance)
LOCK_FILE=$STATE_DIR/testenv.lock

ROOTFUL_SOCK=$RUN_DIR/rootful-docker.sock
ROOTFUL_HOST=unix://$ROOTFUL_SOCK
ROOTFUL_PIDFILE=$RUN_DIR/rootful-dockerd.pid
ROOTFUL_LOG=$RUN_DIR/rootful-dockerd.log
ROOTFUL_EXEC_ROOT=$RUN_DIR/rootful-exec
ROOTFUL_DATA_ROOT=$STATE_DIR/rootful-docker
# Own bridge for the rootful test daemon (docker0 is left to any other dockerd).
ROOTFUL_BRIDGE=bhtest0
ROOTFUL_BRIDGE_CIDR=172.30.250.1/24

# A dockerd started by an earlier manual check; it shares /var/lib/docker and
# /var/run/docker with the defaults, so `up` stops it (it is not restarted).
LEGACY_PIDFILE=/run/dockerd-sys.pid

# Rootful Podman API service. Own storage, run and network-config dirs, so
# that it never touches a Podman the machine may use otherwise.
PODMAN_SOCK=$RUN_DIR/podman.sock
PODMAN_URL=unix://$PODMAN_SOCK
PODMAN_PIDFILE=$RUN_DIR/podman.pid
PODMAN_LOG=$RUN_DIR/podman.log
PODMAN_CONF=$RUN_DIR/podman-containers.conf
PODMAN_ROOT=$STATE_DIR/podman
PODMAN_RUNROOT=$RUN_DIR/podman-run
PODMAN_GLOBAL=(--root "$PODMAN_ROOT" --runroot "$PODMAN_RUNROOT" --tmpdir "$RUN_DIR/podman-tmp"
  --network-config-dir "$STATE_DIR/podman-networks")

DAEMON_USERS=(alice bob)
ALL_USERS=(alice bob carol)
ROOTLESS_SH=/usr/share/docker.io/contrib/dockerd-rootless.sh

IMAGE=bulkhead/busybox:latest
ROOTFS_TAR=$STATE_DIR/busybox-rootfs.tar
BUSYBOX=/bin/busybox

ROOTFUL_START_TIMEOUT=60
ROOTLESS_START_TIMEOUT=90
PODMAN_START_TIMEOUT=30
STOP_TIMEOUT=30   # graceful dockerd shutdown (it stops its containers: 10 s each at most)
ORPHAN_GRACE=3    # leftovers (orphaned shims ignore SIGTERM while their container runs)

# ---------------------------------------------------------------- helpers
# await_daemon polls every WAIT_FOR_INTERVAL s (scripts/proc-lib.sh); the checks here run
# a docker/podman CLI each.
# shellcheck disable=SC2034
WAIT_FOR_INTERVAL=0.5

# Processes in session SID.
session_members() { ps -eo pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'; }

# Processes whose real uid lies in [lo, hi).
uid_range_members() { ps -eo pid=,ruid= | awk -v lo="$1" -v hi="$2" '$2 >= lo && $2 < hi { print $1 }'; }

# kill_pids LABEL GRACE PID... (SIGTERM, then SIGKILL after GRACE s), uid_of, user_home,
# as_user (a clean, minimal environment): scripts/proc-lib.sh.
user_runtime() { echo "/run/user/$(uid_of "$1")"; }
user_sock()    { echo "$(user_runtime "$1")/docker.sock"; }
leader_pidfile() { echo "$RUN_DIR/rootless-$1.pid"; }
user_log()     { echo "$RUN_DIR/rootless-$1.log"; }

# Docker CLI against the rootful test daemon / a user's rootless daemon, bounded.
rootful_docker() { timeout 60 docker -H "$ROOTFUL_HOST" "$@"; }
user_docker() { local u=$1; shift; as_user "$u" timeout 60 docker -H "unix://$(user_sock "$u")" "$@"; }

podman_remote() { timeout 60 podman --url "$PODMAN_URL" "$@"; }
podman_responsive() { [ -S "$PODMAN_SOCK" ] && timeout 10 podman --url "$PODMAN_URL" version >/dev/null 2>&1; }

rootful_responsive() { [ -S "$ROOTFUL_SOCK" ] && timeout 10 docker -H "$ROOTFUL_HOST" version >/dev/null 2>&1; }
user_responsive() {
  local u=$1
  [ -S "$(user_sock "$u")" ] && as_user "$u" timeout 10 docker -H "unix://$(user_sock "$u")" version >/dev/null 2>&1
}

subid_range() {  # subid_range USER FILE -> "start count" or nothing
  awk -F: -v u="$1" -v id="$(uid_of "$1")" '($1 == u || $1 == id) { print $2, $3; exit }' "$2"
}

# ---------------------------------------------------------------- up steps

setup_tun() {
  # a. rootlesskit/slirp4netns open /dev/net/tun as the unprivileged user.
  if [ ! -c /dev/net/tun ]; then
    log "creating /dev/net/tun (c 10 200)"
    mkdir -p /dev/net
    mknod -m 0666 /dev/net/tun c 10 200
  fi
  if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    log "chmod 0666 /dev/net/tun (was $(stat -c %a /dev/net/tun))"
    chmod 0666 /dev/net/tun
  else
    log "/dev/net/tun already 0666"
  fi
}

setup_kernel_and_mounts() {
  # Fresh-machine fixes for rootless mode; each one is a no-op on this VM except
  # the mount propagation one.
  # - Debian kernels before 5.10 gate user namespaces behind this sysctl (absent here).
  if [ -e /proc/sys/kernel/unprivileged_userns_clone ] &&
     [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" != 1 ]; then
    log "sysctl kernel.unprivileged_userns_clone=1"
    echo 1 >/proc/sys/kernel/unprivileged_userns_clone
  fi
  if [ "$(cat /proc/sys/user/max_user_namespaces)" -lt 1000 ]; then
    log "sysctl user.max_user_namespaces=28633"
    echo 28633 >/proc/sys/user/max_user_namespaces
  fi
  # - rootlesskit maps the sub-ids through the setuid helpers newuidmap/newgidmap.
  local b
  for b in /usr/bin/newuidmap /usr/bin/newgidmap; do
    [ -x "$b" ] || die "$b missing (install uidmap: scripts/install-deps.sh --test)"
    if [ ! -u "$b" ]; then log "restoring setuid bit on $b"; chmod u+s "$b"; fi
  done
  # - QUIRK: without systemd nothing makes / a shared mount (it is "private" on
  #   this VM), so rootlesskit warns 'The host root filesystem is mounted as "".
  #   Setting child propagation to "rslave" is not supported.' and host mounts
  #   made after the daemon started would not propagate into it. systemd
  #   always does `mount --make-rshared /`; do the same.
  if [ "$(findmnt -no PROPAGATION /)" != shared ]; then
    log "mount --make-rshared / (was $(findmnt -no PROPAGATION /); systemd would do this at boot)"
    mount --make-rshared /
  fi
}

stop_legacy_dockerd() {
  local pid
  pid=$(read_pid "$LEGACY_PIDFILE")
  if pid_alive "$pid" && [ "$(proc_comm "$pid")" = dockerd ]; then
    log "stopping the earlier manual dockerd (pid $pid from $LEGACY_PIDFILE) — it uses /var/lib/docker"
    kill_pids "legacy dockerd" "$STOP_TIMEOUT" "$pid"
    local cpid; cpid=$(read_pid /run/docker/containerd/containerd.pid)
    if pid_alive "$cpid" && [ "$(proc_comm "$cpid")" = containerd ]; then kill_pids "legacy containerd" "$ORPHAN_GRACE" "$cpid"; fi
  fi
  if [ -e "$LEGACY_PIDFILE" ] && ! pid_alive "$(read_pid "$LEGACY_PIDFILE")"; then
    rm -f "$LEGACY_PIDFILE" /run/docker-sys.sock
  fi
}

setup_bridge() {
  if ! ip link show "$ROOTFUL_BRIDGE" >/dev/null 2>&1; then
    log "creating bridge $ROOTFUL_BRIDGE ($ROOTFUL_BRIDGE_CIDR) for the rootful test daemon"
    ip link add name "$ROOTFUL_BRIDGE" type bridge
  fi
  ip -4 addr show dev "$ROOTFUL_BRIDGE" | grep -q "inet ${ROOTFUL_BRIDGE_CIDR%/*}/" ||
    ip addr add "$ROOTFUL_BRIDGE_CIDR" dev "$ROOTFUL_BRIDGE"
  ip link set "$ROOTFUL_BRIDGE" up
}

start_rootful() {
  if rootful_responsive; then
    log "rootful dockerd already running (pid $(read_pid "$ROOTFUL_PIDFILE")) on $ROOTFUL_HOST"
    return 0
  fi
  local pid; pid=$(read_pid "$ROOTFUL_PIDFILE")
  if pid_alive "$pid"; then
    # Running but not answering (e.g. still starting): give it the start timeout,
    # then restart it.
    log "rootful dockerd pid $pid exists but does not answer yet; waiting up to ${ROOTFUL_START_TIMEOUT}s"
    local deadline=$((SECONDS + ROOTFUL_START_TIMEOUT))
    while [ "$SECONDS" -lt "$deadline" ] && pid_alive "$pid"; do
      rootful_responsive && { log "rootful dockerd answered"; return 0; }
      sleep 1
    done
  fi
  # Clear out a dead/hung daemon and any orphaned containerd of ours.
  stop_rootful
  setup_bridge
  mkdir -p "$ROOTFUL_DATA_ROOT" "$ROOTFUL_EXEC_ROOT"
  rm -f "$ROOTFUL_SOCK" "$ROOTFUL_PIDFILE"
  log "starting rootful dockerd on $ROOTFUL_HOST (data-root $ROOTFUL_DATA_ROOT, exec-root $ROOTFUL_EXEC_ROOT, log $ROOTFUL_LOG)"
  (close_inherited_fds; cd / && exec setsid nohup /usr/sbin/dockerd \
      --host "$ROOTFUL_HOST" \
      --pidfile "$ROOTFUL_PIDFILE" \
      --data-root "$ROOTFUL_DATA_ROOT" \
      --exec-root "$ROOTFUL_EXEC_ROOT" \
      --bridge "$ROOTFUL_BRIDGE" \
      >"$ROOTFUL_LOG" 2>&1 </dev/null) &
  local spid=$!
  await_daemon "rootful dockerd" "$spid" "$ROOTFUL_LOG" "$ROOTFUL_START_TIMEOUT" \
    timeout 10 docker -H "$ROOTFUL_HOST" info
  log "rootful dockerd up (pid $(read_pid "$ROOTFUL_PIDFILE"))"
}

next_free_subid() {  # first id >= 100000 after every range in FILE
  awk -F: 'BEGIN { m = 100000 } NF >= 3 { e = $2 + $3; if (e > m) m = e } END { print m }' "$1"
}

setup_users() {
  local u
  touch /etc/subuid /etc/subgid
  for u in "${ALL_USERS[@]}"; do
    if id -u "$u" >/dev/null 2>&1; then
      log "user $u exists (uid $(uid_of "$u"))"
    else
      log "creating user $u"
      useradd --create-home --shell /bin/bash --user-group "$u"
    fi
    local home; home=$(user_home "$u")
    if [ ! -d "$home" ]; then
      install -d -m 0750 -o "$u" -g "$(id -g "$u")" "$home"
    fi
    # useradd normally allocates sub-ids itself (SUB_UID_* in login.defs); add a
    # distinct 65536 range only if it did not (or the user predates the files).
    if [ -z "$(subid_range "$u" /etc/subuid)" ]; then
      local s; s=$(next_free_subid /etc/subuid)
      log "adding subuid range $s-$((s + 65535)) for $u"
      usermod --add-subuids "$s-$((s + 65535))" "$u"
    fi
    if [ -z "$(subid_range "$u" /etc/subgid)" ]; then
      local s; s=$(next_free_subid /etc/subgid)
      log "adding subgid range $s-$((s + 65535)) for $u"
      usermod --add-subgids "$s-$((s + 65535))" "$u"
    fi
  done
}

setup_runtime_dir() {
  local u=$1 d uid gid
  uid=$(uid_of "$u"); gid=$(id -g "$u"); d=/run/user/$uid
  install -d -m 0755 /run/user
  if [ ! -d "$d" ]; then
    log "creating $d (0700 $u)"
    install -d -m 0700 -o "$uid" -g "$gid" "$d"
  else
    chown "$uid:$gid" "$d"; chmod 0700 "$d"
  fi
}

# kill_containers LABEL DOCKER-CMD... — SIGKILL running containers so that the
# daemon's own shutdown does not wait 10 s per container (test containers often
# run a PID 1 that ignores SIGTERM). Best effort, bounded.
kill_containers() {
  local label=$1; shift
  local ids
  ids=$("$@" ps -q 2>/dev/null | head -n 200 || true)
  [ -n "$ids" ] || return 0
  log "$label: killing $(wc -l <<<"$ids") running container(s)"
  # shellcheck disable=SC2086
  "$@" kill $ids >/dev/null 2>&1 || true
}

# Stop one user's rootless daemon and everything it spawned.
stop_rootless() {
  local u=$1 uid leader pids=() p
  uid=$(uid_of "$u") || return 0
  leader=$(read_pid "$(leader_pidfile "$u")")
  local rt=/run/user/$uid
  # Graceful first: SIGTERM to dockerd makes it stop its containers and
  # containerd; then rootlesskit exits and takes slirp4netns with it.
  local dpid; dpid=$(read_pid "$rt/docker.pid")
  if pid_alive "$dpid" && [ "$(proc_comm "$dpid")" = dockerd ]; then
    kill_containers "rootless $u" user_docker "$u"
    kill_pids "rootless dockerd of $u" "$STOP_TIMEOUT" "$dpid"
  fi
  # Then everything that is left: the session started by `up`, its
  # descendants, any process running as the user or in the user's sub-uid
  # range (container processes). All are test-only identities.
  if pid_alive "$leader"; then
    mapfile -t -O "${#pids[@]}" pids < <(session_members "$leader")
    mapfile -t -O "${#pids[@]}" pids < <(descendants "$leader")
    pids+=("$leader")
  fi
  mapfile -t -O "${#pids[@]}" pids < <(uid_range_members "$uid" "$((uid + 1))")
  local r; r=$(subid_range "$u" /etc/subuid)
  if [ -n "$r" ]; then
    local lo=${r% *} cnt=${r#* }
    mapfile -t -O "${#pids[@]}" pids < <(uid_range_members "$lo" "$((lo + cnt))")
  fi
  if [ "${#pids[@]}" -gt 0 ]; then
    mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
    kill_pids "remaining processes of $u's daemon" "$ORPHAN_GRACE" "${pids[@]}"
  fi
  rm -f "$(leader_pidfile "$u")"
  # Runtime leftovers (the namespaced mounts lived in the daemon's own mount
  # namespace, so nothing is mounted here on the host).
  rm -rf "$rt/docker.sock" "$rt/docker.pid" "$rt/docker" "$rt/dockerd-rootless"
}

start_rootless() {
  local u=$1 uid sock lg
  uid=$(uid_of "$u"); sock=$(user_sock "$u"); lg=$(user_log "$u")
  if user_responsive "$u"; then
    log "rootless dockerd of $u already running on unix://$sock"
    return 0
  fi
  # Whatever is left of an earlier daemon is in the way (stale sockets, lock in
  # dockerd-rootless/, half-dead rootlesskit).
  stop_rootless "$u"
  setup_runtime_dir "$u"
  log "starting rootless dockerd for $u (uid $uid) via $ROOTLESS_SH, log $lg"
  # No extra dockerd flags needed on this VM: with cgroup v1 and no systemd the
  # rootless daemon picks "Cgroup Driver: none" by itself, needs no dbus
  # session, and iptables works inside rootlesskit's network namespace.
  # (--iptables=false is NOT needed.) Known harmless log line: containerd logs
  # 'level=error msg="add cg to OOM monitor" ... cgroup.event_control:
  # permission denied' once per container, because with cgroup v1 and no
  # delegation the containers stay in the root-owned cgroup of whoever ran
  # `up`; containers run fine, only OOM event notification is unavailable.
  (close_inherited_fds; as_user_argv "$u" && cd / && exec setsid nohup "${AS_USER_ARGV[@]}" \
      "$ROOTLESS_SH" >"$lg" 2>&1 </dev/null) &
  local spid=$!
  echo "$spid" >"$(leader_pidfile "$u")"
  await_daemon "rootless dockerd of $u" "$spid" "$lg" "$ROOTLESS_START_TIMEOUT" user_responsive "$u"
  log "rootless dockerd of $u up (session leader pid $spid)"
}

verify_rootless() {
  local u=$1 sec root home
  sec=$(user_docker "$u" info --format '{{json .SecurityOptions}}')
  root=$(user_docker "$u" info --format '{{.DockerRootDir}}')
  home=$(user_home "$u")
  [[ "$sec" == *name=rootless* ]] || die "$u's daemon is not rootless: SecurityOptions=$sec"
  [[ "$root" == "$home"/* ]] || die "$u's Docker Root Dir $root is not under $home"
  log "$u's daemon: rootless, Docker Root Dir $root"
}

build_rootfs_tar() {
  if [ -s "$ROOTFS_TAR" ] && [ "$ROOTFS_TAR" -nt "$BUSYBOX" ]; then
    return 0
  fi
  [ -x "$BUSYBOX" ] || die "$BUSYBOX missing (install busybox-static)"
  log "building busybox rootfs tarball $ROOTFS_TAR"
  mkdir -p "$STATE_DIR"
  local r; r=$(mktemp -d "$STATE_DIR/rootfs.XXXXXX")
  (
    set -euo pipefail
    cd "$r"
    chmod 0755 .
    mkdir -p bin sbin usr/bin usr/sbin etc root home tmp var/tmp proc sys dev
    chmod 1777 tmp var/tmp; chmod 0700 root
    cp "$BUSYBOX" bin/busybox
    local a
    for a in $("$BUSYBOX" --list); do
      [ "$a" = busybox ] || ln -sf busybox "bin/$a"
    done
    ln -sf /bin/env usr/bin/env
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >etc/passwd
    printf 'root:x:0:\nnogroup:x:65534:\n' >etc/group
    : >etc/hosts; : >etc/resolv.conf; : >etc/hostname
    tar --numeric-owner --owner=0 --group=0 -cf "$ROOTFS_TAR.tmp" .
  ) || { rm -rf "$r"; die "building the rootfs failed"; }
  rm -rf "$r"
  mv -f "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
}

import_image() {  # import_image LABEL DOCKER-CMD...
  local label=$1; shift
  if "$@" image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$label: $IMAGE present"
  else
    build_rootfs_tar
    log "$label: importing $IMAGE"
    "$@" import --change 'CMD ["/bin/sh"]' - "$IMAGE" <"$ROOTFS_TAR" >/dev/null
  fi
  local out
  out=$("$@" run --rm "$IMAGE" echo hi 2>&1) || die "$label: docker run $IMAGE failed: $out"
  [ "$out" = hi ] || die "$label: docker run printed '$out', expected 'hi'"
  log "$label: docker run --rm $IMAGE echo hi -> $out"
}

# Podman's settings for this VM, in its own containers.conf (CONTAINERS_CONF):
# - no systemd: cgroupfs instead of the systemd cgroup manager, and a file
#   instead of journald for events (the events API reads it);
# - QUIRK: root here lacks CAP_SYS_RESOURCE, and rootful Podman asks runc for
#   nofile/nproc 1048576 ("error setting rlimit type 7: operation not
#   permitted"). Podman also lowers its own nproc to kernel.pid_max at start.
#   So the containers' defaults are the hard limits the service really has.
write_podman_conf() {
  local nofile nproc pidmax
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu); pidmax=$(cat /proc/sys/kernel/pid_max)
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pidmax" ]; then nproc=$pidmax; fi
  if [ "$nofile" = unlimited ]; then nofile=1048576; fi
  cat >"$PODMAN_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
}

start_podman() {
  if podman_responsive; then
    log "podman service already running (pid $(read_pid "$PODMAN_PIDFILE")) on $PODMAN_URL"
    return 0
  fi
  stop_podman
  command -v podman >/dev/null || die "podman missing (scripts/install-deps.sh --test)"
  mkdir -p "$PODMAN_ROOT" "$STATE_DIR/podman-networks"
  rm -f "$PODMAN_SOCK" "$PODMAN_PIDFILE"
  write_podman_conf
  log "starting rootful podman API service on $PODMAN_URL (root $PODMAN_ROOT, log $PODMAN_LOG)"
  # --time=0: never exit for idleness.
  (close_inherited_fds; cd / && exec env -i PATH="$CLEAN_PATH" LANG=C.UTF-8 CONTAINERS_CONF="$PODMAN_CONF" \
      setsid nohup podman "${PODMAN_GLOBAL[@]}" system service --time=0 "$PODMAN_URL" \
      >"$PODMAN_LOG" 2>&1 </dev/null) &
  local spid=$!
  echo "$spid" >"$PODMAN_PIDFILE"
  await_daemon "podman service" "$spid" "$PODMAN_LOG" "$PODMAN_START_TIMEOUT" podman_responsive
  log "podman service up (pid $spid)"
}

stop_podman() {
  local pid; pid=$(read_pid "$PODMAN_PIDFILE")
  if pid_alive "$pid"; then
    podman_responsive && kill_containers "podman" podman_remote
    kill_pids "podman service" "$STOP_TIMEOUT" "$pid"
  fi
  # A container's conmon outlives the service: find them (and their
  # containers) by our storage/run paths in their command lines.
  local pids=() p
  while read -r p; do
    [ -n "$p" ] || continue
    pids+=("$p")
    mapfile -t -O "${#pids[@]}" pids < <(descendants "$p")
  done < <(ps -eo pid=,args= | awk -v a="$PODMAN_ROOT/" -v b="$PODMAN_RUNROOT/" '(index($0, a) || index($0, b)) && $2 != "awk" { print $1 }')
  if [ "${#pids[@]}" -gt 0 ]; then
    mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
    kill_pids "podman conmon/containers" "$ORPHAN_GRACE" "${pids[@]}"
  fi
  # Podman's overlay driver leaves its graph root mounted after it exits.
  local m
  while read -r m; do
    [ -n "$m" ] && umount -l "$m" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | awk -v d="$PODMAN_ROOT/" 'index($0, d) == 1' | sort -r)
  rm -f "$PODMAN_SOCK" "$PODMAN_PIDFILE"
  return 0
}

# The test sshd (Docker over SSH): user dockssh, keys, sshd on 127.0.0.1:2222.
# Needs the rootful daemon (dockssh's sessions use its socket).
start_test_sshd() {
  "$TEST_SSHD" setup
  "$TEST_SSHD" start "$SSHD_PORT"
  local v
  v=$(as_user dockssh timeout 30 docker -H "ssh://dockssh@127.0.0.1:$SSHD_PORT" version --format '{{.Server.Version}}' 2>&1) ||
    die "docker -H ssh://dockssh@127.0.0.1:$SSHD_PORT (as dockssh) failed: $v"
  log "test sshd: docker -H ssh://dockssh@127.0.0.1:$SSHD_PORT (as dockssh) -> server $v"
}

stop_test_sshd() {
  local p ports=("${SSHD_PORTS[@]}") d
  for d in "$RUN_DIR"/sshd-*/; do
    [ -d "$d" ] || continue
    p=${d%/}; p=${p##*/sshd-}
    [[ "$p" =~ ^[0-9]+$ ]] && ports+=("$p")
  done
  mapfile -t ports < <(printf '%s\n' "${ports[@]}" | sort -un)
  for p in "${ports[@]}"; do "$TEST_SSHD" stop "$p" || return 1; done
}

print_summary() {
  local u
  log "---------------------------------------------------------------- summary"
  log "rootful : DOCKER_HOST=$ROOTFUL_HOST (pid $(read_pid "$ROOTFUL_PIDFILE"), data-root $ROOTFUL_DATA_ROOT)"
  for u in "${DAEMON_USERS[@]}"; do
    log "$(printf '%-8s' "$u"): uid $(uid_of "$u"), DOCKER_HOST=unix://$(user_sock "$u") (rootless, root dir $(user_home "$u")/.local/share/docker)"
  done
  log "carol   : uid $(uid_of carol), no daemon (expected socket $(user_sock carol) absent)"
  log "podman  : $PODMAN_URL (rootful, pid $(read_pid "$PODMAN_PIDFILE"), root $PODMAN_ROOT, log $PODMAN_LOG)"
  log "image   : $IMAGE in all three daemons and podman"
  log "sshd    : ssh://dockssh@127.0.0.1:$SSHD_PORT (log $RUN_DIR/sshd-$SSHD_PORT.log; keys, known_hosts, known_hosts.wrong in $RUN_DIR/ssh)"
  log "/var/run/docker.sock is NOT used by the test environment (reserved for the product)"
}

cmd_up() {
  local t0=$SECONDS
  [ -d /run/user ] || install -d -m 0755 /run/user
  setup_tun
  setup_kernel_and_mounts
  stop_legacy_dockerd
  start_rootful
  setup_users
  # carol must not have a daemon; make sure of it.
  if [ -e "$(user_sock carol)" ] || [ -e "$(leader_pidfile carol)" ]; then stop_rootless carol; fi
  local u
  for u in "${DAEMON_USERS[@]}"; do
    start_rootless "$u"
    verify_rootless "$u"
  done
  import_image "rootful" rootful_docker
  for u in "${DAEMON_USERS[@]}"; do
    import_image "rootless $u" user_docker "$u"
  done
  start_podman
  import_image "podman" podman_remote
  start_test_sshd
  print_summary
  log "up done in $((SECONDS - t0))s"
}

stop_rootful() {
  local pid; pid=$(read_pid "$ROOTFUL_PIDFILE")
  [ -z "$pid" ] && pid=$(pgrep -x dockerd -a 2>/dev/null | awk -v s="$ROOTFUL_HOST" 'index($0, s) { print $1; exit }' || true)
  if pid_alive "$pid"; then
    kill_containers "rootful" rootful_docker
    kill_pids "rootful dockerd" "$STOP_TIMEOUT" "$pid"
  fi
  # containerd/shims/containers that belong to this daemon (identified by the
  # exec-root path in their command line or pid file).
  local pids=() cpid p
  cpid=$(read_pid "$ROOTFUL_EXEC_ROOT/containerd/containerd.pid")
  pid_alive "$cpid" && pids+=("$cpid")
  while read -r p; do
    [ -n "$p" ] || continue
    pids+=("$p")
    mapfile -t -O "${#pids[@]}" pids < <(descendants "$p")
  done < <(ps -eo pid=,args= | awk -v s="$ROOTFUL_EXEC_ROOT" 'index($0, s) && $2 != "awk" { print $1 }')
  if [ "${#pids[@]}" -gt 0 ]; then
    mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
    kill_pids "rootful containerd/shims" "$ORPHAN_GRACE" "${pids[@]}"
  fi
  return 0
}

cmd_down() {
  local u j jobs=() rc=0
  # Test sshd instances first: their sessions use the rootful daemon's socket.
  stop_test_sshd || { warn "stopping the test sshd failed"; rc=1; }
  # The three daemons are stopped in parallel (each in a subshell).
  for u in "${ALL_USERS[@]}"; do
    if id -u "$u" >/dev/null 2>&1; then stop_rootless "$u" & jobs+=($!); fi
  done
  stop_rootful & jobs+=($!)
  stop_podman & jobs+=($!)
  for j in "${jobs[@]}"; do wait "$j" || rc=1; done
  [ "$rc" -eq 0 ] || warn "a stop step failed (see above)"
  # Unmount anything dockerd left below the run dir (netns files, shm), then
  # remove runtime files; keep logs for post-mortems (next `up` truncates them).
  if [ -d "$RUN_DIR" ]; then
    local m
    while read -r m; do
      [ -n "$m" ] && umount -l "$m" 2>/dev/null || true
    done < <(findmnt -rn -o TARGET | awk -v d="$RUN_DIR/" 'index($0, d) == 1' | sort -r)
    find "$RUN_DIR" -mindepth 1 -maxdepth 1 ! -name '*.log' -exec rm -rf {} +
  fi
  if ip link show "$ROOTFUL_BRIDGE" >/dev/null 2>&1; then
    ip link delete "$ROOTFUL_BRIDGE" type bridge 2>/dev/null || true
  fi
  # Nothing of ours may survive: no process of a test user, none referring to
  # the run dir. (Other rootlesskit/slirp4netns processes are only reported.)
  local left others
  # Test identities: the users' uids and their sub-uid ranges (container
  # processes). Zombies are ignored: PID 1 here reaps orphans ~once a second.
  local ranges="" r
  for u in "${ALL_USERS[@]}"; do
    id -u "$u" >/dev/null 2>&1 || continue
    ranges+="$(uid_of "$u"):1 "
    r=$(subid_range "$u" /etc/subuid); [ -n "$r" ] && ranges+="${r/ /:} "
  done
  left=$(ps -eo pid=,ruid=,stat=,args= | awk -v d="$RUN_DIR" -v ranges="$ranges" '
    BEGIN { n = split(ranges, rs, " ") }
    $3 ~ /^Z/ { next }
    { mine = (index($0, d) && $4 != "awk")
      for (i = 1; i <= n; i++) { split(rs[i], x, ":"); if ($2 >= x[1] && $2 < x[1] + x[2]) mine = 1 }
      if (mine) print }' || true)
  others=$(ps -eo pid=,user=,args= | awk '$3 ~ /(rootlesskit|slirp4netns|exe)$/ && /rootlesskit|slirp4netns/' || true)
  [ -n "$others" ] && { warn "rootlesskit/slirp4netns processes not started by this script:"; printf '%s\n' "$others" >&2; }
  if [ -n "$left" ]; then
    warn "processes left over:"; printf '%s\n' "$left" >&2
    return 1
  fi
  log "down done; users, data roots and images kept"
}

cmd_status() {
  local ok=0 u pid
  log "/dev/net/tun: $(stat -c '%A %U' /dev/net/tun 2>/dev/null || echo missing)"
  pid=$(read_pid "$ROOTFUL_PIDFILE")
  if rootful_responsive; then
    log "rootful : RUNNING pid $pid, $ROOTFUL_HOST, $(docker -H "$ROOTFUL_HOST" version --format 'server {{.Server.Version}}' 2>/dev/null), root dir $(timeout 10 docker -H "$ROOTFUL_HOST" info --format '{{.DockerRootDir}}' 2>/dev/null), images: $(timeout 10 docker -H "$ROOTFUL_HOST" images -q "$IMAGE" 2>/dev/null | wc -l)"
  else
    log "rootful : DOWN (pidfile pid ${pid:-none}, socket $ROOTFUL_SOCK $([ -S "$ROOTFUL_SOCK" ] && echo present || echo absent))"
    ok=1
  fi
  for u in "${ALL_USERS[@]}"; do
    if ! id -u "$u" >/dev/null 2>&1; then log "$u: user missing"; ok=1; continue; fi
    local uid; uid=$(uid_of "$u")
    if [ "$u" = carol ]; then
      log "carol   : uid $uid, no daemon by design (socket $(user_sock carol) $([ -e "$(user_sock carol)" ] && echo PRESENT || echo absent))"
      continue
    fi
    if user_responsive "$u"; then
      local info
      info=$(as_user "$u" timeout 10 docker -H "unix://$(user_sock "$u")" info --format '{{.DockerRootDir}} {{json .SecurityOptions}}' 2>/dev/null || true)
      log "$(printf '%-8s' "$u"): RUNNING uid $uid, unix://$(user_sock "$u"), leader pid $(read_pid "$(leader_pidfile "$u")"), dockerd pid $(read_pid "/run/user/$uid/docker.pid"), $info"
    else
      log "$(printf '%-8s' "$u"): DOWN uid $uid (socket $(user_sock "$u") $([ -S "$(user_sock "$u")" ] && echo present || echo absent))"
      ok=1
    fi
  done
  pid=$(read_pid "$PODMAN_PIDFILE")
  if podman_responsive; then
    log "podman  : RUNNING pid $pid, $PODMAN_URL, $(timeout 10 podman --url "$PODMAN_URL" version --format 'server {{.Server.Version}}' 2>/dev/null), root $PODMAN_ROOT, images: $(timeout 10 podman --url "$PODMAN_URL" images -q "$IMAGE" 2>/dev/null | wc -l)"
  else
    log "podman  : DOWN (pidfile pid ${pid:-none}, socket $PODMAN_SOCK $([ -S "$PODMAN_SOCK" ] && echo present || echo absent))"
    ok=1
  fi
  "$TEST_SSHD" status || ok=1
  log "processes:"
  ps -eo pid,pgid,stat,user:8,args |
    awk 'NR == 1 || (/dockerd|containerd|rootlesskit|slirp4netns|sshd -D|podman|conmon/ && $5 != "awk" && $3 !~ /^Z/)' |
    cut -c1-170 | sed "s/^/[$NAME]   /"
  return "$ok"
}

# ---------------------------------------------------------------- main

require_root
case "${1:-}" in
  up|down|status) ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac

mkdir -p "$RUN_DIR" "$STATE_DIR"
chmod 0755 "$RUN_DIR"
# Serialise concurrent invocations (bounded wait).
hold_lock "$LOCK_FILE" 300

case "$1" in
  up)     cmd_up ;;
  down)   cmd_down ;;
  status) cmd_status ;;
esac
