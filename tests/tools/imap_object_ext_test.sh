#!/usr/bin/env bash
# OBJECTID, SAVEDATE, PREVIEW, WITHIN end to end (tests/tools/imap_object_ext.py) against
# `ringmail serve` on a free loopback port, IMAP only. Starts the server itself
# (ringmail_server_lib.sh).
# Usage: imap_object_ext_test.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
ringmail="$(readlink -f "${1:?usage: imap_object_ext_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_object_ext_test.sh RINGMAIL RINGMAIL_ADMIN}")"
here="$(cd "$(dirname "$0")" && pwd)"
command -v python3 >/dev/null || { echo "FAIL: python3 not found"; exit 1; }
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
work="$(mktemp -d)"
cleanup() { ringmail_kill; rm -rf "$work"; }
trap cleanup EXIT
data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null || { echo "FAIL: domain add"; exit 1; }
echo pw | "$admin" --data_dir="$data" user add john@example.org >/dev/null || { echo "FAIL: user add"; exit 1; }
port=$(ringmail_free_ports 1)
ringmail_ready_seconds=30
ringmail_start "$work/serve.log" "${ringmail_test_flags[@]}" --data_dir="$data" --imap_port="$port" \
  --imap_allow_plaintext_auth=true || { echo "FAIL: server did not start"; exit 1; }
timeout 120 python3 "$here/imap_object_ext.py" 127.0.0.1 "$port" john@example.org pw "$data/vmail/example.org/john/Maildir"
rc=$?
[ $rc -eq 0 ] || { echo "--- serve.log"; tail -20 "$work/serve.log"; }
exit $rc
