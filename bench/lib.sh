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
