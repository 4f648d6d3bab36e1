#!/usr/bin/env bash
# Greylisting state survives a restart (issue 15), end to end with `ringmail serve` and
# Python smtplib on 127.0.0.1. Scanning runs with ringmail's own rules only (they compile
# in a second) and --greylist_score far below any score, so every triplet is greylisted:
#   1. a first attempt gets 451 4.7.1, and the 1 s flush writes the triplet to
#      <data_dir>/greylist/ while the server runs;
#   2. SIGTERM, restart with another shard count (3 instead of 2: the journals are merged
#      and split again), a retry after --greylist_delay=1s passes with 250 and is
#      delivered: the triplet was remembered; an unknown triplet still gets 451;
#   3. a new triplet's first attempt, 2 s for the periodic flush, SIGKILL (no clean
#      shutdown), restart: its retry passes too;
#   4. a journal with a torn last line and garbage still loads (the skipped lines logged).
# Usage: greylist_restart_test.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
ringmail="${1:?usage: greylist_restart_test.sh RINGMAIL RINGMAIL_ADMIN}"
admin="${2:?usage}"
rules="$(cd "$here/../../spam/rules" && pwd)"
check_setup greylist_restart
check_need_binaries
mkdir -p "$data"
check_add_users example.org john:secret
port=$(ringmail_free_ports 1)
inbox="$data/vmail/example.org/john/Maildir/new"
ringmail_ready_seconds=120  # the rules compile at start-up (longer under the sanitizers)

start() {  # start SHARDS
  ringmail_start "$log" "${ringmail_test_flags[@]}" --spam_scan=true --spam_rules="$rules" --shards="$1" \
    --greylist --greylist_score=-1000 --greylist_delay=1s --data_dir="$data" --smtp_port="$port" ||
    fatal "server did not start ($1 shards)"
}

send() {  # send SENDER -> the end-of-data reply: "250" or "CODE text"
  python3 - "$port" "$1" <<'PY'
import smtplib, sys
port, sender = int(sys.argv[1]), sys.argv[2]
msg = b"From: <%s>\r\nTo: john@example.org\r\nSubject: hello\r\n\r\nA plain note.\r\n" % sender.encode()
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.ehlo("client.example.net")
    try:
        s.sendmail(sender, ["john@example.org"], msg)
        print(250)
    except smtplib.SMTPDataError as e:
        print(e.smtp_code, e.smtp_error.decode())
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        print(code, text.decode())
PY
}

journal_has() {  # journal_has TEXT SECONDS: some shard's journal names TEXT within SECONDS
  local _
  for _ in $(seq 1 $(($2 * 10))); do
    cat "$data"/greylist/shard-*.log 2>/dev/null | grep -q -- "$1" && return 0
    sleep 0.1
  done
  return 1
}

messages() { find "$inbox" -type f 2>/dev/null | wc -l; }

# 1. First sight: deferred, and on disk within the flush period.
start 2
reply=$(send alice@example.net)
if [[ $reply == "451 4.7.1"* ]]; then ok "first attempt deferred: $reply"; else bad "first attempt: '$reply' (want 451 4.7.1)"; fi
check "the triplet is in the journal within 3 s, before any shutdown" journal_has "alice@example.net" 3
check "greylist_loaded logged at start-up" grep -q "event=greylist_loaded" "$log"

# 2. Clean restart with 3 shards; the retry after the 1 s delay passes.
ringmail_stop || bad "SIGTERM: non-zero exit"
sleep 1.2
start 3
check "the restart loaded the triplet" grep -q "event=greylist_loaded.*triplets=1 " "$log"
reply=$(send alice@example.net)
if [ "$reply" = 250 ] && [ "$(messages)" -eq 1 ]; then ok "retry after the restart passes (250, delivered)"; else bad "retry after restart: '$reply', $(messages) messages"; fi
reply=$(send bob@example.net)
if [[ $reply == "451 4.7.1"* ]]; then ok "an unknown triplet is still deferred"; else bad "unknown triplet: '$reply'"; fi

# 3. SIGKILL after the periodic flush: no clean shutdown, the state is still there.
reply=$(send carol@example.net)
[[ $reply == "451 4.7.1"* ]] || bad "carol's first attempt: '$reply'"
check "carol's triplet flushed while running" journal_has "carol@example.net" 3
ringmail_kill
sleep 1.2
start 2
reply=$(send carol@example.net)
if [ "$reply" = 250 ]; then ok "retry after SIGKILL passes (the 1 s flush had written it)"; else bad "retry after SIGKILL: '$reply'"; fi
reply=$(send alice@example.net)
if [ "$reply" = 250 ]; then ok "the passed triplet stays known across two restarts"; else bad "alice after two restarts: '$reply'"; fi
ringmail_stop || bad "SIGTERM: non-zero exit"

# 4. A damaged journal: garbage and a torn last line are skipped, the rest loads.
printf 'not a record\n' >>"$data/greylist/shard-0.log"
printf 'g1 123' >>"$data/greylist/shard-1.log"
start 2
if grep -q "event=greylist_loaded.*triplets=[1-9].*skipped_lines=2" "$log"; then
  ok "damaged journal loaded, 2 lines skipped"
else
  bad "damaged journal: $(grep event=greylist_loaded "$log" | tail -1)"
fi
reply=$(send carol@example.net)
if [ "$reply" = 250 ]; then ok "state kept despite the damaged lines"; else bad "carol after damage: '$reply'"; fi
ringmail_stop || bad "SIGTERM: non-zero exit"

summary
[ "$failed" -eq 0 ]
