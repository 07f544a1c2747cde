#!/usr/bin/env bash
# Run a command with the local PostgreSQL, Redis and Elasticsearch started and their URLs exported;
# stop afterwards only the services this script started. Used by `make test` and CI.
# usage: deploy/with-services.sh COMMAND [ARGS...]
set -euo pipefail
DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -ge 1 ]] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

started=()
stop_started() {
  if [[ ${#started[@]} -gt 0 ]]; then
    echo "[with-services] stopping: ${started[*]}" >&2
    bash "$DEPLOY_DIR/services.sh" stop "${started[@]}" || true
  fi
}
trap stop_started EXIT

for name in postgres redis elasticsearch; do
  if ! bash "$DEPLOY_DIR/services.sh" status "$name" >/dev/null 2>&1; then
    bash "$DEPLOY_DIR/services.sh" start "$name"
    started+=("$name")
  else
    echo "[with-services] reusing running $name" >&2
  fi
done
eval "$(bash "$DEPLOY_DIR/services.sh" env)"
export TESSERA_DATABASE_URL TESSERA_BROKER_URL TESSERA_ELASTICSEARCH_URL
echo "[with-services] PostgreSQL, Redis and Elasticsearch are up:" >&2
echo "  $TESSERA_DATABASE_URL" | sed 's#://[^@]*@#://***@#' >&2
echo "  $TESSERA_BROKER_URL" >&2
echo "  $TESSERA_ELASTICSEARCH_URL" >&2
"$@"
