#!/usr/bin/env bash
# Side by side: pubgate and PostGraphile serving the same PostgreSQL data (the database
# `pubgate_bench` that `benches/queries.sh postgres` loads), the same two dashboard queries,
# 32 connections each, one after the other on this machine.
# Usage: benches/peers.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20}
port=18499
work=$(mktemp -d)
cargo build --release -q
psql -q -h 127.0.0.1 -U postgres -d pubgate_bench -c "ANALYZE"
customer=$(psql -h 127.0.0.1 -U postgres -d pubgate_bench -qAt -c "select customer_id from publications order by created_at desc, id desc limit 1")

target/release/pubgate serve --listen 127.0.0.1:$port --database-url postgres://postgres@127.0.0.1:5432/pubgate_bench \
  --db-max-connections 16 >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

cat >"$work/latest.json" <<'JSON'
{"query":"{ publications(first: 50) { edges { cursor node { id createdAt channel customer { id name email } voucher { code type discount { type amountOff percentOff } gift { amount balance } loyaltyCard { points } categories { name } } campaign { id name } } } pageInfo { hasNextPage endCursor } } }"}
JSON
cat >"$work/customer.json" <<JSON
{"query":"query(\$id: ID) { customer(id: \$id) { id name email vouchers(first: 20) { totalCount nodes { code type active campaign { name } categories { name } } } publications(first: 10) { nodes { id createdAt voucher { code } } } } }","variables":{"id":"$customer"}}
JSON
for q in latest customer; do
  echo "== pubgate: $q (32 connections, ${duration}s)"
  BODY_FILE="$work/$q.json" wrk -t2 -c32 -d"${duration}s" --latency -s benches/wrk/graphql.lua \
    "http://127.0.0.1:$port/graphql" | grep -E "Requests/sec|graphql-errors|p50-ms|Non-2xx"
done
kill $server; wait $server 2>/dev/null || true
echo "== PostGraphile"
bash benches/postgraphile/run.sh
