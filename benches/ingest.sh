#!/usr/bin/env bash
# Ingest benchmark: `pubgate simulate` at 32 concurrent senders against a release gateway on
# SQLite (synchronous=FULL) or PostgreSQL (synchronous_commit=on).
# Usage: benches/ingest.sh sqlite|postgres [events]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-sqlite}
events=${2:-20000}
port=18481
work=$(mktemp -d)
bin=target/release/pubgate
cargo build --release -q

case "$backend" in
  sqlite) url="sqlite://$work/bench.db?mode=rwc" ;;
  postgres)
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS pubgate_ingest WITH (FORCE)" -c "CREATE DATABASE pubgate_ingest"
    psql -qAt -h 127.0.0.1 -U postgres -c "SHOW synchronous_commit" | sed 's/^/synchronous_commit=/'
    url="postgres://postgres@127.0.0.1:5432/pubgate_ingest" ;;
  *) echo "usage: $0 sqlite|postgres [events]"; exit 2 ;;
esac

$bin serve --listen 127.0.0.1:$port --database-url "$url" --webhook-secret bench-secret >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
wait_ready "$port"

echo "== $backend: simulate $events events, 32 concurrent senders"
$bin simulate --target "http://127.0.0.1:$port" --secret bench-secret --events "$events" \
  --customers 2000 --campaigns 12 --concurrency 32 --seed 2 --quiet
