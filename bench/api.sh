#!/usr/bin/env bash
# Subsonic API throughput on a generated library: wrk on loopback at 64 connections against
# getAlbumList2 (newest, 50; and distinct pages, alphabetical and newest), getAlbum (500 albums in turn, mostly answered
# from the front's cache; and every album in turn, mostly not), getArtists, search3 (a word, its
# matches a page at a time, and the empty query, 500 a page, paged through the library),
# getRandomSongs. Prints requests/s,
# p50, p99, the front's and the broker's CPU time per request (steadier than requests/s on a
# busy machine), and the RSS of every process. Asserts nothing.
#
#   bash bench/api.sh [TRACKS] [SECONDS]     # defaults 100000 and 8; needs ffmpeg and wrk
#   ENCODING=gzip bash bench/api.sh          # the same, asking for compressed answers
#   REDOUBT_BIN=/path/to/redoubt bash bench/api.sh   # measure another build of the daemon
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
tracks=${1:-100000}
secs=${2:-8}
encoding=${ENCODING:-}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
[ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --quiet --example gen_library
work=$(mktemp -d /tmp/redoubt-apibench.XXXXXX)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
mkdir -p "$work/music" "$work/data"
generated=$("$target"/release/examples/gen_library "$work/music" "$tracks" | tail -1)
echo "$generated"
# A title word about 1% of the tracks carry (the generator names one).
word=${generated##*search word: }
source bench/lib.sh
start_daemon
auth="$auth&f=json"
# getAlbum rotates over 500 albums (one hot album would flatter the page cache and the CPU's).
curl -s "$base/getAlbumList2?type=random&size=500&$auth" | python3 -c '
import json, sys
ids = [a["id"] for a in json.load(sys.stdin)["subsonic-response"]["albumList2"]["album"]]
print("local ids = {" + ",".join("\"%s\"" % i for i in ids) + "}")' > "$work/album.lua"
album_requests >> "$work/album.lua"
# Every album in turn (10,000 at 100,000 tracks): most requests miss the front's cache.
every_album_script "$work/every-album.lua" "$work/all-ids"
albums=$(grep -c . "$work/all-ids")
# getAlbumList2 and search3 over distinct pages, likewise.
list_pages_script "$work/list-pages.lua" alphabeticalByName "$albums"
list_pages_script "$work/newest-pages.lua" newest "$albums"
# The word's matches (about 1% of the tracks), a page of 20 at a time.
cat > "$work/search-pages.lua" <<LUA
local offset = 0
request = function()
  offset = (offset + 20) % $(( tracks / 100 > 20 ? tracks / 100 : 20 ))
  return wrk.format("GET", "/rest/search3?$auth&artistCount=0&albumCount=0&songCount=20&query=$word&songOffset=" .. offset)
end
LUA
cat > "$work/page.lua" <<LUA
local offset = 0
request = function()
  local path = "/rest/search3?$auth&query=&artistCount=0&albumCount=0&songCount=500&songOffset=" .. offset
  offset = (offset + 500) % $tracks
  return wrk.format("GET", path)
end
LUA
front=$(pgrep -P "$pid" -f 'role front')
broker=$(pgrep -P "$pid" -f 'role broker')
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {
  local label=$1; shift
  local out f0 b0 f1 b1
  # One second of warm-up, not reported: the figures are the steady state (a first request
  # for an album misses the front's cache; see docs/architecture.md for the cold cost).
  [ -n "$encoding" ] && set -- -H "Accept-Encoding: $encoding" "$@"
  wrk -t2 -c64 -d1s "$@" >/dev/null
  f0=$(cpu "$front") b0=$(cpu "$broker")
  out=$(wrk -t2 -c64 -d"${secs}s" --latency "$@")
  f1=$(cpu "$front") b1=$(cpu "$broker")
  local rps p50 p99 n
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  printf '%-44s %10s req/s   p50 %8s   p99 %8s   CPU/request: front %4d µs, broker %4d µs\n' "$label" "$rps" "$p50" \
    "$p99" $(( (f1 - f0) * 1000000 / ticks / n )) $(( (b1 - b0) * 1000000 / ticks / n ))
  wrk_figures "api: $label" "$out"
}
echo "== $tracks tracks, wrk -t2 -c64 -d${secs}s${encoding:+, Accept-Encoding: $encoding}"
run "getAlbumList2 newest size=50" "$base/getAlbumList2?type=newest&size=50&$auth"
run "getAlbum (500 albums in turn)" -s "$work/album.lua" "$base"
run "getAlbum ($albums albums in turn, uncached)" -s "$work/every-album.lua" "$base"
run "getAlbumList2 (distinct pages of 50)" -s "$work/list-pages.lua" "$base"
run "getAlbumList2 newest, distinct pages of 50" -s "$work/newest-pages.lua" "$base"
run "getArtists" "$base/getArtists?$auth"
run "search3 a word (\"$word\")" "$base/search3?query=$word&$auth"
run "search3 a word, distinct pages of 20" -s "$work/search-pages.lua" "$base"
run "search3 empty query, 500 a page" -s "$work/page.lua" "$base"
run "getRandomSongs size=10" "$base/getRandomSongs?size=10&$auth"
echo "== RSS"
for p in $pid $(pgrep -P "$pid"); do
  printf '  %-28s %s\n' "$(tr '\0' ' ' < /proc/$p/cmdline | cut -c1-28)" "$(grep -E 'VmRSS|VmHWM' /proc/$p/status | awk '{printf "%s %.1f MB  ", $1, $2/1024}')"
done
