#!/usr/bin/env bash
# A throwaway Redis server for CI and local test runs: no persistence, on a free port of
# 127.0.0.1, in a temporary folder. The rate-limit tests point two app instances at it.
#
# Usage (run it with bash; do not source it, it exits on errors):
#   redis_env=$(bash scripts/ci-redis.sh start)   # a failure stops a `set -e` caller here;
#   eval "$redis_env"                             # `eval "$(... start)"` alone would not
#       Installs Debian's `redis-server` package only if no redis-server is found, then starts
#       it. Prints only `export` lines on stdout (everything else goes to stderr):
#         REDISTMP         the server's folder (pid file, log), the handle for `stop`
#         TEST_REDIS_URL   redis://127.0.0.1:<port>, for test/http/rate-limits.test.ts
#   bash scripts/ci-redis.sh stop "$REDISTMP"
#       Stops the server (SIGTERM, then SIGKILL) and removes the folder. Harmless if it is down.
set -euo pipefail

MARKER=.ci-redis

log() { printf '%s\n' "ci-redis: $*" >&2; }

install_redis() {
  if [ "$(id -u)" -ne 0 ]; then
    log "redis-server not found and not root: install Redis (Debian: apt-get install redis-server)"
    exit 1
  fi
  log "redis-server not found: installing Debian's redis-server package"
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >&2
}

free_port() {
  node -e "const s = require('node:net').createServer();
    s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

start() {
  command -v redis-server >/dev/null 2>&1 || install_redis
  command -v redis-server >/dev/null 2>&1 || { log "no redis-server even after installing"; exit 1; }

  local dir port pid
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ci-redis.XXXXXX")
  # From here on, a failure must not leave a server or a folder behind.
  trap 'stop "$dir" >/dev/null 2>&1 || true' ERR
  touch "$dir/$MARKER"
  port=$(free_port)
  log "starting on 127.0.0.1:$port ($dir)"
  # No RDB snapshots, no append-only file: nothing is written, nothing survives.
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2

  # Ready when it answers PING (redis-cli comes with the package; bash's /dev/tcp otherwise).
  local i
  for i in $(seq 1 100); do
    if redis_ping "$port"; then break; fi
    if [ "$i" -eq 100 ]; then
      cat "$dir/redis.log" >&2 || true
      log "redis-server did not answer on port $port"
      false
    fi
    sleep 0.1
  done
  trap - ERR
  pid=$(cat "$dir/redis.pid")

  printf 'export REDISTMP=%q\n' "$dir"
  printf 'export TEST_REDIS_URL=%q\n' "redis://127.0.0.1:$port"
  printf '# redis-server pid %s; stop with: bash scripts/ci-redis.sh stop "$REDISTMP"\n' "$pid"
}

redis_ping() {
  local port=$1
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null
  fi
}

stop() {
  local dir=${1:-}
  if [ -z "$dir" ] || [ ! -f "$dir/$MARKER" ]; then
    log "stop: '$dir' is not a folder made by 'ci-redis.sh start'"
    exit 1
  fi
  if [ -f "$dir/redis.pid" ]; then
    local pid i
    pid=$(cat "$dir/redis.pid")
    log "stopping redis-server $pid"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *)
    log "usage: redis_env=\$(bash scripts/ci-redis.sh start); eval \"\$redis_env\"; ...; bash scripts/ci-redis.sh stop \"\$REDISTMP\""
    exit 2
    ;;
esac
