#!/usr/bin/env bash
# Cross-builds onaird and onairctl with cgo (libopus, libasound, libspeexdsp) for the
# Raspberry Pi, and optionally runs unit tests under qemu-user.
#
# Usage: scripts/cross.sh [arm64|armhf|amd64] [test]
#
#   arm64  64-bit Raspberry Pi OS / Debian on Pi 3, 4, 5, Zero 2 W. Uses
#          Debian multiarch: arm64 is added as a dpkg architecture and the
#          :arm64 -dev packages are installed next to the host's.
#   armhf  32-bit Raspberry Pi OS on ARMv7 (Pi 2, 3, 4 in 32-bit mode). The
#          armhf dpkg architecture is NOT added (apt-get update breaks on
#          Debian 12 with it); a 34 MB sysroot is extracted with mmdebstrap
#          into ~/.cache/onair/sysroot-armhf instead. Debian's armhf is ARMv7
#          with VFPv3: its libraries die with SIGILL on the ARMv6 of the Pi
#          Zero / Zero W / Pi 1, which this build cannot reach.
#   amd64  the host, for the amd64 .deb.
#
# Binaries (CMDS, default "onaird onairctl") land in bin/linux-$arch/ (or $OUT), position-independent: with
# the default exe mode, armhf binaries get text relocations, which
# MemoryDenyWriteExecute= in onaird.service forbids. STRIP=1 drops symbols
# and DWARF (-s -w), as the .deb wants. Everything it installs is checked first,
# so a second run goes straight to the build. `test` compiles the tests of
# ./audio/... ./provisioning ./hw/sim (whichever exist) with
# `go test -c` and runs them under qemu (-test.short; see SLOW below).
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:-arm64}
mode=${2:-build}
GO=${GO:-go}
TAGS=nolibopusfile
CACHE=${CACHE:-$HOME/.cache/onair}
OUT=${OUT:-bin/linux-$arch}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
LDFLAGS="-X main.version=$VERSION"
[ "${STRIP:-0}" = 1 ] && LDFLAGS="-s -w $LDFLAGS"
TEST_PKGS=(./audio/... ./provisioning ./hw/sim)
# Tests too slow under emulation, as a -test.skip pattern (Opus runs 16-25x
# slower under qemu than native); they still run natively in `make test`.
SLOW=${SLOW:-}
# Each emulated test binary gets this many seconds.
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

t0=$(date +%s)
say() { echo "==> [$arch] $* ($(( $(date +%s) - t0 ))s)"; }
die() { echo "cross.sh: $*" >&2; exit 1; }

case $mode in build|test) ;; *) die "unknown mode $mode (build or test)";; esac

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; fi
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# apt_install PKG...: installs the packages not installed yet, showing apt's
# progress lines (not its whole log). Recommends stay off: the lists below
# name everything the build needs.
apt_install() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    die "needs Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
  fi
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${APT_UPDATED:-}" ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  local log
  log=$(mktemp)
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" 2>&1 | tee "$log" |
    grep --line-buffered -E '^(Get:|Setting up)' | sed -u 's/^/    /' || true
  for p in "${missing[@]}"; do
    installed "$p" || { tail -20 "$log" >&2; rm -f "$log"; die "apt-get did not install $p"; }
  done
  rm -f "$log"
  say "installed ${#missing[@]} packages"
}

setup_arm64() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "dpkg --add-architecture arm64"
    $SUDO dpkg --add-architecture arm64
    APT_UPDATED=
  fi
  apt_install gcc-aarch64-linux-gnu libc6-dev:arm64 libopus-dev:arm64 libasound2-dev:arm64 libspeexdsp-dev:arm64 pkgconf:arm64 qemu-user
  export GOARCH=arm64 CC=aarch64-linux-gnu-gcc PKG_CONFIG=aarch64-linux-gnu-pkg-config
  # The arm64 loader is installed by libc6:arm64 at /lib/ld-linux-aarch64.so.1,
  # so qemu needs no -L (with -L cgo binaries hang at 100% CPU).
  QEMU=(qemu-aarch64)
}

setup_armhf() {
  local sr=$CACHE/sysroot-armhf
  apt_install gcc-arm-linux-gnueabihf mmdebstrap qemu-user pkgconf
  if [ ! -f "$sr/.onair-complete-speexdsp" ]; then
    say "extracting the armhf sysroot into $sr (bookworm: libopus-dev, libasound2-dev, libspeexdsp-dev, libc6-dev)"
    rm -rf "$sr"
    mkdir -p "$CACHE"
    $SUDO mmdebstrap --variant=extract --architectures=armhf --mode=root --quiet \
      --include=libopus-dev,libasound2-dev,libspeexdsp-dev,libc6-dev bookworm "$sr" \
      http://deb.debian.org/debian
    touch "$sr/.onair-complete-speexdsp"
    say "sysroot ready, $(du -sh "$sr" | cut -f1)"
  fi
  export GOARCH=arm GOARM=7 CC="arm-linux-gnueabihf-gcc --sysroot=$sr" PKG_CONFIG=pkg-config
  export PKG_CONFIG_SYSROOT_DIR=$sr
  export PKG_CONFIG_LIBDIR=$sr/usr/lib/arm-linux-gnueabihf/pkgconfig:$sr/usr/share/pkgconfig
  # No armhf libc on the host: qemu finds the loader and libraries in the
  # sysroot. QEMU_LD_PREFIX is the environment form of -L.
  export QEMU_LD_PREFIX=$sr
  QEMU=(qemu-arm -cpu cortex-a7)
}

