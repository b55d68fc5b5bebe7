#!/usr/bin/env bash
# Fails when git tracks a file over 1 MiB outside testdata/ (build outputs
# such as bin/, dist/ or a binary at the root never belong in git).
# Usage: scripts/check-size.sh [repo-dir]   (default: the current directory)
set -euo pipefail
dir=${1:-.}
limit=$((1024 * 1024))
bad=0
while IFS= read -r -d '' f; do
  case "/$f" in */testdata/*) continue ;; esac
  [ -f "$dir/$f" ] || continue
  size=$(stat -c %s -- "$dir/$f")
  if [ "$size" -gt "$limit" ]; then
    echo "tracked file over 1 MiB outside testdata/: $f ($size bytes); remove it with 'git rm --cached' and ignore it" >&2
    bad=1
  fi
done < <(git -C "$dir" ls-files -z)
exit $bad
