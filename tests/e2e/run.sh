#!/usr/bin/env bash
# The dashboard and GraphiQL end to end: headless Chromium (Debian's /usr/bin/chromium, driven
# by playwright-core) against the real pubgate binary. One file at a time: the dashboard's
# timings assume the machine is not also running the other file's browser and servers.
# Usage: tests/e2e/run.sh   (PUBGATE_BIN=/path/to/pubgate to test another build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
exec node --test --test-concurrency=1 dashboard.test.mjs graphiql.test.mjs
