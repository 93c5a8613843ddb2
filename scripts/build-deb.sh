#!/usr/bin/env bash
# build-deb.sh — build bulkhead_<version>_amd64.deb from this checkout.
#
#   scripts/build-deb.sh [--out DIR] [--no-build] [--lintian]
#
# The package is bulkhead_<upstream>-<DEB_REVISION>_amd64.deb, upstream being the
# binaries' version (`bulkhead 0.5.0 (git abc1234)`) and DEB_REVISION 1 unless set.
#
#   --out DIR     where the .deb goes (default .build/deb); its staging tree is DIR/root
#   --no-build    package the binaries of the last static release build as they are
#   --lintian     run lintian on the result (exit 1 on errors)
#
# Steps: `swift build -c release --static-swift-stdlib` in its own build directory
# .build-deb (BULKHEAD_DEB_SCRATCH; the Swift runtime linked in: ldd must show no
# libswift*/libFoundation*/libdispatch), the version from `bulkhead-helper --version`,
# man pages from swift-argument-parser's generate-manual tool (built offline from the
# checkout SwiftPM resolved), shell completions from
# --generate-completion-script, the unit from systemd/bulkhead-helper.service with its
# paths rewritten to /usr/sbin and /usr/bin, the example config as the conffile
# /etc/bulkhead/bulkhead.yaml (agent.path set to /usr/bin/bulkhead-agent, since the
# helper is in /usr/sbin), packaging/debian/* for control, maintainer scripts,
# sysusers.d, copyright and changelog; then dpkg-deb --build --root-owner-group.
# Prints the .deb's path as its last line. Must run as root (file ownership).
set -euo pipefail

