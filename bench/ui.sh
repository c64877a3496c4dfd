#!/usr/bin/env bash
# The web UI in headless chromium against a generated library: navigation to the album
# grid's first covers (cold and warm browser cache), a search-as-you-type result, and the
# UI's own code and styles on the wire, compressed (bench/ui.mjs). Asserts nothing.
#
#   bash bench/ui.sh [TRACKS] [RUNS]      # defaults 100000 and 7
# Needs ffmpeg, chromium and tests/browser's npm packages (`npm ci` there; .ci/run does it).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
tracks=${1:-100000}
runs=${2:-7}
[ -d tests/browser/node_modules/playwright-core ] || { echo "run npm ci in tests/browser first" >&2; exit 2; }
[ -n "${BENCH_NO_BUILD:-}${REDOUBT_BIN:-}" ] || cargo build --release --quiet
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --quiet --example gen_library
work=$(mktemp -d /tmp/redoubt-uibench.XXXXXX)
pid=
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
mkdir -p "$work/music" "$work/data"
"$target"/release/examples/gen_library "$work/music" "$tracks" | tail -1
source bench/lib.sh
start_daemon
# A word about 1% of the titles carry (the generator's vocabulary), for search as you type.
word=$(curl -s "$base/search3?$auth&f=json&query=&songCount=200&artistCount=0&albumCount=0" | python3 -c '
import collections, json, sys
songs = json.load(sys.stdin)["subsonic-response"]["searchResult3"]["song"]
words = collections.Counter(w.lower() for s in songs for w in s["title"].split() if w.isalpha() and len(w) > 3)
print(words.most_common(1)[0][0] if words else "track")')
echo "library: $tracks tracks; search word: $word"
node bench/ui.mjs "http://127.0.0.1:$port" bench bench-password "$word" "$runs"
