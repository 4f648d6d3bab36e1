#!/usr/bin/env bash
# Sieve at delivery end to end (issue 14; delivery/sieve/sieve_delivery.h): `ringmail serve`
# on 127.0.0.1 (ringmail_server_lib.sh, two shards) with SMTP, LMTP, IMAP and an outbound
# relay whose relayhost is a closed port (remote mail stays deferred in the queue), users'
# scripts written into their homes as Pigeonhole keeps them
# (<mail_root>/<domain>/<local>/sieve/x.sieve + the .dovecot.sieve symlink), a
# --sieve_before file and the built-in --sieve_after:
#   john   fileinto :flags (flags and keywords seen over IMAP), fileinto :create, mailboxexists, a missing
#          folder without :create (-> INBOX + log), discard, redirect to jane (local) and to
#          a remote address (`ringmail-admin queue list` shows it, envelope sender kept),
#          reject (a notice in the sender alice's INBOX), ereject (550 5.7.1 for john at
#          LMTP while alice's copy in the same transaction is 250), editheader (the stored
#          file has the added field and lacks the deleted one), the order sieve_before ->
#          user -> built-in sieve_after (spam -> Junk, both added fields present)
#   jane   vacation: carol gets one reply; a second message within :days gets none; a list
#          message (List-Id) gets none; a message to her alias info@ is answered
#   bob    a script that does not compile: INBOX and a log line naming bob
#   erin   duplicate: a second message with the same Message-ID is filed as a duplicate
#   dave   a run-time error (five redirects, --sieve_max_redirects is 4): INBOX, a log
#          line, nothing redirected
#   alice  no script: X-Spam-Flag: YES lands in Junk (built-in sieve_after), ham in INBOX
# then restarted without --sieve_before (a user without scripts: the built-in test made
# directly), and with the scanner on (a small rule file): its Junk verdict lands in Junk
# through the built-in sieve_after; with --spam_junk_folder=false spam stays in INBOX.
# Usage: sieve_delivery_test.sh RINGMAIL RINGMAIL_ADMIN (KEEP_WORK=1 keeps the files).
# Exits 77 while this ringmail serve has no --sieve_after flag (Sieve not wired yet).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
ringmail="$(readlink -f "${1:?usage: sieve_delivery_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: sieve_delivery_test.sh RINGMAIL RINGMAIL_ADMIN}")"

work="$(mktemp -d)"
data="$work/data"
log="$work/server.log"
vmail="$data/vmail/example.org"
passed=0
failed=0
failures=()

