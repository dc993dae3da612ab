#!/usr/bin/env bash
# Makes sure MariaDB and Redis answer on 127.0.0.1, installing (apt-get) and starting
# them when they are missing, as a fresh machine needs. Whatever this script starts is
# recorded in $STATE_DIR so `services.sh stop` stops only that and nothing else.
#
#   scripts/services.sh ensure   # install/start what is missing
#   scripts/services.sh stop     # stop only what `ensure` started
set -euo pipefail

STATE_DIR=${SERVICES_STATE_DIR:-/tmp/tentacle-ingest-services}
MYSQL_PORT=${TEST_MYSQL_PORT:-3306}
REDIS_PORT=${TEST_REDIS_PORT:-6379}
mkdir -p "$STATE_DIR"

log() { echo "[services] $*" >&2; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  # policy-rc.d 101 stops the packages' postinst from starting daemons behind our back.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

mysql_tcp_ok() {
  mariadb --protocol=TCP -h127.0.0.1 -P"$MYSQL_PORT" -uroot -e 'SELECT 1' >/dev/null 2>&1
}

ensure_mariadb() {
  if mysql_tcp_ok; then log "MariaDB answers on 127.0.0.1:$MYSQL_PORT"; return; fi
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    log "installing mariadb-server"
    as_root bash -c "$(declare -f apt_install); apt_updated=0; apt_install mariadb-server mariadb-client"
  fi
  if ! mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    log "starting mariadbd"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    if [ ! -d /var/lib/mysql/mysql ]; then
      as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
    as_root start-stop-daemon --start --oknodo --background --make-pidfile \
      --pidfile "$STATE_DIR/mariadb.pid" --exec /usr/sbin/mariadbd -- --user=mysql \
      --bind-address=127.0.0.1 --port="$MYSQL_PORT"
    touch "$STATE_DIR/mariadb.started"
    for _ in $(seq 1 60); do mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  if ! mysql_tcp_ok; then
    # Debian's root authenticates through the unix socket only; tests connect over TCP.
    log "granting root@127.0.0.1 over TCP (empty password, loopback only)"
    mariadb -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
      GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
      CREATE USER IF NOT EXISTS 'root'@'localhost';
      ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
      FLUSH PRIVILEGES;"
  fi
  for _ in $(seq 1 60); do mysql_tcp_ok && break; sleep 0.5; done
  mysql_tcp_ok || { log "MariaDB still not reachable over TCP on 127.0.0.1:$MYSQL_PORT"; exit 1; }
  log "MariaDB ready on 127.0.0.1:$MYSQL_PORT"
}

redis_ok() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  if command -v redis-cli >/dev/null 2>&1 && redis_ok; then log "Redis answers on 127.0.0.1:$REDIS_PORT"; return; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server"
    as_root bash -c "$(declare -f apt_install); apt_updated=0; apt_install redis-server"
  fi
  log "starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --pidfile "$STATE_DIR/redis.pid" --logfile "$STATE_DIR/redis.log" --dir "$STATE_DIR"
  touch "$STATE_DIR/redis.started"
  for _ in $(seq 1 40); do redis_ok && break; sleep 0.25; done
  redis_ok || { log "Redis did not start"; exit 1; }
  log "Redis ready on 127.0.0.1:$REDIS_PORT"
}

# HAProxy and Chromium are only binaries the HA tests run themselves (nothing is started
# here, so there is nothing to stop): install them when missing, otherwise do nothing.
ensure_haproxy() {
  if command -v haproxy >/dev/null 2>&1; then log "haproxy present"; return; fi
  log "installing haproxy"
  as_root bash -c "$(declare -f apt_install); apt_updated=0; apt_install haproxy"
  # The package's own service must not run: tests start their own haproxy on loopback.
  command -v haproxy >/dev/null 2>&1 || { log "haproxy install failed"; exit 1; }
}

ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then log "promtool present"; return; fi
  # Debian ships promtool in the prometheus package; policy-rc.d keeps its daemon stopped.
  log "installing prometheus (for promtool)"
  as_root bash -c "$(declare -f apt_install); apt_updated=0; apt_install prometheus"
  command -v promtool >/dev/null 2>&1 || { log "prometheus install failed"; exit 1; }
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then log "chromium present"; return; fi
  log "installing chromium"
  as_root bash -c "$(declare -f apt_install); apt_updated=0; apt_install chromium"
  [ -x /usr/bin/chromium ] || { log "chromium install failed"; exit 1; }
}

stop_started() {
  if [ -f "$STATE_DIR/redis.started" ]; then
    log "stopping the redis-server this script started"
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -f "$STATE_DIR/redis.started"
  fi
  if [ -f "$STATE_DIR/mariadb.started" ]; then
    log "stopping the mariadbd this script started"
    as_root start-stop-daemon --stop --oknodo --retry 30 --pidfile "$STATE_DIR/mariadb.pid" >/dev/null || true
    rm -f "$STATE_DIR/mariadb.started"
  fi
}

case "${1:-ensure}" in
  ensure) ensure_mariadb; ensure_redis ;;
  mariadb) ensure_mariadb ;;
  redis) ensure_redis ;;
  haproxy) ensure_haproxy ;;
  chromium) ensure_chromium ;;
  promtool) ensure_promtool ;;
  stop) stop_started ;;
  *) echo "usage: $0 ensure|mariadb|redis|haproxy|chromium|promtool|stop" >&2; exit 2 ;;
esac
