#!/usr/bin/env bash
# SIGHUP reloads the DKIM signing keys (issue 16), `ringmail serve` on 127.0.0.1:
#   1. started with no keys: a submitted message to a local user is stored unsigned;
#   2. `ringmail-admin dkim keygen` + SIGHUP: the next one carries a DKIM-Signature with
#      the new selector (verified by python3-dkim against the printed record when
#      installed);
#   3. the key file broken + SIGHUP: the server keeps running, logs
#      mail_auth_reload_failed, and still signs with the key it had.
# Usage: dkim_reload_test.sh RINGMAIL RINGMAIL_ADMIN (KEEP_WORK=1 keeps the files).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
ringmail="$(readlink -f "${1:?usage: dkim_reload_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: dkim_reload_test.sh RINGMAIL RINGMAIL_ADMIN}")"

check_setup dkim_reload
check_need_binaries
check_add_users example.org john:pw-john jane:pw-jane

read -r sub_port < <(ringmail_free_ports 1)
[ -n "${sub_port:-}" ] || fatal "could not pick a free port"
ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --submission_port="$sub_port" ||
  fatal "server did not log event=ready within 10 s"
ok "server ready (submission=$sub_port, no DKIM keys)"

# submit SUBJECT: john -> jane on the submission port (STARTTLS, AUTH); prints the
# stored copy (jane's Maildir/new) or nothing after 10 s, and keeps it byte for byte in
# $work/SUBJECT.eml (a command substitution drops the final line end).
submit() {
  timeout 30 python3 - "$sub_port" "$1" "$data/vmail/example.org/jane/Maildir/new" "$work/$1.eml" <<'PY'
import glob, os, smtplib, ssl, sys, time
port, subject, maildir, copy = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
message = ("From: John <john@example.org>\r\nTo: jane@example.org\r\n"
           f"Subject: {subject}\r\n\r\nHello Jane.\r\n")
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    s.starttls(context=context)
    s.login("john@example.org", "pw-john")
    s.sendmail("john@example.org", ["jane@example.org"], message)
deadline = time.time() + 10
while time.time() < deadline:
    for path in glob.glob(os.path.join(maildir, "*")):
        with open(path, "rb") as f:
            data = f.read()
        if f"\r\nSubject: {subject}\r\n".encode() in data or data.startswith(f"Subject: {subject}\r\n".encode()):
            with open(copy, "wb") as f:
                f.write(data)
            sys.stdout.write(data.decode("utf-8", "replace"))
            sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
}

# reload EVENT: SIGHUP, then wait (10 s) for one more event=EVENT line in the log.
reload() {
  local before n _
  before=$(grep -c "event=$1" "$log")
  kill -HUP "$ringmail_pid"
  for _ in $(seq 1 200); do
    n=$(grep -c "event=$1" "$log")
    [ "$n" -gt "$before" ] && return 0
    sleep 0.05
  done
  return 1
}

# The s= of the stored copy's DKIM-Signature fields, one per line.
selectors() { tr -d '\r' <<<"$1" | sed -n '/^DKIM-Signature:/,/^[^ \t]/p' | tr -d ' \t\n' | grep -o 's=[^;]*' | cut -c3-; }

# ---- 1. no keys: unsigned ----
stored=$(submit before-keygen)
[ -n "$stored" ] && ok "unsigned message stored" || fatal "the first message was not stored"
grep -qi "^DKIM-Signature:" <<<"$stored" && bad "signed without a key: $(head -5 <<<"$stored")" ||
  ok "no DKIM-Signature without keys"

# ---- 2. keygen + SIGHUP: signed with the new selector ----
selector=reload1
record=$(adm dkim keygen example.org --selector="$selector" 2>&1) || fatal "dkim keygen: $record"
reload mail_auth_reloaded && ok "SIGHUP: mail_auth_reloaded logged" || bad "no mail_auth_reloaded after SIGHUP"
stored=$(submit after-keygen)
[ -n "$stored" ] || fatal "the second message was not stored"
[ "$(selectors "$stored")" = "$selector" ] && ok "signed with the new selector ($selector)" ||
  bad "selectors after reload: '$(selectors "$stored")'"
grep -q "d=example.org" <<<"$stored" && ok "d=example.org" || bad "no d=example.org: $(head -8 <<<"$stored")"

# python3-dkim checks the signature against the record keygen printed (Debian's Python).
if /usr/bin/python3 -c "import dkim" 2>/dev/null; then
  p=$(tr -d '\n' <<<"$record" | sed -n 's/.*IN TXT (\(.*\) ).*/\1/p' | sed 's/" "//g; s/"//g; s/ //g' | sed -n 's/.*p=\(.*\)/\1/p')
  if /usr/bin/python3 - "$work/after-keygen.eml" "$selector" "$p" <<'PY'; then
import sys, dkim
path, selector, p = sys.argv[1:]
record = f"v=DKIM1; k=rsa; p={p}".encode()
def dns(name, timeout=5):
    return record if name.decode().rstrip(".") == f"{selector}._domainkey.example.org" else None
sys.exit(0 if dkim.verify(open(path, "rb").read(), dnsfunc=dns) else 1)
PY
    ok "python3-dkim verifies the signature"
  else
    bad "python3-dkim does not verify the signature"
  fi
else
  echo "note: python3-dkim not installed, signature not verified independently"
fi

# ---- 3. a broken key file + SIGHUP: the old key stays ----
key_file=$(ls "$data/dkim/example.org/$selector".*.pem 2>/dev/null | head -1)
[ -n "$key_file" ] || fatal "no key file for $selector under $data/dkim/example.org"
printf 'not a key\n' >"$key_file"
reload mail_auth_reload_failed && ok "broken key: mail_auth_reload_failed logged" ||
  bad "no mail_auth_reload_failed after SIGHUP with a broken key"
kill -0 "$ringmail_pid" 2>/dev/null && ok "server still running" || fatal "server died on the broken key"
stored=$(submit after-broken-key)
[ -n "$stored" ] || fatal "the third message was not stored"
[ "$(selectors "$stored")" = "$selector" ] && ok "still signed with the old key ($selector)" ||
  bad "selectors after the failed reload: '$(selectors "$stored")'"

ringmail_stop && ok "server exited 0 after SIGTERM" || bad "server did not exit cleanly"
summary
[ "$failed" -eq 0 ]
