#!/usr/bin/env bash
# Live fan-out against its bound, side by side in one run: for each subscriber count N, the
# fan-out bound (benches/fanout_bound.rs: one broadcast, one shared frame written per socket,
# nothing else) under the subscriber load tool (benches/subscribers.rs), then the gateway under
# the same tool, exactly as benches/subscribers.sh runs it (fresh database each time). Prints
# both tools' output, then per N and run: post->frame and 200->frame p50/p99, RSS per idle
# subscriber, and pubgate's p99 over the bound's.
#
# Usage: benches/fanout_bound.sh [sqlite|postgres] [counts...]   (default: sqlite 1000 10000 19000;
# 20000 needs more than the 20,000 open files a process may have in some containers)
# EVENTS=20 deliveries per run (250 ms apart), RUNS=1 rounds (bound then gateway each round),
# BOUND_FLAGS / GATEWAY_FLAGS are passed to the bound / `pubgate serve`, PUBGATE_BIN another
# gateway binary. Honours CARGO_TARGET_DIR.
#
# N subscribers take N file descriptors in the gateway (or the bound) AND N in the load tool, so
# both need `ulimit -n` above N (the script raises the soft limit to the hard one and refuses
# counts that do not fit). Each of the N loopback connections takes an ephemeral port, so the
# range in /proc/sys/net/ipv4/ip_local_port_range must hold N; the bound and the gateway listen
# on different ports so the previous run's TIME_WAIT sockets never collide with the next's.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
backend=${1:-sqlite}
shift || true
counts=${*:-1000 10000 19000}
events=${EVENTS:-20}
runs=${RUNS:-1}
port=18482
bound_port=18483
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$work"' EXIT

# File descriptors: the start-up files, the database pool, the listener, a margin.
max=$(printf '%s\n' $counts | sort -n | tail -1)
need=$((max + 256))
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
fds=$(ulimit -n)
if [ "$fds" != unlimited ] && [ "$fds" -lt "$need" ]; then
  echo "$max subscribers need about $need file descriptors in each process; ulimit -n is $fds" >&2
  echo "(hard limit; raise it as root with CAP_SYS_RESOURCE, e.g. \`ulimit -Hn $need\`, or the container's nofile)" >&2
  exit 1
fi
read -r low high </proc/sys/net/ipv4/ip_local_port_range
if [ $((high - low + 1)) -lt "$max" ]; then
  echo "$max subscribers need $max ephemeral ports; ip_local_port_range is $low-$high" >&2
  exit 1
fi
echo "fds $fds, ephemeral ports $low-$high, tcp_tw_reuse=$(cat /proc/sys/net/ipv4/tcp_tw_reuse), $events events, $runs run(s)"

cargo build --release -q
bin=${PUBGATE_BIN:-$target/release/pubgate}
load=$(bench_exe subscribers)
bound=$(bench_exe fanout_bound)

# The load tool's output ($1) → "connected frames p50 p99 ack_p50 ack_p99 kib_per_subscriber"
# (frames are counted against connected subscribers: a subscriber that never connected is not
# a missing frame, so both counts are kept).
figures() {
  awk '/^subscribers/ {c = $2}
       /^frames/ {f = $2 "/" $4}
       /^post->frame/ {p50 = $3; p99 = $6}
       /^200->frame/ {a50 = $3; a99 = $6}
       /per subscriber/ {for (i = 1; i < NF; i++) if ($(i + 1) == "KiB" && $(i + 2) == "per") k = $i}
       END {print c, f, p50, p99, a50, a99, k}' <<<"$1"
}
# Starts `$3...` (a server on port $1, logging to $work/server.log), runs the load tool with
# N=$2 against it, stops it; the tool's output is in $work/load.out and printed indented. (Not
# in a command substitution: the EXIT trap must know the server while it runs.)
measure() {
  local port=$1 n=$2
  shift 2
  "$@" >"$work/server.log" 2>&1 &
  server=$!
  wait_ready "$port"
  "$load" --target "http://127.0.0.1:$port" --pid "$server" --subscribers "$n" --events "$events" >"$work/load.out"
  kill $server; wait $server 2>/dev/null || true; server=
  sed 's/^/    /' "$work/load.out"
}

summary=()
for n in $counts; do
  for run in $(seq 1 "$runs"); do
    echo "== $n subscribers, run $run: bound"
    # shellcheck disable=SC2086
    measure "$bound_port" "$n" "$bound" --listen 127.0.0.1:$bound_port ${BOUND_FLAGS:-}
    b=$(cat "$work/load.out")

    echo "== $n subscribers, run $run: pubgate ($backend)"
    url=$(fresh_db "$backend" pubgate_fanout)
    # shellcheck disable=SC2086
    measure "$port" "$n" "$bin" serve --listen 127.0.0.1:$port --database-url "$url" \
      --webhook-secret bench-secret ${GATEWAY_FLAGS:-}
    g=$(cat "$work/load.out")

    read -r bc bf bp50 bp99 _ _ bk <<<"$(figures "$b")"
    read -r gc gf gp50 gp99 ga50 ga99 gk <<<"$(figures "$g")"
    ratios=$(awk -v b="$bp99" -v a="$ga99" -v p="$gp99" 'BEGIN { if (b > 0) printf "%.2f | %.2f", a / b, p / b; else printf "- | -" }')
    summary+=("| $n | $run | $bc, $bf | $bp50 / $bp99 | $bk | $gc, $gf | $gp50 / $gp99 | $ga50 / $ga99 | $gk | $ratios |")
  done
done
echo
echo "== $backend, $events events per run (ms; KiB of RSS per idle subscriber)"
echo "| subscribers | run | bound connected, frames | bound post→frame p50 / p99 | bound KiB | pubgate connected, frames | pubgate post→frame p50 / p99 | pubgate 200→frame p50 / p99 | pubgate KiB | p99 ratio: pubgate 200→frame ÷ bound post→frame | p99 ratio: post→frame ÷ post→frame |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
