#!/usr/bin/env bash
# Every benchmark, one table and one JSON file: scanning (full, no change, 1% changed; peak
# RSS), Subsonic reads cached and uncached (bench/api.sh), streaming (bench/stream.sh), cover
# art (bench/cover-art.sh) and authenticated pings (bench/http-ping.sh), at 100,000 tracks;
# scanning at 1,000,000 tracks as well with --million. Each script also prints its own lines.
#
#   bash bench/all.sh [--tracks N] [--million] [--out FILE] [--compare OLD.json]
#   BENCH_NO_BUILD=1 bash bench/all.sh     # measure target/release as it is (no cargo build)
#   REDOUBT_BIN=/path/to/redoubt bash bench/all.sh   # measure another build of the daemon
#
# --out (default target/bench/all-<date>.json) gets {"machine": …, "results": [{name, value,
# unit}]}; --compare prints each figure beside the old file's, with the change in percent.
# Needs what the scripts need: ffmpeg, wrk, curl, bc, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
tracks=100000 million= out= compare=
while [ $# -gt 0 ]; do
  case $1 in
    --tracks) tracks=$2; shift 2 ;;
    --million) million=1; shift ;;
    --out) out=$2; shift 2 ;;
    --compare) compare=$2; shift 2 ;;
    *) echo "usage: bash bench/all.sh [--tracks N] [--million] [--out FILE] [--compare OLD.json]" >&2; exit 2 ;;
  esac
done
target=${CARGO_TARGET_DIR:-target}
out=${out:-$target/bench/all-$(date -u +%Y%m%dT%H%M%SZ).json}
mkdir -p "$(dirname "$out")"
export BENCH_RESULTS
BENCH_RESULTS=$(mktemp /tmp/redoubt-bench-results.XXXXXX)
trap 'rm -f "$BENCH_RESULTS"' EXIT
[ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --quiet --example gen_library
step() { echo; echo "######## $*"; "$@"; }
step bash bench/scan.sh "$tracks"
[ -n "$million" ] && step bash bench/scan.sh 1000000
step bash bench/api.sh "$tracks"
step bash bench/stream.sh
step bash bench/cover-art.sh
step bash bench/http-ping.sh
python3 - "$BENCH_RESULTS" "$out" "$compare" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import json, os, platform, sys, time
results_file, out, compare, commit = sys.argv[1:5]
results = [json.loads(l) for l in open(results_file) if l.strip()]
doc = {
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "commit": commit,
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    "results": results,
}
json.dump(doc, open(out, "w"), indent=1)
old = {}
if compare:
    old = {r["name"]: r["value"] for r in json.load(open(compare))["results"]}
print()
print(f"{'figure':<72} {'value':>12}  unit" + (f"   {'before':>12}  change" if compare else ""))
for r in results:
    line = f"{r['name']:<72} {r['value']:>12.3f}  {r['unit']:<6}"
    if compare and r["name"] in old and old[r["name"]]:
        before = old[r["name"]]
        line += f" {before:>12.3f}  {100 * (r['value'] - before) / before:+6.1f}%"
    print(line)
print(f"\nwritten to {out}")
PY
