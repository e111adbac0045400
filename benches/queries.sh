#!/usr/bin/env bash
# Query benchmark: loads ~100k publications (10k customers, 50 campaigns) through the real
# webhook path with `pubgate simulate`, then runs the dashboard's own documents with wrk at 32
# connections, every request a different customer or feed position. Usage: benches/queries.sh sqlite|postgres [duration-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-sqlite}
duration=${2:-20}
port=18480
work=$(mktemp -d)
bin=target/release/pubgate
cargo build --release -q

case "$backend" in
  sqlite) url="sqlite://$work/bench.db?mode=rwc" ;;
  postgres)
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS pubgate_bench WITH (FORCE)" -c "CREATE DATABASE pubgate_bench"
    url="postgres://postgres@127.0.0.1:5432/pubgate_bench?sslmode=disable" ;;
  *) echo "usage: $0 sqlite|postgres [seconds]"; exit 2 ;;
esac

# GATEWAY_FLAGS=--query-cache-bytes=0 measures every request executing.
$bin serve --listen 127.0.0.1:$port --database-url "$url" --db-max-connections 16 ${GATEWAY_FLAGS:-} >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
wait_ready "$port"

echo "== loading: simulate 105000 events (≈100k publications), 10k customers, 50 campaigns"
$bin simulate --target "http://127.0.0.1:$port" --events 105000 --customers 10000 --campaigns 50 \
  --duplicate-ratio 0 --concurrency 32 --seed 1 --quiet

# Fresh planner statistics, as PostgreSQL's autovacuum would gather within a minute.
case "$backend" in
  postgres) psql -q -h 127.0.0.1 -U postgres -d pubgate_bench -c "ANALYZE" ;;
  sqlite) sqlite3 "$work/bench.db" "ANALYZE" ;;
esac

gql() { curl -sf "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' -d "$1"; }
gql '{"query":"{ publications(first: 0) { totalCount } customers(first: 0) { totalCount } campaigns(first: 0) { totalCount } }"}'
echo
# The dashboard's own documents, over distinct customers and feed positions (benches/lib.sh).
write_bodies "http://127.0.0.1:$port" "$work"

for q in customer latest older; do
  echo "== $backend: $q (32 connections, ${duration}s)"
  run_bodies "$port" "$q" "$duration"
done
