#!/usr/bin/env bash
# The front's own CPU per request, for one or more builds side by side: each build serves an
# empty library, and wrk (2 threads, 32 connections, 3 s) sends an unauthenticated ping, which
# the front answers alone (error 10, no broker round trip), to each build in turn, five rounds.
# Prints user and system CPU of the front per request. User CPU is what the HTTP layer costs;
# alternating the builds keeps a busy machine from favouring one. Asserts nothing.
#
#   bash bench/front-cpu.sh [BINARY ...]     # default: this tree's release build
#   bash bench/front-cpu.sh /tmp/redoubt-old target/release/redoubt
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
if [ $# -eq 0 ]; then
  [ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
  set -- "${CARGO_TARGET_DIR:-target}/release/redoubt"
fi
as_user=()
[ "$(id -u)" = 0 ] && as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
works=() pids=() ports=() fronts=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; for w in "${works[@]}"; do rm -rf "$w"; done' EXIT
for bin in "$@"; do
  work=$(mktemp -d /tmp/redoubt-frontcpu.XXXXXX)
  mkdir -p "$work/music" "$work/data"
  cp "$bin" "$work/redoubt"
  chmod -R a+rX "$work"
  [ "$(id -u)" = 0 ] && chown nobody "$work/data"
  port=$((20000 + RANDOM % 20000))
  "${as_user[@]}" "$work/redoubt" serve --music-folder "$work/music" --data-folder "$work/data" --port "$port" \
    --log-level warn 2>"$work/log" &
  works+=("$work") pids+=($!) ports+=("$port")
done
for i in "${!pids[@]}"; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${ports[$i]}/rest/ping" >/dev/null && break; sleep 0.1; done
  fronts+=("$(pgrep -P "${pids[$i]}" -f 'role front')")
done
declare -a user sys count
for _ in 1 2 3 4 5; do
  for i in "${!pids[@]}"; do
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/${fronts[$i]}/stat")
    n=$(wrk -t2 -c32 -d3s "http://127.0.0.1:${ports[$i]}/rest/ping?v=1.16.1&c=bench" | awk '/requests in/ {print $1}')
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/${fronts[$i]}/stat")
    user[i]=$(( ${user[i]:-0} + u1 - u0 )) sys[i]=$(( ${sys[i]:-0} + s1 - s0 )) count[i]=$(( ${count[i]:-0} + n ))
  done
done
ticks=$(getconf CLK_TCK)
for i in "${!pids[@]}"; do
  printf '%-40s user %3d µs, system %3d µs per request (%d requests)\n' "$(basename "$(dirname "${@:i+1:1}")")/$(basename "${@:i+1:1}")" \
    $(( user[i] * 1000000 / ticks / count[i] )) $(( sys[i] * 1000000 / ticks / count[i] )) "${count[i]}"
done
