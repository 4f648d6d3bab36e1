#!/usr/bin/env bash
# OBJECTID, SAVEDATE, PREVIEW, WITHIN end to end (tests/tools/imap_object_ext.py) against
# `ringmail serve` on a free loopback port, IMAP only. Starts the server itself.
# Usage: imap_object_ext_test.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
ringmail="$(readlink -f "${1:?usage: imap_object_ext_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_object_ext_test.sh RINGMAIL RINGMAIL_ADMIN}")"
here="$(cd "$(dirname "$0")" && pwd)"
command -v python3 >/dev/null || { echo "FAIL: python3 not found"; exit 1; }
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null || { echo "FAIL: domain add"; exit 1; }
echo pw | "$admin" --data_dir="$data" user add john@example.org >/dev/null || { echo "FAIL: user add"; exit 1; }
for attempt in 1 2 3; do
  port=$((20000 + RANDOM % 10000))
  "$ringmail" serve --data_dir="$data" --shards=2 --smtp_port=0 --lmtp_port=0 --imap_port="$port" --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 \
    --listen_address=127.0.0.1 --log_level=warn --imap_allow_plaintext_auth=true --spam_scan=false \
    >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && break
  pid=""
done
[ -n "$pid" ] || { echo "FAIL: server did not start"; cat "$work/serve.log"; exit 1; }
timeout 120 python3 "$here/imap_object_ext.py" 127.0.0.1 "$port" john@example.org pw "$data/vmail/example.org/john/Maildir"
rc=$?
[ $rc -eq 0 ] || { echo "--- serve.log"; tail -20 "$work/serve.log"; }
exit $rc
