#!/usr/bin/env bash
# CONDSTORE/QRESYNC differential against Dovecot 2.3 (RFC 7162): the scripted session of
# tests/tools/imap_condstore.py (a fresh folder, flag changes, a keyword and expunges made
# by another session, then QRESYNC / CHANGEDSINCE / UNCHANGEDSINCE / SEARCH MODSEQ
# sessions) runs against a private Dovecot (imap_dovecot_lib.sh) and against
# `ringmail serve`, each on its own empty Maildir fed the same messages through IMAP;
# imap_condstore_diff.py then compares the RESULT lines (UID sets and flags; modseqs are
# each server's own, so only their order and bounds are checked, inside the script).
# Differences not listed in imap_condstore_diff.py (and protocols/imap/DIFFERENCES.md)
# fail. Exit 77 (skip) when Dovecot cannot be installed.
# Usage: imap_condstore_diff.sh RINGMAIL RINGMAIL_ADMIN   (KEEP_WORK=1 keeps the files)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
ringmail="$(readlink -f "${1:?usage: imap_condstore_diff.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_condstore_diff.sh RINGMAIL RINGMAIL_ADMIN}")"
work="$(mktemp -d)"
server_pid=""
fatal() { echo "FAIL: $*"; exit 1; }
cleanup() {
  dovecot_stop
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# shellcheck source=imap_dovecot_lib.sh
. "$here/imap_dovecot_lib.sh"
dovecot_start
echo "Dovecot $(dovecot --version) on 127.0.0.1:$dovecot_imap_port"

data="$work/ringmail"
mkdir -p "$data"
adm() { "$admin" --data_dir="$data" "$@"; }
adm domain add example.org >/dev/null || fatal "ringmail-admin domain add"
echo "pw-john" | adm user add john@example.org >/dev/null || fatal "ringmail-admin user add"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ringmail_start "$work/ringmail.log" --spam_scan=false --data_dir="$data" --shards=2 \
  --imap_port="$port" --imap_allow_plaintext_auth=true \
  --hostname=mx.test --shutdown_grace=1s --log_level=info ||
  fatal "ringmail did not start"
server_pid=$ringmail_pid

common=(--host 127.0.0.1 --user john@example.org --password pw-john)
echo "=== Dovecot"
timeout 300 python3 "$here/imap_condstore.py" --port "$dovecot_imap_port" --server-kind dovecot "${common[@]}" \
  | tee "$work/dovecot.out"
echo "=== ringmail"
timeout 300 python3 "$here/imap_condstore.py" --port "$port" --server-kind ringmail "${common[@]}" \
  | tee "$work/ringmail.out"
echo "=== differences"
python3 "$here/imap_condstore_diff.py" "$work/dovecot.out" "$work/ringmail.out"
