#!/usr/bin/env bash
# Ingest under fan-out, side by side in one run: `pubgate simulate` (32 senders) against a
# gateway on a fresh database, alone, then again with N subscribers connected and receiving
# (benches/subscribers.rs --hold), RUNS times, interleaved; prints each run, the medians and
# with ÷ without.
#
# What the subscribers follow (FILTER): `customer` (default) gives subscriber i a filter on
# customer i mod CUSTOMERS of the simulated run, as clients that each follow one customer's
# assignments would (N/CUSTOMERS subscribers per customer, so each assignment is N/CUSTOMERS
# frames); `none` subscribes every one to every assignment (N frames per assignment: at 10k
# subscribers and thousands of deliveries a second that is more frames than this machine can
# write, so subscribers fall behind and end with SLOW_CONSUMER; the counts say how many).
#
# Usage: benches/ingest_fanout.sh [sqlite|postgres] [events] [subscribers]
# Env: RUNS (3), CUSTOMERS (2000), FILTER (customer|none). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-sqlite}
events=${2:-10000}
subscribers=${3:-10000}
runs=${RUNS:-3}
customers=${CUSTOMERS:-2000}
filter=${FILTER:-customer}
seed=2 # the seed simulate_rate (benches/lib.sh) posts with
port=18484
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
server=
holder=
trap '[ -n "$server" ] && kill $server 2>/dev/null; [ -n "$holder" ] && kill $holder 2>/dev/null; rm -rf "$work"' EXIT
case "$filter" in
  customer) filter_flags="--seed $seed --customers $customers" ;;
  none) filter_flags= ;;
  *) echo "FILTER must be customer or none, not $filter" >&2; exit 2 ;;
esac
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((subscribers + 256)) ]; then
  echo "$subscribers subscribers need about $((subscribers + 256)) open files; ulimit -n is $(ulimit -n)" >&2
  exit 1
fi
cargo build --release -q
bin=$target/release/pubgate
load=$(bench_exe subscribers)

# Starts a gateway on a fresh database; sets `server` and `url`.
start() {
  url=$(fresh_db "$backend" pubgate_ingest_fanout)
  RUST_LOG=warn $bin serve --listen 127.0.0.1:$port --database-url "$url" --webhook-secret bench-secret \
    >"$work/serve.log" 2>&1 &
  server=$!
  wait_ready "$port"
}
stop() { kill $server; wait $server 2>/dev/null || true; server=; }
# Publications stored in the gateway's database.
assignments() {
  case "$backend" in
    sqlite) sqlite3 "$(echo "${url#sqlite://}" | cut -d'?' -f1)" "SELECT count(*) FROM publications" ;;
    postgres) psql -qAt -h 127.0.0.1 -U postgres -d pubgate_ingest_fanout -c "SELECT count(*) FROM publications" ;;
  esac
}

alone=(); with=(); p99_alone=(); p99_with=()
for run in $(seq 1 "$runs"); do
  start
  read -r rate p99 <<<"$(simulate_rate "$port" "$events" 32 "$customers")"
  stop
  echo "run $run alone: $rate deliveries/s, p99 $p99 ms"
  alone+=("$rate"); p99_alone+=("$p99")

  start
  mkfifo "$work/hold"
  # shellcheck disable=SC2086
  "$load" --target "http://127.0.0.1:$port" --subscribers "$subscribers" --hold $filter_flags \
    <"$work/hold" >"$work/hold.out" &
  holder=$!
  exec 3>"$work/hold"
  for _ in $(seq 1 1200); do grep -q '^subscribers' "$work/hold.out" && break; sleep 0.1; done
  grep '^subscribers' "$work/hold.out" | sed "s/^/run $run /"
  read -r rate p99 <<<"$(simulate_rate "$port" "$events" 32 "$customers")"
  # What was committed before the 200s is relayed within moments; give the last frames a second.
  sleep 1
  exec 3>&-
  wait $holder; holder=
  rm -f "$work/hold"
  stored=$(assignments)
  stop
  echo "run $run with $subscribers subscribers ($filter): $rate deliveries/s, p99 $p99 ms"
  held=$(grep '^held' "$work/hold.out")
  if [ "$filter" = customer ]; then
    # Exact when every customer has the same number of subscribers; otherwise an estimate.
    expected=$(awk -v s="$stored" -v n="$subscribers" -v k="$customers" 'BEGIN {printf "%d", s * n / k}')
    exact=$([ $((subscribers % customers)) = 0 ] && echo "expected" || echo "about")
    echo "run $run $held; $exact $expected frames ($stored assignments × $subscribers/$customers subscribers each)"
  else
    echo "run $run $held; $stored assignments"
  fi
  with+=("$rate"); p99_with+=("$p99")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
a=$(median "${alone[@]}"); w=$(median "${with[@]}")
echo "== $backend, $events events, $subscribers subscribers ($filter), median of $runs: alone $a/s (p99 $(median "${p99_alone[@]}") ms), with subscribers $w/s (p99 $(median "${p99_with[@]}") ms), with ÷ alone $(awk -v w="$w" -v a="$a" 'BEGIN {printf "%.2f", w/a}')"
