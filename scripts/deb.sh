#!/usr/bin/env bash
# `make deb`: builds the onair .deb for each architecture with nfpm, then
# shows what each holds (dpkg-deb -I / -c) and runs lintian on it.
#
# Usage: scripts/deb.sh [arm64|armhf|amd64 ...]   (default: all three)
#
# Binaries come from scripts/cross.sh (cgo, PIE, stripped), which installs
# the cross toolchains the first time. Packages land in dist/. It fails when
# a package lacks an expected file, when a binary would not start under the
# unit's MemoryDenyWriteExecute= (text relocations, executable stack), or
# when lintian reports an error.
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM_VERSION=v2.45.2
GO=${GO:-go}
CACHE=${CACHE:-$HOME/.cache/onair}
BIN=$CACHE/bin
DIST=${DIST:-dist}
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(arm64 armhf amd64)
export ONAIR_MAINTAINER=${ONAIR_MAINTAINER:-onair developers <onair@onair-gateway.github.io>}
export ONAIR_LICENSE=${ONAIR_LICENSE:-see /usr/share/doc/onair/copyright}

t0=$(date +%s)
say() { echo "==> deb: $* ($(( $(date +%s) - t0 ))s)"; }
die() { echo "deb.sh: $*" >&2; exit 1; }

# Tools: nfpm pinned and built from the module proxy (about 30 s once);
# lintian and dpkg-deb from Debian.
if ! [ -x "$BIN/nfpm" ] || [ "$(cat "$BIN/nfpm.version" 2>/dev/null)" != "$NFPM_VERSION" ]; then
  say "go install nfpm $NFPM_VERSION into $BIN"
  mkdir -p "$BIN"
  GOBIN=$BIN GOFLAGS=-buildvcs=false "$GO" install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
  echo "$NFPM_VERSION" >"$BIN/nfpm.version"
fi
scripts/deps-apt.sh lintian binutils xz-utils