NAME=build-deb
log() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/.build/deb
BUILD=1 LINTIAN=0
SWIFT=${SWIFT:-swift}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --no-build) BUILD=0 ;;
    --lintian) LINTIAN=1 ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help)" ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || die "must run as root (the package's files are owned by root)"
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac
cd "$ROOT"
PKG=$ROOT/packaging/debian
# A build directory of its own: --static-swift-stdlib changes every swiftc command line, so
# sharing .build with `make install`/`make bench` (release without it) would recompile every
# Swift module at each switch (measured: 5.5 min each way here). Dependencies resolve from
# Package.resolved through SwiftPM's repository cache.
SCRATCH=${BULKHEAD_DEB_SCRATCH:-$ROOT/.build-deb}
SWIFT_FLAGS=(-c release --static-swift-stdlib --scratch-path "$SCRATCH")

# --- 1. binaries
if [ "$BUILD" -eq 1 ]; then
  log "swift build ${SWIFT_FLAGS[*]} (the first static build takes ~10 min on 2 cores)"
  start=$SECONDS
  timeout 3600 "$SWIFT" build "${SWIFT_FLAGS[@]}" --product bulkhead-helper >&2
  timeout 3600 "$SWIFT" build "${SWIFT_FLAGS[@]}" --product bulkhead-agent >&2
  log "built in $((SECONDS - start)) s"
fi
BIN=$("$SWIFT" build "${SWIFT_FLAGS[@]}" --show-bin-path)
for b in bulkhead-helper bulkhead-agent; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing (run without --no-build)"
  if ldd "$BIN/$b" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime' >&2; then
    die "$BIN/$b loads the Swift runtime dynamically (above): not a --static-swift-stdlib build"
  fi
done
line=$("$BIN/bulkhead-helper" --version)
[ "$("$BIN/bulkhead-agent" --version)" = "$line" ] || die "helper and agent versions differ: $line / $("$BIN/bulkhead-agent" --version)"
VERSION=$(sed -n 's/^bulkhead \([0-9][0-9A-Za-z.+~-]*\) (.*$/\1/p' <<<"$line")
REVISION=$(sed -n 's/^.*(git \(.*\))$/\1/p' <<<"$line")
[ -n "$VERSION" ] || die "cannot read a version from '$line'"
UPSTREAM=$VERSION
# A Debian revision: the package is not Debian-native (its changelog is changelog.Debian.gz).
VERSION=$UPSTREAM-${DEB_REVISION:-1}
log "version $VERSION (upstream $UPSTREAM, git ${REVISION:-unknown}) from: $line"
# Reproducible dates: the last commit's time.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# --- 2. man pages: swift-argument-parser's generate-manual, built from the checkout.
GEN=$BIN/generate-manual
if [ ! -x "$GEN" ]; then
  log "building swift-argument-parser's generate-manual tool (offline, from .build/checkouts)"
  timeout 1800 "$SWIFT" build "${SWIFT_FLAGS[@]}" --product generate-manual >&2 ||
    die "cannot build generate-manual (swift-argument-parser's Tools/generate-manual)"
fi

# --- 3. staging tree
STAGE=$OUT/root
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN"
inst() { install -D -m "$1" "$2" "$STAGE/$3"; }
inst 0755 "$BIN/bulkhead-helper" usr/sbin/bulkhead-helper
inst 0755 "$BIN/bulkhead-agent" usr/bin/bulkhead-agent
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$STAGE/usr/sbin/bulkhead-helper" "$STAGE/usr/bin/bulkhead-agent"
[ "$("$STAGE/usr/sbin/bulkhead-helper" --version)" = "$line" ] || die "the stripped helper does not run"

# The unit: the other paths are /usr/local/bin in systemd/ (make install's PREFIX).
UNIT_SRC=systemd/bulkhead-helper.service
mkdir -p "$STAGE/lib/systemd/system"
sed -e 's|/usr/local/bin/bulkhead-helper|/usr/sbin/bulkhead-helper|g' \
    -e 's|/usr/local/bin/bulkhead-agent|/usr/bin/bulkhead-agent|g' \
    "$UNIT_SRC" >"$STAGE/lib/systemd/system/bulkhead-helper.service"
chmod 0644 "$STAGE/lib/systemd/system/bulkhead-helper.service"
grep -q '^ExecStart=/usr/sbin/bulkhead-helper\b' "$STAGE/lib/systemd/system/bulkhead-helper.service" ||
  die "the packaged unit's ExecStart= does not start /usr/sbin/bulkhead-helper: $(grep '^ExecStart=' "$UNIT_SRC")"
if grep -n '/usr/local' "$STAGE/lib/systemd/system/bulkhead-helper.service" >&2; then
  die "the packaged unit still names /usr/local (above): extend the sed in $0"
fi

# The conffile: the example, with the agent's path (the helper's default is its own directory).
mkdir -p "$STAGE/etc/bulkhead"
sed -e 's|^  path: ""$|  path: /usr/bin/bulkhead-agent|' config/bulkhead.example.yaml >"$STAGE/etc/bulkhead/bulkhead.yaml"
chmod 0644 "$STAGE/etc/bulkhead/bulkhead.yaml"
grep -q '^  path: /usr/bin/bulkhead-agent$' "$STAGE/etc/bulkhead/bulkhead.yaml" || die "agent.path not found in config/bulkhead.example.yaml"
"$STAGE/usr/sbin/bulkhead-helper" check-config --config "$STAGE/etc/bulkhead/bulkhead.yaml" >/dev/null ||
  die "the packaged config does not pass check-config"

inst 0644 "$PKG/sysusers.conf" usr/lib/sysusers.d/bulkhead.conf

# Man pages: the helper is an administrator's command (section 8), the agent section 1.
MAN=$OUT/man
rm -rf "$MAN"; mkdir -p "$MAN/1" "$MAN/8"
"$GEN" "$STAGE/usr/sbin/bulkhead-helper" --section 8 --date "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" \
  --authors "Bulkhead developers" --output-directory "$MAN/8" >&2
"$GEN" "$STAGE/usr/bin/bulkhead-agent" --section 1 --date "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" \
  --authors "Bulkhead developers" --output-directory "$MAN/1" >&2
for s in 1 8; do
  mkdir -p "$STAGE/usr/share/man/man$s"
  for f in "$MAN/$s"/*; do
    [ -e "$f" ] || die "generate-manual wrote no page for section $s"
    # generate-manual keeps the help text's blank lines, which groff warns about: .Pp instead.
    sed 's/^$/.Pp/' "$f" | gzip -9n >"$STAGE/usr/share/man/man$s/$(basename "$f").gz"
  done
done

# Completions, in the directories bash-completion, zsh and fish read.
for b in usr/sbin/bulkhead-helper usr/bin/bulkhead-agent; do
  n=$(basename "$b")
  mkdir -p "$STAGE/usr/share/bash-completion/completions" "$STAGE/usr/share/zsh/vendor-completions" "$STAGE/usr/share/fish/vendor_completions.d"
  # bash-completion sources the file: no #! line (lintian: bash-completion-with-hashbang).
  "$STAGE/$b" --generate-completion-script bash | sed '1{/^#!/d}' >"$STAGE/usr/share/bash-completion/completions/$n"
  "$STAGE/$b" --generate-completion-script zsh >"$STAGE/usr/share/zsh/vendor-completions/_$n"
  "$STAGE/$b" --generate-completion-script fish >"$STAGE/usr/share/fish/vendor_completions.d/$n.fish"
done

# Documentation.
DOC=usr/share/doc/bulkhead
inst 0644 "$PKG/copyright" "$DOC/copyright"
inst 0644 "$PKG/lintian-overrides" usr/share/lintian/overrides/bulkhead
inst 0644 README.md "$DOC/README.md"
inst 0644 systemd/README.md "$DOC/README.systemd.md"
# The unit's optional drop-ins (netwatch.conf, ...): examples, to copy to
# /etc/systemd/system/bulkhead-helper.service.d/ as systemd/README.md says.
for f in systemd/bulkhead-helper.service.d/*.conf; do
  [ -e "$f" ] || continue
  sed -e 's|/usr/local/bin/bulkhead-helper|/usr/sbin/bulkhead-helper|g' -e 's|/usr/local/bin/bulkhead-agent|/usr/bin/bulkhead-agent|g' "$f" |
    install -D -m 0644 /dev/stdin "$STAGE/$DOC/examples/bulkhead-helper.service.d/$(basename "$f")"
done
sed -e "s/@VERSION@/$VERSION/" -e "s/@REVISION@/${REVISION:-unknown}/" \
    -e "s/@DATE@/$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")/" "$PKG/changelog.in" |
  gzip -9n >"$STAGE/$DOC/changelog.Debian.gz"
for f in README.md README.systemd.md; do gzip -9n "$STAGE/$DOC/$f"; done

# --- 4. control files
# Depends: every shared library the binaries load, by package (ldd + dpkg -S), and the
# programs netwatch, i2p and cleanup run (iptables-restore/-save, ip).
# Only the libraries each binary names (NEEDED), as dpkg-shlibdeps does, not their own
# dependencies; ldd says where each one is.
libpkgs=$(for b in usr/sbin/bulkhead-helper usr/bin/bulkhead-agent; do
    ldd "$STAGE/$b" >"$OUT/ldd.txt"
    readelf -d "$STAGE/$b" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p' |
      while read -r so; do awk -v so="$so" '$1 == so && $2 == "=>" { print $3 }' "$OUT/ldd.txt"; done
  done | sort -u |
  while read -r lib; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || die "no package owns $lib"; done |
  cut -d: -f1 | sort -u)
depends=$( { echo "$libpkgs"; printf '%s\n' libseccomp2 libcap2 libssh-4 libvectorscan5 iproute2 iptables passwd; } |
  sed '/^$/d' | sort -u | paste -sd, | sed 's/,/, /g')
log "Depends: $depends"
installed_size=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@INSTALLED_SIZE@/$installed_size/" -e "s/@DEPENDS@/$depends/" \
  "$PKG/control.in" >"$STAGE/DEBIAN/control"
install -m 0644 "$PKG/conffiles" "$STAGE/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$PKG/$s" "$STAGE/DEBIAN/$s"; done
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | grep -v '^etc/' | LC_ALL=C sort |
  xargs md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/md5sums"
# Directories 0755, files as installed above; mtimes clamped for reproducibility.
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

# --- 5. the package
DEB=$OUT/bulkhead_${VERSION}_amd64.deb
rm -f "$OUT"/bulkhead_*_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >&2
log "built $DEB ($(du -h "$DEB" | cut -f1))"
if [ "$LINTIAN" -eq 1 ]; then
  log "lintian $DEB"
  timeout 600 lintian --info --display-info "$DEB" >&2 || die "lintian reports errors"
fi
echo "$DEB"
