#!/usr/bin/env bash
# Reference GraphQL clients against the real pubgate binary.
# Usage: tests/clients/run.sh   (PUBGATE_BIN=/path/to/pubgate to test another build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
exec node --test clients.test.mjs
