#!/usr/bin/env bash
# Private Redis (no persistence) on 127.0.0.1:$TESSERA_REDIS_PORT (default 56379).
# usage: deploy/redis.sh start|stop|status|url|smoke
set -euo pipefail
SERVICE_NAME=redis
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REDIS_TIMEOUT="${TESSERA_REDIS_TIMEOUT:-30}"
REDIS_DIR="$SERVICES_DIR/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
redis_ready() { [[ "$(cli ping 2>/dev/null)" == PONG ]]; }
redis_ours() { pid_alive "$REDIS_PID" redis-server; }

do_start() {
  if redis_ours; then
    wait_until "$REDIS_TIMEOUT" "running Redis on port $REDIS_PORT" "$REDIS_LOG" redis_ready
    log "already running on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install redis-server
  fi
  require_free_port "$REDIS_PORT"
  ensure_service_user
  svc_dir "$REDIS_DIR"
  rm -f "$REDIS_PID"
  rotate_log "$REDIS_LOG"
  log "starting on 127.0.0.1:$REDIS_PORT (log: $REDIS_LOG)"
  as_svc redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save '' --appendonly no --dir "$REDIS_DIR" \
    --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" ||
    die "redis-server failed to start" "$REDIS_LOG"
  wait_until "$REDIS_TIMEOUT" "Redis on port $REDIS_PORT" "$REDIS_LOG" redis_ready
  wait_until 5 "Redis pid file" "$REDIS_LOG" redis_ours
  log "ready: $(do_url)"
}

do_stop() {
  if ! redis_ours; then rm -f "$REDIS_PID"; log "not running"; return 0; fi
  local pid
  pid="$(head -n1 "$REDIS_PID")"
  cli shutdown nosave >/dev/null 2>&1 || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  # Fallback if SHUTDOWN did not work: SIGTERM, then SIGKILL.
  echo "$pid" >"$REDIS_PID"
  kill_pidfile "$REDIS_PID" redis-server 10
  log "stopped"
}

do_status() {
  if redis_ours && redis_ready; then
    echo "redis: running (pid $(head -n1 "$REDIS_PID")) on 127.0.0.1:$REDIS_PORT"
  else
    echo "redis: stopped"; return 3
  fi
}

do_url() { echo "redis://127.0.0.1:$REDIS_PORT/0"; }

do_smoke() {
  local key="tessera:smoke:$$"
  cli set "$key" ok EX 60 >/dev/null
  [[ "$(cli get "$key")" == ok ]] || die "SET/GET round trip failed"
  cli del "$key" >/dev/null
  echo "redis $(cli info server | sed -n 's/^redis_version:\(.*\)\r$/\1/p'): SET/GET ok"
}

service_main "$@"
