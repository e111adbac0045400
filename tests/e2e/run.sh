#!/usr/bin/env bash
# The dashboard end to end: headless Chromium (Debian's /usr/bin/chromium, driven by
# playwright-core) against the real pubgate binary.
# Usage: tests/e2e/run.sh   (PUBGATE_BIN=/path/to/pubgate to test another build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
exec node --test dashboard.test.mjs
