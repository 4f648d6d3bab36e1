#!/usr/bin/env bash
# The POP3 end-to-end suite (tests/tools/pop3_clients.py, issue 12) against `ringmail
# serve` or, to validate the suite itself, against a private Dovecot 2.3 POP3
# (imap_dovecot_lib.sh with DOVECOT_POP3=1), on 127.0.0.1:
#   1. john@example.org's Maildir is filled with the suite's messages (written to new/
#      before the server opens it), the server is started with its POP3 (STLS) and POP3S
#      ports only, and every check runs from 127.0.0.2, where login before STLS is
#      refused.
#   2. ringmail: SIGTERM must stop it with exit 0 within 15 s; then a second run with
#      --pop3_allow_plaintext_auth=true checks login without TLS (as jane@example.org, a
#      fresh Maildir), and with 2 s login and idle timeouts that slow clients are cut off.
#      Dovecot: the login without TLS from 127.0.0.1, an address it trusts (its timeouts
#      are not configurable so low: not checked).
# Usage: pop3_clients_test.sh ringmail RINGMAIL RINGMAIL_ADMIN | pop3_clients_test.sh dovecot
# (KEEP_WORK=1 keeps the files). Ends with "pop3_clients: N passed, N failed"; exits 0 only
# if nothing failed, 77 if Dovecot is wanted and cannot be installed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
kind="${1:?usage: pop3_clients_test.sh ringmail RINGMAIL RINGMAIL_ADMIN | dovecot}"
if [ "$kind" = ringmail ]; then
  ringmail="$(readlink -f "${2:?usage: pop3_clients_test.sh ringmail RINGMAIL RINGMAIL_ADMIN}")"
  admin="$(readlink -f "${3:?usage: pop3_clients_test.sh ringmail RINGMAIL RINGMAIL_ADMIN}")"
elif [ "$kind" != dovecot ]; then
  echo "usage: pop3_clients_test.sh ringmail RINGMAIL RINGMAIL_ADMIN | dovecot" >&2
  exit 2
fi

check_setup pop3_clients
[ "$kind" = ringmail ] || check_log_lines=0  # (Dovecot's log is $work/dovecot.log)
check_cleanup_hook() { if declare -F dovecot_stop >/dev/null; then dovecot_stop; fi; }

command -v python3 >/dev/null || fatal "python3 not found (Debian package: python3)"

# suite NAME ARGS...: one run of pop3_clients.py, its PASS/FAIL lines counted.
suite() {
  local name="$1" out="$work/suite.$1.out" rc n_pass n_fail line
  shift
  timeout 600 python3 "$here/pop3_clients.py" --host 127.0.0.1 --server-kind "$kind" --hostname mx.test "$@" >"$out" 2>&1
  rc=$?
  cat "$out"
  n_pass=$(grep -c '^PASS ' "$out")
  n_fail=$(grep -c '^FAIL ' "$out")
  passed=$((passed + n_pass))
  failed=$((failed + n_fail))
  while IFS= read -r line; do failures+=("$name: ${line#FAIL }"); done < <(grep '^FAIL ' "$out")
  if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then bad "$name: pop3_clients.py exited $rc without a verdict"; fi
  [ "$n_pass" -gt 0 ] || bad "$name: no check passed"
}

# start_ringmail EXTRA_FLAGS...: sets pop3_port, pop3s_port.
start_ringmail() {
  read -r pop3_port pop3s_port < <(ringmail_free_ports 2)
  [ -n "${pop3_port:-}" ] && [ -n "${pop3s_port:-}" ] || fatal "could not pick free ports"
  : >"$log"
  ringmail_start "$log" --data_dir="$data" "${ringmail_test_flags[@]}" --pop3_port="$pop3_port" --pop3s_port="$pop3s_port" "$@" ||
    fatal "server did not log event=ready within 10 s"
  ok "server ready (pop3=$pop3_port pop3s=$pop3s_port $*)"
}

stop_ringmail() {
  local rc=0
  ringmail_stop || rc=$?
  if [ "$rc" -eq 124 ]; then
    bad "server still running 15 s after SIGTERM"
  elif [ "$rc" -eq 0 ]; then
    ok "server exited 0 after SIGTERM"
  else
    bad "server exited $rc after SIGTERM"
  fi
}

if [ "$kind" = ringmail ]; then
  check_need_binaries
  check_add_users example.org john:pw-john jane:pw-jane
  john="$data/vmail/example.org/john/Maildir"
  jane="$data/vmail/example.org/jane/Maildir"
  python3 "$here/pop3_clients.py" --populate "$john" || fatal "populate $john"

  start_ringmail
  # From 127.0.0.2: a client on the server's own address may count as local.
  suite tls --port "$pop3_port" --tls-port "$pop3s_port" --source 127.0.0.2 \
    --user john@example.org --password pw-john --maildir "$john"
  kill -0 "$ringmail_pid" 2>/dev/null || fatal "server died during the suite"
  stop_ringmail

  python3 "$here/pop3_clients.py" --populate "$jane" || fatal "populate $jane"
  start_ringmail --pop3_allow_plaintext_auth=true --pop3_login_timeout=2s --pop3_idle_timeout=2s
  suite plaintext --port "$pop3_port" --tls-port "$pop3s_port" --source 127.0.0.2 --plaintext-allowed \
    --idle-timeout 2 --only plaintext_login_allowed,uidl,slow_clients --user jane@example.org --password pw-jane \
    --maildir "$jane"
  stop_ringmail

  errors="$(grep -c 'level=error' "$log")"
  if [ "$errors" -eq 0 ]; then ok "server logged no level=error lines"; else
    bad "server logged $errors level=error lines"; grep 'level=error' "$log" | head -5 | sed 's/^/    /'; fi
else
  # shellcheck source=imap_dovecot_lib.sh
  . "$here/imap_dovecot_lib.sh"
  DOVECOT_POP3=1 dovecot_start
  ok "Dovecot $(dovecot --version) POP3 on 127.0.0.1:$dovecot_pop3_port (STLS) and :$dovecot_pop3s_port (TLS)"
  john="$vmail/example.org/john/Maildir"
  jane="$vmail/example.org/jane/Maildir"
  "${as_user[@]}" python3 "$here/pop3_clients.py" --populate "$john" || fatal "populate $john"
  "${as_user[@]}" python3 "$here/pop3_clients.py" --populate "$jane" || fatal "populate $jane"
  # Dovecot trusts a client on its own address (disable_plaintext_auth does not apply):
  # 127.0.0.2 for the refusal, 127.0.0.1 for the plaintext logins.
  suite tls --port "$dovecot_pop3_port" --tls-port "$dovecot_pop3s_port" --source 127.0.0.2 \
    --user john@example.org --password pw-john --maildir "$john"
  suite plaintext --port "$dovecot_pop3_port" --tls-port "$dovecot_pop3s_port" --source 127.0.0.1 --plaintext-allowed \
    --only plaintext_login_allowed,uidl --user jane@example.org --password pw-john --maildir "$jane"
  if grep -qiE 'panic|fatal' "$work/dovecot.log"; then
    bad "Dovecot logged panics or fatal errors"; grep -iE 'panic|fatal' "$work/dovecot.log" | head
  fi
fi

summary
[ "$failed" -eq 0 ]
