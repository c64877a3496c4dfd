#!/usr/bin/env bash
# Zip downloads (issue 14): a ~2 GB generated album (one 203 MB WAV made by ffmpeg, copied ten
# times: each a valid WAV the scanner indexes) downloaded as one zip with `download`, on
# loopback, while the front's and the transcoder's RSS are sampled every 0.2 s. Prints the
# zip's size, the time, the throughput, and each process's RSS before and at its peak, then
# checks the zip with `unzip -t`. Asserts nothing (tests/shares.rs
# `a_2_gb_zip_leaves_the_front_and_the_transcoder_flat` asserts the 20 MB bound).
#
#   bash bench/zip.sh            # needs ffmpeg, curl, python3, unzip; ~4.5 GB in /tmp
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
[ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d /tmp/redoubt-zipbench.XXXXXX)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }; rm -rf "$work"' EXIT
mkdir -p "$work/music/Big" "$work/data"
ffmpeg -v error -f lavfi -i "anoisesrc=sample_rate=44100:duration=1150" -ac 2 \
  -metadata title=Part -metadata album=Big "$work/music/Big/01.wav"
for i in $(seq -w 2 10); do cp "$work/music/Big/01.wav" "$work/music/Big/$i.wav"; done
source bench/lib.sh
start_daemon
auth="$auth&f=json"
album=$(curl -s "$base/getAlbumList2?type=newest&$auth" | python3 -c 'import json,sys
print(json.load(sys.stdin)["subsonic-response"]["albumList2"]["album"][0]["id"])')
role_pid() {
  for p in $(pgrep -P "$pid"); do
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q " role $1 " && { echo "$p"; return; }
  done
}
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
front=$(role_pid front)
transcoder=$(role_pid transcoder)
f0=$(rss "$front"); t0=$(rss "$transcoder"); fpeak=$f0; tpeak=$t0
start=$(date +%s.%N)
curl -s -o "$work/out.zip" "$base/download?$auth&id=$album" &
c=$!
while kill -0 "$c" 2>/dev/null; do
  f=$(rss "$front"); t=$(rss "$transcoder")
  [ "$f" -gt "$fpeak" ] && fpeak=$f
  [ "$t" -gt "$tpeak" ] && tpeak=$t
  sleep 0.2
done
wait "$c"
end=$(date +%s.%N)
size=$(stat -c %s "$work/out.zip")
secs=$(echo "$end - $start" | bc)
echo "zip: $((size / 1000000)) MB in ${secs} s ($(echo "scale=0; $size / $secs / 1000000" | bc) MB/s)"
echo "front RSS: ${f0} KiB idle, ${fpeak} KiB peak (+$((fpeak - f0)) KiB)"
echo "transcoder RSS: ${t0} KiB idle, ${tpeak} KiB peak (+$((tpeak - t0)) KiB)"
unzip -tq "$work/out.zip"
