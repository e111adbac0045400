#!/usr/bin/env bash
# The scaling curve: ingest and dashboard-query throughput as the store grows. For each size,
# a fresh database is filled by the bound program (benches/bound.rs: the simulator's deliveries
# written directly, one customer per ten deliveries, 50 campaigns), then a release gateway on it
# takes 5,000 more signed deliveries from `pubgate simulate` (32 senders, 500 customers of its
# own) and serves the dashboard's documents (benches/documents.mjs) to wrk (32 connections), with
# the query cache off: every request executes (with it on, repeated queries cost the same at
# any size).
# Usage: benches/scaling.sh sqlite|postgres [sizes...] (default 10000 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-postgres}
shift || true
sizes=("${@:-10000 100000 1000000}")
read -r -a sizes <<<"${sizes[*]}"
duration=${DURATION:-10}
port=18486
work=$(mktemp -d)
bin=target/release/pubgate
build_bound
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

fresh() { fresh_db "$backend" pubgate_scale; }
analyze() {
  case "$backend" in
    postgres) psql -q -h 127.0.0.1 -U postgres -d pubgate_scale -c "VACUUM ANALYZE" ;;
    sqlite) sqlite3 "$work/pubgate_scale.db" "ANALYZE" ;;
  esac
}

echo "size | load (bound) | ingest 5k (p99) | latest rps (p99) | customer rps (p99) | older rps (p99)"
for size in "${sizes[@]}"; do
  url=$(fresh)
  load=$("$bound" --database-url "$url" --events "$size" --batch 256 --seed 1 \
    --customers $((size / 10)) --campaigns 50 | sed -E 's/.* = ([0-9]+) events\/s.*/\1/')
  analyze
  RUST_LOG=warn $bin serve --listen 127.0.0.1:$port --database-url "$url" --webhook-secret bench-secret \
    --db-max-connections 16 --query-cache-bytes 0 >"$work/serve.log" 2>&1 &
  server=$!
  wait_ready "$port"
  summary=$($bin simulate --target "http://127.0.0.1:$port" --secret bench-secret --events 5000 \
    --customers 500 --campaigns 50 --duplicate-ratio 0 --concurrency 32 --seed 7 --quiet)
  ingest=$(echo "$summary" | awk '/^throughput/ {print $2}')
  ingest_p99=$(echo "$summary" | sed -nE 's/.*p99 ([0-9.]+) ms/\1/p')
  analyze
  write_bodies "http://127.0.0.1:$port" "$work" 100
  row="$size | $load/s | $ingest/s ($ingest_p99 ms)"
  for q in latest customer older; do
    row="$row | $(run_bodies "$port" "$q" "$duration" | awk '{printf "%.0f (%.1f ms)", $6, $4}')"
  done
  echo "$row"
  kill $server; wait $server 2>/dev/null || true; server=
done
