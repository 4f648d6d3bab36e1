#!/usr/bin/env bash
# ManageSieve end to end (issue 14) against `ringmail serve`, on 127.0.0.1:
#   1. tests/tools/managesieve_clients.py: raw sockets from 127.0.0.2 (not trusted: no login
#      before STARTTLS) through every command and response code, STARTTLS with the server's
#      self-signed certificate, AUTHENTICATE PLAIN/LOGIN, syntax errors with line and
#      column, quota limits (the server runs with --sieve_max_scripts=4 and
#      --sieve_max_script_size=4096), the active script, renames, hostile input; the files
#      it leaves in <home>/sieve and the .dovecot.sieve link are checked as it goes.
#   2. Debian's sieve-connect (over STARTTLS, --notlsverify): upload, list, activate,
#      download, check, deactivate and delete a script, with the files on disk checked
#      after each step as Dovecot's managesieve would leave them.
#   3. A delivery obeys a script uploaded and activated over ManageSieve: sieve-connect
#      puts a fileinto :create rule for jane, two messages arrive over LMTP, the one that
#      matches lands in her .Lists folder and the other in INBOX.
#   4. Net_Sieve (php-net-sieve, what Roundcube's managesieve plugin uses) through
#      tests/tools/managesieve_net_sieve.php: the same life cycle as the plugin drives it.
# Usage: managesieve_test.sh RINGMAIL RINGMAIL_ADMIN (KEEP_WORK=1 keeps the files). Ends
# with "managesieve: N passed, N failed"; exits 0 only if nothing failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
ringmail="$(readlink -f "${1:?usage: managesieve_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: managesieve_test.sh RINGMAIL RINGMAIL_ADMIN}")"

check_setup managesieve
check_need_binaries
check_add_users example.org john:pw-john jane:pw-jane

read -r port lmtp_port < <(ringmail_free_ports 2)
[ -n "${port:-}" ] && [ -n "${lmtp_port:-}" ] || fatal "could not pick free ports"
ringmail_start "$log" --data_dir="$data" "${ringmail_test_flags[@]}" --managesieve_port="$port" --lmtp_port="$lmtp_port" \
  --sieve_max_scripts=4 --sieve_max_script_size=4096 || fatal "server did not log event=ready within 10 s"
ok "server ready (managesieve=$port)"

# 1. Raw sockets.
out="$work/clients.out"
timeout 300 python3 "$here/managesieve_clients.py" --port "$port" --source 127.0.0.2 --user john@example.org \
  --password pw-john --mail-root "$data/vmail" --max-scripts 4 --max-script-bytes 4096 >"$out" 2>&1
rc=$?
cat "$out"
n_pass=$(grep -c '^PASS ' "$out")
n_fail=$(grep -c '^FAIL ' "$out")
passed=$((passed + n_pass))
failed=$((failed + n_fail))
while IFS= read -r line; do failures+=("clients: ${line#FAIL }"); done < <(grep '^FAIL ' "$out")
if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then bad "managesieve_clients.py exited $rc without a verdict"; fi
[ "$n_pass" -gt 0 ] || bad "managesieve_clients.py: no check passed"
kill -0 "$ringmail_pid" 2>/dev/null || fatal "server died during the raw-socket checks"

# 2. sieve-connect, as jane (a home with no scripts yet).
if ! command -v sieve-connect >/dev/null; then
  bad "sieve-connect not found (Debian package: sieve-connect; scripts/install-deps.sh)"
else
  home="$data/vmail/example.org/jane"
  sc() {
    # The password on fd 3; STARTTLS with the self-signed certificate (not verified).
    timeout 60 sieve-connect --server 127.0.0.1 --port "$port" --user jane@example.org --passwordfd 3 \
      --notlsverify --authmech PLAIN "$@" 3< <(printf 'pw-jane\n') 2>&1
  }
  printf 'require ["fileinto"];\r\nif header :contains "subject" "[sc]" {\r\n  fileinto "Lists";\r\n}\r\n' \
    >"$work/vacation.sieve"
  if o="$(sc --upload --localsieve "$work/vacation.sieve" --remotesieve filters)"; then
    if cmp -s "$work/vacation.sieve" "$home/sieve/filters.sieve"; then ok "sieve-connect --upload wrote sieve/filters.sieve"; else
      bad "sieve-connect --upload: $home/sieve/filters.sieve missing or different"; fi
  else
    bad "sieve-connect --upload: $o"
  fi
  o="$(sc --list)"
  if grep -qx '"filters"' <<<"$o"; then ok "sieve-connect --list shows filters"; else bad "sieve-connect --list: $o"; fi
  if o="$(sc --activate --remotesieve filters)" && [ "$(readlink "$home/.dovecot.sieve")" = "sieve/filters.sieve" ]; then
    ok "sieve-connect --activate linked .dovecot.sieve -> sieve/filters.sieve"
  else
    bad "sieve-connect --activate: $o; link: $(readlink "$home/.dovecot.sieve")"
  fi
  o="$(sc --list)"
  if grep -qx '"filters" ACTIVE' <<<"$o"; then ok "sieve-connect --list marks filters active"; else
    bad "sieve-connect --list after activate: $o"; fi
  rm -f "$work/down.sieve"
  if o="$(sc --download --remotesieve filters --localsieve "$work/down.sieve")" && cmp -s "$work/vacation.sieve" "$work/down.sieve"; then
    ok "sieve-connect --download gives the script back"
  else
    bad "sieve-connect --download: $o"
  fi
  printf 'require "fileinto";\nfileinto;\n' >"$work/broken.sieve"
  o="$(sc --checkscript --localsieve "$work/broken.sieve")"
  if grep -q 'line 2, column' <<<"$o"; then ok "sieve-connect --checkscript reports line and column"; else
    bad "sieve-connect --checkscript of a broken script: $o"; fi
  o="$(sc --delete --remotesieve filters)"
  if [ -f "$home/sieve/filters.sieve" ]; then ok "sieve-connect --delete of the active script refused"; else
    bad "sieve-connect --delete removed the active script: $o"; fi
  if o="$(sc --deactivate)" && [ ! -L "$home/.dovecot.sieve" ]; then ok "sieve-connect --deactivate removed .dovecot.sieve"; else
    bad "sieve-connect --deactivate: $o"; fi
  if o="$(sc --delete --remotesieve filters)" && [ ! -e "$home/sieve/filters.sieve" ]; then
    ok "sieve-connect --delete removed sieve/filters.sieve"
  else
    bad "sieve-connect --delete: $o"
  fi
