#!/usr/bin/env bash
# End-to-end GET /rest/ping: HTTP into the front, one broker round trip (authentication
# included), XML out; with a password (p), a token (t+s) and an API key.
# Builds the release binary, starts it (as nobody when run as root), loads it with wrk on
# loopback for a bounded time, prints the figures, stops it.
#
#   bash bench/http-ping.sh            # needs wrk (Debian: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
[ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
source bench/lib.sh
work=$(mktemp -d /tmp/redoubt-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
mkdir -p "$work/music" "$work/data"
cp "${REDOUBT_BIN:-$target/release/redoubt}" "$work/redoubt"
chmod 755 "$work" "$work/music" "$work/redoubt"
port=$((20000 + RANDOM % 20000))
run=("$work/redoubt" serve --music-folder "$work/music" --data-folder "$work/data" --port "$port" --log-level warn)
if [ "$(id -u)" = 0 ]; then
  chown nobody "$work/data"
  run=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "${run[@]}")
fi
as_user=()
[ "$(id -u)" = 0 ] && as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
folders=(--data-folder "$work/data" --music-folder "$work/music")
echo "bench-password" | "${as_user[@]}" "$work/redoubt" user add bench "${folders[@]}" >/dev/null
apikey=$("${as_user[@]}" "$work/redoubt" apikey add bench wrk "${folders[@]}" 2>/dev/null)
"${run[@]}" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/rest/ping" >/dev/null && break; sleep 0.05; done
base="http://127.0.0.1:$port/rest/ping?c=bench&v=1.16.1"
token=$(printf '%s' "bench-passwordsalt42" | md5sum | cut -d' ' -f1)
for auth in "u=bench&p=bench-password" "u=bench&t=$token&s=salt42" "apiKey=$apikey"; do
  url="$base&$auth"
  label=${auth%%=*}; [ "$label" = u ] && label=$(echo "$auth" | cut -d'&' -f2 | cut -d= -f1)
  echo "== auth $label: one connection (latency)"
  wrk -t1 -c1 -d5s --latency "$url" | grep -E "50%|99%|Requests/sec"
  echo "== auth $label: 2 threads, 32 connections (throughput)"
  figures=$(wrk -t2 -c32 -d8s --latency "$url")
  echo "$figures" | grep -E "50%|99%|Requests/sec"
  wrk_figures "ping, auth $label, 32 connections" "$figures"
done
curl -s "$url&f=json" | grep -q '"status":"ok"' || { echo "authentication failed: the figures above are not authenticated pings" >&2; exit 1; }
