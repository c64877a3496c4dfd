# What the benchmarks share (sourced, not run). With $target (the cargo target folder) and
# $work (holding music/ and data/) set, `start_daemon [NAME=VALUE ...]` starts the release
# binary the way a user does (as nobody when run as root), with the given environment, adds
# the user "bench", waits for the first scan to finish, and sets $pid, $port, $base and $auth
# (user, password, version and client; no format).
start_daemon() {
  # REDOUBT_BIN: another build to measure (say, the previous commit's) instead of this tree's.
  cp "${REDOUBT_BIN:-$target/release/redoubt}" "$work/redoubt"
  chmod -R a+rX "$work"
  local as_user=()
  if [ "$(id -u)" = 0 ]; then
    chown nobody "$work/data"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
  fi
  local folders=(--data-folder "$work/data" --music-folder "$work/music")
  echo "bench-password" | "${as_user[@]}" "$work/redoubt" user add bench "${folders[@]}" >/dev/null
  port=$((20000 + RANDOM % 20000))
  env "$@" "${as_user[@]}" "$work/redoubt" serve "${folders[@]}" --port "$port" --log-level warn 2>"$work/log" &
  pid=$!
  base="http://127.0.0.1:$port/rest"
  auth="u=bench&p=bench-password&v=1.16.1&c=bench"
  local s
  for _ in $(seq 1200); do
    s=$(curl -s "$base/getScanStatus?$auth&f=json" || true)
    echo "$s" | grep -q '"scanning":false' && echo "$s" | grep -q '"lastScan"' && return 0
    sleep 0.5
  done
  echo "the daemon did not finish its first scan:" >&2
  cat "$work/log" >&2
  return 1
}

# `result NAME VALUE UNIT`: one figure for bench/all.sh, appended as a JSON line to
# $BENCH_RESULTS when it is set (the scripts print their own tables either way).
result() {
  [ -n "${BENCH_RESULTS:-}" ] || return 0
  # A figure a run did not produce (a wrk run that failed, say) is said, not written as JSON.
  if ! [[ "$2" =~ ^-?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; then
    echo "bench: no figure for \"$1\" (got \"$2\")" >&2
    return 0
  fi
  # Numbers as JSON wants them (bc writes ".5").
  printf '{"name": "%s", "value": %s, "unit": "%s"}\n' "${1//\"/\\\"}" "$(echo "$2" | awk '{printf "%.4f", $1}')" "$3" >> "$BENCH_RESULTS"
}

# wrk's latency ("812.00us", "3.21ms", "1.02s") in milliseconds.
wrk_ms() {
  case $1 in
    *us) echo "${1%us} / 1000" | bc -l ;;
    *ms) echo "${1%ms}" ;;
    *s) echo "${1%s} * 1000" | bc -l ;;
  esac | awk '{printf "%.3f", $1}'
}

# `wrk_figures LABEL WRK-OUTPUT`: its requests per second and p99 as results.
wrk_figures() {
  local rps p99
  rps=$(echo "$2" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$2" | awk '$1=="99%" {print $2}')
  result "$1 (req/s)" "$rps" "req/s"
  result "$1 (p99)" "$(wrk_ms "$p99")" "ms"
}

# `every_album_script LUA IDS`: with $base and $auth (format included) set, writes every
# album's id (alphabetical order, 500 a page) to IDS and a wrk script to LUA that asks for
# them with getAlbum in turn, so that nearly every request misses the front's cache.
every_album_script() {
  local offset=0 page
  : > "$2"
  while :; do
    page=$(curl -s "$base/getAlbumList2?type=alphabeticalByName&size=500&offset=$offset&$auth" | python3 -c '
import json, sys
print("\n".join(a["id"] for a in json.load(sys.stdin)["subsonic-response"]["albumList2"].get("album", [])))')
    [ -n "$page" ] || break
    echo "$page" >> "$2"
    offset=$((offset + 500))
  done
  {
    echo "local ids = {"
    sed 's/.*/  "&",/' "$2"
    echo "}"
    album_requests
  } > "$1"
}

# The wrk Lua that asks for getAlbum of the ids in `ids`, in turn (after a script's `local ids`).
album_requests() {
  cat <<LUA
local n = 0
request = function()
  n = n % #ids + 1
  return wrk.format("GET", "/rest/getAlbum?$auth&id=" .. ids[n])
end
LUA
}

# `list_pages_script LUA TYPE ALBUMS`: with $auth (format included) set, writes a wrk script
# to LUA that asks for getAlbumList2 of TYPE over distinct pages of 50, offset after offset
# through ALBUMS albums, so that nearly every request misses the front's cache.
list_pages_script() {
  cat > "$1" <<LUA
local offset = 0
request = function()
  offset = (offset + 50) % $3
  return wrk.format("GET", "/rest/getAlbumList2?$auth&type=$2&size=50&offset=" .. offset)
end
LUA
}
