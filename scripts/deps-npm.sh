#!/usr/bin/env bash
# Installs the npm packages the browser listener needs (livekit-client,
# playwright-core) into test/browser/node_modules, once.
set -euo pipefail
cd "$(dirname "$0")/../test/browser" 2>/dev/null || exit 0
[ -f package.json ] || exit 0
if [ -d node_modules/livekit-client ] && [ -d node_modules/playwright-core ]; then exit 0; fi
echo "==> npm install (livekit-client, playwright-core)"
npm install --no-audit --no-fund --loglevel=error >/dev/null
