#!/usr/bin/env bash
# Subscriber benchmark: a release gateway on SQLite (or PostgreSQL) with 1k, 5k and 10k
# graphql-transport-ws subscribers. Usage: benches/subscribers.sh [sqlite|postgres] [counts...]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-sqlite}
shift || true
counts=${*:-1000 5000 10000}
port=18482
work=$(mktemp -d)
cargo build --release -q
cargo bench --bench subscribers --no-run -q 2>/dev/null
case "$backend" in
  sqlite) url="sqlite://$work/bench.db?mode=rwc" ;;
  postgres)
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS pubgate_subs WITH (FORCE)" -c "CREATE DATABASE pubgate_subs"
    url="postgres://postgres@127.0.0.1:5432/pubgate_subs?sslmode=disable" ;;
esac
for n in $counts; do
  ${PUBGATE_BIN:-target/release/pubgate} serve --listen 127.0.0.1:$port --database-url "$url" --webhook-secret bench-secret >"$work/serve.log" 2>&1 &
  server=$!
  wait_ready "$port"
  echo "== $backend: $n subscribers"
  cargo bench -q --bench subscribers -- --target "http://127.0.0.1:$port" --pid "$server" --subscribers "$n" --events 20
  kill $server; wait $server 2>/dev/null || true
done
rm -rf "$work"
