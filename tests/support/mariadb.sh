#!/usr/bin/env bash
# A private MariaDB server for tests, started and stopped by the tests themselves, so CI
# needs nothing running beforehand (only Debian's mariadb-server package installed).
#
#   mariadb.sh start DIR PORT   initialise DIR once, start mariadbd on 127.0.0.1:PORT and
#                               DIR/mysqld.sock, create database `ringmail` and user
#                               ringmail/ringmail-test-pw; returns when it answers
#   mariadb.sh stop DIR         shut it down and wait until it is gone
set -euo pipefail
cmd=$1
dir=$2
sock="$dir/mysqld.sock"
admin() { mariadb-admin --no-defaults --socket="$sock" -uroot "$@"; }

case "$cmd" in
start)
  port=$3
  # Its own tmpdir: two instances bootstrapping at once must not share /tmp temp tables.
  mkdir -p "$dir/tmp"
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$dir/data" --user=root --tmpdir="$dir/tmp" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 ||
      { cat "$dir/install.log" >&2; exit 1; }
  fi
  # setsid: the server must not share the test's process group (ctest's timeout kill).
  setsid mariadbd --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$sock" --port="$port" \
    --bind-address=127.0.0.1 --user=root --pid-file="$dir/mysqld.pid" --skip-log-bin \
    --innodb-buffer-pool-size=32M --innodb-log-file-size=8M --log-error="$dir/error.log" \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    if admin ping >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  admin ping >/dev/null 2>&1 || { echo "mariadbd did not start:" >&2; tail -20 "$dir/error.log" >&2; exit 1; }
  mariadb --no-defaults --socket="$sock" -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS ringmail CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'ringmail'@'127.0.0.1' IDENTIFIED BY 'ringmail-test-pw';
CREATE USER IF NOT EXISTS 'ringmail'@'localhost' IDENTIFIED BY 'ringmail-test-pw';
GRANT ALL ON ringmail.* TO 'ringmail'@'127.0.0.1';
GRANT ALL ON ringmail.* TO 'ringmail'@'localhost';
SQL
  ;;
stop)
  if [ -f "$dir/mysqld.pid" ]; then
    pid=$(cat "$dir/mysqld.pid")
    admin shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  ;;
*)
  echo "usage: mariadb.sh start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
