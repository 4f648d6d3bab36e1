#!/usr/bin/env bash
# IMAP COMPRESS=DEFLATE (RFC 4978) and QUOTA (RFC 9208) end to end
# (tests/tools/imap_compress_quota.py), against `ringmail serve` on 127.0.0.1 with two
# users from ringmail-admin: john@example.org (no byte quota) and quota@example.org
# (--quota=20000). Two server runs, each on a fresh data directory:
#   A: --imap_quota_messages=5, plaintext LOGIN allowed: COMPRESS over the plain port and
#      over implicit TLS (round trip, pipelining, byte-at-a-time literal, bomb, corrupt
#      stream), QUOTA with STORAGE and MESSAGE, OVERQUOTA on APPEND and COPY.
#   B: --imap_compress=false, no message limit: COMPRESS not offered (BAD), a user with
#      no limit gets `* QUOTA "" ()`.
# Usage: imap_compress_quota_test.sh RINGMAIL RINGMAIL_ADMIN   (KEEP_WORK=1 keeps files)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ringmail="$(readlink -f "${1:?usage: imap_compress_quota_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_compress_quota_test.sh RINGMAIL RINGMAIL_ADMIN}")"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
work="$(mktemp -d)"
failed=0

cleanup() {
  ringmail_kill
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# run NAME SERVER_FLAGS... -- SUITE_FLAGS...
run() {
  local name="$1"; shift
  local server_flags=() suite_flags=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do server_flags+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  suite_flags=("$@")
  local data="$work/$name/data" log="$work/$name/server.log"
  mkdir -p "$work/$name"
  "$admin" --data_dir="$data" domain add example.org >/dev/null || { echo "FAIL $name: domain add"; failed=1; return; }
  echo "pw-john" | "$admin" --data_dir="$data" user add john@example.org >/dev/null
  echo "pw-quota" | "$admin" --data_dir="$data" user add quota@example.org --quota=20000 >/dev/null ||
    { echo "FAIL $name: user add --quota"; failed=1; return; }
  local imap_port imaps_port
  read -r imap_port imaps_port < <(ringmail_free_ports 2)
  if ! ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" \
      --imap_port="$imap_port" --imaps_port="$imaps_port" "${server_flags[@]}"; then
    echo "FAIL $name: server not ready"; failed=1; ringmail_kill; return
  fi
  echo "== $name (imap=$imap_port imaps=$imaps_port)"
  if ! timeout 300 python3 "$here/imap_compress_quota.py" --plain-port "$imap_port" --tls-port "$imaps_port" \
      --user john@example.org --password pw-john --quota-user quota@example.org --quota-password pw-quota \
      --quota-bytes 20000 --log "$log" "${suite_flags[@]}"; then
    failed=1
    echo "--- server log (last 30 lines):"; tail -n 30 "$log"
  fi
  kill -0 "$ringmail_pid" 2>/dev/null || { echo "FAIL $name: server died"; failed=1; }
  ringmail_stop
  if grep -q 'level=error' "$log"; then
    echo "FAIL $name: server logged level=error lines"; grep 'level=error' "$log" | head -5; failed=1
  fi
}

run A --imap_quota_messages=5 --imap_allow_plaintext_auth=true -- --quota-messages 5 --compress
run B --imap_compress=false --imap_allow_plaintext_auth=true -- --quota-messages 0 --no-compress

if [ "$failed" -eq 0 ]; then echo "imap_compress_quota: all passed"; else echo "imap_compress_quota: FAILED"; fi
[ "$failed" -eq 0 ]
