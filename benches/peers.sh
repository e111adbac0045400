#!/usr/bin/env bash
# Side by side, executing: pubgate with its query cache off, PostGraphile 4.14 and PostGraphile 5,
# serving the same PostgreSQL data (the database `pubgate_bench` that `benches/queries.sh postgres`
# loads) the dashboard's own documents (src/dashboard/documents.js) and their idiomatic
# equivalents, every request a different question:
#   customer  the customer panel over distinct customers (profile, 20 vouchers with campaign and
#             categories, the 10 latest assignments)
#   latest    the feed's first page (the newest 50 with customer, voucher and campaign)
#   older     the feed's page after a reload (the anchor row and 49 older ones) at distinct cursors
#   mix       customer and older, alternating, while `pubgate simulate` commits 100 signed
#             deliveries a second through pubgate's webhook (the same for every server)
# 32 connections (wrk -t2 -c32), each server with 2 worker processes or threads and 16 database
# connections in all; `rounds` interleaved rounds (pubgate, v4, v5, pubgate, ...); medians.
# Usage: benches/peers.sh [seconds] [rounds]     env SERVERS="pubgate v4 v5", WORKLOADS=...
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
duration=${1:-15}
rounds=${2:-3}
servers=${SERVERS:-pubgate v4 v5}
workloads=${WORKLOADS:-customer latest older mix}
port=18499       # the server measured
ingest_port=18498 # pubgate receiving the deliveries of `mix` when a peer is measured
work=$(mktemp -d)
cargo build --release -q
psql -q -h 127.0.0.1 -U postgres -d pubgate_bench -c "ANALYZE"

# Neither server uses TLS to PostgreSQL (PostGraphile's driver does not by default).
db_url="postgres://postgres@127.0.0.1:5432/pubgate_bench?sslmode=disable"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start_pubgate() { # port extra-flags...
  local p=$1; shift
  target/release/pubgate serve --listen 127.0.0.1:$p --database-url "$db_url" \
    --db-max-connections 16 --webhook-secret bench-secret "$@" >>"$work/pubgate-$p.log" 2>&1 &
  pids+=($!)
  wait_ready "$p"
}
start_peer() { # v4|v5
  bash benches/postgraphile/serve.sh "$1" "$port" >>"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_graphql "$port" "$!" "$work/$1.log" 60
}
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }

# The questions: pubgate picks the customers and positions; each peer asks the same ones.
start_pubgate "$port" --query-cache-bytes 0
mkdir -p "$work/pubgate"
node benches/documents.mjs "http://127.0.0.1:$port" "$work/pubgate" 500
stop_all
for v in v4 v5; do
  [[ " $servers " == *" $v "* ]] || continue
  start_peer "$v"
  mkdir -p "$work/$v"
  node benches/postgraphile/bodies.mjs "$v" "http://127.0.0.1:$port/graphql" "$work/pubgate/positions.tsv" "$work/$v"
  stop_all
done
for s in $servers; do # mix: customer and older, alternating
  paste -d '\n' "$work/$s/customer.bodies" "$work/$s/older.bodies" >"$work/$s/mix.bodies"
done

