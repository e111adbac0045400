#!/usr/bin/env bash
# PostGraphile (4 or 5) on the same pubgate_bench database as benches/queries.sh (postgres),
# running the idiomatic equivalents of pubgate's dashboard workloads with the same wrk settings:
#   customer  the customer panel, a different customer each request
#   latest    the newest 50 publications
#   older     the anchor row and the 49 before it, at a different position each request
# Prerequisite: pubgate_bench loaded by `benches/queries.sh postgres`.
# Usage: benches/postgraphile/run.sh [duration-seconds]
# Env: PG_VERSION 4|5 (default 4); PG_URL (default postgres://postgres@127.0.0.1:5432/pubgate_bench);
#      WORKERS (default 2; the 16 connections are split across them);
#      POSITIONS, a positions.tsv as benches/documents.mjs writes (customer ids and publication
#      ids to ask about); unset, one is derived from the database: every 7th customer by id and
#      every 5th of the newest publications by reception, 500 of each.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration=${1:-20}
version=v${PG_VERSION:-4}
port=${PORT:-18500}
export PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/pubgate_bench}
export WORKERS=${WORKERS:-2}
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

psql -q "$PG_URL" -c "ANALYZE"

positions=${POSITIONS:-}
if [ -z "$positions" ]; then
  positions="$work/positions.tsv"
  psql -qAt -F $'\t' "$PG_URL" >"$positions" <<'SQL'
select 'customer', id from (
  select id, row_number() over (order by id) as n from customers
) c where (n - 1) % 7 = 0 order by id limit 500;
select 'position', id, '' from (
  select id, received_at, row_number() over (order by received_at desc, id desc) as n
  from (select id, received_at from publications order by received_at desc, id desc limit 2500) p
) p where (n - 1) % 5 = 0 order by received_at desc, id desc limit 500;
SQL
fi

"$here/serve.sh" "$version" "$port" >"$work/server.log" 2>&1 &
server=$!
gql() { curl -sf "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' --data-binary "$1"; }
# npm ci and the schema build come first: allow a few minutes.
for _ in $(seq 1 1800); do
  gql '{"query":"{ __typename }"}' >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "PostGraphile $version exited"; cat "$work/server.log"; exit 1; }
  sleep 0.1
done
gql '{"query":"{ __typename }"}' >/dev/null || { echo "PostGraphile $version did not start"; cat "$work/server.log"; exit 1; }
echo "== postgraphile $version up on :$port (workers $WORKERS, $((16 / WORKERS)) connections each)"

node "$here/bodies.mjs" "$version" "http://127.0.0.1:$port/graphql" "$positions" "$work"

for q in customer latest older; do
  echo "== postgraphile $version: $q (32 connections, ${duration}s)"
  BODIES_FILE="$work/$q.bodies" wrk -t2 -c32 -d"${duration}s" --latency -s "$root/benches/wrk/bodies.lua" \
    "http://127.0.0.1:$port/graphql" | grep -E "Requests/sec|graphql-errors|p50-ms|Non-2xx"
done
