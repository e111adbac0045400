#!/usr/bin/env bash
# The dashboard's counters from the assignment counts, against the same counts done with
# COUNT(*), on the same data. Loads N publications into a fresh store with the bound program
# (benches/bound.rs writes the normalised rows and the assignment counts directly: posting
# millions through HTTP would take hours), then, in one run:
#   stats  pubgate answering the dashboard's counters document (STATS in
#          src/dashboard/documents.js: the last hour per minute and the last day per hour, per
#          voucher type, and both per campaign), 32 connections (wrk), every request ending at a
#          different instant, query cache off
#   count  the same numbers as COUNT(*) statements straight to the database, one client
#          (pgbench for PostgreSQL; the sqlite3 shell's timer for SQLite)
# and, with PEERS=aggregates (PostgreSQL only), between the two:
#   aggregates  PostGraphile 4.14 + @graphile/pg-aggregates (benches/aggregates/) answering the
#          same numbers on the same database (the same instants, one request per instant, after
#          benches/aggregates/check.mjs found both answers equal for the first), 32 connections
#          and one, with pubgate stopped
# The generated publications were all made during the load, so "the last day" holds every one.
# Usage: benches/stats.sh sqlite|postgres [publications] [seconds]
# Env: REUSE=1 keep the loaded store; PEERS=aggregates also measure the peer above;
#      PEER_SECONDS how long each of the peer's wrk runs lasts (default: seconds, at least 30:
#      the peer takes seconds a request, so a short run completes none); PEER_TIMEOUT wrk's
#      timeout for the peer (default 300s; wrk's own 2 s would drop its slow answers, and
#      dropped ones are not in its percentiles: see the "timeout" count it prints);
#      ALIGN=minute ends every window on a minute boundary, so that no answer counts a partial
#      minute from the publications (at millions loaded in an hour, a partial minute holds
#      ~100k of them, and counting those, not the kept counts, is then what is measured);
#      SPREAD_DAYS=<days> spreads the publications' creation times evenly over that many days
#      before the load (benches/bound.rs --spread-minutes), as months of a shop's assignments
#      would lie, so that every minute of the windows holds some (without it they are all from
#      the load's own minutes: an hour's burst);
#      AT=<instant> puts the windows' ends in the ten minutes from then instead of from now
#      (to measure a store at the same windows again later; COUNT(*) still counts from now);
#      PUBGATE_BIN=<path> the gateway measured (default target/release/pubgate);
#      STORE=<name> the store's name (default pubgate_stats): a PostgreSQL database, or
#      target/bench/<name>.db, so that stores of different sizes can be kept side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-postgres}
events=${2:-1000000}
duration=${3:-10}
port=18487
peer_port=18488
peers=${PEERS:-}
peer_duration=${PEER_SECONDS:-$((duration > 30 ? duration : 30))}
peer_timeout=${PEER_TIMEOUT:-300s}
case " $peers " in
  "  ") ;;
  " aggregates ") [ "$backend" = postgres ] || { echo "PEERS=aggregates needs postgres" >&2; exit 2; } ;;
  *) echo "PEERS must be empty or aggregates, not $peers" >&2; exit 2 ;;
esac
work=$(mktemp -d)
bin=${PUBGATE_BIN:-target/release/pubgate}
build_bound
server=
peer=
trap '[ -n "$server" ] && kill $server 2>/dev/null; [ -n "$peer" ] && kill $peer 2>/dev/null; rm -rf "$work"' EXIT

# REUSE=1 measures the store an earlier run of this script loaded (the SQLite one is kept in
# target/bench/, as a run straight after loading measures the load's aftermath too).
store=${STORE:-pubgate_stats}
sqlite_url="sqlite://$PWD/target/bench/$store.db?mode=rwc"
if [ "${REUSE:-0}" = 1 ]; then
  case "$backend" in
    postgres) url="postgres://postgres@127.0.0.1:5432/$store?sslmode=disable" ;;
    *) url=$sqlite_url ;;
  esac
