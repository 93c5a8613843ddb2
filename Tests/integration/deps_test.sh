#!/usr/bin/env bash
# Run-time and test dependencies apart (scripts/install-deps.sh): in a clean Debian 12 root
# (scripts/debian-root.sh), what `make install` runs (--runtime for the example config, then
# --build) must install no test peer: `dpkg -l docker.io podman openssh-server strace` stays
# empty. Also: --runtime for an i2p config with a local SAM bridge adds i2pd (dry run, since
# i2pd's postinst would start a public router), and a second run has nothing to do.
#
# --build downloads the -dev packages from deb.debian.org, so this test needs that mirror
# (the root shares the host's network for apt; nothing else runs in it). Without it the
# --build part is reported as SKIP, not as a failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"   # also REPO, the checkout's root
need_root
t0=$SECONDS

W=$(mktemp -d /var/tmp/bulkhead-deps-test.XXXXXX)
R=$W/root
trap 'rm -rf "$W"' EXIT
timeout 900 "$REPO/scripts/debian-root.sh" copy "$R" >/dev/null || { fail "debian-root.sh copy" ""; summary; exit 1; }
mkdir -p "$R/src/scripts" "$R/src/config"
cp "$REPO/scripts/install-deps.sh" "$R/src/scripts/"
cp "$REPO/config/bulkhead.example.yaml" "$R/src/config/"
# A private mount and pid namespace; the host's network (apt needs the mirror). The root's
# /etc/resolv.conf is the host's, for the mirror's name.
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
inroot() {
  timeout --kill-after=5 1200 unshare --mount --pid --fork --kill-child --mount-proc="$R/proc" -- \
    sh -c 'mount --rbind /dev "$0/dev" && exec chroot "$0" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"' "$R" "$@"
}
peers() { inroot dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' docker.io podman openssh-server strace rootlesskit i2pd mmdebstrap lintian 2>/dev/null | grep '^ii' | paste -sd' '; }

out=$(inroot /src/scripts/install-deps.sh --runtime 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/  runtime: /'
check_eq "install-deps.sh --runtime (example config) in the clean root" 0 "$rc"
check_contains "the example config enables no extra service" "all 6 packages already installed" "$out"

printf 'i2p:\n  sam: 127.0.0.1:7656\n' >"$R/src/i2p.yaml"
out=$(inroot /src/scripts/install-deps.sh --runtime --dry-run --config /src/i2p.yaml 2>&1)
check_contains "i2p with a local SAM bridge adds i2pd, and only i2pd" "would install 1 package(s): i2pd" "$out"

if timeout 10 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; then
  out=$(inroot /src/scripts/install-deps.sh --runtime --build 2>&1); rc=$?
  printf '%s\n' "$out" | grep -v '^\(Get\|Selecting\|Preparing\|Unpacking\|Setting up\|Processing\)' | sed 's/^/  runtime+build: /'
  check_eq "install-deps.sh --runtime --build (what make install runs)" 0 "$rc"
  check_contains "it installed the -dev libraries" "done; installed: libseccomp-dev" "$out"
  check_eq "the -dev libraries are there" 5 "$(inroot dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' libseccomp-dev libcap-dev libssh-dev libvectorscan-dev pkg-config 2>/dev/null | grep -c '^ii')"
  out=$(inroot /src/scripts/install-deps.sh --runtime --build 2>&1)
  check_contains "a second run has nothing to do" "all 11 packages already installed; nothing to do" "$out"
else
  echo "SKIP: deb.debian.org:80 is not reachable: --build not exercised"
fi
check_eq "no test peer installed (dpkg -l docker.io podman openssh-server strace rootlesskit i2pd mmdebstrap lintian)" "" "$(peers)"
echo "[deps_test] runtime $((SECONDS - t0)) s"
summary
