#!/usr/bin/env bash
# SEARCH on header keys through the per-shard header cache (protocols/imap/
# message_commands.cc): results must be what a full read gives, before and after the
# cache is warm, after flag changes rename the files, after EXPUNGE and APPEND, and a
# header key must never match text that is only in a body (the cache holds header
# blocks) while BODY/TEXT still read the whole file. One session per shard count (1 and 2
# shards) so both the cold and the warm path run. Starts `ringmail serve` itself.
# Usage: imap_search_cache_test.sh RINGMAIL RINGMAIL_ADMIN
set -uo pipefail
ringmail="$(readlink -f "${1:?usage: imap_search_cache_test.sh RINGMAIL RINGMAIL_ADMIN}")"
admin="$(readlink -f "${2:?usage: imap_search_cache_test.sh RINGMAIL RINGMAIL_ADMIN}")"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ringmail_server_lib.sh
. "$here/ringmail_server_lib.sh"
command -v python3 >/dev/null || { echo "FAIL: python3 not found"; exit 1; }
work="$(mktemp -d)"
cleanup() { ringmail_kill; rm -rf "$work"; }
trap cleanup EXIT
data="$work/data"
"$admin" --data_dir="$data" domain add example.org >/dev/null || { echo "FAIL: domain add"; exit 1; }
echo pw | "$admin" --data_dir="$data" user add john@example.org >/dev/null || { echo "FAIL: user add"; exit 1; }
port=$(ringmail_free_ports 1)
# Spam scanning stays on (the project's rules), as before: it compiles them at start.
ringmail_ready_seconds=30
ringmail_start "$work/serve.log" --data_dir="$data" --shards=2 --imap_port="$port" --log_level=info \
  --imap_allow_plaintext_auth=true --spam_rules="$(cd "$here/../.." && pwd)/spam/rules" ||
  { echo "FAIL: server did not start"; exit 1; }
timeout 120 python3 - "$port" <<'PY'
import imaplib, sys
port = int(sys.argv[1])
fails = 0
def check(name, got, want):
    global fails
    if got != want:
        fails += 1
        print(f"FAIL {name}: got {got} want {want}")
    else:
        print(f"ok   {name}")

msgs = []
for i in range(1, 41):
    frm = "Alice <alice@a.example>" if i % 3 == 0 else "Bob <bob@b.example>"
    subj = f"meeting {i}" if i % 4 == 0 else f"report {i}"
    body = "alice meeting in the body only\r\n" if i % 5 == 0 else "nothing here\r\n"
    msgs.append((frm, subj, f"From: {frm}\r\nTo: u@example.org\r\nSubject: {subj}\r\nX-Tag: t{i % 7}\r\n\r\n{body}"))

def expect(pred, live):
    return [str(n) for n, uid in enumerate(live, 1) if pred(uid)]

def search(c, *q):
    typ, d = c.search(None, *q)
    assert typ == "OK", (typ, d)
    return d[0].decode().split()

sessions = [imaplib.IMAP4("127.0.0.1", port) for _ in range(4)]  # two shards: some on each
for c in sessions:
    c.login("john@example.org", "pw")
c = sessions[0]
for frm, subj, text in msgs:
    c.append("INBOX", None, None, text.encode())
live = list(range(1, 41))  # message i (1-based) still there, in order
from_alice = lambda i: i % 3 == 0
subj_meeting = lambda i: i % 4 == 0
body_alice = lambda i: i % 5 == 0
for s in sessions:
    s.select("INBOX")
for rnd in range(2):  # cold, then warm
    for k, s in enumerate(sessions):
        check(f"round {rnd} session {k} FROM alice", search(s, "FROM", "alice"), expect(from_alice, live))
        check(f"round {rnd} session {k} SUBJECT meeting", search(s, "SUBJECT", "meeting"), expect(subj_meeting, live))
        check(f"round {rnd} session {k} HEADER X-Tag t3", search(s, "HEADER", "X-Tag", "t3"), expect(lambda i: i % 7 == 3, live))
        check(f"round {rnd} session {k} BODY alice", search(s, "BODY", "alice"), expect(body_alice, live))
        check(f"round {rnd} session {k} TEXT alice", search(s, "TEXT", "alice"), expect(lambda i: from_alice(i) or body_alice(i), live))
# Flag changes rename the files; expunge some; append more.
c.store("1:20", "+FLAGS", "(\\Flagged \\Seen)")
c.store("5,6,7", "+FLAGS", "(\\Deleted)")
c.expunge()
live = [i for i in live if i not in (5, 6, 7)]
for i in range(41, 46):
    c.append("INBOX", None, None, f"From: Alice <alice@a.example>\r\nSubject: meeting {i}\r\n\r\nx\r\n".encode())
    live.append(i)
new_alice = lambda i: from_alice(i) or i > 40
new_meeting = lambda i: subj_meeting(i) or i > 40
for k, s in enumerate(sessions):
    s.noop()
    check(f"after changes session {k} FROM alice", search(s, "FROM", "alice"), expect(new_alice, live))
    check(f"after changes session {k} SUBJECT meeting", search(s, "SUBJECT", "meeting"), expect(new_meeting, live))
    check(f"after changes session {k} FLAGGED FROM alice", search(s, "FLAGGED", "FROM", "alice"),
          expect(lambda i: new_alice(i) and i <= 20, live))
    check(f"after changes session {k} OR BODY", search(s, "OR", "SUBJECT", "meeting", "BODY", "alice"),
          expect(lambda i: new_meeting(i) or body_alice(i), live))
for s in sessions:
    s.logout()
print("passed" if fails == 0 else f"{fails} failed")
sys.exit(1 if fails else 0)
PY
