#!/usr/bin/env bash
# Make sure the real MariaDB and Redis the test suite needs are up on 127.0.0.1.
# On Debian: start the installed servers, installing them with apt-get first if absent.
# On a machine with Docker and no local servers: docker compose -f docker-compose.test.yml up -d
# and export TEST_MYSQL_URL / TEST_REDIS_URL instead (see docs/testing.md).
set -euo pipefail

mysql_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
wait_for() { for _ in $(seq 1 60); do "$1" && return 0; sleep 0.5; done; echo "$2 did not come up" >&2; return 1; }
apt_install() {
  if ! command -v apt-get >/dev/null; then echo "need $* but apt-get is not available; install it yourself" >&2; exit 1; fi
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ -n "${TEST_MYSQL_URL:-}" ]; then
  echo "backends: MySQL from TEST_MYSQL_URL"
elif ! mysql_up; then
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server mariadb-client
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for mysql_up MariaDB
  echo "backends: started MariaDB on 127.0.0.1:3306"
else
  echo "backends: MariaDB already up on 127.0.0.1:3306"
fi

if [ -n "${TEST_REDIS_URL:-}" ]; then
  echo "backends: Redis from TEST_REDIS_URL"
elif ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis_up Redis
  echo "backends: started Redis on 127.0.0.1:6379"
else
  echo "backends: Redis already up on 127.0.0.1:6379"
fi
