#!/usr/bin/env bash
# Side by side: pubgate and PostGraphile serving the same PostgreSQL data (the database
# `pubgate_bench` that `benches/queries.sh postgres` loads), the same two dashboard queries,
# 32 connections each, one after the other on this machine.
# Usage: benches/peers.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
duration=${1:-20}
port=18499
work=$(mktemp -d)
cargo build --release -q
psql -q -h 127.0.0.1 -U postgres -d pubgate_bench -c "ANALYZE"
# The customer of the newest publication loaded by queries.sh (sequence ≤ 105,000), so that the
# deliveries step 3 adds do not change which customer later runs ask for.
customer=$(psql -h 127.0.0.1 -U postgres -d pubgate_bench -qAt -c "select customer_id from publications where seq <= 105000 order by created_at desc, id desc limit 1")

# Both servers talk to PostgreSQL without TLS, as PostGraphile's driver does by default (sqlx
# would otherwise negotiate TLS with this server, at a measurable CPU cost on loopback).
db_url="postgres://postgres@127.0.0.1:5432/pubgate_bench?sslmode=disable"
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
start_pubgate() { # extra flags...
  target/release/pubgate serve --listen 127.0.0.1:$port --database-url "$db_url" \
    --db-max-connections 16 --webhook-secret bench-secret "$@" >"$work/serve.log" 2>&1 &
  server=$!
  wait_ready "$port"
}
stop_pubgate() { kill $server; wait $server 2>/dev/null || true; server=; }
run_wrk() { # label query
  echo "== pubgate ($1): $2 (32 connections, ${duration}s)"
  BODY_FILE="$work/$2.json" wrk -t2 -c32 -d"${duration}s" --latency -s benches/wrk/graphql.lua \
    "http://127.0.0.1:$port/graphql" | grep -E "Requests/sec|graphql-errors|p50-ms|Non-2xx"
}

write_queries "$work" "$customer"

steps=${STEPS:-cached uncached postgraphile ingest} # any subset, in this order
want() { [[ " $steps " == *" $1 "* ]]; }

# 1. pubgate as shipped (the query cache on: repeated queries are answered without executing
#    them again while nothing new is committed; every request still reads the committed head).
if want cached; then
  start_pubgate
  for q in latest customer; do run_wrk "cache on" $q; done
  stop_pubgate
fi
# 2. pubgate with the query cache off: every request executes.
if want uncached; then
  start_pubgate --query-cache-bytes 0
  for q in latest customer; do run_wrk "cache off" $q; done
  stop_pubgate
fi

if want postgraphile; then
  echo "== PostGraphile"
  bash benches/postgraphile/run.sh "$duration"
fi

# 3. Last, as it adds rows: pubgate (cache on) while 100 signed deliveries a second are
#    committed, so the head moves every 10 ms and cached answers keep being invalidated.
want ingest || exit 0
start_pubgate
# New deliveries every time (a seed already used would only send duplicates, which commit
# nothing and leave the head where it is).
seed=$(psql -h 127.0.0.1 -U postgres -d pubgate_bench -qAt -c "select value from pubgate_sequence")
for q in latest customer; do
  seed=$((seed + 1))
  target/release/pubgate simulate --target "http://127.0.0.1:$port" --secret bench-secret \
    --events $((duration * 100 + 200)) --rate 100 --customers 10000 --campaigns 50 \
    --duplicate-ratio 0 --concurrency 4 --seed $seed --quiet >"$work/ingest.log" &
  sender=$!
  run_wrk "cache on, 100 deliveries/s" $q
  wait $sender
  stored=$(awk '/^stored/ {print $2}' "$work/ingest.log")
  echo "deliveries committed meanwhile: $stored"
  [ "${stored:-0}" -gt 0 ] || { echo "no new deliveries were committed" >&2; exit 1; }
done
stop_pubgate
