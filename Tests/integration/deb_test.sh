#!/usr/bin/env bash
# The Debian package and `make uninstall`, in a clean Debian 12 root (scripts/debian-root.sh).
#
#   .deb:  `apt-get install ./bulkhead_*.deb` (offline: its Depends are in the root), files,
#          accounts, check-config, lintian (no errors); then chains and a stale socket that
#          Bulkhead owns, `apt-get purge bulkhead`, and nothing of it may remain: binaries,
#          unit, accounts, /etc/bulkhead, /var/lib/bulkhead, /var/log/bulkhead, chains, socket.
#   make uninstall: the static binaries in /usr/local/bin, accounts, config, unit, chains;
#          `make uninstall` removes binaries, unit, chains and keeps config and accounts;
#          `make uninstall PURGE=1` removes those too.
#
# Everything runs in the root through chroot, inside a private network namespace (the
# cleanup that removal runs must never touch the host's rules: other tests' chains live
# there) and a private mount namespace (/proc, /dev). The host's own accounts and files
# are not touched.
#
# The .deb: $BULKHEAD_DEB if set; else the one in $BULKHEAD_DEB_DIR (default .build/deb) if it
# is newer than every source it is built from (`make test` runs `make deb` first); else this
# test builds it with scripts/build-deb.sh (~10 min for a first static build on 2 cores).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"   # also REPO, the checkout's root
need_root
t0=$SECONDS
log() { printf '[deb_test] %s\n' "$*"; }

