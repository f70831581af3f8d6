#!/usr/bin/env bash
# Start (or stop) the servers the tests use, on 127.0.0.1 only: PostgreSQL 15 with pgvector, and
# Redis. Idempotent and safe to call from several test files at once (flock). Prints the URLs as
# shell assignments, e.g. `eval "$(.ci/services.sh start)"`.
#   .ci/services.sh install   Debian packages (the servers, chromium, tesseract, poppler, qemu-user)
#                             + pgvector from ../shared/vendor (root, once)
#   .ci/services.sh start     start both if they are not running; print INFUSE_TEST_*_URL=...
#   .ci/services.sh stop      stop both
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="${INFUSE_SERVICES_DIR:-/tmp/infuse-test-services}"
pg_port="${INFUSE_TEST_PG_PORT:-54329}"
redis_port="${INFUSE_TEST_REDIS_PORT:-63790}"
pg_bin=/usr/lib/postgresql/15/bin

install() {
  local need=()
  [ -x "$pg_bin/postgres" ] || need+=(postgresql-15)
  [ -x "$pg_bin/pg_config" ] || [ -e /usr/lib/postgresql/15/lib/pgxs ] || need+=(postgresql-server-dev-15)
  command -v make >/dev/null && command -v cc >/dev/null || need+=(build-essential)
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v chromium >/dev/null || need+=(chromium)
  command -v tesseract >/dev/null || need+=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-vie)
  command -v pdftoppm >/dev/null || need+=(poppler-utils)
  # an emulated AVX2 CPU (no AVX-512, no VNNI) for test/models/layer-graph-avx2.test.ts
  command -v qemu-x86_64 >/dev/null || need+=(qemu-user)
  if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ ! -e /usr/share/postgresql/15/extension/vector.control ]; then
    local tarball build
    tarball=$(ls "$root"/../shared/vendor/pgvector-*.tar.gz | tail -1)
    build=$(mktemp -d)
    tar xzf "$tarball" -C "$build"
    (cd "$build"/pgvector-* && make -s PG_CONFIG=/usr/bin/pg_config >/dev/null && make -s install PG_CONFIG=/usr/bin/pg_config >/dev/null)
    rm -rf "$build"
  fi
}

start() {
  mkdir -p "$state"
  exec 9>"$state/lock"
  flock 9
  if [ -x "$pg_bin/postgres" ]; then
    if [ ! -e "$state/pg/PG_VERSION" ]; then
      mkdir -p "$state/pg" && chown postgres "$state/pg" "$state"
      runuser -u postgres -- "$pg_bin/initdb" -D "$state/pg" -U postgres --auth=trust >/dev/null
    fi
    if ! runuser -u postgres -- "$pg_bin/pg_ctl" -D "$state/pg" status >/dev/null 2>&1; then
      # 9>&-: the server must not inherit the lock's descriptor, or it holds the lock for its whole life
      runuser -u postgres -- "$pg_bin/pg_ctl" -D "$state/pg" -l "$state/pg.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $state -c max_connections=200 -c fsync=off" start >/dev/null 9>&-
    fi
    echo "INFUSE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
  fi
  if command -v redis-server >/dev/null; then
    if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
      redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes --save "" --appendonly no \
        --dir "$state" --logfile "$state/redis.log" --pidfile "$state/redis.pid" >/dev/null 9>&-
      for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    echo "INFUSE_TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
  fi
}

stop() {
  [ -e "$state/pg/PG_VERSION" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$state/pg" -m fast stop >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
