#!/usr/bin/env bash
# End-to-end GET /rest/ping: HTTP into the front, one broker round trip, XML out.
# Builds the release binary, starts it (as nobody when run as root), loads it with wrk on
# loopback for a bounded time, prints the figures, stops it.
#
#   bash bench/http-ping.sh            # needs wrk (Debian: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
cargo build --release --quiet
work=$(mktemp -d /tmp/redoubt-bench.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/music" "$work/data"
cp target/release/redoubt "$work/redoubt"
chmod 755 "$work" "$work/music" "$work/redoubt"
port=$((20000 + RANDOM % 20000))
run=("$work/redoubt" serve --music-folder "$work/music" --data-folder "$work/data" --port "$port" --log-level warn)
if [ "$(id -u)" = 0 ]; then
  chown nobody "$work/data"
  run=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "${run[@]}")
fi
"${run[@]}" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/rest/ping" >/dev/null && break; sleep 0.05; done
url="http://127.0.0.1:$port/rest/ping?u=bench&c=bench&v=1.16.1"
echo "== one connection (latency)"
wrk -t1 -c1 -d5s --latency "$url" | grep -E "Latency|50%|99%|Requests/sec"
echo "== 2 threads, 32 connections (throughput)"
wrk -t2 -c32 -d10s --latency "$url" | grep -E "Latency|50%|99%|Requests/sec"
