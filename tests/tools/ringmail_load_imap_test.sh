#!/usr/bin/env bash
# ringmail-load --mode=imap against `ringmail serve` (issue 10): a short run (2 s, 4
# long-lived sessions, the default mix) must end with exit 0, zero failed commands and
# session errors, and a non-zero command count; then the same as the login cycle.
#
# Usage: ringmail_load_imap_test.sh RINGMAIL RINGMAIL_ADMIN RINGMAIL_LOAD
# Exits 77 (skip) while `ringmail serve` has no --imap_port.
set -uo pipefail
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
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/out "$work"/err "$work"/server.log; do [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

"$admin" --data_dir="$work/data" domain add example.test >/dev/null || fail "domain add"
for i in 1 2 3 4; do
  echo pw | "$admin" --data_dir="$work/data" user add "user$i@example.test" --scheme=SSHA512 >/dev/null 2>&1 ||
    echo pw | "$admin" --data_dir="$work/data" user add "user$i@example.test" >/dev/null || fail "user add"
done

for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 30000))
  port_open "$port" && continue
  "$ringmail" serve --spam_scan=false --data_dir="$work/data" --shards=2 --smtp_port=0 --lmtp_port=0 --imap_port="$port" \
    --imaps_port=0 --pop3_port=0 --pop3s_port=0 --submission_port=0 --submissions_port=0 --listen_address=127.0.0.1 --log_level=warn "${extra[@]}" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    port_open "$port" && break 2
    sleep 0.1
  done
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; server_pid=""
done
[ -n "$server_pid" ] || fail "ringmail serve did not open an IMAP port"

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
