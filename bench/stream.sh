#!/usr/bin/env bash
# Streaming figures for issue 6, on loopback against the real daemon:
#  - raw streaming throughput of a 200 MB file (best of 3 curl downloads), next to what a
#    plain file copy to a socket (python's socket.sendfile) achieves on this machine;
#  - time to first byte of an opus transcode (20 requests: median and worst);
#  - the RSS of every process while 20 clients stream at once (10 raw, 10 transcoded to
#    opus, each client throttled to 64 KB/s so that all run together).
# Asserts nothing.
#
#   bash bench/stream.sh          # needs ffmpeg, curl, python3
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
[ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d /tmp/redoubt-streambench.XXXXXX)
pid=
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/music/Bench" "$work/data"
# 200 MB of 16-bit stereo PCM is about 19 minutes.
ffmpeg -v error -f lavfi -i "sine=frequency=220:sample_rate=44100:duration=1189" -ac 2 \
  -metadata title=Big "$work/music/Bench/big.wav"
ffmpeg -v error -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=240:amplitude=0.3" -ac 2 \
  -metadata title=Song "$work/music/Bench/song.flac"
big_size=$(stat -c %s "$work/music/Bench/big.wav")
source bench/lib.sh
start_daemon REDOUBT_TRANSCODING_MAXCONCURRENT=40 REDOUBT_TRANSCODING_MAXCONCURRENTPERUSER=40
auth="$auth&f=json"
ids=$(curl -s "$base/search3?query=&$auth" | python3 -c 'import json,sys
for s in json.load(sys.stdin)["subsonic-response"]["searchResult3"]["song"]: print(s["title"], s["id"])')
big=$(echo "$ids" | awk '$1=="Big" {print $2}')
song=$(echo "$ids" | awk '$1=="Song" {print $2}')

mbs() { echo "scale=0; $1 / 1000000" | bc; }
# The best of three downloads of a URL, in MB/s.
best_of_3() {
  local best=0 s
  for _ in 1 2 3; do
    s=$(curl -s -o /dev/null -w '%{speed_download}' "$1")
    best=$(echo "if ($s > $best) $s else $best" | bc)
  done
  mbs "$best"
}
echo "== raw stream of a $(mbs "$big_size") MB file over loopback (best of 3)"
raw=$(best_of_3 "$base/stream?$auth&id=$big")
printf '  redoubt stream:              %6s MB/s\n' "$raw"
result "stream: raw, loopback" "$raw" "MB/s"

# The baseline: one sendfile(2) of the same file to a socket, no HTTP framework.
cat >"$work/sendfile.py" <<'PY'
import socket, sys
path, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(8)
size = __import__("os").path.getsize(path)
while True:
    c, _ = srv.accept()
    c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
    with open(path, "rb") as f:
        c.sendfile(f)
    c.close()
PY
bport=$((port + 1))
python3 "$work/sendfile.py" "$work/music/Bench/big.wav" "$bport" &
pids+=($!)
sleep 0.5
printf '  plain sendfile to a socket:  %6s MB/s\n' "$(best_of_3 "http://127.0.0.1:$bport/")"

echo "== time to first byte, opus transcode of a 4-minute flac (20 requests)"
for _ in $(seq 20); do
  curl -s -o /dev/null -w '%{time_starttransfer}\n' "$base/stream?$auth&id=$song&format=opus"
done | sort -n > "$work/ttfb"
awk '{a[NR]=$1} END {printf "  median %.1f ms   worst %.1f ms\n", a[int((NR+1)/2)]*1000, a[NR]*1000}' "$work/ttfb"
result "stream: opus transcode, time to first byte (median)" "$(awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]*1000}' "$work/ttfb")" "ms"

echo "== RSS while 20 clients stream (10 raw, 10 opus, 64 KB/s each)"
for i in $(seq 10); do
  curl -s -o /dev/null --limit-rate 64k "$base/stream?$auth&id=$big" &
  pids+=($!)
  curl -s -o /dev/null --limit-rate 64k "$base/stream?$auth&id=$song&format=opus" &
  pids+=($!)
done
sleep 4
for p in $pid $(pgrep -P "$pid"); do
  printf '  %-28s %s\n' "$(tr '\0' ' ' < /proc/$p/cmdline | cut -c1-28)" "$(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$p/status)"
done
tr=$(pgrep -P "$pid" -f transcoder || true)
ff=$(for t in $tr; do pgrep -P "$t"; done)
n=$(echo "$ff" | grep -c . || true)
total=$(for p in $ff; do awk '/VmRSS/ {print $2}' /proc/$p/status; done | awk '{s+=$1} END {printf "%.1f", s/1024}')
echo "  ffmpeg: $n processes, $total MB together"
