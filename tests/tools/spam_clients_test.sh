#!/usr/bin/env bash
# The spam filter in `ringmail serve`, end to end with the stock SpamAssassin rules and a
# real client (Python smtplib) on 127.0.0.1:
#   1. start-up loads and compiles /usr/share/spamassassin (logged counts);
#   2. a plain message is delivered to INBOX with X-Spam-Status: No and X-Spam-Score;
#   3. GTUBE (SpamAssassin's test string, score 1000) is refused with 554 5.7.1 and
#      nothing is stored;
#   4. Bayes trained with `ringmail-admin spam learn`, then SIGHUP: the rules and the
#      model reload while the server keeps serving, and BAYES_xx appears in the headers;
#   5. SIGTERM: exit 0.
# Usage: spam_clients_test.sh RINGMAIL RINGMAIL_ADMIN. Skips (77) without the stock rules.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
ringmail="${1:?usage}"
admin="${2:?usage}"
[ -d /usr/share/spamassassin ] || { echo "no /usr/share/spamassassin (Debian's spamassassin): skipped"; exit 77; }

work="$(mktemp -d)"
data="$work/data"
log="$work/server.log"
failed=0
cleanup() {
  ringmail_kill
  rm -rf "$work"
}
trap cleanup EXIT
ok() { echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
wait_for() {  # wait_for PATTERN SECONDS
  for _ in $(seq 1 $(($2 * 10))); do
    grep -q "$1" "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

port=$(ringmail_free_ports 1)
mkdir -p "$data"
"$admin" --data_dir="$data" domain add example.org >/dev/null
echo secret | "$admin" --data_dir="$data" user add john@example.org >/dev/null
# The stock rules compile in seconds; far longer under the sanitizers.
ringmail_ready_seconds=240
if ringmail_start "$log" --data_dir="$data" --shards=2 --smtp_port="$port" --hostname=mx.example.org; then
  ok "server ready"
else
  bad "no event=ready"; exit 1
fi
pid=$ringmail_pid
grep -o "event=spam_rules_loaded rules=[0-9]* hyperscan=[0-9]* pcre=[0-9]*" "$log"
if grep -Eq "event=spam_rules_loaded rules=[0-9]{4}" "$log"; then ok "stock rules loaded"; else bad "stock rules not loaded"; fi

send() {  # send FILE -> prints the end-of-data reply code
  python3 - "$port" "$1" <<'PY'
import smtplib, sys
port, path = int(sys.argv[1]), sys.argv[2]
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.ehlo("client.example.net")
    try:
        s.sendmail("sender@example.net", ["john@example.org"], open(path, "rb").read())
        print(250)
    except smtplib.SMTPDataError as e:
        print(e.smtp_code, e.smtp_error.decode())
PY
}
inbox="$data/vmail/example.org/john/Maildir/new"

printf 'From: Ann <ann@example.net>\r\nTo: john@example.org\r\nSubject: lunch\r\nMessage-ID: <1@example.net>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\nShall we meet at noon?\r\n' >"$work/ham.eml"
reply=$(send "$work/ham.eml")
if [ "$reply" = 250 ] && grep -q "^X-Spam-Status: No, score=" "$inbox"/* && grep -q "^X-Spam-Score: " "$inbox"/*; then
  ok "ham delivered to INBOX with X-Spam-Status: No"
else
  bad "ham: reply '$reply'"
fi

printf 'From: spammer@example.net\r\nTo: john@example.org\r\nSubject: test\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n' >"$work/gtube.eml"
reply=$(send "$work/gtube.eml")
if [[ $reply == "554 5.7.1"* ]] && [ "$(ls "$inbox" | wc -l)" -eq 1 ] && [ ! -d "$data/vmail/example.org/john/Maildir/.Junk" ]; then
  ok "GTUBE refused with $reply, nothing stored"
else
  bad "GTUBE: reply '$reply'"
fi

# Bayes: 200 spam and 200 ham are the minimum SpamAssassin (and we) need before BAYES_xx.
mkdir -p "$work/spam" "$work/ham"
for i in $(seq 1 210); do
  printf 'Subject: cheap pills %d\r\n\r\ncheap pills casino viagra winner prize bonus offer %d\r\n' "$i" "$i" >"$work/spam/$i"
  printf 'Subject: project notes %d\r\n\r\nmeeting agenda project review patch lunch notes %d\r\n' "$i" "$i" >"$work/ham/$i"
done
"$admin" --data_dir="$data" spam learn --spam "$work/spam" 2>&1 | grep -q "learned=210" && ok "learned 210 spam" || bad "learn spam"
"$admin" --data_dir="$data" spam learn --ham "$work/ham" 2>&1 | grep -q "learned=210" && ok "learned 210 ham" || bad "learn ham"
kill -HUP "$pid"
if wait_for "event=spam_rules_reloaded" 240 && grep -q "event=spam_rules_reloaded.*bayes=ready" "$log"; then
  ok "SIGHUP reloaded the rules and the Bayes model"
else
  bad "no reload with bayes=ready"
fi
printf 'From: x@example.net\r\nTo: john@example.org\r\nSubject: cheap pills\r\n\r\ncheap pills casino viagra winner prize bonus offer\r\n' >"$work/bayes.eml"
reply=$(send "$work/bayes.eml")
if [ "$reply" = 250 ] && grep -rq "BAYES_99" "$data/vmail/example.org/john/Maildir"; then ok "BAYES_99 after training"; else bad "no BAYES_99 (reply '$reply')"; fi

if ringmail_stop; then ok "SIGTERM: exit 0"; else bad "SIGTERM: non-zero exit"; fi
[ "$failed" -eq 0 ] || { echo "--- server log"; tail -30 "$log"; }
echo "spam_clients: $failed failed"
[ "$failed" -eq 0 ]
