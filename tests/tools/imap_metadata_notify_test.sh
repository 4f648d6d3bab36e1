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
command -v python3 >/dev/null || { echo "FAIL: python3 not found"; exit 1; }
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null || { echo "FAIL: domain add"; exit 1; }
echo pw | "$admin" --data_dir="$data" user add john@example.org >/dev/null || { echo "FAIL: user add"; exit 1; }
port=$((20000 + RANDOM % 10000))
sport=$((port + 1))
start() {
  "$ringmail" serve --data_dir="$data" --shards=2 --smtp_port="$sport" --lmtp_port=0 --imap_port="$port" --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 \
    --listen_address=127.0.0.1 --log_level=warn --imap_allow_plaintext_auth=true --spam_scan=false >>"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""; }
start
timeout 120 python3 "$(dirname "$0")/imap_metadata_notify.py" "$port" "$sport" phase1
rc=$?
stop
if [ $rc -eq 0 ]; then
  start
  timeout 60 python3 "$(dirname "$0")/imap_metadata_notify.py" "$port" "$sport" phase2
  rc=$?
fi
if [ $rc -ne 0 ]; then
  echo "--- serve.log"; tail -30 "$work/serve.log"
fi
exit $rc
