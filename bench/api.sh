#!/usr/bin/env bash
# Subsonic API throughput on a generated library: wrk on loopback at 64 connections against
# getAlbumList2 (newest, 50), getAlbum, getArtists, search3 (a word; and the empty query, 500 a
# page, paged through the library), getRandomSongs. Prints requests/s, p50, p99 and the RSS of
# every process. Asserts nothing.
#
#   bash bench/api.sh [TRACKS] [SECONDS]     # defaults 100000 and 8; needs ffmpeg and wrk
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
tracks=${1:-100000}
secs=${2:-8}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
cargo build --release --quiet
cargo build --release --quiet --example gen_library
work=$(mktemp -d /tmp/redoubt-apibench.XXXXXX)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
mkdir -p "$work/music" "$work/data"
"$target"/release/examples/gen_library "$work/music" "$tracks" | tail -1
cp "$target"/release/redoubt "$work/redoubt"
chmod -R a+rX "$work"
as_user=()
if [ "$(id -u)" = 0 ]; then
  chown nobody "$work/data"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
fi
folders=(--data-folder "$work/data" --music-folder "$work/music")
echo "bench-password" | "${as_user[@]}" "$work/redoubt" user add bench "${folders[@]}" >/dev/null
port=$((20000 + RANDOM % 20000))
"${as_user[@]}" "$work/redoubt" serve "${folders[@]}" --port "$port" --log-level warn 2>"$work/log" &
pid=$!
base="http://127.0.0.1:$port/rest"
auth="u=bench&p=bench-password&v=1.16.1&c=bench&f=json"
for _ in $(seq 1200); do
  s=$(curl -s "$base/getScanStatus?$auth" || true)
  echo "$s" | grep -q '"scanning":false' && echo "$s" | grep -q '"lastScan"' && break
  sleep 0.5
done
album=$(curl -s "$base/getAlbumList2?type=random&size=1&$auth" | python3 -c 'import json,sys; print(json.load(sys.stdin)["subsonic-response"]["albumList2"]["album"][0]["id"])')
cat > "$work/page.lua" <<LUA
local offset = 0
request = function()
  local path = "/rest/search3?$auth&query=&artistCount=0&albumCount=0&songCount=500&songOffset=" .. offset
  offset = (offset + 500) % $tracks
  return wrk.format("GET", path)
end
LUA
run() {
  local label=$1; shift
  local out
  out=$(wrk -t2 -c64 -d"${secs}s" --latency "$@")
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  printf '%-34s %10s req/s   p50 %8s   p99 %8s\n' "$label" "$rps" "$p50" "$p99"
}
echo "== $tracks tracks, wrk -t2 -c64 -d${secs}s"
run "getAlbumList2 newest size=50" "$base/getAlbumList2?type=newest&size=50&$auth"
run "getAlbum" "$base/getAlbum?id=$album&$auth"
run "getArtists" "$base/getArtists?$auth"
run "search3 a word (\"track 12\")" "$base/search3?query=track%2012&$auth"
run "search3 empty query, 500 a page" -s "$work/page.lua" "$base"
run "getRandomSongs size=10" "$base/getRandomSongs?size=10&$auth"
echo "== RSS"
for p in $pid $(pgrep -P "$pid"); do
  printf '  %-28s %s\n' "$(tr '\0' ' ' < /proc/$p/cmdline | cut -c1-28)" "$(grep -E 'VmRSS|VmHWM' /proc/$p/status | awk '{printf "%s %.1f MB  ", $1, $2/1024}')"
done
