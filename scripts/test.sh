#!/usr/bin/env bash
# `make test`: install what is missing, lint, then run every test with the
# race detector against real servers on loopback. Prints each phase's time.
set -euo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
t0=$(date +%s)
phase() {
  local name=$1; shift
  local s; s=$(date +%s)
  echo "==> phase $name"
  "$@"
  echo "==> phase $name took $(( $(date +%s) - s ))s"
}
phase deps  "$MAKE" --no-print-directory deps
phase check "$MAKE" --no-print-directory check
phase unit  "$MAKE" --no-print-directory unit
phase realtime "$MAKE" --no-print-directory realtime
# The appliance as it ships: the hardened unit, the Pi's ARM chips under
# qemu, and the .deb packages.
phase systemd "$MAKE" --no-print-directory systemd-check
phase cross   "$MAKE" --no-print-directory cross-test
phase deb     "$MAKE" --no-print-directory deb
echo "==> make test took $(( $(date +%s) - t0 ))s in all"
