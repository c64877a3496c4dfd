#!/usr/bin/env bash
# getCoverArt throughput for cached thumbnails: a library of ALBUMS albums, each with a
# 1200×1200 cover.jpg; every album's 300 px thumbnail is rendered once (the time of the first,
# uncached, request is printed), then wrk on loopback at 64 connections asks for one album's
# thumbnail, and for all albums' in turn. Prints requests/s, p50 and p99. Asserts nothing.
#
#   bash bench/cover-art.sh [ALBUMS] [SECONDS]     # defaults 20 and 8; needs ffmpeg and wrk
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
albums=${1:-20}
secs=${2:-8}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
command -v ffmpeg >/dev/null || { echo "ffmpeg is needed" >&2; exit 2; }
[ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d /tmp/redoubt-artbench.XXXXXX)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
mkdir -p "$work/music" "$work/data"
ffmpeg -v error -f lavfi -i sine=duration=1 -c:a libmp3lame -b:a 32k "$work/tone.mp3"
ffmpeg -v error -f lavfi -i testsrc2=s=1200x1200 -frames:v 1 -q:v 3 "$work/cover.jpg"
for i in $(seq "$albums"); do
  dir="$work/music/Artist $i/Album $i"
  mkdir -p "$dir"
  ffmpeg -v error -i "$work/tone.mp3" -c copy -metadata title="Song $i" -metadata artist="Artist $i" \
    -metadata album="Album $i" "$dir/01.mp3"
  cp "$work/cover.jpg" "$dir/cover.jpg"
done
source bench/lib.sh
start_daemon
ids=$(curl -s "$base/getAlbumList2?type=alphabeticalByName&size=500&$auth&f=json" |
  python3 -c 'import json,sys; print(" ".join(a["id"] for a in json.load(sys.stdin)["subsonic-response"]["albumList2"]["album"]))') ||
  { echo "the daemon did not answer:" >&2; cat "$work/log" >&2; exit 1; }
first=${ids%% *}
cold=$(curl -s -o /dev/null -w '%{time_total}' "$base/getCoverArt?id=$first&size=300&$auth")
bytes=$(curl -s "$base/getCoverArt?id=$first&size=300&$auth" | wc -c)
for id in $ids; do curl -s -o /dev/null "$base/getCoverArt?id=$id&size=300&$auth"; done
echo "first (uncached) 300 px thumbnail of a 1200×1200 JPEG: ${cold}s; the thumbnail is $bytes bytes"
result "cover art: first (uncached) 300 px thumbnail" "$(echo "$cold * 1000" | bc -l | awk '{printf "%.1f", $1}')" "ms"
{
  echo "local ids = {"
  for id in $ids; do echo "  \"$id\","; done
  echo "}"
  cat <<LUA
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/rest/getCoverArt?$auth&size=300&id=" .. ids[n % #ids + 1])
end
LUA
} > "$work/albums.lua"
run() {
  local label=$1; shift
  local out
  out=$(wrk -t2 -c64 -d"${secs}s" --latency "$@")
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  printf '%-40s %10s req/s   p50 %8s   p99 %8s\n' "$label" "$rps" "$p50" "$p99"
  wrk_figures "cover art: $label" "$out"
}
echo "== $albums albums, wrk -t2 -c64 -d${secs}s"
run "ping (for comparison)" "$base/ping?$auth"
run "getCoverArt size=300, one album (cached)" "$base/getCoverArt?id=$first&size=300&$auth"
run "getCoverArt size=300, $albums albums (cached)" -s "$work/albums.lua" "$base"
grep -iE "error|warn" "$work/log" | head -5 || true
