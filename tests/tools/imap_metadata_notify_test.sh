#!/usr/bin/env bash
# METADATA (RFC 5464) and NOTIFY (RFC 5465) end to end over raw sockets (imaplib has
# neither): the RFC 5464 section 4 examples adapted, limits and their response codes,
# metadata that follows RENAME and goes with DELETE and survives a server restart; NOTIFY
# across two sessions (on different shards): one APPENDs, changes flags and delivers over
# SMTP into folders the other has not selected, the other gets STATUS while in IDLE and
# after its next command; BADEVENT and syntax errors. Starts `ringmail serve` itself.
# Usage: imap_metadata_notify_test.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
ringmail="$(readlink -f "${1:?usage: imap_metadata_notify_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_metadata_notify_test.sh RINGMAIL RINGMAIL_ADMIN}")"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
command -v python3 >/dev/null || { echo "FAIL: python3 not found"; exit 1; }
work="$(mktemp -d)"
cleanup() { ringmail_kill; rm -rf "$work"; }
trap cleanup EXIT
data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null || { echo "FAIL: domain add"; exit 1; }
echo pw | "$admin" --data_dir="$data" user add john@example.org >/dev/null || { echo "FAIL: user add"; exit 1; }
read -r port sport < <(ringmail_free_ports 2)
ringmail_ready_seconds=30
# Both runs append to one serve.log (ringmail_start counts only its own event=ready).
start() {
  ringmail_start "$work/serve.log" "${ringmail_test_flags[@]}" --data_dir="$data" --smtp_port="$sport" \
    --imap_port="$port" --imap_allow_plaintext_auth=true || { echo "FAIL: server did not start"; exit 1; }
}
stop() { ringmail_stop; }
start
timeout 120 python3 "$here/imap_metadata_notify.py" "$port" "$sport" phase1
rc=$?
stop
if [ $rc -eq 0 ]; then
  start
  timeout 60 python3 "$here/imap_metadata_notify.py" "$port" "$sport" phase2
  rc=$?
fi
if [ $rc -ne 0 ]; then
  echo "--- serve.log"; tail -30 "$work/serve.log"
fi
exit $rc
