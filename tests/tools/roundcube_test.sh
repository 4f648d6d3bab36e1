#!/usr/bin/env bash
# Roundcube (Debian's package, served by `php -S` on 127.0.0.1) against an IMAP server,
# driven by headless Chromium (tests/tools/roundcube_drive.py): log in, see INBOX's list,
# open a message (subject and body shown), move it to another folder, delete another one
# (to Trash, then for good), switch a 13-message folder through sorted and threaded lists
# (issue 11: the rendered order checked against RFC 5256/THREAD=REFS computed in Python;
# another session flags and expunges meanwhile), log out; then the server's state is
# checked over IMAP, and Roundcube's IMAP log for SORT, THREAD and (its message cache being
# on) ENABLE QRESYNC/CONDSTORE with UID FETCH (CHANGEDSINCE ...).
# Roundcube speaks STARTTLS to the plain IMAP port (certificate checks off: the test
# certificate is self-signed) and logs its IMAP traffic (imap_debug), printed on failure.
# Usage:
#   roundcube_test.sh dovecot                            a private Dovecot (validates the test)
#   roundcube_test.sh ringmail RINGMAIL RINGMAIL_ADMIN   a `ringmail serve` with a temp data dir
#                                                        (one message arrives by SMTP)
# KEEP_WORK=1 keeps the files (Roundcube's logs, screenshots on timeouts).
# Installs roundcube-core, roundcube-plugins, php-cli, php-sqlite3, chromium and
# python3-websocket with apt-get when missing; exits 77 (skip) only if that fails.
# Ends with "roundcube (KIND): PASS|FAIL"; exits 0 only on PASS.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
kind="${1:?usage: roundcube_test.sh dovecot | ringmail RINGMAIL RINGMAIL_ADMIN}"
work="$(mktemp -d)"
server_pid=""
php_pid=""
t_start=$(date +%s)
fatal() { echo "FAIL: $*"; echo "roundcube ($kind): FAIL"; exit 1; }
stop_pid() {  # stop_pid PID: TERM, then KILL after 5 s
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  stop_pid "$php_pid"
  [ "$kind" = dovecot ] && dovecot_stop
  stop_pid "$server_pid"
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- prerequisites
# The driver needs Debian's python3-websocket, which lives in the system interpreter
# (a pyenv/venv python3 first on PATH does not see it).
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3)"
have_all() {
  [ -e /var/lib/roundcube/public_html/index.php ] && [ -e /usr/share/roundcube/plugins ] &&
    command -v php >/dev/null && [[ "$(php -m 2>/dev/null)" == *$'\n'pdo_sqlite$'\n'* ]] &&
    command -v chromium >/dev/null && "$py" -c 'import websocket' 2>/dev/null
}
if ! have_all; then
  echo "installing roundcube, php, chromium, python3-websocket from Debian" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
  pkgs=(roundcube-core roundcube-plugins php-cli php-sqlite3 chromium python3-websocket)
  export DEBIAN_FRONTEND=noninteractive
  { "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 ||
    { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }; }
  have_all || { echo "SKIP: roundcube/php-sqlite3/chromium/python3-websocket cannot be installed"; exit 77; }
fi
command -v python3 >/dev/null || fatal "python3 not found"

free_ports() {  # free_ports N: N free loopback ports
  python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*(x.getsockname()[1] for x in s))' "$1"
}

# ---------------------------------------------------------------- the IMAP server
smtp_args=()
rc_plugins="[]"  # ringmail: Roundcube's managesieve plugin against --managesieve_port (issue 14)
rc_sieve_config=""
case "$kind" in
  dovecot)
    # shellcheck source=imap_dovecot_lib.sh
    . "$here/imap_dovecot_lib.sh"
    dovecot_start
    imap_port="$dovecot_imap_port"
    server_log="$work/dovecot.log"
    ;;
  ringmail)
    ringmail="$(readlink -f "${2:?ringmail binary}")"
    admin="$(readlink -f "${3:?ringmail-admin binary}")"
    data="$work/data"
    "$admin" --data_dir="$data" domain add example.org >/dev/null || fatal "domain add"
    echo "pw-john" | "$admin" --data_dir="$data" user add john@example.org >/dev/null || fatal "user add"
    read -r imap_port imaps_port smtp_port sieve_port < <(free_ports 4)
    server_log="$work/server.log"
    # With setpriv, the server gets SIGKILL if this script dies without running its trap.
    ringmail_start "$server_log" --spam_scan=false --data_dir="$data" --shards=2 \
      --smtp_port="$smtp_port" --imap_port="$imap_port" --imaps_port="$imaps_port" \
      --managesieve_port="$sieve_port" --hostname=mx.test --shutdown_grace=1s --log_level=info ||
      { tail -20 "$server_log"; fatal "ringmail did not get ready in 10 s"; }
    server_pid=$ringmail_pid
    smtp_args=(--smtp-port "$smtp_port" --sieve-home "$data/vmail/example.org/john")
    # The managesieve plugin (Debian's roundcube-plugins) over STARTTLS to ringmail's
    # ManageSieve port; its script is "roundcube", made and activated on first use.
    rc_plugins="['managesieve']"
    rc_sieve_config="\$config['managesieve_host'] = 'tls://127.0.0.1:$sieve_port';