seed=$(psql -h 127.0.0.1 -U postgres -d pubgate_bench -qAt -c "select value from pubgate_sequence")
results="$work/results"
measure() { # server workload round
  local server=$1 workload=$2 round=$3 sender= stored=
  if [ "$workload" = mix ]; then
    local target=$port
    if [ "$server" != pubgate ]; then start_pubgate "$ingest_port"; target=$ingest_port; fi
    # New deliveries every time: a seed already used would only send duplicates.
    seed=$((seed + 1))
    target/release/pubgate simulate --target "http://127.0.0.1:$target" --secret bench-secret \
      --events $((duration * 100 + 200)) --rate 100 --customers 10000 --campaigns 50 \
      --duplicate-ratio 0 --concurrency 4 --seed $seed --quiet >"$work/ingest.log" &
    sender=$!
  fi
  local out own0 pg0 own1 pg1
  own0=$(ticks $(server_pids "$server")); pg0=$(ticks $(pgrep -u postgres -x postgres))
  out=$(BODIES_FILE="$work/$server/$workload.bodies" wrk -t2 -c32 -d"${duration}s" --latency \
    -s benches/wrk/bodies.lua "http://127.0.0.1:$port/graphql")
  own1=$(ticks $(server_pids "$server")); pg1=$(ticks $(pgrep -u postgres -x postgres))
  if [ -n "$sender" ]; then
    wait $sender

    stored=$(awk '/^stored/ {print $2}' "$work/ingest.log")
    [ "${stored:-0}" -gt 0 ] || { echo "no deliveries were committed during $server mix" >&2; exit 1; }
  fi
  local errors line
  errors=$(awk '/^graphql-errors/ {print $2}' <<<"$out")
  line=$(grep '^p50-ms' <<<"$out")
  [ "$errors" = 0 ] || { echo "$server $workload: $errors failed requests" >&2; exit 1; }
  # CPU per request (ms), of the server measured and of PostgreSQL (for mix, PostgreSQL's
  # includes committing the deliveries).
  local requests cpu
  requests=$(awk '/^p50-ms/ {print $6}' <<<"$out")
  cpu=$(awk -v a="$own0" -v b="$own1" -v c="$pg0" -v d="$pg1" -v n="$requests" -v t="$duration" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN { r = n * t; printf "server-cpu-ms %.3f pg-cpu-ms %.3f", (b - a) * 1000 / hz / r, (d - c) * 1000 / hz / r }')
  echo "$server $workload $round $line $cpu ${stored:+committed $stored}" | tee -a "$results"
}

# The processes of the server measured (every worker of a PostGraphile cluster).
server_pids() {
  case "$1" in
    pubgate) pgrep -f "serve --listen 127.0.0.1:$port" ;;
    v4) pgrep -f "node_modules/.bin/postgraphile" ;;
    v5) pgrep -f "server.mjs" ;;
  esac
}
# CPU time (clock ticks, user + system) the given processes have used so far; a process that
# ends between two readings takes its time with it, so every server keeps its processes and
# connections for the whole run.
ticks() {
  local total=0 pid stat
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    # After the command's name: state is field 1, utime 12 and stime 13.
    total=$((total + $(awk '{print $12 + $13}' <<<"$stat")))
  done
  echo "$total"
}

for round in $(seq 1 "$rounds"); do
  for s in $servers; do
    case "$s" in
      pubgate) start_pubgate "$port" --query-cache-bytes 0 ;;
      *) start_peer "$s" ;;
    esac
    for w in $workloads; do measure "$s" "$w" "$round"; done
    stop_all
  done
done

python3 - "$results" <<'PY'
import statistics, sys
from collections import defaultdict
runs = defaultdict(list)
cpu = defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    server, workload = f[0], f[1]
    v = dict(zip(f[3::2], f[4::2]))
    runs[(server, workload)].append((float(v['rps']), float(v['p50-ms']), float(v['p99-ms'])))
    cpu[(server, workload)].append((float(v.get('server-cpu-ms', 'nan')), float(v.get('pg-cpu-ms', 'nan'))))
def med(server, workload):
    r = runs.get((server, workload))
    return r and tuple(statistics.median(x[i] for x in r) for i in range(3))
names = {'pubgate': 'pubgate', 'v4': 'PostGraphile 4', 'v5': 'PostGraphile 5'}
print("\n| workload | " + " | ".join(f"{names[s]} rps / p99 ms" for s in names if any(k[0] == s for k in runs)) + " | pubgate vs the stronger: rps, p99 |")
print("|---" * (2 + sum(1 for s in names if any(k[0] == s for k in runs))) + "|")
for w in ['customer', 'latest', 'older', 'mix']:
    cells, peers = [], []
    for s in names:
        m = med(s, w)
        if m is None: continue
        cells.append(f"{m[0]:,.0f} / {m[2]:.1f}")
        if s != 'pubgate': peers.append(m)
    if not cells: continue
    p = med('pubgate', w)
    ratio = ''
    if p and peers:
        best = max(peers)
        ratio = f"**{p[0] / best[0]:.2f}×**, {p[2] / best[2]:.2f}×"
    print(f"| {w} | " + " | ".join(cells) + f" | {ratio} |")
print("\nCPU per request, medians (ms; server, then PostgreSQL; mix includes the ingest):")
for w in ['customer', 'latest', 'older', 'mix']:
    cells = []
    for s in names:
        c = cpu.get((s, w))
        if c:
            cells.append(f"{names[s]} {statistics.median(x[0] for x in c):.2f} + {statistics.median(x[1] for x in c):.2f}")
    if cells:
        print(f"- {w}: " + "; ".join(cells))
print("\nEach run (server workload round p50 p99 rps):")
for (s, w), r in sorted(runs.items()):
    print(s, w, " ".join(f"{x[0]:.0f}" for x in r), "rps;", " ".join(f"{x[2]:.1f}" for x in r), "ms p99")
PY