W=$(mktemp -d /var/tmp/bulkhead-deb-test.XXXXXX)
R=$W/root
NS=bhdeb$$
cleanup() {
  ip netns del "$NS" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

# --- the .deb
DEB=${BULKHEAD_DEB:-}
if [ -z "$DEB" ]; then
  DEB_DIR=${BULKHEAD_DEB_DIR:-$REPO/.build/deb}
  DEB=$(ls -t "$DEB_DIR"/bulkhead_*_amd64.deb 2>/dev/null | head -1)
  newer=""
  [ -z "$DEB" ] || newer=$(cd "$REPO" && find Sources Package.swift packaging systemd config scripts/build-deb.sh \
    -type f -newer "$DEB" -print -quit)
  if [ -z "$DEB" ] || [ -n "$newer" ]; then
    log "building the .deb (${DEB:+$newer is newer than $DEB})"
    DEB=$(timeout 3600 "$REPO/scripts/build-deb.sh" --out "$DEB_DIR" | tail -1) || { fail "scripts/build-deb.sh" "see above"; summary; exit 1; }
  else
    log "reusing $DEB (newer than its sources)"
  fi
fi
[ -f "$DEB" ] || { fail "a .deb to test" "$DEB does not exist"; summary; exit 1; }
log "testing $DEB"

# --- lintian (on the host; installed by install-deps.sh --test)
lint=$(timeout 600 lintian --info "$DEB" 2>&1); lrc=$?
printf '%s\n' "$lint" | sed 's/^/  lintian: /'
check_eq "lintian reports no errors" "" "$(grep '^E: ' <<<"$lint")"
[ "$lrc" -eq 0 ] || fail "lintian exit status" "exit $lrc"

# --- package contents
contents=$(dpkg-deb -c "$DEB" | awk '{ print $6 }')
for f in ./usr/sbin/bulkhead-helper ./usr/bin/bulkhead-agent ./lib/systemd/system/bulkhead-helper.service \
  ./etc/bulkhead/bulkhead.yaml ./usr/lib/sysusers.d/bulkhead.conf ./usr/share/man/man8/bulkhead-helper.8.gz \
  ./usr/share/man/man1/bulkhead-agent.1.gz ./usr/share/bash-completion/completions/bulkhead-agent \
  ./usr/share/zsh/vendor-completions/_bulkhead-helper ./usr/share/fish/vendor_completions.d/bulkhead-agent.fish \
  ./usr/share/doc/bulkhead/copyright ./usr/share/doc/bulkhead/changelog.Debian.gz; do
  check "the package holds $f" grep -qxF "$f" <<<"$contents"
done
check_eq "conffiles" "/etc/bulkhead/bulkhead.yaml" "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles)"
x=$W/x; dpkg-deb -x "$DEB" "$x"
for b in usr/sbin/bulkhead-helper usr/bin/bulkhead-agent; do
  check_eq "$b: no Swift runtime library loaded (static)" "" "$(ldd "$x/$b" | grep -E 'libswift|libFoundation|libdispatch')"
done

# --- the clean root
log "copying a clean Debian 12 root"
timeout 900 "$REPO/scripts/debian-root.sh" copy "$R" >/dev/null || { fail "debian-root.sh copy" "see above"; summary; exit 1; }
ip netns add "$NS" || { fail "ip netns add $NS" ""; summary; exit 1; }
# inroot CMD...: CMD in the root, private netns $NS, private mounts, a clean environment.
inroot() {
  timeout --kill-after=5 600 ip netns exec "$NS" unshare --mount --pid --fork --kill-child --mount-proc="$R/proc" -- \
    sh -c 'mount --rbind /dev "$0/dev" && exec chroot "$0" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' "$R" "$@"
}
host_accounts=$(getent passwd bulkhead bulkhead-helper bulkhead-netfilter | cut -d: -f1-3)
check_eq "the clean root has no Bulkhead account" "" "$(inroot getent passwd bulkhead bulkhead-helper bulkhead-netfilter)"

# Bulkhead's state for removal to clean up: netwatch's chains with their jumps, the ip rule
# of netwatch.policy_routing (added to the config), a stale socket at router.listen (the
# default /var/run/docker.sock).
add_state() {
  printf 'netwatch:\n  policy_routing:\n    rules: [{fwmark: 2, table: 200}]\n' >>"$R/etc/bulkhead/bulkhead.yaml" &&
  inroot sh -ec 'iptables -t nat -N BULKHEAD-DNAT; iptables -t nat -A PREROUTING -j BULKHEAD-DNAT
    iptables -N BULKHEAD-FWD; iptables -A FORWARD -j BULKHEAD-FWD; ip -4 rule add fwmark 2 lookup 200' &&
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$R/run/docker.sock"
}
bh_rules() { inroot sh -c 'iptables-save; ip6tables-save; ip -4 rule show' | grep -cE 'BULKHEAD|fwmark 0x2 lookup 200'; }

# --- apt-get install
cp "$DEB" "$R/tmp/"
out=$(inroot apt-get install -y --no-install-recommends "/tmp/$(basename "$DEB")" 2>&1); rc=$?
check_eq "apt-get install ./$(basename "$DEB") in the clean root" 0 "$rc"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | tail -20
check_eq "dpkg: bulkhead installed" "install ok installed" "$(inroot dpkg-query -W -f='${Status}' bulkhead 2>&1)"
check_contains "bulkhead-helper --version" "bulkhead " "$(inroot bulkhead-helper --version 2>&1)"
check_eq "helper and agent print the same version" "$(inroot bulkhead-helper --version 2>&1)" "$(inroot bulkhead-agent --version 2>&1)"
check "bulkhead-helper check-config (the packaged /etc/bulkhead/bulkhead.yaml)" inroot bulkhead-helper check-config
check_contains "the packaged config runs the agent from /usr/bin" '"path":"\/usr\/bin\/bulkhead-agent"' "$(inroot bulkhead-helper check-config 2>&1 | tr -d ' \n')"
check "the unit starts /usr/sbin/bulkhead-helper" grep -q '^ExecStart=/usr/sbin/bulkhead-helper ' "$R/lib/systemd/system/bulkhead-helper.service"
check_eq "the unit names no /usr/local" "" "$(grep -n /usr/local "$R/lib/systemd/system/bulkhead-helper.service")"
for u in bulkhead-helper bulkhead bulkhead-netfilter; do
  check_contains "account $u: system account, no login" "/nonexistent:/usr/sbin/nologin" "$(inroot getent passwd "$u")"
done
check_eq "/var/log/bulkhead: 0750 bulkhead:adm" "750 bulkhead:adm" "$(inroot stat -c '%a %U:%G' /var/log/bulkhead 2>&1)"
check_contains "man page bulkhead-helper(8), with its subcommands" ".Dt BULKHEAD-HELPER 8|cleanup" "$(zcat "$R/usr/share/man/man8/bulkhead-helper.8.gz" | grep -m1 '^\.Dt')|$(zcat "$R/usr/share/man/man8/bulkhead-helper.8.gz" | grep -m1 -o cleanup)"
check_contains "man page bulkhead-agent(1), with its subcommands" ".Dt BULKHEAD-AGENT 1|audit" "$(zcat "$R/usr/share/man/man1/bulkhead-agent.1.gz" | grep -m1 '^\.Dt')|$(zcat "$R/usr/share/man/man1/bulkhead-agent.1.gz" | grep -m1 -o audit)"
check_eq "no test peer came with the package" "" "$(inroot dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' docker.io podman openssh-server strace 2>/dev/null | grep '^ii')"

# --- reinstall (an upgrade: no cleanup), remove (cleanup; config and accounts stay), purge
add_state || fail "setting up chains and a socket to clean" ""
check_eq "before removal: Bulkhead's chains, jumps and ip rule are there" 5 "$(bh_rules)"
check "the config with netwatch.policy_routing passes check-config" inroot bulkhead-helper check-config
check "apt-get install --reinstall (prerm upgrade)" inroot apt-get install -y --reinstall --no-install-recommends "/tmp/$(basename "$DEB")"
check_eq "an upgrade leaves the running service's rules alone" 5 "$(bh_rules)"
check_contains "an upgrade keeps the changed conffile" "fwmark: 2" "$(cat "$R/etc/bulkhead/bulkhead.yaml")"
out=$(inroot apt-get remove -y bulkhead 2>&1); rc=$?
printf '%s\n' "$out" | grep -E 'removed|FAILED|nothing to do|bulkhead:' | sed 's/^/  remove: /'
check_eq "apt-get remove bulkhead" 0 "$rc"
check_contains "remove ran bulkhead-helper cleanup" "removed chain" "$out"
check_eq "after remove: no Bulkhead chain, jump or ip rule" 0 "$(bh_rules)"
check_eq "after remove: no socket at router.listen" "" "$(ls "$R/run/docker.sock" 2>/dev/null)"
check "after remove: the binaries are gone" test ! -e "$R/usr/sbin/bulkhead-helper" -a ! -e "$R/usr/bin/bulkhead-agent"
check "after remove: the config stays" test -e "$R/etc/bulkhead/bulkhead.yaml"
check_eq "after remove: the accounts stay" 3 "$(inroot getent passwd bulkhead bulkhead-helper bulkhead-netfilter | wc -l)"
check "apt-get purge after remove" inroot apt-get purge -y bulkhead
check_eq "after remove + purge: no account" "" "$(inroot getent passwd bulkhead bulkhead-helper bulkhead-netfilter)"
check "after remove + purge: no /etc/bulkhead" test ! -e "$R/etc/bulkhead"
# Installed again, and purged at once (prerm remove, postrm remove, postrm purge).
check "apt-get install again" inroot apt-get install -y --no-install-recommends "/tmp/$(basename "$DEB")"
add_state || fail "setting up chains and a socket to clean" ""
check_eq "before purge: Bulkhead's chains, jumps and ip rule are there" 5 "$(bh_rules)"
out=$(inroot apt-get purge -y bulkhead 2>&1); rc=$?
check_eq "apt-get purge bulkhead" 0 "$rc"
printf '%s\n' "$out" | grep -E 'removed|FAILED|nothing to do|bulkhead:' | sed 's/^/  purge: /'
check_contains "purge ran bulkhead-helper cleanup" "removed chain" "$out"
check_eq "after purge: no Bulkhead chain, jump or ip rule" 0 "$(bh_rules)"
check_eq "after purge: no socket at router.listen" "" "$(ls "$R/run/docker.sock" 2>/dev/null)"
check_eq "after purge: dpkg knows no bulkhead" "" "$(inroot dpkg-query -W -f='${db:Status-Abbrev}' bulkhead 2>/dev/null | grep -v '^un')"
check_eq "after purge: no account or group" "" "$(inroot sh -c 'getent passwd bulkhead bulkhead-helper bulkhead-netfilter; getent group bulkhead bulkhead-helper bulkhead-netfilter')"
check_eq "after purge: no file named *bulkhead* in the root" "" "$(cd "$R" && find . -xdev -name '*bulkhead*' ! -path './tmp/*' ! -path ./.bulkhead-root | head)"
for d in etc/bulkhead var/lib/bulkhead var/log/bulkhead usr/sbin/bulkhead-helper usr/bin/bulkhead-agent lib/systemd/system/bulkhead-helper.service; do
  check "after purge: /$d is gone" test ! -e "$R/$d"
done

# --- make install's layout, then make uninstall and make uninstall PURGE=1
mkdir -p "$R/src/scripts" "$R/src/config" "$R/src/systemd"
cp "$REPO/Makefile" "$R/src/"; cp "$REPO/scripts/uninstall.sh" "$R/src/scripts/"
cp "$REPO/config/bulkhead.example.yaml" "$R/src/config/"; cp -r "$REPO/systemd/." "$R/src/systemd/"
install -m 0755 /usr/bin/make "$R/usr/local/bin/make"     # the root has no make; it needs only libc
check "make accounts (in the root)" inroot make -s -C /src accounts
install -m 0755 "$x/usr/sbin/bulkhead-helper" "$x/usr/bin/bulkhead-agent" "$R/usr/local/bin/"
mkdir -p "$R/etc/bulkhead" "$R/var/lib/bulkhead/i2p" "$R/var/log/bulkhead"
cp "$REPO/config/bulkhead.example.yaml" "$R/etc/bulkhead/bulkhead.yaml"
check_eq "make uninstall: the root holds no Bulkhead chain before" 0 "$(bh_rules)"
cp "$REPO/systemd/bulkhead-helper.service" "$R/etc/systemd/system/"
mkdir -p "$R/etc/systemd/system/bulkhead-helper.service.d" && cp "$REPO/systemd/bulkhead-helper.service.d/netwatch.conf" "$R/etc/systemd/system/bulkhead-helper.service.d/"
add_state || fail "setting up chains and a socket to clean (make uninstall)" ""
check_eq "before make uninstall: Bulkhead's chains, jumps and ip rule are there" 5 "$(bh_rules)"
out=$(inroot make -C /src uninstall 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/  uninstall: /'
check_eq "make uninstall" 0 "$rc"
check_eq "make uninstall: no Bulkhead chain, jump or ip rule" 0 "$(bh_rules)"
check_eq "make uninstall: no socket at router.listen" "" "$(ls "$R/run/docker.sock" 2>/dev/null)"
for f in usr/local/bin/bulkhead-helper usr/local/bin/bulkhead-agent etc/systemd/system/bulkhead-helper.service etc/systemd/system/bulkhead-helper.service.d; do
  check "make uninstall: /$f is gone" test ! -e "$R/$f"
done
check "make uninstall keeps /etc/bulkhead/bulkhead.yaml" test -e "$R/etc/bulkhead/bulkhead.yaml"
check_eq "make uninstall keeps the accounts" 3 "$(inroot getent passwd bulkhead bulkhead-helper bulkhead-netfilter | wc -l)"
out=$(inroot make -C /src uninstall PURGE=1 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/  uninstall PURGE=1: /'
check_eq "make uninstall PURGE=1" 0 "$rc"
check_eq "make uninstall PURGE=1: no account or group" "" "$(inroot sh -c 'getent passwd bulkhead bulkhead-helper bulkhead-netfilter; getent group bulkhead bulkhead-helper bulkhead-netfilter')"
check_eq "make uninstall PURGE=1: nothing named *bulkhead* outside /src and /tmp" "" "$(cd "$R" && find . -xdev -name '*bulkhead*' ! -path './tmp/*' ! -path './src/*' ! -path ./.bulkhead-root | head)"
check "make uninstall PURGE=1 again: nothing to do, exit 0" inroot make -s -C /src uninstall PURGE=1

# --- the host is untouched
check_eq "the host's Bulkhead accounts are untouched" "$host_accounts" "$(getent passwd bulkhead bulkhead-helper bulkhead-netfilter | cut -d: -f1-3)"
log "runtime $((SECONDS - t0)) s"
summary
