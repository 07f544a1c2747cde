#!/usr/bin/env bash
# Start/stop the local services Tessera's tests, CI and benchmarks use.
# usage: deploy/services.sh start|stop|status|env|smoke [postgres] [redis] [elasticsearch]
# No names = all three. See deploy/README.md.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL=(postgres redis elasticsearch)
usage() { echo "usage: $0 start|stop|status|env|smoke [${ALL[*]}]..." >&2; exit 2; }

[[ $# -ge 1 ]] || usage
cmd="$1"; shift
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${ALL[@]}")
for n in "${names[@]}"; do
  [[ " ${ALL[*]} " == *" $n "* ]] || { echo "unknown service: $n" >&2; usage; }
done

env_lines() {
  local n var
  for n in "$@"; do
    case "$n" in
      postgres) var=TESSERA_DATABASE_URL ;;
      redis) var=TESSERA_BROKER_URL ;;
      elasticsearch) var=TESSERA_ELASTICSEARCH_URL ;;
    esac
    echo "export $var=$("$DEPLOY_DIR/$n.sh" url)"
  done
}

# Written on start: <services dir>/env lists all three URLs, for `source`-ing.
write_env_file() {
  local tmp
  tmp="$(mktemp "$SERVICES_DIR/.env.XXXXXX")"
  env_lines "${ALL[@]}" >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$SERVICES_DIR/env"
}

case "$cmd" in
  start)
    for n in "${names[@]}"; do "$DEPLOY_DIR/$n.sh" start; done
    write_env_file
    ;;
  stop)
    # Reverse order; keep going so one failure does not leave the others running.
    rc=0
    for ((i = ${#names[@]} - 1; i >= 0; i--)); do "$DEPLOY_DIR/${names[i]}.sh" stop || rc=1; done
    exit "$rc"
    ;;
  status)
    rc=0
    for n in "${names[@]}"; do "$DEPLOY_DIR/$n.sh" status || rc=3; done
    exit "$rc"
    ;;
  env)
    env_lines "${names[@]}"
    ;;
  smoke)
    for n in "${names[@]}"; do "$DEPLOY_DIR/$n.sh" smoke; done
    ;;
  *) usage ;;
esac