else
  case "$backend" in
    sqlite) mkdir -p target/bench; rm -f "target/bench/$store.db"*; url=$sqlite_url ;;
    *) url=$(fresh_db "$backend" "$store") ;;
  esac
  echo "== loading $events deliveries with the bound program"
  "$bound" --database-url "$url" --events "$events" --batch 1024 --seed 3 --customers 20000 --campaigns 50 \
    --spread-minutes $((${SPREAD_DAYS:-0} * 1440))
fi
RUST_LOG=warn $bin serve --listen 127.0.0.1:$port --database-url "$url" --query-cache-bytes 0 \
  --db-max-connections 16 >"$work/serve.log" 2>&1 &
server=$!
wait_ready "$port"
case "$backend" in
  postgres) psql -q -h 127.0.0.1 -U postgres -d "$store" -c "ANALYZE" ;;
  sqlite) sqlite3 "${url#sqlite://}" "ANALYZE" 2>/dev/null || sqlite3 "$(echo "${url#sqlite://}" | cut -d'?' -f1)" "ANALYZE" ;;
esac

# The dashboard's own counters document (STATS in src/dashboard/documents.js), 500 bodies, each
# ending at a different instant of the next ten minutes; with a peer, its document
# (benches/aggregates/stats.mjs) at the same 500 instants, in the same order.
node --input-type=module - "$work/stats.bodies" ${peers:+"$work/aggregates.bodies"} <<'JS'
import { writeFileSync } from 'node:fs';
import { STATS } from './src/dashboard/documents.js';
const [out, peerOut] = process.argv.slice(2);
const now = process.env.AT ? Date.parse(process.env.AT) : Date.now();
const stamp = (ms) => new Date(ms).toISOString();
const instants = [];
for (let i = 0; i < 500; i++) {
  let end = now + 600_000 - Math.floor(Math.random() * 600_000) - 0.5;
  if (process.env.ALIGN === 'minute') end = Math.floor(end / 60_000) * 60_000;
  instants.push({ now: stamp(end), hour: stamp(end - 3_600_000), day: stamp(end - 86_400_000) });
}
const write = (file, query) =>
  writeFileSync(file, instants.map((variables) => JSON.stringify({ query, variables })).join('\n') + '\n');
write(out, STATS);
if (peerOut) write(peerOut, (await import('./benches/aggregates/stats.mjs')).AGGREGATES_STATS);
JS
curl -sf "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' -d "$(head -1 "$work/stats.bodies")" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print("hour total", d["lastHour"]["total"], "day total", d["lastDay"]["total"], "campaigns", len(d["dayByCampaign"]["groups"]))'

echo "== $backend: stats (assignmentStats, 32 connections, ${duration}s)"
BODIES_FILE="$work/stats.bodies" wrk -t2 -c32 -d"${duration}s" --latency -s benches/wrk/bodies.lua \
  "http://127.0.0.1:$port/graphql" | grep -E '^(graphql-errors|p50-ms)'
BODIES_FILE="$work/stats.bodies" wrk -t1 -c1 -d"${duration}s" --latency -s benches/wrk/bodies.lua \
  "http://127.0.0.1:$port/graphql" | grep -E '^p50-ms' | sed 's/^/one connection: /'

if [ -n "$peers" ]; then
  # PostGraphile + pg-aggregates on the same database: its view in a schema of its own, the
  # answers checked against pubgate's (still running) for the first instant, then measured
  # with pubgate stopped.
  psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d "$store" -f benches/aggregates/schema.sql
  PG_URL="postgres://postgres@127.0.0.1:5432/$store" WORKERS=2 \
    benches/aggregates/serve.sh "$peer_port" >"$work/aggregates.log" 2>&1 &
  peer=$!
  # npm ci and the schema build come first: allow a few minutes.
  wait_graphql "$peer_port" "$peer" "$work/aggregates.log" 180
  node benches/aggregates/check.mjs "http://127.0.0.1:$port/graphql" "http://127.0.0.1:$peer_port/graphql" \
    "$(head -1 "$work/stats.bodies" | jq -r .variables.now)"
  kill $server; wait $server 2>/dev/null || true; server=
  echo "== $backend: aggregates (PostGraphile 4.14 + pg-aggregates, 32 connections, ${peer_duration}s, timeout $peer_timeout)"
  BODIES_FILE="$work/aggregates.bodies" wrk -t2 -c32 -d"${peer_duration}s" --timeout "$peer_timeout" --latency \
    -s benches/wrk/bodies.lua "http://127.0.0.1:$peer_port/graphql" | grep -E '^(graphql-errors|p50-ms|  Socket errors| +[0-9]+ requests in)'
  # The requests wrk left unanswered are still being computed: wait for them (at most ten
  # minutes), or the one connection would queue behind them.
  for _ in $(seq 1 1200); do
    busy=$(psql -qAt -h 127.0.0.1 -U postgres -d "$store" -c \
      "select count(*) from pg_stat_activity where datname = '$store' and backend_type = 'client backend' and state <> 'idle' and pid <> pg_backend_pid()")
    [ "$busy" = 0 ] && break
    sleep 0.5
  done
  BODIES_FILE="$work/aggregates.bodies" wrk -t1 -c1 -d"${peer_duration}s" --timeout "$peer_timeout" --latency \
    -s benches/wrk/bodies.lua "http://127.0.0.1:$peer_port/graphql" | grep -E '^(graphql-errors|p50-ms|  Socket errors| +[0-9]+ requests in)' \
    | sed 's/^/one connection: /'
  kill $peer; wait $peer 2>/dev/null || true; peer=
fi
[ -z "$server" ] || { kill $server; wait $server 2>/dev/null || true; server=; }

# The same four answers (totals and groups; no buckets) with COUNT(*).
cat >"$work/counts.sql" <<'SQL'
SELECT count(*) FROM publications WHERE created_at >= CURRENT_TIMESTAMP - INTERVAL '1 hour';
SELECT v.voucher_type, count(DISTINCT p.id) FROM publications p JOIN publication_vouchers pv ON pv.publication_id = p.id JOIN vouchers v ON v.id = pv.voucher_id WHERE p.created_at >= CURRENT_TIMESTAMP - INTERVAL '1 hour' GROUP BY 1;
SELECT count(*) FROM publications WHERE created_at >= CURRENT_TIMESTAMP - INTERVAL '1 day';
SELECT campaign_id, count(*) FROM publications WHERE created_at >= CURRENT_TIMESTAMP - INTERVAL '1 day' GROUP BY 1;
SQL
echo "== $backend: count (the same numbers by COUNT(*), one client, ${duration}s)"
case "$backend" in
  postgres)
    pgbench -n -h 127.0.0.1 -U postgres -c 1 -T "$duration" -f "$work/counts.sql" "$store" 2>&1 \
      | grep -E 'latency average|number of transactions actually|tps' ;;
  sqlite)
    db=$(echo "${url#sqlite://}" | cut -d'?' -f1)
    sed -e "s/CURRENT_TIMESTAMP - INTERVAL '1 hour'/strftime('%Y-%m-%dT%H:%M:%f', 'now', '-1 hour')/" \
        -e "s/CURRENT_TIMESTAMP - INTERVAL '1 day'/strftime('%Y-%m-%dT%H:%M:%f', 'now', '-1 day')/" \
        "$work/counts.sql" >"$work/counts.sqlite.sql"
    for _ in 1 2 3; do
      start=$(date +%s%N)
      sqlite3 "$db" <"$work/counts.sqlite.sql" >/dev/null
      echo "one round of the four: $(( ($(date +%s%N) - start) / 1000000 )) ms"
    done ;;
esac
