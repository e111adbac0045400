#!/usr/bin/env bash
# PostGraphile v4 on the same pubgate_bench database as benches/queries.sh (postgres), running
# the idiomatic equivalents of pubgate's two dashboard queries with the same wrk settings.
# Prerequisite: pubgate_bench loaded by `benches/queries.sh postgres`.
# Usage: benches/postgraphile/run.sh [duration-seconds]
# Env: PG_URL (default postgres://postgres@127.0.0.1:5432/pubgate_bench),
#      WORKERS (default 1; >1 uses --cluster-workers with the 16 connections split across them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"
duration=${1:-20}
port=18500
db_url=${PG_URL:-postgres://postgres@127.0.0.1:5432/pubgate_bench}
workers=${WORKERS:-1}
pool=$((16 / workers))
work=$(mktemp -d)

npm ci --silent --no-audit --no-fund

psql -q -h 127.0.0.1 -U postgres -d pubgate_bench -c "ANALYZE"

cluster=()
if [ "$workers" -gt 1 ]; then cluster=(--cluster-workers "$workers"); fi
# Production-style: no watch, no GraphiQL, no query log, no CORS, no init retry, JSON as JSON.
# postgraphile.tags.json5 (read from this directory) declares the missing foreign keys.
NODE_ENV=production ./node_modules/.bin/postgraphile \
  --connection "$db_url" --schema public \
  --host 127.0.0.1 --port "$port" --max-pool-size "$pool" "${cluster[@]}" \
  --append-plugins @graphile-contrib/pg-simplify-inflector \
  --dynamic-json --no-setof-functions-contain-nulls --no-ignore-rbac --no-ignore-indexes \
  --legacy-relations omit --disable-default-mutations \
  --disable-graphiql --disable-query-log >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT

gql() { curl -sf "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' --data-binary "$1"; }
for _ in $(seq 1 150); do
  gql '{"query":"{ __typename }"}' >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.2
done
gql '{"query":"{ __typename }"}' >/dev/null || { echo "PostGraphile did not start"; cat "$work/server.log"; exit 1; }
echo "== postgraphile $(./node_modules/.bin/postgraphile --version 2>/dev/null | tail -1) up on :$port (workers $workers, pool $pool each)"

customer=$(psql -h 127.0.0.1 -U postgres -d pubgate_bench -qAt \
  -c "select customer_id from publications where seq <= 105000 order by created_at desc, id desc limit 1")
cp latest.json "$work/latest.json"
sed "s/__CUSTOMER_ID__/$customer/" customer.json >"$work/customer.json"

for q in latest customer; do
  resp=$(gql "@$work/$q.json")
  if ! printf '%s' "$resp" | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(1 if r.get("errors") or not r.get("data") or None in r["data"].values() else 0)'; then
    echo "query $q failed: $resp"; exit 1
  fi
  echo "== sample $q response (trimmed): ${resp:0:600}…"
done

for q in latest customer; do
  echo "== postgraphile: $q (32 connections, ${duration}s)"
  BODY_FILE="$work/$q.json" wrk -t2 -c32 -d"${duration}s" --latency -s "$root/benches/wrk/graphql.lua" \
    "http://127.0.0.1:$port/graphql" | grep -E "Requests/sec|graphql-errors|p50-ms|Non-2xx"
done
