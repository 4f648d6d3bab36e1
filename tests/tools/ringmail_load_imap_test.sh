#!/usr/bin/env bash
# ringmail-load --mode=imap against `ringmail serve` (issue 10): a short run (2 s, 4
# long-lived sessions, the default mix) must end with exit 0, zero failed commands and
# session errors, and a non-zero command count; then the same as the login cycle.
#
# Usage: ringmail_load_imap_test.sh RINGMAIL RINGMAIL_ADMIN RINGMAIL_LOAD
# Exits 77 (skip) while `ringmail serve` has no --imap_port.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
ringmail="$(readlink -f "${1:?usage: ringmail_load_imap_test.sh RINGMAIL RINGMAIL_ADMIN RINGMAIL_LOAD}")"
admin="$(readlink -f "${2:?}")"
load="$(readlink -f "${3:?}")"

help=$("$ringmail" serve --helpfull 2>&1 || true)
if ! grep -q -- '--imap_port' <<<"$help"; then
  echo "SKIP: ringmail serve has no --imap_port yet"
  exit 77
fi
extra=()
plain_flag=$(grep -o -- '--[a-z_]*plaintext[a-z_]*' <<<"$help" | head -n 1 || true)
[ -n "$plain_flag" ] && extra+=("$plain_flag=true")

work="$(mktemp -d)"
cleanup() {
  ringmail_kill
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/out "$work"/err "$work"/server.log; do [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

"$admin" --data_dir="$work/data" domain add example.test >/dev/null || fail "domain add"
for i in 1 2 3 4; do
  echo pw | "$admin" --data_dir="$work/data" user add "user$i@example.test" --scheme=SSHA512 >/dev/null 2>&1 ||
    echo pw | "$admin" --data_dir="$work/data" user add "user$i@example.test" >/dev/null || fail "user add"
done

port=$(ringmail_free_ports 1)
ringmail_ready_seconds=30
ringmail_start "$work/server.log" "${ringmail_test_flags[@]}" --data_dir="$work/data" --imap_port="$port" "${extra[@]}" ||
  fail "ringmail serve did not start"

field() { tr ' ' '\n' <"$work/out" | sed -n "s/^$1=//p"; }
run() {
  timeout 60 "$load" --mode=imap --port="$port" --connections=4 --users=4 --password=pw --duration=2s \
    --progress=false --timeout=20s "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  [ "$rc" -eq 0 ] || fail "ringmail-load $* exited $rc"
  [ "$(field failed)" = 0 ] || fail "failed commands: $(cat "$work/out")"
  [ "$(field session_errors)" = 0 ] || fail "session errors: $(cat "$work/out")"
  [ "$(field ok)" -gt 0 ] 2>/dev/null || fail "no commands: $(cat "$work/out")"
  echo "$*: $(cut -c1-160 "$work/out")"
}
run
run --imap_cycle --imap_mix=fetch_env:1,fetch_body:1,store:1
echo "ringmail-load IMAP test passed"
