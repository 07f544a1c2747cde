# shellcheck shell=bash
# shellcheck disable=SC2034  # variables here are used by the scripts that source this
# Shared helpers for deploy/*.sh. Sourced, never executed.

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$DEPLOY_DIR/.." && pwd)"

# world_traversable DIR: every ancestor lets other users in (the service user must reach its data).
world_traversable() {
  local d="$1"
  while [[ "$d" != "/" && -n "$d" ]]; do
    [[ "$(stat -c %A "$d" | cut -c10)" =~ [xt] ]] || return 1
    d="$(dirname "$d")"
  done
}

# Default state dir: inside the checkout, unless the checkout sits where the unprivileged
# service user cannot reach it (e.g. under /root); then a per-checkout folder in /var/tmp.
default_services_dir() {
  if [[ "$(id -u)" -eq 0 ]] && ! world_traversable "$REPO_DIR"; then
    echo "/var/tmp/tessera-services/$(printf '%s' "$REPO_DIR" | md5sum | cut -c1-10)"
  else
    echo "$REPO_DIR/.cache/services"
  fi
}

SERVICES_DIR="${TESSERA_SERVICES_DIR:-$(default_services_dir)}"
DOWNLOADS_DIR="${TESSERA_DOWNLOADS_DIR:-$REPO_DIR/.cache/downloads}"
mkdir -p "$SERVICES_DIR" "$DOWNLOADS_DIR"
SERVICES_DIR="$(cd "$SERVICES_DIR" && pwd)"
DOWNLOADS_DIR="$(cd "$DOWNLOADS_DIR" && pwd)"

PG_PORT="${TESSERA_PG_PORT:-55432}"
REDIS_PORT="${TESSERA_REDIS_PORT:-56379}"
ES_PORT="${TESSERA_ES_PORT:-59200}"
ES_TRANSPORT_PORT="${TESSERA_ES_TRANSPORT_PORT:-59300}"

# Services never run as root: as root we switch to this system user
# (created on demand); as any other user we run as that user.
SERVICE_USER="${TESSERA_SERVICE_USER:-tessera}"

log() { printf '[%s] %s\n' "${SERVICE_NAME:-services}" "$*" >&2; }

# die MESSAGE [LOGFILE...]: print MESSAGE and the tail of each log, exit 1.
die() {
  local msg="$1"; shift
  printf '[%s] ERROR: %s\n' "${SERVICE_NAME:-services}" "$msg" >&2
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
  exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Run a command as the unprivileged service user (from a directory it can read).
# fd 9 (the service lock) is closed so daemons started here do not inherit it.
as_svc() {
  if is_root; then
    (cd "$SERVICES_DIR" && runuser -u "$SERVICE_USER" -- "$@" 9>&-)
  else
    "$@" 9>&-
  fi
}

ensure_service_user() {
  is_root || return 0
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    log "creating system user $SERVICE_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
}

# Create DIR owned by the service user and check that user can write it.
svc_dir() {
  local d
  for d in "$@"; do
    mkdir -p "$d"
    if is_root; then chown "$SERVICE_USER:" "$d"; fi
    as_svc test -w "$d" ||
      die "user $SERVICE_USER cannot write $d (is a parent directory private? set TESSERA_SERVICES_DIR)"
  done
}

# apt_install PACKAGE...: quiet install, only possible as root.
apt_install() {
  is_root || die "missing $*; install it (apt-get install -y $*) or run as root"
  local alog="$SERVICES_DIR/apt.log"
  log "installing $* with apt-get (log: $alog)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; } \
    >"$alog" 2>&1 || die "apt-get install $* failed" "$alog"
}

# wait_until SECONDS WHAT LOGFILE CMD...: poll CMD until it succeeds.
wait_until() {
  local timeout="$1" what="$2" logfile="$3"; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not become ready within ${timeout}s" "$logfile"
    sleep 0.5
  done
}

# rotate_log FILE: keep the previous run's log as FILE.prev so error tails show this run only.
rotate_log() { if [[ -f "$1" ]]; then mv -f "$1" "$1.prev"; fi; }

# reserve_ports PORT...: keep the kernel from handing these ports to outgoing connections, whose
# local port would make the service's bind fail (the default ports lie in the ephemeral range).
# Root only, best effort.
reserve_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports current p
  is_root && [[ -w "$file" ]] || return 0
  current="$(cat "$file")"
  for p in "$@"; do current="${current:+$current,}$p"; done
  echo "$current" >"$file" 2>/dev/null || true
}

# require_free_port PORT...: reserve the ports, then fail fast if something already listens there.
require_free_port() {
  local p
  reserve_ports "$@"
  for p in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      die "port $p on 127.0.0.1 is already in use by another process (see: ss -ltnp | grep :$p)"
    fi
  done
}

# pid_alive PIDFILE PATTERN: pid in file is alive and its command line matches.
pid_alive() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(head -n1 "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

# kill_pidfile PIDFILE PATTERN SECONDS: SIGTERM, wait, then SIGKILL.
kill_pidfile() {
  local pidfile="$1" pattern="$2" timeout="$3" pid
  pid_alive "$pidfile" "$pattern" || { rm -f "$pidfile"; return 0; }
  pid="$(head -n1 "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$pidfile"
}

# Serialise concurrent start/stop of one service (e.g. parallel CI jobs).
lock_service() {
  exec 9>"$SERVICES_DIR/.$1.lock"
  flock -w 300 9 || die "could not take lock $SERVICES_DIR/.$1.lock"
}

# Standard command dispatch for a service script defining
# do_start / do_stop / do_status / do_url / do_smoke.
service_main() {
  case "${1:-}" in
    start) lock_service "$SERVICE_NAME"; do_start ;;
    stop) lock_service "$SERVICE_NAME"; do_stop ;;
    status) do_status ;;
    url) do_url ;;
    smoke) do_smoke ;;
    *) echo "usage: $0 start|stop|status|url|smoke" >&2; exit 2 ;;
  esac
}
