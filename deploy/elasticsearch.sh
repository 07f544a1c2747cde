#!/usr/bin/env bash
# Private single-node Elasticsearch on 127.0.0.1:$TESSERA_ES_PORT (default 59200),
# from the integ-test zip on Maven Central (a minimal distribution: server,
# x-pack-core/security, netty; no analysis-common, painless, ml or geoip).
# usage: deploy/elasticsearch.sh start|stop|status|url|smoke
set -euo pipefail
SERVICE_NAME=elasticsearch
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Newest 8.19.x served on Maven Central when this was written; runs on Java 17.
ES_VERSION="${TESSERA_ES_VERSION:-8.19.21}"
if [[ "${ES_VERSION%%.*}" -ge 9 ]]; then
  ES_JAVA_HOME_DEFAULT=/usr/lib/jvm/temurin-25-jdk-amd64   # 9.x needs Java 21+
else
  ES_JAVA_HOME_DEFAULT=/usr/lib/jvm/java-17-openjdk-amd64
fi
ES_JAVA="${TESSERA_ES_JAVA_HOME:-$ES_JAVA_HOME_DEFAULT}"
ES_HEAP_OPTS="${TESSERA_ES_JAVA_OPTS:--Xms1g -Xmx1g}"
ES_TIMEOUT="${TESSERA_ES_TIMEOUT:-120}"
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"

ES_DIR="$SERVICES_DIR/elasticsearch"
ES_HOME="$ES_DIR/elasticsearch-$ES_VERSION"
ES_DATA="$ES_DIR/data-$ES_VERSION"   # per version: data is not downgradable
ES_LOGS="$ES_DIR/logs"
ES_TMP="$ES_DIR/tmp"
ES_PID="$ES_DIR/elasticsearch.pid"
ES_OUT="$ES_DIR/startup.log"
ES_URL="http://127.0.0.1:$ES_PORT"

es_ours() { pid_alive "$ES_PID" org.elasticsearch; }
es_ready() { curl -sf -o /dev/null "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=1s"; }

es_fetch() {
  local zip="$DOWNLOADS_DIR/elasticsearch-$ES_VERSION.zip"
  if [[ ! -s "$zip" ]]; then
    command -v mvn >/dev/null || apt_install maven
    local tmp
    tmp="$(mktemp -d "$DOWNLOADS_DIR/.mvn.XXXXXX")"
    log "downloading $ES_ARTIFACT with Maven"
    # Run outside any project so a pom.xml in the caller's directory is ignored.
    (cd "$tmp" && mvn -q -B dependency:copy -Dartifact="$ES_ARTIFACT" -DoutputDirectory="$tmp") \
      >"$ES_DIR/download.log" 2>&1 || { rm -rf "$tmp"; die "Maven download failed" "$ES_DIR/download.log"; }
    mv "$tmp/elasticsearch-$ES_VERSION.zip" "$zip"
    rm -rf "$tmp"
  fi
  if [[ ! -x "$ES_HOME/bin/elasticsearch" ]]; then
    command -v unzip >/dev/null || apt_install unzip
    local tmp
    tmp="$(mktemp -d "$ES_DIR/.unzip.XXXXXX")"
    unzip -q "$zip" -d "$tmp" || { rm -rf "$tmp"; die "unzip of $zip failed (remove it to re-download)"; }
    rm -rf "$ES_HOME"
    mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
    rm -rf "$tmp"
    if is_root; then chown -R "$SERVICE_USER:" "$ES_HOME"; fi   # ES writes config/ (keystore)
  fi
}

