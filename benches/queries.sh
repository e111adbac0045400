#!/usr/bin/env bash
# Query benchmark: loads ~100k publications (10k customers, 50 campaigns) through the real
# webhook path with `pubgate simulate`, then runs the dashboard's own documents with wrk at 32
# connections, every request a different customer or feed position. Usage: benches/queries.sh sqlite|postgres [duration-seconds]
# BASELINE_BIN=path/to/another/pubgate compares that build with this one on the data loaded once
# (BASELINE_FLAGS, default GATEWAY_FLAGS, are the baseline's flags; BASELINE_BIN=this with other
# flags compares two ways of running this build):
# ROUNDS (default 3) interleaved rounds, in each of which every workload runs on both builds, each
# its own `serve` on the same database and port; prints each run, the medians and this build's
# requests/s and p99 as multiples of the baseline's. Builds are only comparable within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-sqlite}
duration=${2:-20}
port=18480
work=$(mktemp -d)
bin=target/release/pubgate
cargo build --release -q
# A rebuild in the work tree during a long run must not change which build is measured.
cp "$bin" "$work/pubgate"
bin=$work/pubgate

case "$backend" in
  sqlite) url="sqlite://$work/bench.db?mode=rwc" ;;
  postgres)
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS pubgate_bench WITH (FORCE)" -c "CREATE DATABASE pubgate_bench"
    url="postgres://postgres@127.0.0.1:5432/pubgate_bench?sslmode=disable" ;;
  *) echo "usage: $0 sqlite|postgres [seconds]"; exit 2 ;;
esac

# GATEWAY_FLAGS=--query-cache-bytes=0 measures every request executing (on both builds).
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT
serve() { # binary log-name [flags]
  local flags=${3-${GATEWAY_FLAGS:-}}
  "$1" serve --listen 127.0.0.1:$port --database-url "$url" --db-max-connections 16 $flags >"$work/$2.log" 2>&1 &
  server=$!
  wait_ready "$port" || { tail -20 "$work/$2.log" >&2; return 1; }
  ready_at=$(wc -l <"$work/$2.log")
}
# A figure from a build that was logging failures compares nothing, so they are shown; what the
# start-up says about the configuration (no token, no webhook secret) is not one.
stop() { # log-name
  kill $server; wait $server 2>/dev/null || true; server=
  local bad
  bad=$(tail -n +$((ready_at + 1)) "$work/$1.log" | grep -E 'WARN|ERROR' || true)
  [ -z "$bad" ] || { echo "$1: $(wc -l <<<"$bad") warnings or errors logged while measured, the first:" >&2; head -3 <<<"$bad" >&2; }
}
serve "$bin" serve

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

if [ -z "${BASELINE_BIN:-}" ]; then
  for q in customer latest older; do
    echo "== $backend: $q (32 connections, ${duration}s)"
    run_bodies "$port" "$q" "$duration"
  done
  exit 0
fi
stop serve

# A baseline older than this build's migrations refuses a database that lists migrations it does
# not know; while it runs, their rows are set aside (the schema they made stays: every change
# since is additive, so the older build reads and writes it as before).
[ "$BASELINE_BIN" = this ] && BASELINE_BIN=$bin
known=$("$BASELINE_BIN" migrate status --database-url "sqlite://$work/names.db?mode=rwc" | awk '{print $1}')
sql() {
  case "$backend" in
    postgres) psql -qtA -h 127.0.0.1 -U postgres -d pubgate_bench -c "$1" ;;
    sqlite) sqlite3 "$work/bench.db" "$1" ;;
  esac
}
sql "CREATE TABLE seaql_migrations_aside AS SELECT * FROM seaql_migrations WHERE 1 = 0"
hide_newer() {
  for v in $(sql "SELECT version FROM seaql_migrations"); do
    grep -qx "$v" <<<"$known" && continue
    sql "INSERT INTO seaql_migrations_aside SELECT * FROM seaql_migrations WHERE version = '$v'"
    sql "DELETE FROM seaql_migrations WHERE version = '$v'"
  done
}
restore_newer() {
  sql "INSERT INTO seaql_migrations SELECT * FROM seaql_migrations_aside"
  sql "DELETE FROM seaql_migrations_aside"
}

rounds=${ROUNDS:-3}
echo "== $backend: this build against $BASELINE_BIN, $rounds rounds (32 connections, ${duration}s each)"
for round in $(seq 1 "$rounds"); do
  # The build measured second finds PostgreSQL's and the kernel's caches as the first left them,
  # so which goes first alternates.
  if [ $((round % 2)) = 1 ]; then order="this baseline"; else order="baseline this"; fi
  for q in customer latest older; do
    for build in $order; do
      if [ "$build" = this ]; then
        restore_newer; serve "$bin" "$build-$q-$round"
      else
        hide_newer; serve "$BASELINE_BIN" "$build-$q-$round" "${BASELINE_FLAGS-${GATEWAY_FLAGS:-}}"
      fi
      line=$(run_bodies "$port" "$q" "$duration")
      stop "$build-$q-$round"
      echo "$build $q $round $line" | tee -a "$work/results"
    done
  done
done

python3 - "$work/results" <<'PY'
import statistics, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    v = dict(zip(f[3::2], f[4::2]))
    runs[(f[0], f[1])].append((float(v['rps']), float(v['p99-ms'])))
med = lambda build, q, i: statistics.median(x[i] for x in runs[(build, q)])
print("\n| workload | this build rps / p99 ms | baseline rps / p99 ms | rps, this ÷ baseline | p99, this ÷ baseline |")
print("|---|---|---|---|---|")
for q in ['customer', 'latest', 'older']:
    t = (med('this', q, 0), med('this', q, 1))
    b = (med('baseline', q, 0), med('baseline', q, 1))
    print(f"| {q} | {t[0]:,.0f} / {t[1]:.1f} | {b[0]:,.0f} / {b[1]:.1f} | {t[0] / b[0]:.2f}× | {t[1] / b[1]:.2f}× |")
print("\nEach run (rps; p99 ms):")
for (build, q), r in sorted(runs.items()):
    print(build, q, " / ".join(f"{x[0]:.0f}" for x in r), ";", " / ".join(f"{x[1]:.1f}" for x in r))
PY
