# Shared by the benchmark scripts (sourced, not run).

# Waits (at most 30 s) until the gateway on port $1 is ready.
wait_ready() {
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "the gateway on port $1 did not become ready" >&2
  return 1
}

# Writes the two dashboard queries every script measures into directory $1: latest.json (the
# newest 50 assignments with customer, voucher, categories and campaign) and customer.json (the
# customer $2 with a page of 20 vouchers and their 10 latest assignments). PostGraphile's
# idiomatic equivalents are in benches/postgraphile/.
write_queries() {
  cat >"$1/latest.json" <<'JSON'
{"query":"{ publications(first: 50) { edges { cursor node { id createdAt channel customer { id name email } voucher { code type discount { type amountOff percentOff } gift { amount balance } loyaltyCard { points } categories { name } } campaign { id name } } } pageInfo { hasNextPage endCursor } } }"}
JSON
  cat >"$1/customer.json" <<JSON
{"query":"query(\$id: ID) { customer(id: \$id) { id name email vouchers(first: 20) { totalCount nodes { code type active campaign { name } categories { name } } } publications(first: 10) { nodes { id createdAt voucher { code } } } } }","variables":{"id":"$2"}}
JSON
}

# Builds the release gateway and the bound program; sets `bound` to the latter's path.
build_bound() {
  cargo build --release -q
  cargo bench --bench bound --no-run -q 2>/dev/null
  bound=$(ls -t target/release/deps/bound-* | grep -v '\.d$' | head -1)
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