do_start() {
  if es_ours; then
    wait_until "$ES_TIMEOUT" "running Elasticsearch on port $ES_PORT" "$ES_LOGS/tessera.log" es_ready
    log "already running on 127.0.0.1:$ES_PORT"
    return 0
  fi
  require_free_port "$ES_PORT" "$ES_TRANSPORT_PORT"
  [[ -x "$ES_JAVA/bin/java" ]] || die "no Java at $ES_JAVA (set TESSERA_ES_JAVA_HOME)"
  ensure_service_user
  svc_dir "$ES_DIR"
  es_fetch
  svc_dir "$ES_DATA" "$ES_LOGS" "$ES_TMP"
  local args=(
    -E cluster.name=tessera -E discovery.type=single-node
    -E network.host=127.0.0.1 -E http.port="$ES_PORT" -E transport.port="$ES_TRANSPORT_PORT"
    -E path.data="$ES_DATA" -E path.logs="$ES_LOGS"
    -E cluster.routing.allocation.disk.threshold_enabled=false
  )
  # Only pass settings whose module ships in this distribution (unknown settings are fatal).
  if [[ -d "$ES_HOME/modules/x-pack-core" ]]; then
    args+=(-E xpack.security.enabled=false -E xpack.ml.enabled=false)
  fi
  if [[ -d "$ES_HOME/modules/ingest-geoip" ]]; then
    args+=(-E ingest.geoip.downloader.enabled=false)
  fi
  rm -f "$ES_PID"
  rotate_log "$ES_LOGS/tessera.log"
  log "starting $ES_VERSION on 127.0.0.1:$ES_PORT (log: $ES_LOGS/tessera.log)"
  # -d returns once the node has started (or failed to).
  if ! as_svc env -u JAVA_HOME ES_JAVA_HOME="$ES_JAVA" ES_TMPDIR="$ES_TMP" ES_JAVA_OPTS="$ES_HEAP_OPTS" \
    timeout "$ES_TIMEOUT" "$ES_HOME/bin/elasticsearch" -d -p "$ES_PID" "${args[@]}" >"$ES_OUT" 2>&1; then
    kill_pidfile "$ES_PID" org.elasticsearch 30
    die "Elasticsearch failed to start" "$ES_OUT" "$ES_LOGS/tessera.log"
  fi
  wait_until "$ES_TIMEOUT" "Elasticsearch on port $ES_PORT" "$ES_LOGS/tessera.log" es_ready
  log "ready: $ES_URL"
}

do_stop() {
  if ! es_ours; then rm -f "$ES_PID"; log "not running"; return 0; fi
  kill_pidfile "$ES_PID" org.elasticsearch 60
  log "stopped"
}

do_status() {
  if es_ours && es_ready; then
    echo "elasticsearch: running (pid $(head -n1 "$ES_PID")) on 127.0.0.1:$ES_PORT"
  else
    echo "elasticsearch: stopped"; return 3
  fi
}

do_url() { echo "$ES_URL"; }

# kNN round trip on a dense_vector index; prints the server's version.
do_smoke() {
  local idx="tessera-smoke-$$" hdr=(-H 'Content-Type: application/json')
  local version hits
  # GET / lives in the rest-root module, absent from the integ-test zip.
  version="$(curl -sf "$ES_URL/_nodes/_local?filter_path=nodes.*.version" | grep -o '"version":"[^"]*"' | cut -d'"' -f4)"
  curl -sf -XPUT "$ES_URL/$idx" "${hdr[@]}" -o /dev/null -d '{
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {"properties": {"v": {"type": "dense_vector", "dims": 3, "index": true, "similarity": "cosine"}}}}' ||
    die "creating index $idx failed"
  curl -sf -XPUT "$ES_URL/$idx/_doc/near" "${hdr[@]}" -o /dev/null -d '{"v": [1, 0, 0]}'
  curl -sf -XPUT "$ES_URL/$idx/_doc/far?refresh=true" "${hdr[@]}" -o /dev/null -d '{"v": [0, 0, 1]}'
  hits="$(curl -sf "$ES_URL/$idx/_search?filter_path=hits.hits._id" "${hdr[@]}" -d '{
    "knn": {"field": "v", "query_vector": [0.9, 0.1, 0], "k": 2, "num_candidates": 10}}')" || hits=""
  curl -sf -XDELETE "$ES_URL/$idx" -o /dev/null || true
  [[ "$hits" == '{"hits":{"hits":[{"_id":"near"},{"_id":"far"}]}}' ]] ||
    die "kNN search returned unexpected hits: ${hits:-<request failed>}"
  echo "elasticsearch $version: dense_vector kNN ok ($hits)"
}

service_main "$@"
