#!/bin/bash
# A full disk under the spool and the Maildirs (issue 13: "ENOSPC on the spool gives
# 452"): ringmail serve runs with --data_dir on an 8 MiB tmpfs in a private mount
# namespace; once a filler file has taken every free byte, submitting a message to a
# remote recipient (the outbound queue) is refused with 452 4.3.1 at the end of DATA (RFC 5321 4.2.3 "insufficient system storage"), the server
# keeps running, and after the filler is removed the same submission is accepted and
# queued. Exits 77 (skipped) where a private mount namespace or tmpfs is not permitted.
#   usage: spool_enospc_test.sh <ringmail> <ringmail-admin>
set -u
ringmail=$1
admin=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${RINGMAIL_ENOSPC_NS:-}" ]; then
  if ! unshare -m true 2>/dev/null; then
    echo "skipped: unshare -m is not permitted" >&2
    exit 77
  fi
  exec unshare -m env RINGMAIL_ENOSPC_NS=1 bash "$0" "$@"
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/ringmail-enospc-log-XXXXXX")
work=$(mktemp -d "${TMPDIR:-/tmp}/ringmail-enospc-XXXXXX")
if ! mount -t tmpfs -o size=8m ringmail-enospc "$work" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs" >&2
  rm -rf "$logs" "$work"
  exit 77
fi
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
cleanup() {
  ringmail_kill
  umount "$work" 2>/dev/null
  rmdir "$work" 2>/dev/null
  rm -rf "$logs"
}
trap cleanup EXIT
log="$logs/server.log"
data="$work/data"
fail() {
  echo "FAIL $*"
  echo "--- server log (last 30 lines):"
  tail -n 30 "$log"
  exit 1
}

adm() { "$admin" --data_dir="$data" "$@"; }
adm domain add example.org >/dev/null || fail "domain add"
echo "pw-john" | adm user add john@example.org >/dev/null || fail "user add"
read -r sub_port < <(ringmail_free_ports 1)
ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --submission_port="$sub_port" \
  --transport="remote.test=retry:4.4.1 this test relays nothing" || fail "server did not start"

submit() {  # submit RCPT SUBJECT: prints the reply code of the transaction
  timeout 60 python3 - "$sub_port" "$1" "$2" <<'PY'
import smtplib, ssl, sys
port, rcpt, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
body = "".join("line %05d of a message that will not fit on a full disk\r\n" % i for i in range(3000))
msg = f"From: john@example.org\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n{body}"
try:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.starttls(context=ctx)
        s.login("john@example.org", "pw-john")
        s.sendmail("john@example.org", [rcpt], msg)
    print("250")
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
PY
}

# Take every free byte (dd stops with ENOSPC).
dd if=/dev/zero of="$work/filler" bs=64k status=none 2>/dev/null
got=$(submit someone@remote.test full-remote)
case "$got" in 452*4.3.1*) echo "PASS remote recipient on a full spool: $got" ;; *) fail "remote on a full spool: $got" ;; esac
# (Local recipients on a full disk get 451 4.2.0 from the mail store, which cannot write
# the folder's index: temporary too, but not yet 452; the spool is what issue 13 covers.)
kill -0 "$ringmail_pid" 2>/dev/null || fail "the server died"
[ -z "$(find "$data/queue" -path '*/tmp/*' -type f)" ] || fail "half-written files left in queue tmp/"

rm -f "$work/filler"
got=$(submit someone@remote.test after-space)
[ "$got" = "250" ] || fail "after space came back: $got"
echo "PASS accepted again once there is space"
listing=$(adm queue list 2>&1)
echo "$listing" | grep -q "someone@remote.test" || fail "the accepted message is not in the queue: $listing"
[ "$(ls "$data"/queue/[0-9]/*.msg 2>/dev/null | wc -l)" -eq 1 ] || fail "expected exactly one queued message"
echo "PASS only the accepted message is queued"
ringmail_stop || fail "server exited $? after SIGTERM"
echo "PASS server exited 0"
