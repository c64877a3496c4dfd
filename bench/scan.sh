#!/usr/bin/env bash
# Library scanning: a full scan of a generated library, a rescan with nothing changed, and a
# rescan after 1% of the files changed; tracks per second, and the peak RSS (VmHWM) of the
# scanner and the broker. Prints the figures; asserts nothing.
#
#   bash bench/scan.sh [TRACKS]        # default 100000; needs ffmpeg
#   BENCH_LIBRARY=/path bash bench/scan.sh 1000000   # a library gen_library made there
#                                      # before (kept; its 1% is changed in place)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
tracks=${1:-100000}
[ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --quiet --example gen_library
work=$(mktemp -d /tmp/redoubt-scanbench.XXXXXX)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
lib=${BENCH_LIBRARY:-$work/music}
mkdir -p "$lib" "$work/data"
if [ -z "${BENCH_LIBRARY:-}" ]; then
  echo "== generating $tracks tracks"
  /usr/bin/time -f "generated in %e s" "$target"/release/examples/gen_library "$lib" "$tracks" | tail -1
fi
cp "${REDOUBT_BIN:-$target/release/redoubt}" "$work/redoubt"
chmod -R a+rX "$work" "$lib"
as_user=()
if [ "$(id -u)" = 0 ]; then
  chown nobody "$work/data"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
fi
folders=(--data-folder "$work/data" --music-folder "$lib")
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
# Warm the page cache once (the targets are for a warm cache).
find "$lib" -type f -exec cat {} + > /dev/null
echo "bench-password" | "${as_user[@]}" "$work/redoubt" user add bench "${folders[@]}" >/dev/null
port=$((20000 + RANDOM % 20000))
"${as_user[@]}" "$work/redoubt" serve "${folders[@]}" --port "$port" 2>"$work/log" &
pid=$!

source bench/lib.sh
secs() { date -d "$1" +%s.%N; }
# Seconds between "scan N started" and "scan N finished" for the n-th scan.
scan_time() {
  local n=$1 start end
  start=$(grep " started (" "$work/log" | sed -n "${n}p" | awk '{print $2}')
  end=$(grep " finished: " "$work/log" | sed -n "${n}p" | awk '{print $2}')
  echo "$(secs "$end") - $(secs "$start")" | bc -l
}
wait_scan() {
  local n=$1
  for _ in $(seq 1200); do
    [ "$(grep -c " finished: " "$work/log")" -ge "$n" ] && return 0
    sleep 0.25
  done
  echo "scan $n did not finish" >&2; tail -20 "$work/log" >&2; exit 1
}
role_pid() { for p in $(pgrep -P "$pid"); do tr '\0' ' ' < /proc/$p/cmdline | grep -q "role $1" && echo "$p"; done; }
hwm_mb() { grep VmHWM "/proc/$(role_pid "$1")/status" | awk '{printf "%.1f", $2/1024}'; }
hwm() { echo "$(hwm_mb "$1") MB"; }
# Private memory (RssAnon: heap, stacks; not the database file's pages, which the broker maps
# and which count in its RSS as RssFile, shared with the page cache), sampled every 0.2 s by
# a background loop that keeps the largest value seen per role in $work/anon-<role>.
anon_kb() { grep RssAnon "/proc/$1/status" 2>/dev/null | awk '{print $2}'; }
sample_anon() {
  local role p v max=0
  role=$1
  while kill -0 "$pid" 2>/dev/null; do
    # (|| true: under set -e, a role not found yet would end the loop.)
    p=$(role_pid "$role" || true)
    v=$( [ -n "$p" ] && anon_kb "$p" || echo 0)
    [ "${v:-0}" -gt "$max" ] && { max=$v; echo "$max" > "$work/anon-$role"; }
    sleep 0.2
  done
}
anon_mb() { awk '{printf "%.1f", $1/1024}' "$work/anon-$1" 2>/dev/null || echo 0; }
report() {
  local label=$1 n=$2 files
  files=$(grep " finished: " "$work/log" | sed -n "${n}p" | sed -E 's/.*finished: ([0-9]+) files read.*/\1/')
  t=$(scan_time "$n")
  printf '%-34s %8.3f s   %7d files read   %8.0f tracks/s   peak RSS scanner %s, broker %s; peak private scanner %s MB, broker %s MB\n' \
    "$label" "$t" "$files" "$(echo "$tracks / $t" | bc -l)" "$(hwm scanner)" "$(hwm broker)" "$(anon_mb scanner)" "$(anon_mb broker)"
  result "scan $tracks: $label" "$t" "s"
  result "scan $tracks: $label, scanner peak RSS" "$(hwm_mb scanner)" "MB"
  result "scan $tracks: $label, broker peak RSS" "$(hwm_mb broker)" "MB"
  result "scan $tracks: $label, scanner peak private memory" "$(anon_mb scanner)" "MB"
  result "scan $tracks: $label, broker peak private memory" "$(anon_mb broker)" "MB"
}

sample_anon scanner & sample_anon broker &
wait_scan 1
report "full scan" 1
"${as_user[@]}" "$work/redoubt" scan "${folders[@]}" > /dev/null
wait_scan 2
report "rescan, nothing changed" 2
"$target"/release/examples/gen_library "$lib" --touch-percent 1 > /dev/null
chmod -R a+rX "$lib"
"${as_user[@]}" "$work/redoubt" scan "${folders[@]}" > /dev/null
wait_scan 3
report "rescan, 1% changed" 3
grep -E " finished: |walked in|figures in|merged in" "$work/log" | sed 's/^/  /'
# Restarted on the indexed library: the time from `serve` to the first answered
# authenticated request (a ping the broker checks the password of).
kill "$pid"; wait "$pid" 2>/dev/null || true
t0=$(date +%s.%N)
"${as_user[@]}" "$work/redoubt" serve "${folders[@]}" --port "$port" 2>>"$work/log" &
pid=$!
until curl -s "http://127.0.0.1:$port/rest/ping?u=bench&p=bench-password&v=1.16.1&c=bench" | grep -q 'status="ok"'; do
  sleep 0.005
done
first=$(echo "$(date +%s.%N) - $t0" | bc -l)
printf '%-34s %8.3f s\n' "serve to the first answer" "$first"
result "scan $tracks: serve to the first answer" "$first" "s"