\$config['managesieve_conn_options'] = \$config['imap_conn_options'];
\$config['managesieve_script_name'] = 'roundcube';
\$config['managesieve_default'] = '';
\$config['managesieve_debug'] = true;"
    ;;
  *) fatal "unknown server kind $kind" ;;
esac

# ---------------------------------------------------------------- Roundcube
# A private configuration directory (ROUNDCUBE_CONFIG_DIR, read by Debian's iniset.php):
# nothing under /etc/roundcube or /var/lib/roundcube is written. SQLite database,
# logs and temp files under $work; no SMTP (nothing is sent).
# RC_CACHE=1 (the default) turns on Roundcube's index and message caches ('db'): the
# message cache is what resynchronizes with ENABLE QRESYNC (or CONDSTORE) and
# SELECT ... (QRESYNC ...) when the server offers them (rcube_imap_cache::synchronize).
rc_cache="${RC_CACHE:-1}"
rc="$work/roundcube"
mkdir -p "$rc/config" "$rc/logs" "$rc/temp" "$work/client"
ln -s /etc/roundcube/defaults.inc.php "$rc/config/defaults.inc.php"
[ -e /etc/roundcube/mimetypes.php ] && ln -s /etc/roundcube/mimetypes.php "$rc/config/mimetypes.php"
des_key="$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')"
cat >"$rc/config/config.inc.php" <<EOF
<?php
\$config = [];
\$config['db_dsnw'] = 'sqlite:///$rc/roundcube.db?mode=0600';
\$config['imap_host'] = 'tls://127.0.0.1:$imap_port';
\$config['imap_conn_options'] = ['ssl' => ['verify_peer' => false, 'verify_peer_name' => false,
                                           'allow_self_signed' => true]];
\$config['imap_timeout'] = 20;
\$config['imap_debug'] = true;
\$config['imap_cache'] = $([ "$rc_cache" = 1 ] && echo "'db'" || echo null);
\$config['messages_cache'] = $([ "$rc_cache" = 1 ] && echo true || echo false);
\$config['smtp_host'] = '';
\$config['log_driver'] = 'file';
\$config['log_dir'] = '$rc/logs/';
\$config['temp_dir'] = '$rc/temp/';
\$config['des_key'] = '$des_key';
\$config['plugins'] = $rc_plugins;
$rc_sieve_config
\$config['skin'] = 'elastic';
\$config['enable_spellcheck'] = false;
\$config['ip_check'] = false;
\$config['trash_mbox'] = 'Trash';
\$config['junk_mbox'] = 'Junk';
\$config['flag_for_deletion'] = false;
\$config['skip_deleted'] = false;
\$config['mail_read_time'] = 0;
\$config['support_url'] = '';
EOF
read -r web_port < <(free_ports 1)
(cd "$rc" && ROUNDCUBE_CONFIG_DIR="$rc/config" PHP_CLI_SERVER_WORKERS=4 \
  exec php -d display_errors=stderr -d error_log="$rc/logs/php.log" \
    -S "127.0.0.1:$web_port" -t /var/lib/roundcube/public_html) >"$rc/logs/php-server.log" 2>&1 &
php_pid=$!
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$web_port/?_task=login', timeout=2)" 2>/dev/null && break
  kill -0 "$php_pid" 2>/dev/null || break
  sleep 0.1
done
python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$web_port/?_task=login', timeout=5)" 2>/dev/null ||
  { cat "$rc/logs/"* 2>/dev/null | tail -30; fatal "Roundcube (php -S 127.0.0.1:$web_port) did not answer"; }
echo "roundcube on http://127.0.0.1:$web_port/ (IMAP STARTTLS 127.0.0.1:$imap_port, $kind)"

