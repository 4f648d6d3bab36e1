#!/usr/bin/env bash
# `ringmail serve` against tests/tools/imap_condstore.py (CONDSTORE/QRESYNC, RFC 7162) on
# 127.0.0.1 with free ports (SMTP, LMTP and IMAPS not bound), as john@example.org in a
# temporary data directory. The same script runs against Dovecot 2.3 in
# imap_condstore_diff.sh, which compares the two servers' answers.
# Usage: imap_condstore_test.sh RINGMAIL RINGMAIL_ADMIN   (KEEP_WORK=1 keeps the files)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
ringmail="$(readlink -f "${1:?usage: imap_condstore_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_condstore_test.sh RINGMAIL RINGMAIL_ADMIN}")"
work="$(mktemp -d)"
data="$work/data"
log="$work/server.log"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fatal() { echo "FAIL: $*"; tail -n 30 "$log" 2>/dev/null; exit 1; }

adm() { "$admin" --data_dir="$data" "$@"; }
adm domain add example.org >/dev/null || fatal "ringmail-admin domain add"
echo "pw-john" | adm user add john@example.org >/dev/null || fatal "ringmail-admin user add"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ringmail_start "$log" --spam_scan=false --data_dir="$data" --shards=2 \
  --imap_port="$port" --imap_allow_plaintext_auth=true \
  --hostname=mx.test --shutdown_grace=1s --log_level=info ||
  fatal "server did not log event=ready within 10 s"
server_pid=$ringmail_pid
timeout 300 python3 "$here/imap_condstore.py" --port "$port" --user john@example.org --password pw-john \
  --server-kind ringmail
rc=$?
kill -0 "$server_pid" 2>/dev/null || fatal "server died during the run"
if grep -q 'level=error' "$log"; then
  grep 'level=error' "$log" | head -5
  fatal "server logged level=error lines"
fi
exit "$rc"