cleanup() {
  ringmail_kill
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); failures+=("$*"); echo "FAIL: $*"; }
check() { local name="$1"; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
summary() {
  echo
  if [ "$failed" -gt 0 ]; then
    local f
    for f in "${failures[@]}"; do echo "failed: $f"; done
    echo "--- server log (last 40 lines):"
    tail -n 40 "$log" 2>/dev/null
    echo "---"
  fi
  echo "sieve_delivery: $passed passed, $failed failed"
}
fatal() { bad "$*"; summary; exit 1; }

command -v python3 >/dev/null || fatal "python3 not found"
serve_help="$("$ringmail" serve --helpfull 2>&1)"
if ! grep -q -- "sieve_after" <<<"$serve_help"; then
  echo "skip: this ringmail serve has no Sieve at delivery yet (no --sieve_after)"
  exit 77
fi

adm() { "$admin" --data_dir="$data" "$@" >/dev/null; }
adm domain add example.org || fatal "ringmail-admin domain add"
for u in john jane bob alice carol dave erin; do
  echo "pw-$u" | adm user add "$u@example.org" || fatal "user add $u"
done
adm alias add info@example.org jane@example.org || fatal "alias add info -> jane"

# install USER SCRIPT-TEXT: sieve/main.sieve + .dovecot.sieve -> sieve/main.sieve
install() {
  local home="$vmail/$1"
  mkdir -p "$home/sieve"
  printf '%s\n' "$2" >"$home/sieve/main.sieve"
  ln -sfn sieve/main.sieve "$home/.dovecot.sieve"
}

install john 'require ["fileinto", "imap4flags", "mailbox", "editheader", "reject", "ereject"];
if header :contains "subject" "flagme" { fileinto :create :flags ["\\Flagged", "$work"] "Work"; stop; }
if header :contains "subject" "createme" { fileinto :create "New/Sub"; stop; }
if header :contains "subject" "existsme" { if mailboxexists "Work" { fileinto "Work"; } stop; }
if header :contains "subject" "missing" { fileinto "Nowhere"; stop; }
if header :contains "subject" "dropme" { discard; stop; }
if header :contains "subject" "tojane" { redirect "jane@example.org"; stop; }
if header :contains "subject" "toremote" { redirect "faraway@remote.test"; stop; }
if header :contains "subject" "bounceme" { reject "john does not want this"; stop; }
if header :contains "subject" "erejectme" { ereject "john refuses this"; stop; }
if header :contains "subject" "editme" { addheader "X-Edited" "by john"; deleteheader "X-Remove-Me"; }
if header :contains "subject" "order" { addheader "X-Order" "user"; }'
install jane 'require "vacation";
vacation :days 1 :subject "jane is away" "I am away until Monday.";'
install bob 'require "fileinto";
fileinto'  # does not compile
install erin 'require ["duplicate", "fileinto", "mailbox"];
if duplicate { fileinto :create "Dupes"; }'
install dave 'redirect "a@remote.test"; redirect "b@remote.test"; redirect "c@remote.test";
redirect "d@remote.test"; redirect "e@remote.test";'  # past --sieve_max_redirects (4) at run time

cat >"$work/before.sieve" <<'EOF'
require "editheader";
addheader "X-Sieve-Before" "seen";
EOF

read -r smtp_port lmtp_port imap_port dead_port < <(ringmail_free_ports 4)
[ -n "${dead_port:-}" ] || fatal "could not pick free ports"
: >"$log"
ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --smtp_port="$smtp_port" \
  --lmtp_port="$lmtp_port" --imap_port="$imap_port" --imap_allow_plaintext_auth=true \
  --relayhost="[127.0.0.1]:$dead_port" --queue_minimal_backoff=3600s --queue_maximal_backoff=3600s \
  --sieve_before="$work/before.sieve" || fatal "server did not log event=ready within 10 s"

# send FROM RCPT SUBJECT [EXTRA-HEADER-LINES]: one message over SMTP; prints the reply code.
send() {
  timeout 30 python3 - "$smtp_port" "$@" <<'PY'
import smtplib, sys
port, sender, rcpt, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
extra = sys.argv[5] if len(sys.argv) > 5 else ""
msg = (f"From: {sender or 'mailer-daemon@remote.test'}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
       f"Message-ID: <{subject.replace(' ', '.')}.{abs(hash(extra))}@test>\r\n{extra}"
       f"\r\nBody of {subject}.\r\n")
try:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.sendmail(sender, [rcpt], msg)
    print("250")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode(errors="replace"))
except smtplib.SMTPRecipientsRefused as e:
    print(" ".join(f"{c} {m.decode(errors='replace')}" for c, m in e.recipients.values()))
except Exception as e:
    print("error", e)
PY
}

