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
# The generated publications were all made during the load, so "the last day" holds every one.
# Usage: benches/stats.sh sqlite|postgres [publications] [seconds]   (env REUSE=1: keep the loaded store)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-postgres}
events=${2:-1000000}
duration=${3:-10}
port=18487
work=$(mktemp -d)
bin=target/release/pubgate
build_bound
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

# REUSE=1 measures the store an earlier run of this script loaded (the SQLite one is kept in
# target/bench/, as a run straight after loading measures the load's aftermath too).
sqlite_url="sqlite://$PWD/target/bench/pubgate_stats.db?mode=rwc"
if [ "${REUSE:-0}" = 1 ]; then
  case "$backend" in
    postgres) url="postgres://postgres@127.0.0.1:5432/pubgate_stats?sslmode=disable" ;;
    *) url=$sqlite_url ;;
  esac
else
  case "$backend" in
    sqlite) mkdir -p target/bench; rm -f target/bench/pubgate_stats.db*; url=$sqlite_url ;;
    *) url=$(fresh_db "$backend" pubgate_stats) ;;
  esac
  echo "== loading $events deliveries with the bound program"
  "$bound" --database-url "$url" --events "$events" --batch 1024 --seed 3 --customers 20000 --campaigns 50
fi
RUST_LOG=warn $bin serve --listen 127.0.0.1:$port --database-url "$url" --query-cache-bytes 0 \
  --db-max-connections 16 >"$work/serve.log" 2>&1 &
server=$!
wait_ready "$port"
case "$backend" in
  postgres) psql -q -h 127.0.0.1 -U postgres -d pubgate_stats -c "ANALYZE" ;;
  sqlite) sqlite3 "${url#sqlite://}" "ANALYZE" 2>/dev/null || sqlite3 "$(echo "${url#sqlite://}" | cut -d'?' -f1)" "ANALYZE" ;;
esac

# The dashboard's own counters document (STATS in src/dashboard/documents.js), 500 bodies, each
# ending at a different instant of the last ten minutes.
node --input-type=module - "$work/stats.bodies" <<'JS'
import { writeFileSync } from 'node:fs';
import { STATS } from './src/dashboard/documents.js';
const now = Date.now();
const stamp = (ms) => new Date(ms).toISOString();
const lines = [];
for (let i = 0; i < 500; i++) {
  const end = now + 600_000 - Math.floor(Math.random() * 600_000) - 0.5;
  lines.push(JSON.stringify({ query: STATS, variables: {
    now: stamp(end), hour: stamp(end - 3_600_000), day: stamp(end - 86_400_000) } }));
}
writeFileSync(process.argv[2], lines.join('\n') + '\n');
JS
curl -sf "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' -d "$(head -1 "$work/stats.bodies")" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print("hour total", d["lastHour"]["total"], "day total", d["lastDay"]["total"], "campaigns", len(d["dayByCampaign"]["groups"]))'

echo "== $backend: stats (assignmentStats, 32 connections, ${duration}s)"
BODIES_FILE="$work/stats.bodies" wrk -t2 -c32 -d"${duration}s" --latency -s benches/wrk/bodies.lua \
  "http://127.0.0.1:$port/graphql" | grep -E '^(graphql-errors|p50-ms)'
BODIES_FILE="$work/stats.bodies" wrk -t1 -c1 -d"${duration}s" --latency -s benches/wrk/bodies.lua \
  "http://127.0.0.1:$port/graphql" | grep -E '^p50-ms' | sed 's/^/one connection: /'
kill $server; wait $server 2>/dev/null || true; server=

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
    pgbench -n -h 127.0.0.1 -U postgres -c 1 -T "$duration" -f "$work/counts.sql" pubgate_stats 2>&1 \
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
