#!/usr/bin/env bash
# ringmail-load as a submission client (issue 13, the benchmark's load): STARTTLS + AUTH
# PLAIN against `ringmail serve`'s submission port, which refuses mail without AUTH.
#   1. --auth_user/--auth_password: every message accepted and delivered, sent as the login.
#   2. --users_file with two users: sessions alternate logins, each sends as its own
#      address (the server's sender check would answer 553 otherwise); both appear.
#   3. A wrong password: every session fails at stage=auth with 535, exit 1.
#   4. No AUTH at all: the server refuses MAIL (530), exit 1.
#   5. --from changed to an address the login may not use: 553 at MAIL, exit 1.
#   6. Usage errors (exit 2): AUTH without --starttls, --auth_user with --users_file.
# Usage: ringmail_load_auth_test.sh RINGMAIL RINGMAIL_ADMIN RINGMAIL_LOAD
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
ringmail="$(readlink -f "${1:?usage: ringmail_load_auth_test.sh RINGMAIL RINGMAIL_ADMIN RINGMAIL_LOAD}")"
admin="$(readlink -f "${2:?}")"
load="$(readlink -f "${3:?}")"

check_setup ringmail_load_auth
# check_lib.sh's bad, then the tail of the last ringmail-load run's output.
bad() {
  failed=$((failed + 1))
  failures+=("$*")
  echo "FAIL: $*"
  local f
  for f in "$work/out" "$work/err"; do [ -s "$f" ] && { echo "--- $f"; tail -n 8 "$f"; }; done
}

check_add_users example.org john:pw-john jane:pw-jane rcpt:pw-rcpt

read -r sub_port < <(ringmail_free_ports 1)
ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --submission_port="$sub_port" \
  --max_connections_per_ip=0 || { echo "FAIL: server did not start"; exit 1; }

maildir="$data/vmail/example.org/rcpt/Maildir/new"
delivered() { find "$maildir" -type f 2>/dev/null | wc -l; }

# run WANT_RC ARGS...: one ringmail-load run; summary in $work/out, diagnostics in $work/err.
run() {
  local want="$1"
  shift
  timeout 60 "$load" --port="$sub_port" --timeout=10s --recipients=rcpt@example.org "$@" >"$work/out" 2>"$work/err"
  rc=$?
  [ "$rc" -eq "$want" ]
}
field() { tr ' ' '\n' <"$work/out" | sed -n "s/^$1=//p"; }

# 1. One login for every session.
before=$(delivered)
if run 0 --starttls --auth_user=john@example.org --auth_password=pw-john --connections=4 --messages=200 --size=5120 &&
   [ "$(field ok)" = 200 ]; then
  ok "auth_user: 200 of 200 accepted ($(field msgs_per_sec) msgs/s)"
else
  bad "auth_user: exit $rc, want 0 and ok=200"
fi
got=$(($(delivered) - before))
[ "$got" -eq 200 ] && ok "auth_user: 200 delivered" || bad "auth_user: $got delivered, want 200"
john=$(grep -l '^From: <john@example.org>' "$maildir"/* 2>/dev/null | wc -l)
[ "$john" -eq 200 ] && ok "auth_user: sent as the login (From: john)" || bad "auth_user: $john messages From: john"
grep -qs 'Authenticated sender: john@example.org' "$maildir"/* && ok "auth_user: Received shows the authenticated sender" ||
  bad "auth_user: no 'Authenticated sender: john@example.org' in Received"

# 2. Two logins in turn, each sending as itself.
rm -f "$maildir"/*
printf 'john@example.org pw-john\n# comment\njane@example.org:pw-jane\n' >"$work/users.txt"
if run 0 --starttls --users_file="$work/users.txt" --connections=4 --shards=2 --messages=100 &&
   [ "$(field ok)" = 100 ]; then
  ok "users_file: 100 of 100 accepted"
else
  bad "users_file: exit $rc, want 0 and ok=100"
fi
john=$(grep -l '^From: <john@example.org>' "$maildir"/* 2>/dev/null | wc -l)
jane=$(grep -l '^From: <jane@example.org>' "$maildir"/* 2>/dev/null | wc -l)
if [ "$john" -gt 0 ] && [ "$jane" -gt 0 ] && [ $((john + jane)) -eq 100 ]; then
  ok "users_file: both logins sent ($john from john, $jane from jane)"
else
  bad "users_file: $john from john, $jane from jane (want both, 100 in all)"
fi

# 3. Wrong password: refused at AUTH.
if run 1 --starttls --auth_user=john@example.org --auth_password=wrong --connections=2 --messages=4 &&
   [ "$(field ok)" = 0 ] && grep -q 'stage=auth.*535' "$work/err"; then
  ok "wrong password: stage=auth 535, exit 1"
else
  bad "wrong password: exit $rc, want 1 with stage=auth 535"
fi

# 4. No AUTH on the submission port: MAIL refused.
if run 1 --starttls --connections=1 --messages=2 --from=john@example.org && [ "$(field ok)" = 0 ] &&
   grep -q 'stage=mail.*530' "$work/err"; then
  ok "no AUTH: stage=mail 530, exit 1"
else
  bad "no AUTH: exit $rc, want 1 with stage=mail 530"
fi

# 5. --from overrides the login's address: the sender check refuses it.
if run 1 --starttls --auth_user=john@example.org --auth_password=pw-john --from=jane@example.org --messages=2 &&
   grep -q '553' "$work/err"; then
  ok "--from not the login's: 553, exit 1"
else
  bad "--from not the login's: exit $rc, want 1 with 553"
fi

# 6. Usage errors.
if run 2 --auth_user=john@example.org --auth_password=pw-john --messages=1 && grep -q 'starttls' "$work/err"; then
  ok "AUTH without --starttls: usage error"
else
  bad "AUTH without --starttls: exit $rc, want 2"
fi
if run 2 --starttls --auth_user=john@example.org --users_file="$work/users.txt" --messages=1; then
  ok "--auth_user with --users_file: usage error"
else
  bad "--auth_user with --users_file: exit $rc, want 2"
fi

kill -0 "$ringmail_pid" 2>/dev/null && ok "server still running" || bad "server died"
ringmail_stop || bad "server did not exit 0 after SIGTERM"
summary
[ "$failed" -eq 0 ]
