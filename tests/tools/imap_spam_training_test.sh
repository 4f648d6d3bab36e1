#!/usr/bin/env bash
# IMAP Junk training end to end (issue 10, spam/bayes/trainer.h): `ringmail serve` with
# spam scanning on (ringmail's own rules, for a fast start), a user, and Python's imaplib
# over STARTTLS:
#   1. APPEND a message to INBOX, UID MOVE it to Junk: learned as spam for that user
#      (`ringmail-admin spam stats --user=...`), the global store untouched.
#   2. UID MOVE it back to INBOX: the counts move from spam to ham.
#   3. COPY another into Junk (spam), MOVE that copy from Junk to Trash (not ham), then a
#      third into Junk: once it shows, the Trash move has learned nothing.
#   4. With --imap_spam_training=false, a move into Junk learns nothing.
# Usage: imap_spam_training_test.sh RINGMAIL RINGMAIL_ADMIN
# Ends with "imap_spam_training: N passed, N failed"; exits 0 only if nothing failed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
# shellcheck source=check_lib.sh
. "$here/check_lib.sh"
own_rules="$(cd "$(dirname "$0")/../.." && pwd)/spam/rules"
ringmail="${1:?usage: imap_spam_training_test.sh RINGMAIL RINGMAIL_ADMIN}"
admin="${2:?usage: imap_spam_training_test.sh RINGMAIL RINGMAIL_ADMIN}"

check_setup imap_spam_training
check_need_binaries
check_add_users example.org john:pw-john

imap_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
[ -n "$imap_port" ] || fatal "could not pick a free port"

ringmail_ready_seconds=20  # the spam rules compile first
start_server() {  # start_server EXTRA_FLAGS...
  : >"$log"
  ringmail_start "$log" --spam_rules="$own_rules" --data_dir="$data" --shards=2 --imap_port="$imap_port" \
    --hostname=mx.test --shutdown_grace=1s --log_level=info "$@" ||
    fatal "server did not log event=ready within 20 s"
  server_pid=$ringmail_pid
}
stop_server() {
  kill -TERM "$server_pid"
  for _ in $(seq 1 150); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    bad "server still running 15 s after SIGTERM"
    return
  fi
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  if [ "$rc" -eq 0 ]; then ok "server exited 0 after SIGTERM"; else bad "server exited $rc after SIGTERM"; fi
}

# "spam=N ham=M" of a store (--user=EMAIL, or the global one).
counts() { adm spam stats "$@" | sed -n 's/.* spam=\([0-9]*\) ham=\([0-9]*\) .*/spam=\1 ham=\2/p'; }
# wait_counts WANT USER: polls john's store for up to 10 s; true when it shows WANT.
wait_counts() {
  local want="$1" user="$2" got=""
  for _ in $(seq 1 100); do
    got="$(counts --user="$user")"
    [ "$got" = "$want" ] && return 0
    sleep 0.1
  done
  echo "    $user: want '$want', store has '$got'"
  return 1
}

# imap ACTION...: one imaplib session (STARTTLS, LOGIN) running the actions in order:
#   append:FOLDER:TAG  move:FROM:TO:TAG  copy:FROM:TO:TAG   (TAG: text in the Subject)
imap() {
  IMAP_PORT="$imap_port" python3 - "$@" <<'EOF'
import imaplib, os, ssl, sys

c = imaplib.IMAP4("127.0.0.1", int(os.environ["IMAP_PORT"]), timeout=30)
c.starttls(ssl_context=ssl._create_unverified_context())
c.login("john@example.org", "pw-john")

def uid_of(folder, tag):
    typ, _ = c.select(folder)
    assert typ == "OK", f"SELECT {folder}: {typ}"
    typ, data = c.uid("SEARCH", None, "SUBJECT", tag)
    assert typ == "OK" and data[0], f"SEARCH SUBJECT {tag} in {folder}: {typ} {data}"
    return data[0].split()[0].decode()

for action in sys.argv[1:]:
    kind, *args = action.split(":")
    if kind == "append":
        folder, tag = args
        msg = (f"From: Sender <sender@example.net>\r\nTo: john@example.org\r\n"
               f"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nSubject: {tag}\r\n"
               f"Message-ID: <{tag}@example.net>\r\n\r\n"
               f"Dear friend, {tag} offers cheap replica watches and instant loans today.\r\n").encode()
        typ, data = c.append(folder, None, None, msg)
        assert typ == "OK", f"APPEND {folder}: {typ} {data}"
    elif kind in ("move", "copy"):
        src, dst, tag = args
        uid = uid_of(src, tag)
        typ, data = c.uid(kind.upper(), uid, dst)
        assert typ == "OK", f"UID {kind.upper()} {uid} {dst}: {typ} {data}"
    else:
        raise SystemExit(f"unknown action {action}")
    print(f"done: {action}")
c.logout()
EOF
}

