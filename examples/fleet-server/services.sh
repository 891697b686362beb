#!/usr/bin/env bash
# Starts (or stops) a private PostgreSQL cluster and a mosquitto broker on loopback for the
# fleet-server integration suite, the crash test and the load test.
#
#   eval "$(examples/fleet-server/services.sh start)"   # exports FLEET_TEST_POSTGRES, FLEET_TEST_MQTT
#   examples/fleet-server/services.sh stop
#
# Installs nothing; prints "SKIP: ..." on stderr (and exports nothing) for a server it cannot
# start. State lives under ${FLEET_SERVICES_DIR:-/tmp/fleet-services}.
set -uo pipefail
dir=${FLEET_SERVICES_DIR:-/tmp/fleet-services}
pg_port=${FLEET_PG_PORT:-55432}
mq_port=${FLEET_MQTT_PORT:-18830}
pgbin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pgbin=$d; done

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$dir"
  if [ -n "$pgbin" ]; then
    mkdir -p "$dir/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/pg"
    if [ ! -f "$dir/pg/data/PG_VERSION" ]; then
      as_pg "$pgbin/initdb" -D "$dir/pg/data" -A trust -U fleet >"$dir/pg/initdb.log" 2>&1 \
        || { echo "SKIP: initdb failed (see $dir/pg/initdb.log)" >&2; pgbin=""; }
    fi
    if [ -n "$pgbin" ]; then
      if ! as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; then
        as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -w -l "$dir/pg/server.log" \
          -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" \
          start >/dev/null 2>&1 || { echo "SKIP: PostgreSQL did not start (see $dir/pg/server.log)" >&2; pgbin=""; }
      fi
    fi
    [ -n "$pgbin" ] && echo "export FLEET_TEST_POSTGRES=postgres://fleet@127.0.0.1:$pg_port/postgres"
  else
    echo "SKIP: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)" >&2
  fi
  if command -v mosquitto >/dev/null 2>&1; then
    if ! [ -f "$dir/mosquitto.pid" ] || ! kill -0 "$(cat "$dir/mosquitto.pid")" 2>/dev/null; then
      cat >"$dir/mosquitto.conf" <<CONF
listener $mq_port 127.0.0.1
allow_anonymous true
max_queued_messages 100000
max_inflight_messages 1000
message_size_limit 131072
persistence false
CONF
      mosquitto -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
      echo $! >"$dir/mosquitto.pid"
      for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/$mq_port) 2>/dev/null && break; sleep 0.1; done
    fi
    if (echo >/dev/tcp/127.0.0.1/$mq_port) 2>/dev/null; then
      echo "export FLEET_TEST_MQTT=mqtt://127.0.0.1:$mq_port"
    else
      echo "SKIP: mosquitto did not start (see $dir/mosquitto.log)" >&2
    fi
  else
    echo "SKIP: mosquitto is not installed" >&2
  fi
}

stop() {
  if [ -n "$pgbin" ] && [ -d "$dir/pg/data" ]; then
    as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/mosquitto.pid" ]; then
    kill "$(cat "$dir/mosquitto.pid")" 2>/dev/null || true
    rm -f "$dir/mosquitto.pid"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
