#!/usr/bin/env bash
# mbsync (Debian's isync) against an IMAP server: a 5,000-message folder synced down into
# a local Maildir (counts and bytes compared), flags changed, messages deleted and added
# locally, synced back up, the server's state checked; then two rounds of flag changes,
# expunges and new messages made on the server by another session, each synced down and
# the local Maildir compared; the last run is traced (-Dn) to show whether mbsync used
# CONDSTORE/QRESYNC/COMPRESS (tests/tools/imap_mbsync.py does the work).
# Usage:
#   imap_mbsync_test.sh dovecot                        a private Dovecot (validates the test)
#   imap_mbsync_test.sh ringmail RINGMAIL RINGMAIL_ADMIN   a `ringmail serve` with a temp data dir
# COUNT=N changes the number of messages (default 5000); KEEP_WORK=1 keeps the files.
# Installs isync with apt-get when mbsync is missing; exits 77 (skip) only if that fails.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
kind="${1:?usage: imap_mbsync_test.sh dovecot | ringmail RINGMAIL RINGMAIL_ADMIN}"
count="${COUNT:-5000}"
work="$(mktemp -d)"
server_pid=""
fatal() { echo "FAIL: $*"; exit 1; }
cleanup() {
  [ "$kind" = dovecot ] && dovecot_stop
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! command -v mbsync >/dev/null; then
  echo "mbsync not found: installing isync" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo -n)
  { DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends isync >/dev/null ||
    { "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends isync >/dev/null; }; } ||
    { echo "SKIP: isync (mbsync) cannot be installed"; exit 77; }
fi
command -v python3 >/dev/null || fatal "python3 not found"

client_work="$work/client"
mkdir -p "$client_work"
case "$kind" in
  dovecot)
    # shellcheck source=imap_dovecot_lib.sh
    . "$here/imap_dovecot_lib.sh"
    dovecot_start
    # COMPRESS=DEFLATE needs Dovecot's imap_zlib plugin (not loaded by imap_dovecot_lib.sh):
    # added here and the master reloaded, so new imap processes offer it to mbsync.
    printf '%s\n' 'protocol imap {' '  mail_plugins = $mail_plugins imap_zlib' '}' >>"$dovecot_conf"
    dovecot -c "$dovecot_conf" reload || fatal "dovecot reload (imap_zlib)"
    sleep 0.5
    chmod 777 "$client_work"
    args=(--port "$dovecot_imaps_port" --tls --user john@example.org --password pw-john)
    ;;
  ringmail)
    ringmail="$(readlink -f "${2:?ringmail binary}")"
    admin="$(readlink -f "${3:?ringmail-admin binary}")"
    data="$work/data"
    "$admin" --data_dir="$data" domain add example.org >/dev/null || fatal "domain add"
    echo "pw-john" | "$admin" --data_dir="$data" user add john@example.org >/dev/null || fatal "user add"
    read -r imap_port imaps_port < <(python3 -c '
import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*(x.getsockname()[1] for x in s))')
    ringmail_start "$work/server.log" --spam_scan=false --data_dir="$data" --shards=2 \
      --imap_port="$imap_port" --imaps_port="$imaps_port" --hostname=mx.test \
      --log_level=info ||
      { tail -20 "$work/server.log"; fatal "ringmail did not get ready in 10 s"; }
    server_pid=$ringmail_pid
    args=(--port "$imaps_port" --tls --user john@example.org --password pw-john)
    ;;
  *) fatal "unknown server kind $kind" ;;
esac

rc=0
timeout 900 python3 "$here/imap_mbsync.py" --host 127.0.0.1 "${args[@]}" --work "$client_work" --count "$count" || rc=1
if [ "$kind" = ringmail ] && [ $rc -ne 0 ]; then
  echo "--- server log (last 30 lines)"; tail -30 "$work/server.log"
fi
echo "imap_mbsync ($kind): $([ $rc -eq 0 ] && echo PASS || echo FAIL)"
exit $rc