# Debian version: v1.2.3 tag -> 1.2.3; 4 commits after it -> 1.2.3+git4.abc1234;
# no tag yet -> 0.0~git<commit date>.<sha>. "+dirty" when the tree has changes.
if [ -z "${ONAIR_VERSION:-}" ]; then
  desc=$(git describe --tags --match 'v[0-9]*' 2>/dev/null || true)
  sha=$(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
  if [[ $desc =~ ^v([0-9][0-9A-Za-z.~]*)$ ]]; then
    ONAIR_VERSION=${BASH_REMATCH[1]}
  elif [[ $desc =~ ^v([0-9][0-9A-Za-z.~]*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
    ONAIR_VERSION="${BASH_REMATCH[1]}+git${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
  else
    ONAIR_VERSION="0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).$sha"
  fi
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then ONAIR_VERSION+="+dirty"; fi
fi
export ONAIR_VERSION
# Reproducible: every timestamp is the commit's.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Documents shared by every architecture: gzip -9n as Debian policy wants
# for /usr/share/doc, and a Debian changelog for this build.
export ONAIR_DOC=$work/doc
mkdir -p "$ONAIR_DOC"
gzip -9n <systemd/README.md >"$ONAIR_DOC/README.systemd.md.gz"
gzip -9n <docs/config.md >"$ONAIR_DOC/config.md.gz"
gzip -9n <packaging/man/onaird.8 >"$ONAIR_DOC/onaird.8.gz"
gzip -9n <packaging/man/onairctl.1 >"$ONAIR_DOC/onairctl.1.gz"
{
  echo "onair ($ONAIR_VERSION-1) unstable; urgency=medium"
  echo
  echo "  * Built from git $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown):"
  echo "    $(git log -1 --format=%s 2>/dev/null | cut -c1-68 || echo 'local build')"
  echo
  echo " -- $ONAIR_MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$ONAIR_DOC/changelog.Debian.gz"

mkdir -p "$DIST"
for arch in "${archs[@]}"; do
  case $arch in arm64|armhf|amd64) ;; *) die "unknown arch $arch (arm64, armhf or amd64)";; esac
  say "$arch: build"
  export ONAIR_ARCH=$arch ONAIR_BIN=$work/bin-$arch
  OUT=$ONAIR_BIN STRIP=1 VERSION=$ONAIR_VERSION scripts/cross.sh "$arch"
  for b in onaird onairctl; do [ -x "$ONAIR_BIN/$b" ] || die "$arch: $ONAIR_BIN/$b was not built"; done

  # MemoryDenyWriteExecute=yes forbids mprotect(PROT_EXEC): a binary with
  # text relocations or an executable stack could not start under the unit.
  for b in onaird onairctl; do
    if readelf -dW "$ONAIR_BIN/$b" | grep -q TEXTREL; then die "$arch: $b has text relocations"; fi
    if readelf -lW "$ONAIR_BIN/$b" | grep GNU_STACK | grep -q RWE; then die "$arch: $b has an executable stack"; fi
  done
  # Depends: libc6 at the newest GLIBC_ symbol version the binaries use.
  ONAIR_LIBC=$(readelf -VW "$ONAIR_BIN/onaird" "$ONAIR_BIN/onairctl" | grep -oE 'Name: GLIBC_[0-9.]+' |
    sed 's/.*GLIBC_//' | sort -V | tail -1)
  [ -n "$ONAIR_LIBC" ] || die "$arch: no GLIBC_ version found in the binaries (not dynamically linked?)"
  export ONAIR_LIBC

  # The copyright file names the Go modules linked into the binaries.
  years=$(git log --format=%cd --date=format:%Y 2>/dev/null | sort -u | sed -n '1p;$p' | uniq | paste -sd- || true)
  {
    sed "s/@YEARS@/${years:-$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)}/" packaging/copyright
    echo
    echo "Files: usr/bin/onaird usr/bin/onairctl"
    echo "Copyright: the authors of each Go module listed below"
    echo "License: other"
    echo " onaird and onairctl are statically linked with these Go modules (from"
    echo " go.sum), each under its own license, shipped with its source:"
    "$GO" version -m "$ONAIR_BIN/onaird" "$ONAIR_BIN/onairctl" | awk '$1 == "dep" { print " " $2 " " $3 }' | sort -u
  } >"$ONAIR_DOC/copyright-$arch"

  deb=$DIST/onair_${ONAIR_VERSION}-1_${arch}.deb
  rm -f "$deb"
  # nfpm reads sources relative to the working directory: the tree.
  "$BIN/nfpm" package --config packaging/nfpm.yaml --packager deb --target "$deb" >/dev/null
  say "$arch: $deb ($(stat -c %s "$deb") bytes)"

  dpkg-deb -I "$deb" >"$work/info.txt"
  dpkg-deb -c "$deb" >"$work/contents.txt"
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$work/conffiles.txt"
  echo "--- dpkg-deb -I $deb"
  sed -n '/^ Package:/,$p' "$work/info.txt"
  echo "--- conffiles"
  cat "$work/conffiles.txt"
  echo "--- dpkg-deb -c $deb"
  cat "$work/contents.txt"
  for f in ./usr/bin/onaird ./usr/bin/onairctl ./lib/systemd/system/onaird.service ./etc/onair/onair.yaml \
    ./usr/share/doc/onair/examples/sim.yaml ./usr/share/doc/onair/copyright ./usr/share/doc/onair/changelog.Debian.gz; do
    awk '{ print $6 }' "$work/contents.txt" | grep -qx "$f" || die "$deb lacks $f"
  done
  grep -qE '^-rw------- root/root .* \./etc/onair/onair\.yaml$' "$work/contents.txt" ||
    die "$deb: /etc/onair/onair.yaml is not mode 0600"
  grep -qx /etc/onair/onair.yaml "$work/conffiles.txt" || die "$deb: /etc/onair/onair.yaml is not a conffile"
  for d in libc6 libopus0 libasound2 libspeexdsp1 adduser; do
    grep -E '^ Depends:' "$work/info.txt" | grep -qw "$d" || die "$deb: Depends lacks $d"
  done

  echo "--- lintian $deb"
  # Exit status 1 means errors (E:); warnings are shown and allowed.
  set +e
  lintian --tag-display-limit 0 --display-info "$deb" >"$work/lintian.raw" 2>&1
  lrc=$?
  set -e
  grep -v '^running with root privileges' "$work/lintian.raw" >"$work/lintian.txt" || true
  sed 's/^/    /' "$work/lintian.txt"
  summary=$(grep -oE '^[EWINPX]:' "$work/lintian.txt" | sort | uniq -c | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')
  if [ "$lrc" -ne 0 ] || grep -q '^E:' "$work/lintian.txt"; then
    die "$arch: lintian reports errors (exit $lrc): $summary"
  fi
  say "$arch: lintian: no errors (${summary:-clean})"
done
ls -l "$DIST"/onair_"${ONAIR_VERSION}"-1_*.deb
