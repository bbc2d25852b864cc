#!/usr/bin/env bash
# A throwaway PostgreSQL server for CI and local test runs: a fresh cluster in a temporary
# folder, on a free port of 127.0.0.1, with a random superuser password.
#
# Usage (run it with bash; do not source it, it exits on errors):
#   pg_env=$(bash scripts/ci-postgres.sh start)   # a failure stops a `set -e` caller here;
#   eval "$pg_env"                                # `eval "$(... start)"` alone would not
#       Installs Debian's `postgresql` package only if no initdb is found, then starts the
#       cluster. Prints only `export` lines on stdout (everything else goes to stderr):
#         PGTMP              the cluster's folder, the handle for `stop`
#         TEST_POSTGRES_URL  superuser URL: the store and HTTP suites create their databases
#         TEST_POSTGRES_BIN  folder with initdb/pg_ctl/postgres, for the outage test's own cluster
#   bash scripts/ci-postgres.sh stop "$PGTMP"
#       Fast shutdown, then removes the folder. Harmless if the server is already down.
#
# PostgreSQL refuses to run as root, so as root the binaries run as the `postgres` OS user
# (created by Debian's package) and the folder belongs to it.
set -euo pipefail

MARKER=.ci-postgres

log() { printf '%s\n' "ci-postgres: $*" >&2; }

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Newest Debian install first (/usr/lib/postgresql/<major>/bin); else wherever initdb is on PATH,
# following symlinks to the folder that also holds pg_ctl and postgres.
find_bin_dir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1; then
    dir=$(dirname "$(readlink -f "$(command -v initdb)")")
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  fi
  return 1
}

install_postgres() {
  if [ "$(id -u)" -ne 0 ]; then
    log "initdb not found and not root: install PostgreSQL (Debian: apt-get install postgresql)"
    exit 1
  fi
  log "initdb not found: installing Debian's postgresql package"
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
}

free_port() {
  node -e "const s = require('node:net').createServer();
    s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

start() {
  local bin_dir
  bin_dir=$(find_bin_dir) || { install_postgres; bin_dir=$(find_bin_dir); } || {
    log "no initdb/pg_ctl/postgres found even after installing"
    exit 1
  }
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi

  local dir port password
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ci-postgres.XXXXXX")
  # From here on, a failure must not leave a server or a folder behind.
  trap 'stop "$dir" >/dev/null 2>&1 || true' ERR
  touch "$dir/$MARKER"
  printf '%s\n' "$bin_dir" >"$dir/bin-dir"
  password=$(od -An -tx1 -N18 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$password" >"$dir/pwfile"
  chmod 600 "$dir/pwfile"
  chmod 700 "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$dir"; fi

  log "initdb in $dir ($bin_dir)"
  # Password (SCRAM) over TCP like a real server; trust only on the Unix socket inside $dir.
  # --no-sync and fsync=off: the cluster is thrown away, durability would only cost time.
  (cd "$dir" && as_postgres "$bin_dir/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >&2)
  rm -f "$dir/pwfile"

  port=$(free_port)
  log "starting on 127.0.0.1:$port"
  if ! (cd "$dir" && as_postgres "$bin_dir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >&2); then
    cat "$dir/server.log" >&2 || true
    false
  fi
  trap - ERR

  printf 'export PGTMP=%q\n' "$dir"
  printf 'export TEST_POSTGRES_URL=%q\n' "postgres://postgres:$password@127.0.0.1:$port/postgres"
  printf 'export TEST_POSTGRES_BIN=%q\n' "$bin_dir"
  printf '# stop with: bash scripts/ci-postgres.sh stop "$PGTMP"\n'
}

stop() {
  local dir=${1:-}
  if [ -z "$dir" ] || [ ! -f "$dir/$MARKER" ]; then
    log "stop: '$dir' is not a folder made by 'ci-postgres.sh start'"
    exit 1
  fi
  local bin_dir
  bin_dir=$(cat "$dir/bin-dir")
  if [ -f "$dir/data/postmaster.pid" ]; then
    log "stopping the server in $dir"
    (cd "$dir" && as_postgres "$bin_dir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2) || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *)
    log "usage: eval \"\$(bash scripts/ci-postgres.sh start)\"; ...; bash scripts/ci-postgres.sh stop \"\$PGTMP\""
    exit 2
    ;;
esac
