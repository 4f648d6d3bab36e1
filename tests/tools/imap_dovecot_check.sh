#!/usr/bin/env bash
# Validates the IMAP end-to-end suite itself (tests/tools/imap_clients.py) against a
# private Dovecot 2.3 (Debian's dovecot-imapd, rootless, loopback; see
# imap_dovecot_lib.sh): plain port with STARTTLS, then implicit TLS. Not a ctest: it says
# whether a failing check against ringmail is ringmail's fault or the suite's.
# Usage: imap_dovecot_check.sh [extra imap_clients.py arguments, e.g. --only NAME]
# (KEEP_WORK=1 keeps the work directory with Dovecot's log and Maildirs).
# Exits 0 only if every check passed on both ports.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
fatal() { echo "FAIL: $*"; exit 1; }
cleanup() {
  dovecot_stop
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# shellcheck source=imap_dovecot_lib.sh
. "$here/imap_dovecot_lib.sh"
dovecot_start
echo "Dovecot $(dovecot --version) on 127.0.0.1:$dovecot_imap_port (STARTTLS) and :$dovecot_imaps_port (TLS)"

rc=0
# Dovecot treats a client whose address equals its own as secure (no LOGINDISABLED):
# connect from 127.0.0.2.
common=(--host 127.0.0.1 --source 127.0.0.2 --user john@example.org --password pw-john
        --server-kind "${SERVER_KIND:-dovecot}" --maildir-root "$vmail" "$@")
echo "=== plain port, STARTTLS"
timeout 600 python3 "$here/imap_clients.py" --port "$dovecot_imap_port" --starttls "${common[@]}" || rc=1
echo "=== implicit TLS"
timeout 600 python3 "$here/imap_clients.py" --port "$dovecot_imaps_port" --tls "${common[@]}" || rc=1
if grep -qiE 'panic|fatal' "$work/dovecot.log"; then
  echo "Dovecot logged panics or fatal errors:"; grep -iE 'panic|fatal' "$work/dovecot.log" | head
fi
echo "imap_dovecot_check: $([ $rc -eq 0 ] && echo PASS || echo FAIL)"
exit $rc
