#!/usr/bin/env bash
# IMAP and POP3 on one mailbox at once (issue 12): tests/tools/pop3_imap_concurrency.py
# against a server on 127.0.0.1 with COUNT (default 20) generated messages put in
# john@example.org's Maildir/new before it starts: a delivery, an IMAP flag change and an
# IMAP EXPUNGE during a POP3 session; POP3 DELE + QUIT seen by an IMAP session in IDLE;
# \Seen after QUIT; the next POP3 session's maildrop and UIDLs; a dropped connection.
# Usage:
#   pop3_imap_concurrency_test.sh dovecot                          a private Dovecot 2.3 (validates the test)
#   pop3_imap_concurrency_test.sh ringmail RINGMAIL RINGMAIL_ADMIN `ringmail serve` with a temp data dir
# KEEP_WORK=1 keeps the files.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
kind="${1:?usage: pop3_imap_concurrency_test.sh dovecot | ringmail RINGMAIL RINGMAIL_ADMIN}"
count="${COUNT:-20}"
work="$(mktemp -d)"
log="$work/server.log"
fatal() { echo "FAIL: $*"; echo "pop3_imap_concurrency ($kind): FAIL"; exit 1; }
cleanup() {
  [ "$kind" = dovecot ] && dovecot_stop
  ringmail_kill
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v python3 >/dev/null || fatal "python3 not found"
orig="$work/orig"
python3 "$here/pop3_fetchers.py" generate --maildir "$orig" --count "$count" --seed 1939 >/dev/null ||
  fatal "generate $count messages"

case "$kind" in
  dovecot)
    # shellcheck source=imap_dovecot_lib.sh
    . "$here/imap_dovecot_lib.sh"
    DOVECOT_POP3=1 dovecot_start
    [ -n "${dovecot_pop3s_port:-}" ] || fatal "imap_dovecot_lib.sh has no DOVECOT_POP3 listener"
    maildir="$vmail/example.org/john/Maildir"
    "${as_user[@]}" mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp" || fatal "mkdir $maildir"
    cp "$orig/new/"* "$maildir/new/" || fatal "copy the messages"
    [ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$vmail"
    # Dovecot here has no LMTP listener: a delivery is a file renamed into Maildir/new.
    args=(--imaps-port "$dovecot_imaps_port" --pop3s-port "$dovecot_pop3s_port" --deliver-maildir "$maildir")
    ;;
  ringmail)
    ringmail="$(readlink -f "${2:?ringmail binary}")"
    admin="$(readlink -f "${3:?ringmail-admin binary}")"
    data="$work/data"
    "$admin" --data_dir="$data" domain add example.org >/dev/null || fatal "domain add"
    echo "pw-john" | "$admin" --data_dir="$data" user add john@example.org >/dev/null || fatal "user add"
    maildir="$data/vmail/example.org/john/Maildir"
    mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp" || fatal "mkdir $maildir"
    cp "$orig/new/"* "$maildir/new/" || fatal "copy the messages"
    read -r imaps_port pop3s_port lmtp_port < <(ringmail_free_ports 3)
    ringmail_start "$log" --data_dir="$data" "${ringmail_test_flags[@]}" --lmtp_port="$lmtp_port" --imaps_port="$imaps_port" --pop3s_port="$pop3s_port" ||
      fatal "ringmail did not get ready in 10 s"
    args=(--imaps-port "$imaps_port" --pop3s-port "$pop3s_port" --lmtp-port "$lmtp_port")
    ;;
  *) fatal "unknown server kind $kind" ;;
esac

rc=0
timeout 120 python3 "$here/pop3_imap_concurrency.py" --host 127.0.0.1 "${args[@]}" --orig "$orig" --count "$count" || rc=1
if [ "$kind" = ringmail ]; then
  if ! kill -0 "$ringmail_pid" 2>/dev/null; then echo "FAIL: the server died"; rc=1; fi
  errors="$(grep -c 'level=error' "$log")"
  [ "$errors" -eq 0 ] || { echo "FAIL: server logged $errors level=error lines"; rc=1; }
  ringmail_stop; src=$?
  [ "$src" -eq 0 ] || { echo "FAIL: server exit status $src after SIGTERM, expected 0"; rc=1; }
  [ $rc -eq 0 ] || { echo "--- server log (last 30 lines)"; tail -n 30 "$log"; }
fi
echo "pop3_imap_concurrency ($kind): $([ $rc -eq 0 ] && echo PASS || echo FAIL)"
exit $rc