# ---------------------------------------------------------------- training on
start_server
ok "server ready (imap=$imap_port, spam scanning on)"
grep -q "event=spam_rules_loaded" "$log" || fatal "spam scanning is not on (no event=spam_rules_loaded)"

if imap append:INBOX:msg-one move:INBOX:Junk:msg-one; then ok "APPEND, UID MOVE INBOX -> Junk"; else bad "imap session 1"; fi
if wait_counts "spam=1 ham=0" john@example.org; then ok "move into Junk learned as spam for john"; else
  bad "move into Junk learned as spam for john"; fi
g="$(counts)"
if [ "$g" = "spam=0 ham=0" ]; then ok "global store untouched ($g)"; else bad "global store changed: $g"; fi

if imap move:Junk:INBOX:msg-one; then ok "UID MOVE Junk -> INBOX"; else bad "imap session 2"; fi
if wait_counts "spam=0 ham=1" john@example.org; then ok "move out of Junk relearned as ham"; else
  bad "move out of Junk relearned as ham"; fi

if imap append:INBOX:msg-two copy:INBOX:Junk:msg-two; then ok "UID COPY INBOX -> Junk"; else bad "imap session 3"; fi
if wait_counts "spam=1 ham=1" john@example.org; then ok "copy into Junk learned as spam"; else
  bad "copy into Junk learned as spam"; fi
# Junk -> Trash must not learn ham; the next training (FIFO) shows it was not queued.
if imap move:Junk:Trash:msg-two append:INBOX:msg-three move:INBOX:Junk:msg-three; then
  ok "UID MOVE Junk -> Trash, then another into Junk"; else bad "imap session 4"; fi
if wait_counts "spam=2 ham=1" john@example.org; then ok "move from Junk to Trash learned nothing"; else
  bad "move from Junk to Trash learned nothing"; fi
if imap append:Junk:msg-five; then ok "APPEND into Junk"; else bad "imap session 4b"; fi
if wait_counts "spam=3 ham=1" john@example.org; then ok "APPEND into Junk learned as spam"; else
  bad "APPEND into Junk learned as spam"; fi
if grep -q "event=spam_training_dropped\|event=spam_training_failed" "$log"; then
  bad "training dropped or failed (see log)"; else ok "no training dropped or failed"; fi
stop_server

# ---------------------------------------------------------------- training off
start_server --imap_spam_training=false
if imap move:INBOX:Junk:msg-one append:INBOX:msg-four move:INBOX:Junk:msg-four; then
  ok "training off: moves into Junk"; else bad "imap session 5"; fi
sleep 1
got="$(counts --user=john@example.org)"
if [ "$got" = "spam=3 ham=1" ]; then ok "training off: nothing learned ($got)"; else bad "training off: store changed to $got"; fi
stop_server

errors="$(grep -c 'level=error' "$log")"
if [ "$errors" -eq 0 ]; then ok "server logged no level=error lines"; else
  bad "server logged $errors level=error lines"; grep 'level=error' "$log" | head -5 | sed 's/^/    /'; fi

summary
[ "$failed" -eq 0 ]