fi

# 3. A delivery obeying a script put over ManageSieve (jane's scripts are gone after 2.).
if command -v sieve-connect >/dev/null; then
  maildir="$data/vmail/example.org/jane/Maildir"
  printf 'require ["fileinto", "mailbox"];\r\nif header :contains "subject" "[ms-deliver]" {\r\n  fileinto :create "Lists";\r\n}\r\n' \
    >"$work/deliver.sieve"
  if o="$(sc --upload --localsieve "$work/deliver.sieve" --remotesieve deliver)" &&
     o="$(sc --activate --remotesieve deliver)"; then
    if timeout 60 python3 - "$lmtp_port" <<'PY'
import smtplib, sys
with smtplib.LMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as c:
    for subject in ("[ms-deliver] filed by the script", "not for the script"):
        msg = (f"From: a@example.net\r\nTo: jane@example.org\r\nSubject: {subject}\r\n"
               f"Message-ID: <{abs(hash(subject))}@example.net>\r\n\r\nbody\r\n")
        refused = c.sendmail("a@example.net", ["jane@example.org"], msg)
        if refused:
            sys.exit(f"refused: {refused}")
PY
    then
      n_lists=$(find "$maildir/.Lists/new" "$maildir/.Lists/cur" -type f 2>/dev/null | wc -l)
      in_lists=$(cat "$maildir"/.Lists/new/* "$maildir"/.Lists/cur/* 2>/dev/null | grep -c '^Subject: \[ms-deliver\]')
      in_inbox=$(cat "$maildir"/new/* "$maildir"/cur/* 2>/dev/null | grep -c '^Subject: not for the script')
      if [ "$n_lists" -eq 1 ] && [ "$in_lists" -eq 1 ] && [ "$in_inbox" -eq 1 ]; then
        ok "delivery obeys the script put over ManageSieve (one message in .Lists, the other in INBOX)"
      else
        bad "delivery after ManageSieve: .Lists has $n_lists files ($in_lists matching), INBOX has $in_inbox of the other"
      fi
    else
      bad "LMTP delivery to jane failed"
    fi
  else
    bad "sieve-connect could not upload and activate the delivery script: $o"
  fi
fi

# 4. Net_Sieve (Debian's php-net-sieve), the library Roundcube's managesieve plugin talks
# through, as kate: STARTTLS, login, install + activate, list, get, refusals, delete.
if command -v php >/dev/null && php -r 'require_once "Net/Sieve.php";' 2>/dev/null; then
  echo "pw-kate" | adm user add kate@example.org >/dev/null || bad "ringmail-admin user add kate@example.org"
  out="$work/net_sieve.out"
  timeout 60 php "$here/managesieve_net_sieve.php" "$port" kate@example.org pw-kate >"$out" 2>&1
  cat "$out"
  passed=$((passed + $(grep -c '^ok: ' "$out")))
  failed=$((failed + $(grep -c '^FAIL: ' "$out")))
  while IFS= read -r line; do failures+=("${line#FAIL: }"); done < <(grep '^FAIL: ' "$out")
  grep -q '^ok: ' "$out" || bad "managesieve_net_sieve.php: no check passed"
else
  bad "php or Net_Sieve missing (Debian packages: php-cli, php-net-sieve; scripts/install-deps.sh)"
fi

rc=0
ringmail_stop || rc=$?
if [ "$rc" -eq 0 ]; then ok "server exited 0 after SIGTERM"; else bad "server exited $rc after SIGTERM"; fi
errors="$(grep -c 'level=error' "$log")"
if [ "$errors" -eq 0 ]; then ok "server logged no level=error lines"; else
  bad "server logged $errors level=error lines"; grep 'level=error' "$log" | head -5 | sed 's/^/    /'; fi

summary
[ "$failed" -eq 0 ]
