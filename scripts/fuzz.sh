#!/usr/bin/env bash
# `make fuzz`: runs every fuzz target in the module, each for $FUZZTIME
# (default 10s). Targets are found by name, so a new one is never forgotten.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
TAGS=${TAGS:-nolibopusfile}
FUZZTIME=${FUZZTIME:-10s}
n=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"${line#*:}")
  pkg=./$(dirname "$file")
  echo "==> $pkg $name ($FUZZTIME)"
  "$GO" test -tags "$TAGS" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"
  n=$((n + 1))
done < <(git grep -E '^func Fuzz[A-Za-z0-9_]*\(' -- '*_test.go' | sort)
echo "==> $n fuzz targets passed"