setup_amd64() {
  apt_install gcc libc6-dev libopus-dev libasound2-dev libspeexdsp-dev pkgconf
  export GOARCH=amd64 CC=gcc PKG_CONFIG=pkg-config
  QEMU=()
}

case $arch in
  arm64) setup_arm64 ;;
  armhf) setup_armhf ;;
  amd64) setup_amd64 ;;
  *) die "unknown arch $arch (arm64, armhf or amd64)" ;;
esac
export CGO_ENABLED=1 GOOS=linux GOFLAGS=${GOFLAGS:--buildvcs=false}
# Debian's hardening for the C side: fortified libc calls, stack protector,
# full RELRO with immediate binding.
export CGO_CFLAGS=${CGO_CFLAGS:--O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong}
export CGO_LDFLAGS=${CGO_LDFLAGS:--Wl,-z,relro,-z,now}

mkdir -p "$OUT"
cmds=()
for c in ${CMDS:-onaird onairctl}; do
  # onairctl may still be an empty directory in a tree under construction.
  if compgen -G "cmd/$c/*.go" >/dev/null; then cmds+=("./cmd/$c"); else say "skip cmd/$c: no Go files yet"; fi
done
[ ${#cmds[@]} -gt 0 ] || die "nothing to build"
command -v file >/dev/null && HAVE_FILE=1
say "go build ${cmds[*]} into $OUT"
"$GO" build -tags "$TAGS" -trimpath -buildmode=pie -ldflags "$LDFLAGS" -o "$OUT/" "${cmds[@]}"
for c in "${cmds[@]}"; do
  f=$OUT/$(basename "$c")
  echo "    $f: $(stat -c %s "$f") bytes${HAVE_FILE:+; $(file -b "$f" | cut -d, -f1-2)}"
done
say "built"

[ "$mode" = test ] || exit 0

# Only the packages of the list that exist now: others are still being
# written. A package whose test binary does not compile is reported and fails
# the run at the end, like any test failure.
mapfile -t pkgs < <("$GO" list -tags "$TAGS" -e -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "${TEST_PKGS[@]}" 2>/dev/null || true)
[ ${#pkgs[@]} -gt 0 ] || die "no packages with tests among ${TEST_PKGS[*]}"
tdir=$(mktemp -d)
trap 'rm -rf "$tdir"' EXIT
module=$("$GO" list -m)
fail=0 passed=0
for p in "${pkgs[@]}"; do
  [ -n "$p" ] || continue
  rel=${p#"$module"}; rel=.${rel}
  bin=$tdir/$(echo "$rel" | tr / _ | sed 's/^\._*//').test
  if ! "$GO" test -c -tags "$TAGS" -o "$bin" "$rel" >"$tdir/build.log" 2>&1; then
    sed 's/^/    /' "$tdir/build.log"
    echo "FAIL $p (test binary does not build for $arch)"
    fail=$((fail + 1))
    continue
  fi
  [ -x "$bin" ] || continue
  s=$(date +%s)
  # Tests read testdata/ relative to their package directory.
  if (cd "$rel" && timeout --kill-after=10s $((TEST_TIMEOUT + 30)) \
        "${QEMU[@]}" "$bin" -test.v -test.short -test.timeout="${TEST_TIMEOUT}s" -test.skip="$SLOW" -test.count=1 \
        >"$tdir/out.log" 2>&1); then
    echo "ok   $p under ${QEMU[*]:-native}: $(grep -c -- '^--- PASS' "$tdir/out.log" || true) passed," \
      "$(grep -c -- '^--- SKIP' "$tdir/out.log" || true) skipped ($(( $(date +%s) - s ))s)"
    grep -A1 -- '^--- SKIP' "$tdir/out.log" | grep -v -- '^--' | sed 's/^ */      skip: /' || true
    passed=$((passed + 1))
  else
    sed 's/^/    /' "$tdir/out.log" | tail -40
    echo "FAIL $p under ${QEMU[*]:-native} ($(( $(date +%s) - s ))s)"
    fail=$((fail + 1))
  fi
done
say "$passed passed, $fail failed"
[ "$fail" -eq 0 ]
