#!/usr/bin/env bash
# Message submission end to end (issue 13), `ringmail serve` on 127.0.0.1:
#   1. tests/tools/submission_clients.py: smtplib on the submission port (STARTTLS + AUTH
#      PLAIN and LOGIN) and the submissions port (implicit TLS), the refusals (538, 530,
#      535, 553 for a forged MAIL FROM and From:, 502 AUTH on the MX port, 451 4.3.2 for a
#      remote recipient while there is no queue), Date/Message-ID/Received on delivered
#      mail, and hostile input (CR/LF/NUL in MAIL parameters, a 12 KiB AUTH line, AUTH
#      twice, "*" cancel).
#   2. swaks --auth on both ports (skipped with a note when swaks is not installed).
#   3. A second run with --submission_hide_client: Received: without the client.
# Usage: submission_test.sh RINGMAIL RINGMAIL_ADMIN (KEEP_WORK=1 keeps the files).
# Ends with "submission: N passed, N failed"; exits 0 only if nothing failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
ringmail="$(readlink -f "${1:?usage: submission_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: submission_test.sh RINGMAIL RINGMAIL_ADMIN}")"

check_setup submission
check_need_binaries
check_add_users example.org john:pw-john jane:pw-jane
adm alias add sales@example.org john@example.org >/dev/null || fatal "alias add sales"
adm alias add team@example.org jane@example.org >/dev/null || fatal "alias add team"

# suite NAME ARGS...: one run of submission_clients.py, its PASS/FAIL lines counted.
suite() {
  local name="$1" out="$work/suite.$1.out" rc n_pass n_fail line
  shift
  timeout 120 python3 "$here/submission_clients.py" --smtp "$smtp_port" --submission "$sub_port" \
    --submissions "$subs_port" --vmail "$data/vmail" "$@" >"$out" 2>&1
  rc=$?
  cat "$out"
  n_pass=$(grep -c '^PASS ' "$out")
  n_fail=$(grep -c '^FAIL ' "$out")
  passed=$((passed + n_pass))
  failed=$((failed + n_fail))
  while IFS= read -r line; do failures+=("$name: ${line#FAIL }"); done < <(grep '^FAIL ' "$out")
  if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then bad "$name: submission_clients.py exited $rc without a verdict"; fi
  [ "$n_pass" -gt 0 ] || bad "$name: no check passed"
}

start() {
  read -r smtp_port sub_port subs_port < <(ringmail_free_ports 3)
  [ -n "${subs_port:-}" ] || fatal "could not pick free ports"
  : >"$log"
  ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --smtp_port="$smtp_port" \
    --submission_port="$sub_port" --submissions_port="$subs_port" \
    --transport="remote.test=retry:4.4.1 this test relays nothing" "$@" || fatal "server did not log event=ready within 10 s"
  ok "server ready (smtp=$smtp_port submission=$sub_port submissions=$subs_port $*)"
}

stop() {
  local rc=0
  ringmail_stop || rc=$?
  if [ "$rc" -eq 0 ]; then ok "server exited 0 after SIGTERM"; else bad "server exited $rc after SIGTERM"; fi
}

start
suite default
kill -0 "$ringmail_pid" 2>/dev/null || fatal "server died during the suite"

# swaks, a client no one here wrote: AUTH LOGIN over STARTTLS, AUTH PLAIN over implicit TLS.
if command -v swaks >/dev/null; then
  swaks_ok() {  # swaks_ok NAME ARGS...: swaks must succeed and its message must arrive
    local name="$1" subject="swaks-$1" out="$work/swaks.$1.out"
    shift
    if timeout 30 swaks --server 127.0.0.1 --from john@example.org --to jane@example.org \
        --auth-user john@example.org --auth-password pw-john --header "Subject: $subject" "$@" >"$out" 2>&1 &&
      grep -rqs "Subject: $subject" "$data/vmail/example.org/jane/Maildir/new"; then
      ok "swaks $name"
    else
      bad "swaks $name"
      tail -n 15 "$out"
    fi
  }
  swaks_ok starttls-login --port "$sub_port" --tls --auth LOGIN
  swaks_ok tlsc-plain --port "$subs_port" --tlsc --auth PLAIN
  if timeout 30 swaks --server 127.0.0.1 --port "$sub_port" --tls --auth PLAIN --auth-user john@example.org \
      --auth-password wrong --from john@example.org --to jane@example.org >"$work/swaks.bad.out" 2>&1; then
    bad "swaks wrong password refused"
  elif grep -q "535 5.7.8" "$work/swaks.bad.out"; then
    ok "swaks wrong password refused with 535 5.7.8"
  else
    bad "swaks wrong password refused with 535 5.7.8"
    tail -n 15 "$work/swaks.bad.out"
  fi
else
  echo "note: swaks not installed (Debian package swaks): its checks skipped"
fi
stop

start --submission_hide_client=true
suite hidden --hidden
stop

summary
[ "$failed" -eq 0 ]
