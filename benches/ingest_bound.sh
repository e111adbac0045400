#!/usr/bin/env bash
# Ingest against the bound, side by side in one run: the bound program (benches/bound.rs: the same
# normalised rows written directly, multi-row INSERTs, one durable commit per batch) and the
# gateway under `pubgate simulate` at SENDERS (default 32) concurrent senders, each on a fresh
# database, RUNS times; prints each run and the medians, and the gateway's transactions (mean
# deliveries and duration per transaction, mean commit, from its /metrics).
# Usage: benches/ingest_bound.sh sqlite|postgres [events] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-sqlite}
events=${2:-20000}
runs=${3:-3}
senders=${SENDERS:-32}
port=18482
work=$(mktemp -d)
bin=target/release/pubgate
build_bound
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

fresh() { fresh_db "$backend" "$1"; }
[ "$backend" = postgres ] && psql -qAt -h 127.0.0.1 -U postgres -c "SHOW synchronous_commit" | sed 's/^/synchronous_commit=/'

# GATEWAY_FLAGS=--ingest-one-by-one measures the gateway without group commit (batches of one);
# BOUND_BATCH=32 runs the bound at the batch size 32 senders can fill (default 256);
# BASELINE_BIN=path/to/another/pubgate also runs that build in every run, interleaved, and prints
# this build's throughput as a share of it (what a change to the write path costs).
bounds=(); bound_p99s=(); gateways=(); p99s=(); baselines=()
# The gateway's transactions so far, from its /metrics: count, mean deliveries, mean duration and
# mean commit (ms), SQL statements per transaction (every statement the gateway ran: during the
# run it serves nothing else).
batches() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '
    /^pubgate_ingest_batch_deliveries_sum/ {d = $2}
    /^pubgate_ingest_batch_deliveries_count/ {n = $2}
    /^pubgate_ingest_batch_duration_seconds_sum\{phase="all"\}/ {s = $2}
    /^pubgate_ingest_batch_duration_seconds_sum\{phase="commit"\}/ {c = $2}
    /^pubgate_sql_statements_total\{source="api"\}/ {q = $2}
    END {if (n > 0) printf "    transactions %d: mean %.1f deliveries, %.2f ms each, commit %.2f ms, %.1f statements\n", n, d / n, 1000 * s / n, 1000 * c / n, q / n}'
}
gateway() { # binary → "rate p99"
  local url figures
  url=$(fresh pubgate_gateway)
  RUST_LOG=warn "$1" serve --listen 127.0.0.1:$port --database-url "$url" --webhook-secret bench-secret ${GATEWAY_FLAGS:-} >"$work/serve.log" 2>&1 &
  server=$!
  wait_ready "$port"
  figures=$(simulate_rate "$port" "$events" "$senders")
  batches "$port" >&2
  kill $server; wait $server 2>/dev/null || true; server=
  echo "$figures"
}
for run in $(seq 1 "$runs"); do
  url=$(fresh pubgate_bound)
  line=$("$bound" --database-url "$url" --events "$events" --batch ${BOUND_BATCH:-256} --seed 2)
  echo "run $run $line"
  bounds+=("$(echo "$line" | sed -E 's/.* = ([0-9]+) events\/s.*/\1/')")
  bound_p99s+=("$(echo "$line" | sed -E 's/.*commit p50 [0-9.]+ ms, p99 ([0-9.]+) ms.*/\1/')")

  read -r rate p99 <<<"$(gateway "$bin")"
  echo "run $run gateway: $rate deliveries/s, p99 $p99 ms"
  gateways+=("$rate"); p99s+=("$p99")
  if [ -n "${BASELINE_BIN:-}" ]; then
    read -r rate p99 <<<"$(gateway "$BASELINE_BIN")"
    echo "run $run baseline ($BASELINE_BIN): $rate deliveries/s, p99 $p99 ms"
    baselines+=("$rate")
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(median "${bounds[@]}"); bp=$(median "${bound_p99s[@]}"); g=$(median "${gateways[@]}"); p=$(median "${p99s[@]}")
echo "== $backend, $events events, $senders senders, median of $runs: bound $b/s (batch ${BOUND_BATCH:-256}, commit p99 $bp ms), gateway $g/s (p99 $p ms); throughput ratio $(awk -v g="$g" -v b="$b" 'BEGIN {printf "%.2f", g/b}'), p99 ratio $(awk -v p="$p" -v b="$bp" 'BEGIN {printf "%.2f", p/b}')"
if [ -n "${BASELINE_BIN:-}" ]; then
  base=$(median "${baselines[@]}")
  echo "== baseline $base/s; this build $(awk -v g="$g" -v b="$base" 'BEGIN {printf "%.2f", g/b}') of it"
fi