# files USER FOLDER-DIR: message files in new/ and cur/ ("" = INBOX, ".Junk" = Junk)
files() { ls "$vmail/$1/Maildir/$2/new/" "$vmail/$1/Maildir/$2/cur/" 2>/dev/null | grep -v ':$' | grep -c .; }
grep_folder() {  # grep_folder USER FOLDER-DIR PATTERN: some file there matches
  grep -lq -- "$3" "$vmail/$1/Maildir/$2"/new/* "$vmail/$1/Maildir/$2"/cur/* 2>/dev/null
}
wait_for() {  # wait_for CMD...: up to 5 s
  for _ in $(seq 1 50); do "$@" && return 0; sleep 0.1; done
  return 1
}

# ---- john ----
check "fileinto :flags accepted" [ "$(send sender@remote.test john@example.org "flagme please")" = 250 ]
flags="$(timeout 20 python3 - "$imap_port" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("john@example.org", "pw-john")
typ, _ = m.select("Work", readonly=True)
typ, data = m.fetch("1", "(FLAGS)")
print(data[0].decode() if typ == "OK" and data and data[0] else "none")
m.logout()
PY
)"
check "fileinto :flags: \\Flagged and \$work on the message in Work (IMAP: $flags)" \
  bash -c 'grep -q "\\\\Flagged" <<<"$1" && grep -qi "\$work" <<<"$1"' _ "$flags"
check "fileinto :create: 250" [ "$(send sender@remote.test john@example.org createme)" = 250 ]
check "fileinto :create New/Sub: the folder with the message" grep_folder john ".New.Sub" "Subject: createme"
check "mailboxexists: 250" [ "$(send sender@remote.test john@example.org "existsme")" = 250 ]
check "mailboxexists \"Work\" (made by :create above): filed there" grep_folder john ".Work" "Subject: existsme"
inbox_before=$(files john "")
check "fileinto a missing folder accepted" [ "$(send sender@remote.test john@example.org "missing folder")" = 250 ]
check "missing folder without :create: INBOX" [ "$(files john "")" -eq $((inbox_before + 1)) ]
check "missing folder: no folder created" [ ! -d "$vmail/john/Maildir/.Nowhere" ]
check "missing folder: logged" grep -q "event=sieve_fileinto_missing.*folder=Nowhere" "$log"
total_before=$(find "$vmail/john/Maildir" -type f -path '*/new/*' -o -type f -path '*/cur/*' | wc -l)
check "discard: 250" [ "$(send sender@remote.test john@example.org "dropme now")" = 250 ]
check "discard: nothing stored" [ "$(find "$vmail/john/Maildir" -type f -path '*/new/*' -o -type f -path '*/cur/*' | wc -l)" -eq "$total_before" ]

check "redirect to jane: 250" [ "$(send sender@remote.test john@example.org "tojane now")" = 250 ]
check "redirect to jane: in jane's INBOX" grep_folder jane "" "Subject: tojane now"
check "redirect to jane: envelope sender kept (Return-Path)" grep_folder jane "" "Return-Path: <sender@remote.test>"
check "redirect to jane: carries Delivered-To: john" grep_folder jane "" "Delivered-To: john@example.org"
check "redirect to jane: not in john's INBOX" bash -c '! grep -lq "Subject: tojane now" "$1"/john/Maildir/new/* 2>/dev/null' _ "$vmail"

check "redirect to a remote address: 250" [ "$(send sender@remote.test john@example.org "toremote now")" = 250 ]
queue_has_remote() { "$admin" --data_dir="$data" queue list 2>/dev/null | grep -q "faraway@remote.test"; }
check "redirect to a remote address: in the queue (ringmail-admin queue list)" wait_for queue_has_remote
check "redirect to a remote address: envelope sender kept" bash -c '"$1" --data_dir="$2" queue list 2>/dev/null | grep -q "sender@remote.test"' _ "$admin" "$data"

check "reject: 250 (accepted, then refused by a notice)" [ "$(send alice@example.org john@example.org "bounceme now")" = 250 ]
check "reject: notice in alice's INBOX" wait_for grep_folder alice "" "was automatically rejected"
check "reject: the notice names the reason" grep_folder alice "" "john does not want this"
check "reject: nothing stored for john" bash -c '! grep -rlq "Subject: bounceme now" "$1"/john/Maildir 2>/dev/null' _ "$vmail"

lmtp="$(timeout 20 python3 - "$lmtp_port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode()
        lines.append(line.strip())
        if len(line) < 4 or line[3] != "-":
            return lines[-1]
reply()
for cmd in ["LHLO client.test", "MAIL FROM:<sender@remote.test>", "RCPT TO:<john@example.org>",
            "RCPT TO:<alice@example.org>", "DATA"]:
    s.sendall((cmd + "\r\n").encode())
    reply()
s.sendall(b"From: sender@remote.test\r\nTo: john@example.org, alice@example.org\r\n"
          b"Subject: erejectme now\r\n\r\nbody\r\n.\r\n")
print(reply(), "|", reply())
s.sendall(b"QUIT\r\n")
PY
)"
check "ereject at LMTP: 550 5.7.1 for john with the reason ($lmtp)" bash -c 'grep -q "^550 5.7.1 <john@example.org> john refuses this |" <<<"$1"' _ "$lmtp"
check "ereject at LMTP: 250 for alice in the same transaction" bash -c 'grep -q "| 250 " <<<"$1"' _ "$lmtp"
check "ereject at LMTP: alice has the message" grep_folder alice "" "Subject: erejectme now"

check "editheader: 250" [ "$(send sender@remote.test john@example.org "editme now" $'X-Remove-Me: secret\r\n')" = 250 ]
check "editheader: added field in the stored file" grep_folder john "" "X-Edited: by john"
check "editheader: deleted field gone from the stored file" bash -c '! grep -lq "X-Remove-Me" "$1"/john/Maildir/new/* 2>/dev/null' _ "$vmail"

check "order: spam with the order rule accepted" \
  [ "$(send sender@remote.test john@example.org "order spam" $'X-Spam-Flag: YES\r\n')" = 250 ]
check "order: sieve_after (built-in) filed it into Junk" grep_folder john ".Junk" "Subject: order spam"
check "order: sieve_before and the user script both edited it" \
  bash -c 'f=$(grep -l "Subject: order spam" "$1"/john/Maildir/.Junk/new/*) && grep -q "X-Sieve-Before: seen" "$f" && grep -q "X-Order: user" "$f" && [ "$(grep -n "X-Order: user" "$f" | cut -d: -f1)" -lt "$(grep -n "X-Sieve-Before: seen" "$f" | cut -d: -f1)" ]' _ "$vmail"

# ---- jane: vacation ----
check "vacation: first message from carol" [ "$(send carol@example.org jane@example.org "hello jane")" = 250 ]
replies() { grep -l "Subject: jane is away" "$vmail"/carol/Maildir/new/* 2>/dev/null | wc -l; }
check "vacation: one reply in carol's INBOX" wait_for bash -c '[ "$(grep -l "Subject: jane is away" "$1"/carol/Maildir/new/* 2>/dev/null | wc -l)" -eq 1 ]' _ "$vmail"
check "vacation: the reply is auto-submitted" grep_folder carol "" "Auto-Submitted: auto-replied"
check "vacation: second message from carol" [ "$(send carol@example.org jane@example.org "hello again")" = 250 ]
sleep 0.5
check "vacation: no second reply within :days" [ "$(replies)" -eq 1 ]
check "vacation: a list message from alice" [ "$(send alice@example.org jane@example.org "list mail" $'List-Id: <dev.lists.example.org>\r\n')" = 250 ]
sleep 0.5
check "vacation: no reply to a list message" bash -c '! grep -lq "Subject: jane is away" "$1"/alice/Maildir/new/* 2>/dev/null' _ "$vmail"
check "vacation: memory file in jane's home" [ -f "$vmail/jane/.ringmail.sieve-memory" ]
check "vacation: a message to jane's alias info@ from dave" [ "$(send dave@example.org info@example.org "to info")" = 250 ]
check "vacation: the alias counts as jane's address (one reply to dave)" \
  wait_for bash -c 'grep -lq "Subject: jane is away" "$1"/dave/Maildir/new/* 2>/dev/null' _ "$vmail"

# ---- bob: broken script ----
check "broken script: 250" [ "$(send sender@remote.test bob@example.org "to bob")" = 250 ]
check "broken script: INBOX" grep_folder bob "" "Subject: to bob"
check "broken script: a log line naming bob" grep -q "event=sieve_script_error.*user=bob@example.org" "$log"

# ---- erin: duplicate (RFC 7352), recorded after the delivery ----
send_fixed_id() {
  timeout 30 python3 - "$smtp_port" "$1" <<'PY'
import smtplib, sys
msg = f"From: x@remote.test\r\nTo: erin@example.org\r\nSubject: {sys.argv[2]}\r\nMessage-ID: <same.id@remote.test>\r\n\r\nbody\r\n"
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20) as s:
    s.sendmail("x@remote.test", ["erin@example.org"], msg)
print("250")
PY
}
check "duplicate: first copy accepted" [ "$(send_fixed_id "dup one")" = 250 ]
check "duplicate: first copy in INBOX" grep_folder erin "" "Subject: dup one"
check "duplicate: second copy (same Message-ID) accepted" [ "$(send_fixed_id "dup two")" = 250 ]
check "duplicate: second copy seen as a duplicate (Dupes)" grep_folder erin ".Dupes" "Subject: dup two"

# ---- dave: a run-time error (RFC 5228 2.10.6) ----
check "run-time error: 250" [ "$(send sender@remote.test dave@example.org "to dave")" = 250 ]
check "run-time error: INBOX" grep_folder dave "" "Subject: to dave"
check "run-time error: a log line naming dave and the error" grep -q "event=sieve_runtime_error user=dave@example.org.*error=" "$log"
check "run-time error: nothing redirected" bash -c '! "$1" --data_dir="$2" queue list 2>/dev/null | grep -q "a@remote.test"' _ "$admin" "$data"

# ---- alice: no script, the built-in sieve_after (interpreted: there is a sieve_before) ----
check "spam to a user without scripts: 250" [ "$(send sender@remote.test alice@example.org "cheap pills" $'X-Spam-Flag: YES\r\n')" = 250 ]
check "spam to a user without scripts: Junk (made by :create)" grep_folder alice ".Junk" "Subject: cheap pills"
check "ham to a user without scripts: 250" [ "$(send sender@remote.test alice@example.org "lunch")" = 250 ]
check "ham to a user without scripts: INBOX" grep_folder alice "" "Subject: lunch"

# ---- without --sieve_before: a user without scripts takes the built-in test directly ----
ringmail_stop || bad "server stop"
rm -rf "$vmail/carol/Maildir/.Junk"
ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --smtp_port="$smtp_port" \
  --relayhost="[127.0.0.1]:$dead_port" --queue_minimal_backoff=3600s --queue_maximal_backoff=3600s \
  || fatal "server did not restart"
check "no scripts at all: spam accepted" [ "$(send sender@remote.test carol@example.org "more pills" $'X-Spam-Flag: YES\r\n')" = 250 ]
check "no scripts at all: spam in Junk" grep_folder carol ".Junk" "Subject: more pills"
check "no scripts at all: no X-Sieve-Before" bash -c '! grep -q "X-Sieve-Before" "$1"/carol/Maildir/.Junk/new/*' _ "$vmail"
check "no scripts at all: X-Spam-Flag: NO accepted" [ "$(send sender@remote.test carol@example.org "fine mail" $'X-Spam-Flag: NO\r\n')" = 250 ]
check "no scripts at all: X-Spam-Flag: NO in INBOX" grep_folder carol "" "Subject: fine mail"
# ---- the scanner's Junk verdict through the built-in sieve_after, and headers-only mode ----
mkdir -p "$work/rules"
printf 'body RM_TEST_JUNK /\\blottery winnings\\b/i\nscore RM_TEST_JUNK 6\n' >"$work/rules/test.cf"
scan_start() {
  ringmail_stop || bad "server stop"
  ringmail_start "$log" "${ringmail_test_flags[@]}" --data_dir="$data" --smtp_port="$smtp_port" \
    --spam_scan=true --spam_rules="$work/rules" --spam_cache_dir=none "$@" || fatal "server with the scanner did not start"
}
scan_start
check "scanner: ham accepted" [ "$(send sender@remote.test carol@example.org "prize one")" = 250 ]
check "scanner: ham in INBOX with X-Spam-Status: No" \
  bash -c 'f=$(grep -l "Subject: prize one" "$1"/carol/Maildir/new/*) && grep -q "X-Spam-Status: No" "$f"' _ "$vmail"
printf 'From: sender@remote.test\r\nSubject: prize two\r\n\r\nclaim your lottery winnings\r\n' >"$work/spam.eml"
spam_send() {
  timeout 30 python3 - "$smtp_port" "$work/spam.eml" <<'PY'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20) as s:
    s.sendmail("sender@remote.test", ["carol@example.org"], open(sys.argv[2], "rb").read())
print("250")
PY
}
check "scanner: spam accepted" [ "$(spam_send)" = 250 ]
check "scanner: spam in Junk by the built-in sieve_after" grep_folder carol ".Junk" "Subject: prize two"
scan_start --spam_junk_folder=false
sed -i 's/prize two/prize three/' "$work/spam.eml"
check "headers only: spam accepted" [ "$(spam_send)" = 250 ]
check "headers only: spam stays in INBOX, marked" bash -c 'f=$(grep -l "Subject: prize three" "$1"/carol/Maildir/new/*) && grep -q "X-Spam-Flag: YES" "$f"' _ "$vmail"

summary
[ "$failed" -eq 0 ]
