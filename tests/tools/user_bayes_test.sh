#!/usr/bin/env bash
# Bayes per recipient at delivery (issue 15, spam/bayes/user_models.h) end to end: one
# `ringmail serve`, two users, one SMTP message to both.
#   - The global store and a's store are trained the opposite ways (>= 200/200 each, with
#     `ringmail-admin spam learn [--user=a@example.org]`); b has no training of their own.
#   - A message of the class the global store calls ham: b's copy has the global verdict
#     (BAYES_00, INBOX); a's copy a's own (BAYES_99, X-Spam-Flag: YES, Junk).
#   - The cache warms on the first message to a (the 250 never waits for a store read):
#     a first message is sent to warm it, then the checked one. One shard: the cache is
#     per shard, and which shard a connection lands on is the kernel's choice.
# Usage: user_bayes_test.sh RINGMAIL RINGMAIL_ADMIN
# Ends with "user_bayes: N passed, N failed"; exits 0 only if nothing failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
ringmail="${1:?usage: user_bayes_test.sh RINGMAIL RINGMAIL_ADMIN}"
admin="${2:?usage: user_bayes_test.sh RINGMAIL RINGMAIL_ADMIN}"

check_setup user_bayes
check_need_binaries
check_add_users example.org a:pw-a b:pw-b

# Two classes of synthetic mail, 220 files each ("red" and "blue" words), and the Bayes
# rules of SpamAssassin's 23_bayes.cf / 50_scores.cf (score set 2 when Bayes is usable).
python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
words = {"red": ["crimson", "scarlet", "ruby", "cherry", "tomato", "brick", "rose", "flame"],
         "blue": ["azure", "cobalt", "navy", "sapphire", "ocean", "indigo", "denim", "teal"]}
for cls, ws in words.items():
    d = os.path.join(work, cls)
    os.makedirs(d)
    for i in range(220):
        body = " ".join(ws[(i + 3 * k) % 8] for k in range(40)) + f" ref{i}"
        with open(os.path.join(d, f"{i}.eml"), "w") as f:
            f.write(f"From: x{i}@sender.test\r\nTo: someone@example.org\r\nMessage-ID: <{cls}{i}@sender.test>\r\n"
                    f"Subject: {cls} {i}\r\n\r\n{body}\r\n")
with open(os.path.join(work, "bayes.cf"), "w") as f:
    f.write("body BAYES_00 eval:check_bayes('0.00', '0.01')\nscore BAYES_00 0 0 -1.9 -1.9\n"
            "body BAYES_99 eval:check_bayes('0.99', '1.00')\nscore BAYES_99 0 0 3.5 3.5\n")
PY
# Global: red is spam, blue ham. a: the other way round. b: nothing.
adm spam learn --spam "$work/red" 2>/dev/null || fatal "learn global spam"
adm spam learn --ham "$work/blue" 2>/dev/null || fatal "learn global ham"
adm spam learn --user=a@example.org --spam "$work/blue" 2>/dev/null || fatal "learn a's spam"
adm spam learn --user=a@example.org --ham "$work/red" 2>/dev/null || fatal "learn a's ham"

smtp_port="$(ringmail_free_ports 1)"
ringmail_ready_seconds=20
ringmail_start "$log" --spam_rules="$work/bayes.cf" --data_dir="$data" --shards=1 --smtp_port="$smtp_port" \
  --hostname=mx.test --shutdown_grace=1s --log_level=info --spam_junk_score=3 "$@" ||
  fatal "server did not log event=ready within 20 s"

# send TAG RCPT...: one SMTP transaction of a "blue" message; prints the final reply code.
send() {
  SMTP_PORT="$smtp_port" python3 - "$@" <<'PY'
import os, smtplib, sys
tag, rcpts = sys.argv[1], sys.argv[2:]
words = ["azure", "cobalt", "navy", "sapphire", "ocean", "indigo", "denim", "teal"]
body = " ".join(words[(5 + 3 * k) % 8] for k in range(40))
msg = (f"From: sender@sender.test\r\nTo: {', '.join(rcpts)}\r\nMessage-ID: <{tag}@sender.test>\r\n"
       f"Subject: {tag}\r\n\r\n{body} {tag}\r\n")
s = smtplib.SMTP("127.0.0.1", int(os.environ["SMTP_PORT"]), timeout=30)
s.ehlo("client.sender.test")
refused = s.sendmail("sender@sender.test", rcpts, msg)
s.quit()
print("250" if not refused else "refused")
PY
}
# copy_of USER TAG: the path of USER's copy of the message TAG (any folder).
copy_of() { grep -rl --include='*' -e "^Subject: $2" "$data" 2>/dev/null | grep "/$1/" | head -1; }

[ "$(send warm-up a@example.org b@example.org)" = 250 ] || bad "warm-up message accepted"
sleep 1  # a's store is read on the offload pool meanwhile
[ "$(send checked a@example.org b@example.org)" = 250 ] && ok "250 for both recipients" || bad "250 for both recipients"

a_copy="$(copy_of a checked)"
b_copy="$(copy_of b checked)"
[ -n "$a_copy" ] && ok "a's copy delivered" || bad "a's copy delivered"
[ -n "$b_copy" ] && ok "b's copy delivered" || bad "b's copy delivered"
if [ -n "$a_copy" ]; then
  grep -q "BAYES_99" "$a_copy" && ok "a's X-Spam-Status has a's Bayes verdict (BAYES_99)" ||
    bad "a's X-Spam-Status has BAYES_99: $(grep -A1 '^X-Spam-Status' "$a_copy")"
  grep -q "^X-Spam-Flag: YES" "$a_copy" && ok "a's copy is flagged spam" || bad "a's copy is flagged spam"
  case "$a_copy" in */.Junk/*) ok "a's copy is in Junk" ;; *) bad "a's copy is in Junk: $a_copy" ;; esac
  [ "$(grep -c '^X-Spam-Status' "$a_copy")" = 1 ] && ok "a's copy has one X-Spam-Status" || bad "a's copy has one X-Spam-Status"
fi
if [ -n "$b_copy" ]; then
  grep -q "BAYES_00" "$b_copy" && ok "b's X-Spam-Status has the global verdict (BAYES_00)" ||
    bad "b's X-Spam-Status has BAYES_00: $(grep -A1 '^X-Spam-Status' "$b_copy")"
  grep -q "^X-Spam-Flag" "$b_copy" && bad "b's copy is not flagged" || ok "b's copy is not flagged"
  case "$b_copy" in */.Junk/*) bad "b's copy is in INBOX: $b_copy" ;; *) ok "b's copy is in INBOX" ;; esac
fi
grep -q "event=spam_recipient_verdict.*rcpt=a@example.org" "$log" && ok "a's own verdict is logged" ||
  bad "a's own verdict is logged"

# With --spam_user_bayes=false, a gets the global verdict too.
ringmail_stop >/dev/null
ringmail_start "$log" --spam_rules="$work/bayes.cf" --data_dir="$data" --shards=1 --smtp_port="$smtp_port" \
  --hostname=mx.test --shutdown_grace=1s --log_level=info --spam_junk_score=3 --spam_user_bayes=false "$@" ||
  fatal "server did not restart"
send off-warm a@example.org >/dev/null
sleep 1
send off-checked a@example.org >/dev/null
off_copy="$(copy_of a off-checked)"
[ -n "$off_copy" ] && grep -q "BAYES_00" "$off_copy" && ok "--spam_user_bayes=false: a gets the global verdict" ||
  bad "--spam_user_bayes=false: a gets the global verdict"

summary
[ "$failed" -eq 0 ]
