#!/usr/bin/env bash
# Two builds side by side on uncached getAlbum (every album of the library in turn, so nearly
# every request misses the front's cache), or with LOAD=list-pages on getAlbumList2
# alphabeticalByName over distinct pages of 50 (LOAD=newest-pages: newest, likewise): both
# serve copies of one scanned database at once, and wrk (2 threads, 64 connections) loads each
# in turn, ROUNDS rounds of SECS seconds, so that a machine whose speed drifts favours neither.
# Prints each round's requests/s, p99 and the front's and the broker's CPU per request.
# Asserts nothing.
#
#   bash bench/ab.sh OLD_BINARY NEW_BINARY [TRACKS] [ROUNDS] [SECS]   # defaults 100000, 8, 4
#   BENCH_LIBRARY=/path/to/music bash bench/ab.sh …   # a library made earlier by gen_library
#   LOAD=list-pages bash bench/ab.sh …                 # getAlbumList2 pages instead of getAlbum
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,12p "$0" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2") tracks=${3:-100000} rounds=${4:-8} secs=${5:-4}
target=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
source bench/lib.sh
work=$(mktemp -d /tmp/redoubt-ab.XXXXXX)
pids=()
pid=
trap 'for p in "${pids[@]}" $pid; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/data"
if [ -n "${BENCH_LIBRARY:-}" ]; then
  ln -s "$(realpath "$BENCH_LIBRARY")" "$work/music"
else
  [ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --quiet --example gen_library
  mkdir -p "$work/music"
  "$target"/release/examples/gen_library "$work/music" "$tracks" | tail -1
fi
# One scan, by the old build; each build then serves its own copy of that database.
REDOUBT_BIN=$old start_daemon
auth="$auth&f=json"
every_album_script "$work/every-album.lua" "$work/ids"
case ${LOAD:-albums} in
  albums) load="$work/every-album.lua" ;;
  list-pages) list_pages_script "$work/pages.lua" alphabeticalByName "$(grep -c . "$work/ids")"; load="$work/pages.lua" ;;
  newest-pages) list_pages_script "$work/pages.lua" newest "$(grep -c . "$work/ids")"; load="$work/pages.lua" ;;
  *) echo "LOAD is albums, list-pages or newest-pages" >&2; exit 2 ;;
esac
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
as_user=()
[ "$(id -u)" = 0 ] && as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
ports=() fronts=() brokers=()
for which in old new; do
  mkdir -p "$work/$which"
  cp -a "$work/data" "$work/$which/data"
  [ $which = old ] && cp "$old" "$work/$which/redoubt" || cp "$new" "$work/$which/redoubt"
  chmod -R a+rX "$work/$which"
  p=$((20000 + RANDOM % 20000))
  "${as_user[@]}" "$work/$which/redoubt" serve --data-folder "$work/$which/data" --music-folder "$work/music" \
    --port "$p" --log-level warn 2>"$work/$which/log" &
  pids+=($!) ports+=("$p")
done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for i in 0 1; do
  for _ in $(seq 600); do
    s=$(curl -s "http://127.0.0.1:${ports[$i]}/rest/getScanStatus?$auth" || true)
    echo "$s" | grep -q '"scanning":false' && break
    sleep 0.5
  done
  fronts+=("$(pgrep -P "${pids[$i]}" -f 'role front')") brokers+=("$(pgrep -P "${pids[$i]}" -f 'role broker')")
  wrk -t2 -c64 -d2s -s "$load" "http://127.0.0.1:${ports[$i]}" >/dev/null
done
names=(old new)
for r in $(seq "$rounds"); do
  for i in 0 1; do
    f0=$(cpu "${fronts[$i]}") b0=$(cpu "${brokers[$i]}")
    out=$(wrk -t2 -c64 -d"${secs}"s --latency -s "$load" "http://127.0.0.1:${ports[$i]}")
    f1=$(cpu "${fronts[$i]}") b1=$(cpu "${brokers[$i]}")
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    printf 'round %d %-3s %10s req/s   p99 %8s   CPU/request: front %4d µs, broker %4d µs\n' "$r" "${names[$i]}" \
      "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$(echo "$out" | awk '$1=="99%" {print $2}')" \
      $(( (f1 - f0) * 10000000 / n / 1000 )) $(( (b1 - b0) * 10000000 / n / 1000 ))
  done
done