# ---------------------------------------------------------------- drive it
rc_ok=0
timeout 240 "$py" "$here/roundcube_drive.py" --url "http://127.0.0.1:$web_port/" --imap-port "$imap_port" \
  "${smtp_args[@]}" --user john@example.org --password pw-john --work "$work/client" || rc_ok=1
# Issue 11: what Roundcube asked the server for, from its IMAP log ("[C: ]<tag> <command>"
# lines): SORT and THREAD for the lists the driver switched to, and the CONDSTORE/QRESYNC
# resync of its message cache when the server offered them.
imap_log="$rc/logs/imap.log"
caps="$(grep -m1 -o 'CAPABILITY IMAP4rev1.*' "$imap_log" 2>/dev/null | tail -1)"
caps_after="$(grep -o '\[CAPABILITY [^]]*\]\|\* CAPABILITY .*' "$imap_log" 2>/dev/null | grep -i 'SORT\|QRESYNC\|CONDSTORE\|THREAD' | tail -1)"
[ -n "$caps_after" ] || caps_after="$caps"
offers() { local re="(^| |\\[)$1(=| |\\]|$)"; [[ "${caps_after^^}" =~ $re ]]; }
sent() { grep -E -c "^\[[^]]*\]: <[^>]*> \[[^]]*\] C: [A-Za-z0-9]+ $1" "$imap_log" 2>/dev/null; }
for what in "SORT" "THREAD"; do
  if offers "$what"; then
    n="$(sent "(UID )?$what ")"
    [ "$n" -gt 0 ] && echo "ok: Roundcube sent $what to the server ($n times): $(grep -E -o "C: [A-Za-z0-9]+ (UID )?$what [^ ]+( [^ ]+)?" "$imap_log" | sed 's/^C: [A-Za-z0-9]* //' | sort | uniq -c | tr -s ' ' | tr '\n' ';')" ||
      { echo "FAIL: the server offers $what but Roundcube never sent it"; rc_ok=1; }
  else
    echo "note: the server does not offer $what"
  fi
done
for ext in QRESYNC CONDSTORE; do
  if offers "$ext"; then
    n="$(sent "ENABLE .*$ext")"
    s="$(sent "(SELECT|EXAMINE) .*\($ext")"
    f="$(sent "(UID )?FETCH .*CHANGEDSINCE")"
    echo "note: $ext offered; Roundcube sent ENABLE $ext $n times, SELECT ($ext ...) $s times, FETCH (CHANGEDSINCE ...) $f times (message cache $([ "$rc_cache" = 1 ] && echo on || echo off))"
  fi
done
if [ "$rc_cache" = 1 ] && { offers QRESYNC || offers CONDSTORE; }; then
  [ "$(sent "ENABLE (QRESYNC|CONDSTORE)")" -gt 0 ] && echo "ok: Roundcube's message cache enabled QRESYNC/CONDSTORE, which the server offers" ||
    { echo "FAIL: the server offers QRESYNC/CONDSTORE but Roundcube's message cache never enabled it"; rc_ok=1; }
  # The driver changed Lists from another session (a flag, an expunge) while it was cached.
  [ "$(sent "UID FETCH .*CHANGEDSINCE")" -gt 0 ] &&
    echo "ok: Roundcube's cache resynchronized with UID FETCH (CHANGEDSINCE ...); answers: $(grep -A3 'C: [A-Za-z0-9]* UID FETCH .*CHANGEDSINCE' "$imap_log" | grep -o 'S: \* \(VANISHED.*\|[0-9]* FETCH.*\)' | sed 's/^S: //' | tr '\n' ';')" ||
    { echo "FAIL: Roundcube's cache never asked for changes with CHANGEDSINCE"; rc_ok=1; }
fi
# Roundcube records IMAP failures (a NO/BAD it did not expect, a broken parse) in errors.log.
if [ -s "$rc/logs/errors.log" ]; then
  echo "FAIL: Roundcube logged errors:"; sed 's/^/  /' "$rc/logs/errors.log" | tail -20
  rc_ok=1
else
  echo "ok: Roundcube logged no errors"
fi
if [ $rc_ok -ne 0 ]; then
  echo "--- Roundcube IMAP transcript (last 80 lines of $rc/logs/imap.log):"
  tail -n 80 "$rc/logs/imap.log" 2>/dev/null | cut -c1-400
  echo "--- server log (last 30 lines):"
  tail -n 30 "$server_log" 2>/dev/null
  echo "---"
fi
echo "time: $(( $(date +%s) - t_start ))s"
echo "roundcube ($kind): $([ $rc_ok -eq 0 ] && echo PASS || echo FAIL)"
exit $rc_ok
