#!/usr/bin/env bash
# Private PostgreSQL cluster on 127.0.0.1:$TESSERA_PG_PORT (default 55432).
# usage: deploy/postgres.sh start|stop|status|url|smoke
set -euo pipefail
SERVICE_NAME=postgres
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_ROLE=tessera
PG_PASSWORD=tessera
PG_DB=tessera
PG_TIMEOUT="${TESSERA_PG_TIMEOUT:-60}"

PG_DIR="$SERVICES_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"

# Binaries: $TESSERA_PG_BIN, else the newest Debian PostgreSQL installed.
find_pg_bin() {
  if [[ -n "${TESSERA_PG_BIN:-}" ]]; then echo "$TESSERA_PG_BIN"; return; fi
  local d
  d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n1)"
  [[ -n "$d" && -x "$d/pg_ctl" ]] && echo "$d"
}

# pg_setup_bin [install]: set PG_BIN; with "install", apt-get install if missing.
pg_setup_bin() {
  PG_BIN="$(find_pg_bin || true)"
  if [[ -z "$PG_BIN" && "${1:-}" == install ]]; then
    apt_install postgresql
    PG_BIN="$(find_pg_bin)" || die "PostgreSQL binaries not found after install"
  fi
}

pg_running() { [[ -f "$PG_DATA/PG_VERSION" ]] && as_svc "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }
pg_super() { as_svc "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres "$@"; }

pg_init() {
  log "initdb in $PG_DATA"
  as_svc "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --encoding=UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 ||
    die "initdb failed" "$PG_DIR/initdb.log"
  echo "include_if_exists = 'tessera.conf'" | as_svc tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# Rewritten on every start so port changes apply. Durability defaults kept.
pg_write_conf() {
  as_svc tee "$PG_DATA/tessera.conf" >/dev/null <<EOF
# Written by deploy/postgres.sh on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 256MB
EOF
}

# Role and database; idempotent, done once per cluster (marker file).
# Idempotent; the marker's number changes when this SQL does, so existing clusters get the change.
pg_bootstrap() {
  [[ -f "$PG_DIR/.bootstrapped-2" ]] && return 0
  pg_super -d postgres >/dev/null <<SQL || die "creating role/database failed" "$PG_LOG"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_ROLE'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
-- DROP DATABASE ... WITH (FORCE) (tests, benchmarks) must also end an autovacuum worker in that database
GRANT pg_signal_backend TO $PG_ROLE;
SQL
  touch "$PG_DIR/.bootstrapped-2"
}

do_start() {
  pg_setup_bin install
  if pg_running && pg_ready; then
    pg_bootstrap
    log "already running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  ensure_service_user
  svc_dir "$PG_DIR" "$PG_SOCK"
  [[ -f "$PG_DATA/PG_VERSION" ]] || { rm -f "$PG_DIR"/.bootstrapped*; pg_init; }
  local have want
  have="$(cat "$PG_DATA/PG_VERSION")"
  want="$("$PG_BIN/pg_ctl" --version | awk '{split($3, v, "."); print v[1]}')"
  [[ "$have" == "$want" ]] ||
    die "cluster $PG_DATA is PostgreSQL $have but binaries are $want; remove $PG_DIR to re-create it"
  if ! pg_running; then
    require_free_port "$PG_PORT"
    pg_write_conf
    rotate_log "$PG_LOG"
    log "starting on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
    as_svc "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_TIMEOUT" start >"$PG_DIR/pg_ctl.log" 2>&1 ||
      die "pg_ctl start failed" "$PG_DIR/pg_ctl.log" "$PG_LOG"
  fi
  wait_until "$PG_TIMEOUT" "PostgreSQL on port $PG_PORT" "$PG_LOG" pg_ready
  pg_bootstrap
  log "ready: $(do_url)"
}

do_stop() {
  pg_setup_bin
  if [[ -z "$PG_BIN" ]] || ! pg_running; then log "not running"; return 0; fi
  as_svc "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$PG_TIMEOUT" stop >/dev/null ||
    die "pg_ctl stop failed" "$PG_LOG"
  log "stopped"
}

do_status() {
  pg_setup_bin
  if [[ -n "$PG_BIN" ]] && pg_running && pg_ready; then
    echo "postgres: running (pid $(head -n1 "$PG_DATA/postmaster.pid")) on 127.0.0.1:$PG_PORT"
  else
    echo "postgres: stopped"; return 3
  fi
}

do_url() { echo "postgresql+psycopg://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"; }

# Log in over TCP with the password, as an application would.
do_smoke() {
  pg_setup_bin
  [[ -n "$PG_BIN" ]] || die "PostgreSQL is not installed"
  PGPASSWORD="$PG_PASSWORD" "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" \
    -c "SELECT current_user || '@' || current_database() || ': ' || version()"
}

service_main "$@"
