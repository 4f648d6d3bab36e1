#!/usr/bin/env bash
# APPEND's extensions end to end (tests/tools/imap_append_ext.py: MULTIAPPEND, CATENATE,
# APPENDLIMIT, UTF8=ACCEPT) against `ringmail serve` on 127.0.0.1, implicit TLS, with
# --imap_max_append=1048576 so the TOOBIG paths are cheap; then SIGTERM (exit 0).
#   imap_append_ext_test.sh RINGMAIL RINGMAIL_ADMIN
# With DOVECOT=1 (no arguments needed) the same checks run against a private Dovecot 2.3
# (imap_dovecot_lib.sh) with the quota plugin's quota_max_mail_size = 1M, which is what
# makes Dovecot advertise APPENDLIMIT=1048576: the differential the DIFFERENCES.md
# entries come from. Ends with "imap_append_ext_test: PASS|FAIL".
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
work="$(mktemp -d)"
server_pid=""
limit=1048576
fatal() { echo "FAIL: $*"; [ -f "$work/server.log" ] && tail -n 30 "$work/server.log"; exit 1; }
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid"; wait "$server_pid" 2>/dev/null; fi
  [ -n "${DOVECOT:-}" ] && dovecot_stop
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
command -v python3 >/dev/null || fatal "python3 not found"

if [ -n "${DOVECOT:-}" ]; then
  # shellcheck source=imap_dovecot_lib.sh
  . "$here/imap_dovecot_lib.sh"
  dovecot_start
  cat >>"$dovecot_conf" <<EOF
mail_plugins = \$mail_plugins quota
protocol imap {
  mail_plugins = \$mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=1G
  quota_max_mail_size = $limit
}
EOF
  dovecot_stop
  sleep 0.5
  "${as_user[@]}" dovecot -c "$dovecot_conf" 2>"$work/dovecot.restart.err" || fatal "dovecot restart: $(cat "$work/dovecot.restart.err")"
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $dovecot_imaps_port), timeout=1).close()" 2>/dev/null && break
    sleep 0.1
  done
  echo "Dovecot $(dovecot --version) on 127.0.0.1:$dovecot_imaps_port"
  timeout 300 python3 "$here/imap_append_ext.py" --port "$dovecot_imaps_port" --tls --server-kind dovecot \
    --user john@example.org --password pw-john --hostname 127.0.0.1 "$@"
  rc=$?
  echo "imap_append_ext_test: $([ $rc -eq 0 ] && echo PASS || echo FAIL) (dovecot)"
  exit $rc
fi

ringmail="$(readlink -f "${1:?usage: imap_append_ext_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_append_ext_test.sh RINGMAIL RINGMAIL_ADMIN}")"
data="$work/data"
adm() { "$admin" --data_dir="$data" "$@"; }
adm domain add example.org >/dev/null || fatal "ringmail-admin domain add"
echo "pw-john" | adm user add john@example.org >/dev/null || fatal "ringmail-admin user add"
# Free ports for the two IMAP listeners; SMTP and LMTP are off (they are not served here).
read -r imap_port imaps_port < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*(s.getsockname()[1] for s in socks))
EOF
)
ringmail_start "$work/server.log" --spam_scan=false --data_dir="$data" --shards=2 \
  --imap_port="$imap_port" --imaps_port="$imaps_port" --hostname=mx.test \
  --imap_max_append="$limit" --shutdown_grace=1s --log_level=info ||
  fatal "server did not become ready"
server_pid=$ringmail_pid

timeout 300 python3 "$here/imap_append_ext.py" --port "$imaps_port" --tls --server-kind ringmail \
  --user john@example.org --password pw-john --hostname mx.test "${@:3}"
rc=$?
kill -0 "$server_pid" 2>/dev/null || fatal "server died during the checks"
kill -TERM "$server_pid"
for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "FAIL: server still running 15 s after SIGTERM"; rc=1
else
  wait "$server_pid" || { echo "FAIL: server exit status $? after SIGTERM"; rc=1; }
  server_pid=""
fi
if grep -q 'level=error' "$work/server.log"; then
  echo "FAIL: server logged errors:"; grep 'level=error' "$work/server.log" | head -5; rc=1
fi
echo "imap_append_ext_test: $([ $rc -eq 0 ] && echo PASS || echo FAIL)"
exit $rc
