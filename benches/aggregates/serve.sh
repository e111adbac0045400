#!/usr/bin/env bash
# Serves a pubgate database with PostGraphile 4.14 and @graphile/pg-aggregates 0.1.x,
# production-style, in the foreground on http://127.0.0.1:<port>/graphql until it is stopped
# (SIGTERM/SIGINT): the peer of pubgate's dashboard counters (STATS) in benches/stats.sh.
# As benches/postgraphile/serve.sh v4 (same flags, pg-simplify-inflector, --cluster-workers,
# 16 pooled connections in all split across the workers), plus:
#   @graphile/pg-aggregates               aggregates and groupedAggregates on every connection
#   postgraphile-plugin-connection-filter the time range: filter: { createdAt: { ... } }
#   ./minute.js                           a CREATED_AT_TRUNCATED_TO_MINUTE grouping (not built in)
# and the schema pubgate_aggregates (./schema.sql: the view that brings each publication's
# voucher types next to its creation time), which must exist before this starts.
# Usage: benches/aggregates/serve.sh <port>
# Env: PG_URL (default postgres://postgres@127.0.0.1:5432/pubgate_stats), WORKERS (default 2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port=${1:-}
if [[ ! "$port" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 <port>" >&2
  exit 2
fi
db_url=${PG_URL:-postgres://postgres@127.0.0.1:5432/pubgate_stats}
workers=${WORKERS:-2}
pool=$((16 / workers))
export NODE_ENV=production

cd "$here"
npm ci --silent --no-audit --no-fund
cluster=()
if [ "$workers" -gt 1 ]; then cluster=(--cluster-workers "$workers"); fi
# No watch, no GraphiQL, no query log, no CORS, no init retry, no mutations. No smart tags
# file: the counters need no relations (campaign names are read from the campaigns
# connection), so none are declared. Unlike the v4 peer, indexes are ignored (PostGraphile's
# default): with --no-ignore-indexes only indexed columns can be filtered and grouped by, and a
# view's columns have no index, so the view would get neither `filter` nor `groupedAggregates`.
# Its time filter is still an index range scan on publications.created_at.
exec ./node_modules/.bin/postgraphile \
  --connection "$db_url" --schema public,pubgate_aggregates \
  --host 127.0.0.1 --port "$port" --max-pool-size "$pool" "${cluster[@]}" \
  --append-plugins "@graphile-contrib/pg-simplify-inflector,postgraphile-plugin-connection-filter,@graphile/pg-aggregates,$here/minute.js" \
  --dynamic-json --no-setof-functions-contain-nulls --no-ignore-rbac \
  --legacy-relations omit --disable-default-mutations \
  --disable-graphiql --disable-query-log
