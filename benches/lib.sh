# Shared by the benchmark scripts (sourced, not run).

# Waits (at most 30 s) until the gateway on port $1 is ready.
wait_ready() {
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "the gateway on port $1 did not become ready" >&2
  return 1
}

# Waits (at most $4 seconds, default 60) until a GraphQL server on port $1 answers
# `{ __typename }`; fails at once, with the end of its log $3, if its process $2 has exited.
wait_graphql() {
  local tries=$((${4:-60} * 10))
  for _ in $(seq 1 "$tries"); do
    curl -sf "http://127.0.0.1:$1/graphql" -H 'content-type: application/json' \
      -d '{"query":"{ __typename }"}' >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "the GraphQL server on port $1 did not start:" >&2
  tail -20 "$3" >&2
  return 1
}

# Writes the request bodies of the dashboard's own documents into directory $2, picking $3
# (default 500) distinct customers and feed positions from the pubgate at URL $1:
# customer.bodies, latest.bodies, older.bodies (see benches/documents.mjs).
write_bodies() {
  node benches/documents.mjs "$1" "$2" "${3:-500}" >/dev/null
}

# Runs wrk (2 threads, 32 connections, $3 seconds) on $2.bodies in $work against the GraphQL
# endpoint of the pubgate on port $1; prints "p50-ms … p99-ms … rps …" and fails on any error.
run_bodies() {
  local out errors
  out=$(BODIES_FILE="$work/$2.bodies" wrk -t2 -c32 -d"$3s" --latency -s benches/wrk/bodies.lua \
    "http://127.0.0.1:$1/graphql")
  errors=$(awk '/^graphql-errors/ {print $2}' <<<"$out")
  [ "$errors" = 0 ] || { echo "$2: $errors failed requests" >&2; return 1; }
  grep '^p50-ms' <<<"$out"
}

# Builds the release gateway and the bound program; sets `bound` to the latter's path.
build_bound() {
  cargo build --release -q
  cargo bench --bench bound --no-run -q 2>/dev/null
  bound=$(ls -t target/release/deps/bound-* | grep -v '\.d$' | head -1)
}

# Runs `pubgate simulate` ($bin) against the gateway on port $1: $2 events, $3 concurrent
# senders, $4 customers (default 2000), 12 campaigns, seed 2; prints "deliveries/s p99-ms".
simulate_rate() {
  local summary
  summary=$($bin simulate --target "http://127.0.0.1:$1" --secret bench-secret --events "$2" \
    --customers "${4:-2000}" --campaigns 12 --concurrency "$3" --seed 2 --quiet)
  echo "$(awk '/^throughput/ {print $2}' <<<"$summary") $(sed -nE 's/.*p99 ([0-9.]+) ms/\1/p' <<<"$summary")"
}

# Builds quietly; prints the path of bench target $1's executable.
bench_exe() {
  # (cargo also lists the gateway's own binary, built for benches too: only the bench's line)
  cargo bench --bench "$1" --no-run --message-format=json 2>/dev/null |
    grep "\"kind\":\[\"bench\"\],\"crate_types\":\[\"bin\"\],\"name\":\"$1\"" |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1
}

# Prints the URL of a fresh, empty database named $2 on backend $1 (sqlite: a file in $work).
fresh_db() {
  case "$1" in
    sqlite) rm -f "$work/$2.db"*; echo "sqlite://$work/$2.db?mode=rwc" ;;
    postgres)
      psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" -c "CREATE DATABASE $2" >/dev/null
      echo "postgres://postgres@127.0.0.1:5432/$2?sslmode=disable" ;;
    *) echo "backend must be sqlite or postgres, not $1" >&2; return 2 ;;
  esac
}
